"""Degradations that make clean images look like low-quality scraped fan art, and a selection task built from them.

The seed author of the course scraped fan art from the web and sorted it by hand into
three piles: good, low quality (blurred, JPEG-mangled, tiny, badly cropped) and wrong
subject. The DataSelector lesson teaches a model to do that sorting. To have the same
task with *known* truth and no scraping, :func:`make_selection_task` takes a clean
:class:`~cocogoat_utils.data.ImageSet` (the OpenMoji glyphs), keeps the images of one
category as ``keep``, degrades other copies of them as ``low_quality`` and takes images
of the other categories as ``off_target``.

The degradations, each on a uint8 ``(N, C, H, W)`` batch with parameters drawn per
image from a ``torch.Generator`` (so a seed reproduces them and the global random
state is left alone):

- :func:`blur`: a Gaussian blur, σ from 1 to 2.5 pixels per 32 pixels of side.
- :func:`jpeg`: JPEG at quality 5 to 15, blocks and ringing (Pillow's encoder: torchvision 0.29
  deprecates the ``torchvision.io`` image codecs in favour of TorchCodec).
- :func:`down_up`: shrunk 3 to 6 times, then enlarged back, nearest or bilinear.
- :func:`bad_crop`: an off-centre crop of 40 to 60 % of the side, enlarged back, so the subject is cut.
- :func:`tiny_subject`: the image shrunk to 25 to 40 % and pasted at a random place on white.
"""

from __future__ import annotations

import io
import math
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.transforms.v2 import functional as TF

from .data import ImageSet
from .openmoji import CATEGORIES

SELECTION_CLASSES = ("keep", "low_quality", "off_target")


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * torch.rand((), generator=generator).item()


def _resize(image: torch.Tensor, size: tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    """One ``(C, H, W)`` uint8 image resized to ``size`` (antialiased when shrinking)."""
    x = image[None].float()
    if mode == "nearest":
        x = F.interpolate(x, size=size, mode="nearest")
    else:
        shrink = size[0] < image.shape[-2] or size[1] < image.shape[-1]
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)
    return x[0].round().clamp(0, 255).to(torch.uint8)


def _check(images: torch.Tensor) -> None:
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError(f"expected a (N, C, H, W) uint8 batch, got {tuple(images.shape)} {images.dtype}")


def blur(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Gaussian blur, σ ~ U(1, 2.5) × side / 32 pixels per image; the kernel spans ±3σ (cut to the image)."""
    _check(images)
    side = min(images.shape[-2:])
    out = []
    for image in images:
        sigma = _uniform(generator, 1.0, 2.5) * side / 32
        size = min(2 * math.ceil(3 * sigma) + 1, side - 1 if side % 2 == 0 else side)  # odd, reflect pad < side
        out.append(TF.gaussian_blur(image, kernel_size=[size, size], sigma=[sigma, sigma]))
    return torch.stack(out)


def jpeg(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """JPEG round trip at quality ~ U{5, …, 15} per image (Pillow, on the CPU; 3-channel images)."""
    _check(images)
    if images.shape[1] != 3:
        raise ValueError(f"jpeg needs RGB images, got {images.shape[1]} channels")
    out = []
    for image in images:
        quality = int(torch.randint(5, 16, (), generator=generator))
        buffer = io.BytesIO()
        Image.fromarray(image.cpu().permute(1, 2, 0).numpy()).save(buffer, format="JPEG", quality=quality)
        decoded = np.asarray(Image.open(buffer).convert("RGB"))  # (H, W, 3)
        out.append(torch.from_numpy(decoded.copy()).permute(2, 0, 1))
    return torch.stack(out).to(images.device)


def down_up(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Shrink by a factor ~ U(3, 6) (antialiased), then enlarge back with nearest or bilinear (even odds)."""
    _check(images)
    h, w = images.shape[-2:]
    out = []
    for image in images:
        factor = _uniform(generator, 3.0, 6.0)
        mode = "nearest" if torch.rand((), generator=generator).item() < 0.5 else "bilinear"
        small = _resize(image, (max(1, round(h / factor)), max(1, round(w / factor))))
        out.append(_resize(small, (h, w), mode))
    return torch.stack(out)


def _off_centre(generator: torch.Generator, room: int) -> int:
    """An offset in ``[0, room]`` from its outer 30 % at either end, so that the crop is off-centre."""
    t = _uniform(generator, 0.0, 0.3)
    if torch.rand((), generator=generator).item() < 0.5:
        t = 1.0 - t
    return round(t * room)


def bad_crop(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """An off-centre square crop of 40 to 60 % of the side, enlarged back: the subject is cut."""
    _check(images)
    h, w = images.shape[-2:]
    out = []
    for image in images:
        frac = _uniform(generator, 0.4, 0.6)
        ch, cw = max(1, round(h * frac)), max(1, round(w * frac))
        top, left = _off_centre(generator, h - ch), _off_centre(generator, w - cw)
        out.append(_resize(image[:, top:top + ch, left:left + cw], (h, w)))
    return torch.stack(out)


def tiny_subject(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The image shrunk to 25 to 40 % of its side and pasted at a random place on a white canvas."""
    _check(images)
    h, w = images.shape[-2:]
    out = torch.full_like(images, 255)
    for i, image in enumerate(images):
        frac = _uniform(generator, 0.25, 0.4)
        sh, sw = max(1, round(h * frac)), max(1, round(w * frac))
        top = int(torch.randint(0, h - sh + 1, (), generator=generator))
        left = int(torch.randint(0, w - sw + 1, (), generator=generator))
        out[i, :, top:top + sh, left:left + sw] = _resize(image, (sh, sw))
    return out


DEGRADATIONS = {"blur": blur, "jpeg": jpeg, "down_up": down_up, "bad_crop": bad_crop, "tiny_subject": tiny_subject}


def degrade(images: torch.Tensor, *, seed: int, kinds: list[str] | tuple[str, ...] | None = None
            ) -> tuple[torch.Tensor, list[str]]:
    """Each image degraded by one kind drawn uniformly from ``kinds`` (default: all of :data:`DEGRADATIONS`).

    Returns the degraded uint8 batch (same shape) and the kind applied to each image.
    The same ``seed`` gives the same result; the global random state is not used.
    """
    _check(images)
    kinds = list(DEGRADATIONS) if kinds is None else list(kinds)
    unknown = [k for k in kinds if k not in DEGRADATIONS]
    if unknown or not kinds:
        raise ValueError(f"unknown degradation(s) {unknown or kinds}; choose from {sorted(DEGRADATIONS)}")
    generator = torch.Generator().manual_seed(seed)
    choice = torch.randint(len(kinds), (len(images),), generator=generator)
    out = images.clone()
    for k, kind in enumerate(kinds):
        index = (choice == k).nonzero().flatten()
        if len(index):
            out[index.to(images.device)] = DEGRADATIONS[kind](images[index.to(images.device)], generator)
    return out, [kinds[k] for k in choice.tolist()]


def _unique(names: list[str]) -> list[str]:
    """``names`` with repeats numbered (``"cat"``, ``"cat #2"``), so that labels keyed by name stay apart."""
    seen: Counter = Counter()
    out = []
    for name in names:
        seen[name] += 1
        out.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return out


def make_selection_task(images: ImageSet, *, target: str = "animals", seed: int = 0, per_class: int | None = None,
                        kinds: list[str] | None = None) -> ImageSet:
    """The DataSelector's three-class task with known truth, ``per_class`` images of each class, shuffled.

    - ``keep``: clean images of the ``target`` category (a short name of
      :data:`~cocogoat_utils.openmoji.CATEGORIES` or the full one, or any category in ``images``);
    - ``low_quality``: :func:`degrade`-d copies of target images, other images than the
      ``keep`` ones while there are enough, then copies of the ``keep`` ones;
    - ``off_target``: clean images of the other categories.

    ``per_class`` defaults to the number of target images (or of other images, if fewer)
    and may not exceed either. In the result, ``categories`` holds the class
    (:data:`SELECTION_CLASSES`) and ``names`` the original name, with ``" [<kind>]"``
    for degraded images (repeated names get ``" #2"``, ``" #3"``…). Reproducible from ``seed``.
    """
    wanted = CATEGORIES.get(target, target)
    if wanted not in set(images.categories):
        raise ValueError(f"target={target!r} has no images; choose from {sorted(CATEGORIES)} "
                         f"or the categories present {sorted(set(images.categories))}")
    is_target = torch.tensor([c == wanted for c in images.categories])
    target_idx, other_idx = is_target.nonzero().flatten(), (~is_target).nonzero().flatten()
    most = min(len(target_idx), len(other_idx))
    if most == 0:
        raise ValueError(f"no images outside the target category {wanted!r}: off_target would be empty")
    per_class = most if per_class is None else per_class
    if not 1 <= per_class <= most:
        raise ValueError(f"per_class={per_class}: must be between 1 and {most} "
                         f"({len(target_idx)} target images, {len(other_idx)} others)")

    generator = torch.Generator().manual_seed(seed)
    targets = target_idx[torch.randperm(len(target_idx), generator=generator)]
    keep = targets[:per_class]
    low = torch.cat([targets[per_class:], targets])[:per_class]  # unused target images first
    off = other_idx[torch.randperm(len(other_idx), generator=generator)[:per_class]]
    degrade_seed = int(torch.randint(2**62, (), generator=generator))
    low_images, low_kinds = degrade(images.images[low], seed=degrade_seed, kinds=kinds)

    all_images = torch.cat([images.images[keep], low_images, images.images[off]])  # (3 · per_class, C, H, W)
    names = ([images.names[i] for i in keep.tolist()]
             + [f"{images.names[i]} [{kind}]" for i, kind in zip(low.tolist(), low_kinds)]
             + [images.names[i] for i in off.tolist()])
    classes = [c for c in SELECTION_CLASSES for _ in range(per_class)]
    order = torch.randperm(len(all_images), generator=generator).tolist()
    return ImageSet(all_images[order], _unique([names[i] for i in order]), [classes[i] for i in order],
                    source=f"selection task: {wanted} vs the rest of {images.source or 'the images'} (seed {seed})")

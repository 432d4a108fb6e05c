"""Augmentations that run on batches of device tensors.

Two kinds:

- **Dataset multiplication** (:func:`augment_dataset`): each image gets extra copies with
  a random flip, colour jitter and an elastic warp (``torchvision.transforms.v2``), as
  the Pokémon DCGAN tutorial triples its 2,500 sprites.
- **DiffAugment** (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN
  Training", https://arxiv.org/abs/2006.10738): the same differentiable random
  transforms — colour (brightness ±0.5, saturation ×[0, 2], contrast ×[0.5, 1.5]),
  translation (up to 1/8 of the image, zero fill) and cutout (a square of half the
  side) — applied to *both* real and fake batches every step, so that the discriminator
  cannot memorise a small dataset. Every sample draws its own parameters.

All functions take float images in ``[-1, 1]`` shaped ``(B, C, H, W)``, except
:func:`augment_dataset`, which takes and returns uint8.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.transforms import v2


def _uniform(x: torch.Tensor, generator: torch.Generator | None, *shape: int) -> torch.Tensor:
    return torch.rand(x.shape[0], *shape, device=x.device, dtype=x.dtype, generator=generator)


def random_flip(x: torch.Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``."""
    flip = _uniform(x, generator, 1, 1, 1) < p
    return torch.where(flip, x.flip(-1), x)


def diff_color(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random brightness, saturation and contrast per sample (DiffAugment's ``color``)."""
    x = x + (_uniform(x, generator, 1, 1, 1) - 0.5)  # brightness: shift by U(−0.5, 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_uniform(x, generator, 1, 1, 1) * 2) + mean  # saturation: ×U(0, 2) around the grey
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, generator, 1, 1, 1) + 0.5) + mean  # contrast: ×U(0.5, 1.5)


def diff_translation(x: torch.Tensor, ratio: float = 0.125, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image by a whole number of pixels, up to ``ratio`` of its size, filling with zeros."""
    b, _, h, w = x.shape
    max_shift = torch.tensor([w * ratio, h * ratio], device=x.device, dtype=x.dtype)
    shift = torch.round((_uniform(x, generator, 2) * 2 - 1) * max_shift)  # (B, 2) pixels, in [−max, max]
    theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, :, 2] = -shift * 2 / torch.tensor([w, h], device=x.device, dtype=x.dtype)  # pixels → [-1, 1] units
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def diff_cutout(x: torch.Tensor, ratio: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero a square of side ``ratio`` × size at a random place in each image."""
    b, _, h, w = x.shape
    ch, cw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    centre = _uniform(x, generator, 2) * torch.tensor([h, w], device=x.device, dtype=x.dtype)  # (B, 2)
    rows = torch.arange(h, device=x.device, dtype=x.dtype).view(1, h, 1)
    cols = torch.arange(w, device=x.device, dtype=x.dtype).view(1, 1, w)
    top = (centre[:, 0] - ch / 2).floor().view(b, 1, 1)
    left = (centre[:, 1] - cw / 2).floor().view(b, 1, 1)
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)  # (B, H, W)
    return x * (~inside).unsqueeze(1).to(x.dtype)


DIFF_AUGMENTS = {"color": diff_color, "translation": diff_translation, "cutout": diff_cutout}


def diff_augment(x: torch.Tensor, policy: str = "color,translation,cutout",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply the comma-separated DiffAugment ``policy`` (``color``, ``translation``, ``cutout``)."""
    for name in filter(None, (p.strip() for p in policy.split(","))):
        if name not in DIFF_AUGMENTS:
            raise ValueError(f"unknown DiffAugment {name!r}; choose from {sorted(DIFF_AUGMENTS)}")
        x = DIFF_AUGMENTS[name](x, generator=generator)
    return x


def sprite_augmentation(*, jitter: float = 0.2, hue: float = 0.05, elastic_alpha: float = 20.0,
                        elastic_sigma: float = 4.0) -> v2.Compose:
    """Flip, colour jitter and elastic warp: the transform :func:`augment_dataset` draws per image."""
    return v2.Compose([
        v2.RandomHorizontalFlip(),
        v2.ColorJitter(brightness=jitter, contrast=jitter, saturation=jitter, hue=hue),
        v2.ElasticTransform(alpha=elastic_alpha, sigma=elastic_sigma, fill=255),
    ])


def augment_dataset(images: torch.Tensor, *, factor: int = 3, seed: int = 0,
                    transform: v2.Transform | None = None) -> torch.Tensor:
    """The ``(N, C, H, W)`` uint8 ``images`` followed by ``factor − 1`` augmented copies of each.

    Reproducible from ``seed``; the global random state is left as it was.
    """
    if factor < 1:
        raise ValueError(f"factor={factor}: must be at least 1")
    side = min(images.shape[-2:])
    # the elastic blur kernel (8σ + 1 wide) must fit inside the image: σ ≤ side / 8 below 32 px
    transform = transform or sprite_augmentation(elastic_alpha=20.0 * images.shape[-1] / 64,
                                                 elastic_sigma=min(4.0, side / 8))
    copies = [images]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for _ in range(factor - 1):
            copies.append(torch.stack([transform(image) for image in images]))
    return torch.cat(copies)

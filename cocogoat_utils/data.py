"""Loading image sets: the embedded glyphs or a folder (:func:`load_dataset`), torchvision sets, value ranges.

- :func:`load_dataset` is what a notebook calls: the embedded OpenMoji glyphs (``openmoji``)
  when ``data_dir`` is ``None``, else the folder (``max_images``: the first N); :func:`split_last` holds out
  the last tenth.
- :func:`load_image_folder` reads every image below a folder (PNG, JPEG, WebP, GIF, BMP;
  RGBA, palette and grayscale), skipping the unreadable ones with one warning;
  :func:`save_image_folder` writes a set back as PNGs.
- :func:`load_torchvision_dataset` gives MNIST, Fashion-MNIST or CIFAR-10 when the machine is
  online (downloaded once, on request only) and says so clearly when it is not.
- :func:`to_float` / :func:`to_uint8` convert between stored pixels and the ``[-1, 1]`` a
  generator draws in. Batches on the device come from ``device_dataset.DeviceImageDataset``.

Every loader returns an :class:`~cocogoat_utils.imageset.ImageSet` (``imageset``, below this module and
``openmoji``; re-exported here): ``images`` is a ``(N, C, H, W)`` ``uint8`` tensor, with one name and one
category per image.
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .imageset import CATEGORIES, ImageSet, composite, data_dir  # noqa: F401  (re-exported: every loader's type)
from .openmoji import load_openmoji
from .runtime import progress_bar

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")


# --------------------------------------------------------------------------- image folders

def _open_image(path: Path, image_size: int, background: str | None) -> np.ndarray:
    with Image.open(path) as im:
        im.seek(0)  # first frame of a GIF or WebP animation
        im.load()
        rgba = ImageOps.exif_transpose(im).convert("RGBA")
    rgba = ImageOps.fit(rgba, (image_size, image_size), Image.Resampling.LANCZOS)  # centre crop to square
    array = np.array(rgba)  # a writable copy: torch warns about read-only arrays
    if background is None:
        return array
    return composite(torch.from_numpy(array).permute(2, 0, 1)[None], background)[0].permute(1, 2, 0).numpy()


def load_image_folder(
    root: str | Path, image_size: int = 64, *, background: str | None = "white", progress: bool = True,
    warn: bool = True,
) -> ImageSet:
    """Every image below ``root`` (searched recursively), centre-cropped to a square of ``image_size``.

    Transparent images are composited on ``background`` (``None`` keeps 4 channels). The
    category of an image is the name of its parent folder relative to ``root`` (``"."``
    for files at the top). Unreadable, truncated or non-image files are skipped with one
    warning that counts them (``warn=False``: none — a lesson words ``.skipped`` in its own language); a folder
    with no readable image raises ``ValueError``.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"data_dir {str(root)!r} does not exist or is not a folder")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    candidates = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    images, names, categories, skipped = [], [], [], []
    for path in progress_bar(candidates, desc=f"reading {root.name}", disable=not progress or len(candidates) < 200):
        try:
            images.append(_open_image(path, image_size, background))
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError):
            skipped.append(str(path.relative_to(root)))
            continue
        names.append(str(path.relative_to(root)))
        categories.append(str(path.parent.relative_to(root)))
    if not images:
        raise ValueError(f"no readable image in {str(root)!r}: looked at {len(files)} files "
                         f"({len(candidates)} with an image suffix {IMAGE_SUFFIXES})")
    if skipped and warn:
        first = ", ".join(skipped[:3]) + (", …" if len(skipped) > 3 else "")
        warnings.warn(f"skipped {len(skipped)} unreadable file(s) in {root}: {first}", stacklevel=2)
    tensor = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return ImageSet(tensor, names, categories, source=str(root), skipped=skipped)


def _file_name(name: str) -> Path:
    """A safe relative ``.png`` path for an image name: folders kept, odd characters replaced by ``_``."""
    parts = [re.sub(r"[^\w.-]+", "_", part).strip("._") or "image" for part in Path(name).with_suffix("").parts
             if part not in ("", ".", "..", "/")]
    return Path(*(parts or ["image"])).with_suffix(".png")


def save_image_folder(images: ImageSet | torch.Tensor, folder: str | Path, *, names: list[str] | None = None) -> list[Path]:
    """Write ``images`` as PNGs to ``folder`` (replacing it), named after ``names``; returns the paths.

    A name's sub-folders are kept (so :func:`load_image_folder` reads the same
    categories back) and clashing names get ``_2``, ``_3``… The files are written to a
    sibling ``.partial`` folder that replaces ``folder`` only when complete: a killed
    kernel leaves the previous folder intact.
    """
    if isinstance(images, ImageSet):
        names = images.names if names is None else names
        images = images.images
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError(f"expected a (N, C, H, W) uint8 tensor, got {tuple(images.shape)} {images.dtype}")
    names = [f"{i:05d}" for i in range(len(images))] if names is None else list(names)
    if len(names) != len(images):
        raise ValueError(f"{len(names)} names for {len(images)} images")
    folder = Path(folder).expanduser()
    partial, old = folder.with_name(folder.name + ".partial"), folder.with_name(folder.name + ".old")
    for leftover in (partial, old):
        shutil.rmtree(leftover, ignore_errors=True)
    partial.mkdir(parents=True)
    written, taken = [], set()
    for image, name in zip(images.cpu(), names):
        relative = _file_name(name)
        stem, k = relative.with_suffix(""), 2
        while relative in taken:
            relative, k = Path(f"{stem}_{k}.png"), k + 1
        taken.add(relative)
        (partial / relative).parent.mkdir(parents=True, exist_ok=True)
        array = image.permute(1, 2, 0).numpy()
        Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(partial / relative)
        written.append(folder / relative)
    if folder.exists():
        folder.rename(old)
    partial.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return written


#: torchvision datasets :func:`load_torchvision_dataset` knows, by short name
TORCHVISION_DATASETS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}


def load_torchvision_dataset(name: str, image_size: int = 32, *, root: str | Path | None = None,
                             download: bool = True, max_images: int | None = None) -> ImageSet:
    """A torchvision dataset's training images (``"mnist"``, ``"fashion_mnist"``, ``"cifar10"``) as RGB uint8.

    The files are kept under ``root`` (default ``data/torchvision``); the first call downloads them
    when ``download`` is set and the machine is online. Offline and without the files, a
    ``RuntimeError`` says so and names the embedded dataset as the way on. Grey images are repeated
    into three channels; every image is resized (bilinear, antialiased) to ``image_size``.
    """
    if name not in TORCHVISION_DATASETS:
        raise ValueError(f"unknown torchvision dataset {name!r}; choose from {sorted(TORCHVISION_DATASETS)}")
    root = Path(root or data_dir() / "torchvision")
    try:
        dataset = getattr(torchvision.datasets, TORCHVISION_DATASETS[name])(root, train=True, download=download)
    except (RuntimeError, OSError) as error:  # URLError is an OSError; a missing file without download is a RuntimeError
        raise RuntimeError(f"{name} is not under {root} and could not be downloaded ({type(error).__name__}: {error}); "
                           "on a machine without network use the embedded dataset (data_dir=None) or a folder "
                           "of images") from error
    data = torch.as_tensor(np.asarray(dataset.data))
    data = data[:max_images] if max_images else data
    images = data.unsqueeze(1).expand(-1, 3, -1, -1) if data.ndim == 3 else data.permute(0, 3, 1, 2)
    if images.shape[-1] != image_size:
        images = torch.nn.functional.interpolate(images.float(), size=(image_size, image_size), mode="bilinear",
                                                 antialias=True, align_corners=False).round().clamp(0, 255)
    classes = list(getattr(dataset, "classes", []))
    targets = [int(t) for t in list(dataset.targets)[: len(images)]]
    categories = [classes[t] if t < len(classes) else str(t) for t in targets]
    return ImageSet(images.to(torch.uint8).contiguous(), [f"{name}_{i}" for i in range(len(images))], categories,
                    source=f"torchvision {TORCHVISION_DATASETS[name]}")


def load_dataset(data_dir: str | Path | None, image_size: int, *, categories=None, background="white",
                 max_images: int | None = None, warn: bool = True) -> ImageSet:
    """``data_dir=None`` is the embedded OpenMoji set (filtered by ``categories``); otherwise the folder
    (``categories`` is ignored; ``warn``: as in :func:`load_image_folder`). ``max_images``: only the first N images
    (``None``: all)."""
    if data_dir is None:
        images = load_openmoji(image_size, categories=categories, background=background)
    else:
        images = load_image_folder(data_dir, image_size, background=background, warn=warn)
    return images.subset(range(min(max_images, len(images)))) if max_images else images


def split_last(images: torch.Tensor, fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """``(first, last)``: the last ``fraction`` of ``images`` (at least one) held out, the rest before them."""
    split = max(1, int(len(images) * fraction))
    return images[:-split], images[-split:]


# --------------------------------------------------------------------------- value ranges

def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[0, 255]`` → float ``[-1, 1]`` (the range a tanh generator produces)."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float ``[-1, 1]`` → uint8 ``[0, 255]``, clamped."""
    return images.detach().float().add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)



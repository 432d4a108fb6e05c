"""The one type every image loader returns (:class:`ImageSet`), where datasets are cached, and compositing.

An :class:`ImageSet` holds ``images``, a ``(N, C, H, W)`` ``uint8`` tensor, with one name and one
category per image; :meth:`ImageSet.filter` keeps some categories by their Unicode emoji group,
short (:data:`CATEGORIES`) or full. The loaders are in ``data`` (folders, torchvision sets,
:func:`~cocogoat_utils.data.load_dataset`) and ``openmoji`` (the embedded glyphs); this module is
below both, so that neither imports the other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .runtime import home

#: short names for the Unicode emoji groups (the full names work too)
CATEGORIES = {
    "faces": "Smileys & Emotion",
    "people": "People & Body",
    "animals": "Animals & Nature",
    "food": "Food & Drink",
    "travel": "Travel & Places",
    "activities": "Activities",
    "objects": "Objects",
    "symbols": "Symbols",
    "flags": "Flags",
    "component": "Component",
    "extras": "Extras",  # OpenMoji's own glyphs, outside Unicode
}


def data_dir() -> Path:
    """Where datasets are cached: ``$COCOGOAT_DATA_DIR``, else ``data/`` in the home folder (``runtime.home``)."""
    return Path(os.environ.get("COCOGOAT_DATA_DIR") or home() / "data")


@dataclass
class ImageSet:
    """Images as a ``(N, C, H, W)`` uint8 tensor with a name and a category for each."""

    images: torch.Tensor
    names: list[str]
    categories: list[str]
    source: str = ""
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be a (N, C, H, W) uint8 tensor, got {tuple(self.images.shape)} {self.images.dtype}")
        if not len(self.names) == len(self.categories) == len(self):
            raise ValueError("one name and one category per image")

    def class_labels(self) -> tuple[list[str], torch.Tensor]:
        """The categories present, sorted, and each image's index among them (the labels a class-conditional model
        is trained with)."""
        classes = sorted(set(self.categories))
        index = {c: i for i, c in enumerate(classes)}
        return classes, torch.tensor([index[c] for c in self.categories], dtype=torch.long)

    def subset(self, index) -> ImageSet:
        """The images at ``index`` (a list of positions or a boolean mask)."""
        index = torch.as_tensor(index)
        if index.dtype == torch.bool:
            index = index.nonzero().flatten()
        keep = index.tolist()
        return ImageSet(self.images[index], [self.names[i] for i in keep],
                        [self.categories[i] for i in keep], self.source, skipped=list(self.skipped))

    def filter(self, categories: str | list[str] | None) -> ImageSet:
        """Only the images whose category is one of ``categories`` (short or full Unicode names)."""
        if categories is None:
            return self
        wanted = {CATEGORIES.get(c, c) for c in ([categories] if isinstance(categories, str) else categories)}
        unknown = wanted - set(CATEGORIES.values()) - set(self.categories)
        if unknown:
            raise ValueError(f"unknown categories {sorted(unknown)}; choose from {sorted(CATEGORIES)}")
        return self.subset([i for i, c in enumerate(self.categories) if c in wanted])


def composite(rgba: torch.Tensor, background: str | None) -> torch.Tensor:
    """(N, 4, H, W) uint8 → RGB composited on ``"white"``/``"black"``, or RGBA kept when ``None``."""
    if background is None:
        return rgba
    colours = {"white": 255.0, "black": 0.0}
    if background not in colours:
        raise ValueError(f"background={background!r}: expected 'white', 'black' or None (keep alpha)")
    rgb, alpha = rgba[:, :3].float(), rgba[:, 3:].float() / 255.0
    return (rgb * alpha + colours[background] * (1 - alpha)).round().clamp(0, 255).to(torch.uint8)

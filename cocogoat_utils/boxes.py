"""Subject boxes: a detection set with exact boxes, and cropping boxes out of images.

The seed's DataAugmentator found the subject (Ganyu's face) with a box regressor, then
cropped that box from every image and resized it: more training images, centred on what
matters. Here the boxes are exact by construction:

- :func:`make_canvases` pastes transparent glyphs at a random position and scale onto
  larger cluttered canvases (gradients, noise, other glyphs behind), reproducible from a
  seed, and returns each subject's tight box (its alpha's bounding box) in pixels.
- :func:`check_boxes` clips boxes to their image and rejects empty ones with a message
  naming the image.
- :func:`crop_boxes` cuts each box (grown by a margin) out of its image and resizes it,
  with ``torchvision.ops.roi_align`` (a box of the output size at whole pixels returns
  exactly those pixels).
- :func:`split_boxed` reads the boxes a person drew (a ``labels.BoxStore``) for a folder of images and splits
  the boxed images into training and held-out sets; :func:`add_own_boxes` mixes the training share into
  the canvases.

Boxes are ``(x0, y0, x1, y1)`` in pixels, ``x1``/``y1`` exclusive, as in ``torchvision.ops``.
IoU comes from ``torchvision.ops.box_iou``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torchvision.ops import box_iou, clip_boxes_to_image, roi_align

from .runtime import short_path

__all__ = ["UpscaledCrops", "add_own_boxes", "box_iou", "check_boxes", "crop_boxes", "make_canvases", "split_boxed"]


def _background(size: int, generator: torch.Generator) -> torch.Tensor:
    """A float ``(3, size, size)`` canvas in ``[0, 1]``: a random two-colour gradient plus noise."""
    a, b = torch.rand(3, 1, 1, generator=generator), torch.rand(3, 1, 1, generator=generator)
    angle = torch.rand(1, generator=generator) * 6.2832
    ys, xs = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    t = (xs * torch.cos(angle) + ys * torch.sin(angle) + 1.5) / 3  # 0..1 along a random direction
    noise = torch.randn(3, size, size, generator=generator) * 0.08
    return (a * t + b * (1 - t) + noise).clamp(0, 1)


def _paste(canvas: torch.Tensor, glyph: torch.Tensor, side: int, x: int, y: int) -> torch.Tensor:
    """Alpha-composite an RGBA uint8 glyph, resized to ``side``, onto the float canvas at (x, y); returns its alpha."""
    rgba = F.interpolate(glyph[None].float() / 255, size=(side, side), mode="bilinear", align_corners=False,
                         antialias=True)[0]
    alpha = rgba[3:]
    region = canvas[:, y:y + side, x:x + side]
    canvas[:, y:y + side, x:x + side] = rgba[:3] * alpha + region * (1 - alpha)
    return alpha[0]


def make_canvases(glyphs: torch.Tensor, n: int, *, canvas_size: int = 64, scale: tuple[float, float] = (0.3, 0.8),
                  clutter: int = 3, background: str = "gradient", seed: int = 0
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` cluttered canvases, each with one subject glyph; returns (canvases, boxes, subject indices).

    ``glyphs`` are RGBA uint8 ``(N, 4, s, s)`` (``load_openmoji(…, background=None)``). Each
    canvas gets a gradient-and-noise background (``background="white"``: plain white, as the
    glyph sets are drawn), ``clutter`` other glyphs at half opacity and smaller sizes, then
    the subject at a side of ``scale`` × ``canvas_size``, anywhere it fits. The box is the
    subject's tight alpha bounding box (alpha > 0.5), so it is exact.
    """
    if glyphs.ndim != 4 or glyphs.shape[1] != 4 or glyphs.dtype != torch.uint8:
        raise ValueError(f"glyphs must be RGBA uint8 (N, 4, s, s), got {tuple(glyphs.shape)} {glyphs.dtype}")
    if not 0 < scale[0] <= scale[1] <= 1:
        raise ValueError(f"scale={scale}: need 0 < low ≤ high ≤ 1")
    if background not in ("gradient", "white"):
        raise ValueError(f"background={background!r}: 'gradient' or 'white'")
    generator = torch.Generator().manual_seed(seed)
    canvases, boxes, subjects = [], [], []
    for _ in range(n):
        canvas = (_background(canvas_size, generator) if background == "gradient"
                  else torch.ones(3, canvas_size, canvas_size))
        for _ in range(clutter):
            other = glyphs[int(torch.randint(len(glyphs), (1,), generator=generator))].clone()
            other[3] //= 2  # half opacity: clutter, not a second subject
            side = int(canvas_size * (0.15 + 0.25 * torch.rand(1, generator=generator).item()))
            x, y = (int(v) for v in torch.randint(0, canvas_size - side + 1, (2,), generator=generator))
            _paste(canvas, other, side, x, y)
        index = int(torch.randint(len(glyphs), (1,), generator=generator))
        side = int(canvas_size * (scale[0] + (scale[1] - scale[0]) * torch.rand(1, generator=generator).item()))
        x, y = (int(v) for v in torch.randint(0, canvas_size - side + 1, (2,), generator=generator))
        alpha = _paste(canvas, glyphs[index], side, x, y)
        rows, cols = (alpha > 0.5).any(1).nonzero().flatten(), (alpha > 0.5).any(0).nonzero().flatten()
        if len(rows) == 0:  # an (almost) empty glyph: the paste square is the box
            box = [x, y, x + side, y + side]
        else:
            box = [x + cols.min().item(), y + rows.min().item(), x + cols.max().item() + 1, y + rows.max().item() + 1]
        canvases.append(canvas)
        boxes.append(box)
        subjects.append(index)
    images = (torch.stack(canvases) * 255).round().to(torch.uint8)
    return images, torch.tensor(boxes, dtype=torch.float32), torch.tensor(subjects)


def check_boxes(boxes: torch.Tensor, image_size: tuple[int, int], names: Sequence[str] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """(boxes clipped to the image, mask of the usable ones); warns once, naming the images whose box was
    clipped or is empty (zero width or height after clipping)."""
    clipped = clip_boxes_to_image(boxes.float(), image_size)
    moved = (clipped != boxes).any(dim=1)
    usable = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
    names = list(names) if names is not None else [f"image {i}" for i in range(len(boxes))]
    for flags, what in ((moved & usable, "clipped to the image"), (~usable, "empty, skipped")):
        if flags.any():
            shown = ", ".join(names[i] for i in flags.nonzero().flatten()[:5].tolist())
            warnings.warn(f"{int(flags.sum())} box(es) {what}: {shown}{', …' if flags.sum() > 5 else ''}",
                          stacklevel=2)
    return clipped, usable


class UpscaledCrops(UserWarning):
    """Some crops were smaller than the size asked for and were upscaled; ``count`` of ``total``."""

    def __init__(self, count: int, total: int, size: int) -> None:
        super().__init__(f"{count} of {total} crops are smaller than {size} px and were upscaled")
        self.count, self.total = count, total


def crop_boxes(images: torch.Tensor, boxes: torch.Tensor, size: int, *, margin: float = 0.0,
               names: Sequence[str] | None = None) -> torch.Tensor:
    """Each ``(x0, y0, x1, y1)`` box, grown by ``margin`` of its size on every side (and clipped), cut out of its
    image and resized to ``size × size``; uint8 in, uint8 out.

    A box of ``size`` whole pixels returns exactly those pixels. Crops smaller than ``size``
    are upscaled; the count is reported in one warning. Boxes outside the image are clipped,
    and empty ones refused, with the image's name (``names``) in the message.
    """
    if len(images) != len(boxes):
        raise ValueError(f"{len(images)} images but {len(boxes)} boxes")
    boxes = boxes.float().clone()
    if margin:
        grow = (boxes[:, 2:] - boxes[:, :2]) * margin
        boxes[:, :2] -= grow
        boxes[:, 2:] += grow
    boxes, usable = check_boxes(boxes, tuple(images.shape[-2:]), names)
    if not usable.all():
        raise ValueError(f"{int((~usable).sum())} empty box(es); drop them first (check_boxes names them)")
    small = ((boxes[:, 2] - boxes[:, 0]) < size) | ((boxes[:, 3] - boxes[:, 1]) < size)
    if small.any():
        warnings.warn(UpscaledCrops(int(small.sum()), len(boxes), size), stacklevel=2)
    rois = torch.cat([torch.arange(len(boxes), dtype=torch.float32)[:, None], boxes], dim=1).to(images.device)
    crops = roi_align(images.float(), rois, output_size=(size, size), spatial_scale=1.0,
                      sampling_ratio=-1, aligned=True)  # -1: ⌈box / size⌉ samples per output pixel
    return crops.round().clamp(0, 255).to(torch.uint8)


def split_boxed(images, store, size: int, held_out: float = 0.2, *, seed: int = 0):
    """The images of ``images`` (an ``ImageSet`` at ``size`` px) that have a box in ``store`` (a ``BoxStore``),
    split by ``seed``: ``(boxed images, their pixel boxes, (training images, boxes), (held-out images, boxes))``,
    RGB; the two pairs are ``None`` with fewer than two boxed images, and at least one image is held out.

    Prints what it found: boxed names no longer in the folder (ignored), how many images have a box, and the split.
    """
    boxed, boxes = store.pixel_boxes(images.names, size)
    gone = sorted(set(store.boxes) - set(images.names))
    if gone:
        print(f"note: {len(gone)} boxed name(s) are not in {images.source} any more, ignored: {gone[:5]}")
    print(f"{images.source}: {len(images)} images; {len(boxed)} with a box in {short_path(store.path)}")
    pictures = images.images[torch.tensor(boxed, dtype=torch.long), :3]
    if len(boxed) < 2:
        return pictures, boxes, None, None
    order = torch.randperm(len(boxed), generator=torch.Generator().manual_seed(seed))
    n_test = max(1, round(held_out * len(boxed)))
    print(f"{len(boxed) - n_test} of them join the training canvases, {n_test} are held out")
    return (pictures, boxes, (pictures[order[n_test:]], boxes[order[n_test:]]),
            (pictures[order[:n_test]], boxes[order[:n_test]]))


def add_own_boxes(images: torch.Tensor, boxes: torch.Tensor, own: tuple[torch.Tensor, torch.Tensor] | None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """``images`` and ``boxes`` with ``own`` (images, boxes) appended, repeated to about a fifth of the result
    (at least once; it says so); unchanged when ``own`` is ``None`` or empty."""
    if own is None or not len(own[0]):
        return images, boxes
    repeat = max(1, len(images) // (4 * len(own[0])))
    print(f"training on {len(images)} canvases + {len(own[0])} of your images × {repeat}")
    return torch.cat([images, own[0].repeat(repeat, 1, 1, 1)]), torch.cat([boxes, own[1].repeat(repeat, 1)])

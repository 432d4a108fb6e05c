"""Pictures: image grids, loss and quality curves, boxes drawn on images, training GIFs.

Only matplotlib, PIL and torchvision drawing here; the callbacks that draw while training are in
``train.callbacks``, the sliders in ``widgets``, the noise tricks (truncation, latent walks) in ``latent``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image, ImageDraw
from torchvision.utils import draw_bounding_boxes, make_grid

from .data import to_uint8


def as_uint8(images: torch.Tensor) -> torch.Tensor:
    """uint8 images pass through; float images in ``[-1, 1]`` are converted."""
    return images if images.dtype == torch.uint8 else to_uint8(images)


def image_grid(images: torch.Tensor, nrow: int = 8, padding: int = 2) -> torch.Tensor:
    """A ``(3, H, W)`` uint8 grid of a batch (uint8, or float in ``[-1, 1]``), on a white background."""
    images = as_uint8(images.detach().cpu())
    if images.shape[1] == 4:  # composite RGBA on white for display
        alpha = images[:, 3:].float() / 255
        images = (images[:, :3].float() * alpha + 255 * (1 - alpha)).round().to(torch.uint8)
    return make_grid(images, nrow=nrow, padding=padding, pad_value=255)


def show_images(images: torch.Tensor, nrow: int = 8, *, title: str | None = None, ax=None, figsize=None):
    """Draw a grid of ``images`` with matplotlib (an empty batch draws an empty panel); returns the axes."""
    if len(images) == 0:
        if ax is None:
            _, ax = plt.subplots(figsize=figsize or (8, 1.5))
        ax.text(0.5, 0.5, "(no images)", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        if title:
            ax.set_title(title)
        return ax
    grid = image_grid(images, nrow=nrow)
    if ax is None:
        height = grid.shape[1] / grid.shape[2]
        _, ax = plt.subplots(figsize=figsize or (8, 8 * height + (0.4 if title else 0)))
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def save_grid(images: torch.Tensor, path: str | Path, nrow: int = 8) -> Path:
    """Write a grid of ``images`` as a PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image_grid(images, nrow=nrow).permute(1, 2, 0).numpy()).save(path)
    return path


def frame_step(path: Path) -> int:
    """The training step a saved sample grid was taken at, from its name (``step_0000420.png`` → 420)."""
    return int(Path(path).stem.split("_")[1])


def smooth(values, window: int) -> np.ndarray:
    """Moving average over ``window`` points (shorter at the start)."""
    values = np.asarray(values, dtype=float)
    if window <= 1 or len(values) == 0:
        return values
    cumsum = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    start = np.maximum(0, idx - window)
    return (cumsum[idx] - cumsum[start]) / (idx - start)


#: the loss ranges the Cocogoat author calls healthy for BCE: D about 1–1.5, G about 1.2–1.8
HEALTHY_BCE = {"d_loss": (1.0, 1.5), "g_loss": (1.2, 1.8)}


def plot_losses(history: dict, *, ax=None, window: int | None = None, keys=("d_loss", "g_loss"), band: bool = False,
                marks: dict[int, str] | None = None, healthy: dict[str, tuple[float, float]] | None = None,
                labels: dict[str, str] | None = None, healthy_label: str = "healthy {label} ({low:g}–{high:g})",
                xlabel: str = "step", ylabel: str = "loss"):
    """Loss curves from a trainer's ``history`` (raw, faint; smoothed, solid). Returns the axes.

    ``band=True`` shades the moving mean ± one moving standard deviation instead of the raw curve.
    ``marks`` (step → label) draws a labelled vertical line at each step, e.g. where a level begins.
    ``healthy`` (key → (low, high), e.g. :data:`HEALTHY_BCE`) shades each loss's healthy range in its colour.
    ``labels`` (key → legend label; default the key), ``healthy_label`` (a template over ``label``, ``low``,
    ``high``), ``xlabel`` and ``ylabel`` let a lesson write the figure in its own language.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    steps = history["step"]
    window = window or max(1, len(steps) // 50)
    for key in keys:
        mean = smooth(history[key], window)
        label = (labels or {}).get(key, key)
        if band:
            spread = np.sqrt(np.maximum(smooth(np.square(history[key]), window) - mean**2, 0))
            line, = ax.plot(steps, mean, label=label)
            ax.fill_between(steps, mean - spread, mean + spread, color=line.get_color(), alpha=0.2, linewidth=0)
        else:
            line, = ax.plot(steps, history[key], alpha=0.25, linewidth=0.8)
            ax.plot(steps, mean, color=line.get_color(), label=label)
        if healthy and key in healthy:
            low, high = healthy[key]
            ax.axhspan(low, high, color=line.get_color(), alpha=0.08, linewidth=0,
                       label=healthy_label.format(label=label, low=low, high=high))
    for step, label in (marks or {}).items():
        ax.axvline(step, color="grey", linestyle=":" if label == "faded in" else "--", linewidth=0.9)
        ax.annotate(label, (step, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -2), textcoords="offset points",
                    va="top", fontsize=8, color="grey", rotation=90)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    return ax


def plot_discriminator_outputs(history: dict, *, ax=None, window: int | None = None, **options):
    """Mean σ(D(x)) and σ(D(G(z))) over training: the tutorial's D(x) and D(G(z)) (``options``: :func:`plot_losses`'s
    ``labels``, ``xlabel``, ``ylabel``)."""
    return plot_losses(history, ax=ax, window=window, keys=("d_real", "d_fake"), **options)


def scale_rows(scales: list[torch.Tensor], n: int = 8) -> torch.Tensor:
    """The first ``n`` images of every scale, each enlarged (nearest) to the largest size: one grid row per scale."""
    size = scales[-1].shape[-1]
    rows = [torch.nn.functional.interpolate(as_uint8(x[:n]).float(), size=size, mode="nearest").to(torch.uint8)
            for x in scales]
    return torch.cat(rows)


def with_boxes(images: torch.Tensor, *box_sets: torch.Tensor, colors=("lime", "red", "blue"), width: int = 1) -> torch.Tensor:
    """``images`` (uint8 or float in ``[-1, 1]``) with every set of ``(x0, y0, x1, y1)`` boxes drawn on them, one
    colour per set (``torchvision.utils.draw_bounding_boxes``); uint8 out."""
    out = []
    for i, image in enumerate(as_uint8(images.detach().cpu())[:, :3]):
        for boxes, color in zip(box_sets, colors):
            inclusive = boxes[i:i + 1].float() - torch.tensor([0.0, 0.0, 1.0, 1.0])  # it draws x1, y1 themselves
            image = draw_bounding_boxes(image, inclusive, colors=color, width=width)
        out.append(image)
    return torch.stack(out)


def save_gif(frames: list[torch.Tensor | Path], path: str | Path, *, nrow: int = 8, duration_ms: int = 200,
             labels: list[str] | None = None, last_frame_ms: int = 1500) -> Path:
    """An animated GIF looping forever: one frame per batch (drawn as a grid) or per image file in ``frames``."""
    if not frames:
        raise ValueError("save_gif needs at least one frame")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pictures = []
    for i, frame in enumerate(frames):
        if isinstance(frame, torch.Tensor):
            picture = Image.fromarray(image_grid(frame, nrow=nrow).permute(1, 2, 0).numpy())
        else:
            with Image.open(frame) as opened:
                picture = opened.convert("RGB")
        if labels:
            canvas = Image.new("RGB", (picture.width, picture.height + 14), "white")
            canvas.paste(picture, (0, 14))
            ImageDraw.Draw(canvas).text((2, 1), labels[i], fill="black")
            picture = canvas
        pictures.append(picture)
    durations = [duration_ms] * (len(pictures) - 1) + [last_frame_ms]
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=durations, loop=0)
    return path


def progress_figure(frames: list[Path], rows: int = 6, per_row: int = 8, *, title: str = "step {step}"):
    """The first ``per_row`` samples of ``rows`` saved grids spread over training, one row each, titled ``title``
    (a template over ``step``)."""
    picks = sorted({round(i * (len(frames) - 1) / max(rows - 1, 1)) for i in range(rows)})
    fig, axes = plt.subplots(len(picks), 1, figsize=(8, 1.25 * len(picks)), squeeze=False)
    for ax, i in zip(axes[:, 0], picks):
        with Image.open(frames[i]) as opened:
            grid = np.asarray(opened.convert("RGB"))
        cell = (grid.shape[1] - 2) // 8  # image side + padding, for the 8-wide grids save_grid writes
        ax.imshow(grid[: cell + 2, : cell * per_row + 2], interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(title.format(step=frame_step(frames[i])), fontsize=9, loc="left")
    fig.tight_layout()
    return fig


#: the words of :func:`plot_quality`'s figure; a lesson passes its own (``collapse_at`` is a template over ``step``)
QUALITY_WORDS = {"best": "best (kept)", "fd": "Fréchet distance", "precision": "precision", "recall": "recall",
                 "ratio": "near-duplicate samples", "threshold": "partly collapsed above",
                 "collapse_at": "collapse at step {step}", "diversity": "near-duplicate share", "step": "step"}


def _near_duplicates(m: dict) -> float:
    """An evaluation's near-duplicate share (older records without it: the diversity ratio's shortfall, 1 − ratio)."""
    return m["near_duplicates"] if m.get("near_duplicates") is not None else max(0.0, 1 - m["diversity_ratio"])


def plot_quality(metrics: list[dict], *, collapse_threshold: float | None = None, collapse_step: int | None = None,
                 axes=None, words: dict[str, str] | None = None):
    """Fréchet distance, precision/recall and the share of near-duplicate samples over training, with the judge's
    ``collapse_threshold`` (``metrics.PARTLY_COLLAPSED``; ``None``: no line); marks ``collapse_step``. ``words``
    replaces any of :data:`QUALITY_WORDS`."""
    words = QUALITY_WORDS | (words or {})
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(13, 3.2))
    steps = [m["step"] for m in metrics]
    axes[0].plot(steps, [m["fd"] for m in metrics], marker="o")
    best = min(metrics, key=lambda m: m["fd"])
    axes[0].scatter([best["step"]], [best["fd"]], s=90, facecolors="none", edgecolors="red", label=words["best"])
    axes[0].set_ylabel(words["fd"])
    axes[0].legend(loc="upper right")
    axes[1].plot(steps, [m["precision"] for m in metrics], marker="o", label=words["precision"])
    axes[1].plot(steps, [m["recall"] for m in metrics], marker="o", label=words["recall"])
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].legend(loc="lower right")
    axes[2].plot(steps, [_near_duplicates(m) for m in metrics], marker="o", label=words["ratio"])
    axes[2].set_ylim(-0.02, 1.02)
    if collapse_threshold is not None:
        axes[2].axhline(collapse_threshold, color="red", linestyle="--", linewidth=1, label=words["threshold"])
    if collapse_step is not None:
        axes[2].axvline(collapse_step, color="red", alpha=0.5, label=words["collapse_at"].format(step=collapse_step))
    axes[2].set_ylabel(words["diversity"])
    axes[2].legend(loc="lower right")
    for ax in axes:
        ax.set_xlabel(words["step"])
        ax.grid(alpha=0.3)
    axes[0].figure.tight_layout()
    return axes


def show_grids(panels: dict[str, torch.Tensor], *, panel_size: tuple[float, float] = (4.5, 4.6), figsize=None,
               nrow: int = 8):
    """One row of image grids, one panel per ``panels`` item (title → images); returns the figure. A title's lines
    wrap at the panel's width, so long titles do not run into their neighbours'."""
    figsize = figsize or (panel_size[0] * len(panels), panel_size[1])
    width = max(20, int(figsize[0] / len(panels) * 8.5))  # characters of the default title size per panel
    fig, axes = plt.subplots(1, len(panels), figsize=figsize, squeeze=False)
    for ax, (title, images) in zip(axes[0], panels.items()):
        title = "\n".join(textwrap.fill(line, width) for line in title.split("\n")) if title else title
        show_images(images, nrow=nrow, ax=ax, title=title)
    return fig


def show_boxes(images: torch.Tensor, *box_sets: torch.Tensor, n: int = 16, nrow: int = 8, title: str | None = None,
               colors=("lime", "red", "blue"), ax=None):
    """The first ``n`` images with their boxes drawn (one colour per set, :func:`with_boxes`), as a grid; returns
    the axes."""
    return show_images(with_boxes(images[:n], *(boxes[:n] for boxes in box_sets), colors=colors), nrow=nrow,
                       title=title, ax=ax)


def show_frames(frames: list[Path], *, n: int = 4, label: str = "", height: float = 5.0):
    """``n`` saved grids spread evenly over training, side by side, each titled ``"<label>: step N"`` (its file name
    ``step_N.png``); returns the figure."""
    picks = [frames[round(i * (len(frames) - 1) / (n - 1))] for i in range(n)] if len(frames) > 1 else frames
    fig, axes = plt.subplots(1, len(picks), figsize=(5 * len(picks), height), squeeze=False)
    for ax, frame in zip(axes[0], picks):
        ax.imshow(plt.imread(frame))
        ax.set_axis_off()
        ax.set_title(f"{label}: step {frame_step(frame)}")
    return fig


def plot_fd_curves(curves: dict[str, list[tuple[float, int, float]]], *, target: float | None = None,
                   xlabel: str = "seconds of training", ylabel: str = "FD", figsize=(7, 3.2)):
    """FD against seconds, one line per run (``curves``: run → ``(seconds, images, fd)`` evaluations), with a
    dotted line at ``target``; returns the axes."""
    _, ax = plt.subplots(figsize=figsize)
    for name, curve in curves.items():
        ax.plot([s for s, *_ in curve], [fd for *_, fd in curve], marker="o", label=name)
    if target is not None:
        ax.axhline(target, color="grey", linestyle=":", label=f"FD {target:.1f}")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def plot_lines(x, curves: dict[str, object], *, window: int | None = None, ax=None, title: str | None = None,
               xlabel: str | None = None, ylabel: str | None = None, figsize: tuple[float, float] = (6, 3.5)):
    """Curves in one legended, gridded panel: label → values over ``x`` (``None``: each curve over its own index,
    0, 1, …), smoothed over ``window`` points (:func:`smooth`) when given; returns the axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    for label, values in curves.items():
        values = torch.as_tensor(values).detach().cpu().numpy()
        xs = np.arange(len(values)) if x is None else torch.as_tensor(x).detach().cpu().numpy()
        ax.plot(xs, smooth(values, window) if window else values, label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax

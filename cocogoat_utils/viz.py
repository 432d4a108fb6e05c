"""Pictures: image grids, loss curves, the live loss plot, training GIFs, latent walks, the truncation trick.

The truncation trick (Brock et al. 2019, BigGAN, https://arxiv.org/abs/1809.11096)
samples the noise from a normal distribution truncated to ``|z| ≤ threshold``: lower
thresholds trade variety for fidelity, as the sample comes closer to the "average"
image the generator knows.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from torchvision.utils import make_grid

from .data import to_uint8
from .train import Callback, eval_mode


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
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image_grid(images, nrow=nrow).permute(1, 2, 0).numpy()).save(path)
    return path


def smooth(values, window: int) -> np.ndarray:
    """Moving average over ``window`` points (shorter at the start)."""
    values = np.asarray(values, dtype=float)
    if window <= 1 or len(values) == 0:
        return values
    cumsum = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    start = np.maximum(0, idx - window)
    return (cumsum[idx] - cumsum[start]) / (idx - start)


def plot_losses(history: dict, *, ax=None, window: int | None = None, keys=("d_loss", "g_loss"), band: bool = False,
                marks: dict[int, str] | None = None):
    """Loss curves from a trainer's ``history`` (raw, faint; smoothed, solid). Returns the axes.

    ``band=True`` shades the moving mean ± one moving standard deviation instead of the raw curve.
    ``marks`` (step → label) draws a labelled vertical line at each step, e.g. where a level begins.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    steps = history["step"]
    window = window or max(1, len(steps) // 50)
    for key in keys:
        mean = smooth(history[key], window)
        if band:
            spread = np.sqrt(np.maximum(smooth(np.square(history[key]), window) - mean**2, 0))
            line, = ax.plot(steps, mean, label=key)
            ax.fill_between(steps, mean - spread, mean + spread, color=line.get_color(), alpha=0.2, linewidth=0)
            continue
        line, = ax.plot(steps, history[key], alpha=0.25, linewidth=0.8)
        ax.plot(steps, mean, color=line.get_color(), label=key)
    for step, label in (marks or {}).items():
        ax.axvline(step, color="grey", linestyle=":" if label == "faded in" else "--", linewidth=0.9)
        ax.annotate(label, (step, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -2), textcoords="offset points",
                    va="top", fontsize=8, color="grey", rotation=90)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    return ax


def plot_discriminator_outputs(history: dict, *, ax=None, window: int | None = None):
    """Mean σ(D(x)) and σ(D(G(z))) over training: the tutorial's D(x) and D(G(z))."""
    return plot_losses(history, ax=ax, window=window, keys=("d_real", "d_fake"))


class LiveLossPlot(Callback):
    """Redraws the loss curves in one notebook output every ``every`` log events.

    Uses ``display(..., display_id=True)`` and ``handle.update`` so that the progress bar
    above it is left alone; headless runs keep the last frame.
    """

    def __init__(self, every: int = 1, window: int | None = None) -> None:
        self.every, self.window, self.handle, self.count = every, window, None, 0

    def _figure(self, trainer):
        if "d_loss" not in trainer.history:  # one loss (a diffusion trainer): one panel
            fig, ax = plt.subplots(figsize=(8, 3.2))
            plot_losses(trainer.history, ax=ax, window=self.window, keys=("loss",))
            fig.tight_layout()
            plt.close(fig)
            return fig
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
        plot_losses(trainer.history, ax=axes[0], window=self.window)
        plot_discriminator_outputs(trainer.history, ax=axes[1], window=self.window)
        axes[1].set_ylabel("mean σ(D)")
        fig.tight_layout()
        plt.close(fig)
        return fig

    def on_log(self, trainer) -> None:
        self.count += 1
        if self.count % self.every:
            return
        from IPython.display import display

        fig = self._figure(trainer)
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)

    def on_train_end(self, trainer) -> None:
        if self.handle is not None and trainer.history["step"]:
            self.handle.update(self._figure(trainer))


class SampleGridSaver(Callback):
    """Writes every fixed-noise sample grid to ``folder/step_<step>.png`` as training makes it.

    The files outlive the kernel: after a crash or a resume, :func:`save_gif` still
    gets every frame from :meth:`frames`.
    """

    def __init__(self, folder: str | Path, nrow: int = 8) -> None:
        self.folder, self.nrow = Path(folder), nrow

    def on_sample(self, trainer, images: torch.Tensor) -> None:
        save_grid(images, self.folder / f"step_{trainer.step:07d}.png", nrow=self.nrow)

    def frames(self) -> list[Path]:
        """The saved grids, in step order."""
        return sorted(self.folder.glob("step_*.png"))


def scale_rows(scales: list[torch.Tensor], n: int = 8) -> torch.Tensor:
    """The first ``n`` images of every scale, each enlarged (nearest) to the largest size: one grid row per scale."""
    size = scales[-1].shape[-1]
    rows = [torch.nn.functional.interpolate(as_uint8(x[:n]).float(), size=size, mode="nearest").to(torch.uint8)
            for x in scales]
    return torch.cat(rows)


class ScaleGridSaver(Callback):
    """Writes every scale of a multi-scale generator's fixed-noise samples, a row per scale, to ``folder/step_<step>.png``."""

    def __init__(self, folder: str | Path, n: int = 8) -> None:
        self.folder, self.n = Path(folder), n

    def on_sample(self, trainer, images: torch.Tensor) -> None:
        scales = trainer.sample_scales(trainer.fixed_noise[: self.n])
        save_grid(scale_rows(scales, self.n), self.folder / f"step_{trainer.step:07d}.png", nrow=self.n)

    def frames(self) -> list[Path]:
        return sorted(self.folder.glob("step_*.png"))


def with_boxes(images: torch.Tensor, *box_sets: torch.Tensor, colors=("lime", "red", "blue"), width: int = 1) -> torch.Tensor:
    """``images`` (uint8 or float in ``[-1, 1]``) with every set of ``(x0, y0, x1, y1)`` boxes drawn on them, one
    colour per set (``torchvision.utils.draw_bounding_boxes``); uint8 out."""
    from torchvision.utils import draw_bounding_boxes

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
    from PIL import Image, ImageDraw

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


def truncated_noise(n: int, latent_dim: int, threshold: float | None, *, seed: int = 0) -> torch.Tensor:
    """``(n, latent_dim)`` noise from N(0, 1) truncated to ``[-threshold, threshold]`` (``None``: not truncated)."""
    generator = torch.Generator().manual_seed(seed)
    if threshold is None:
        return torch.randn(n, latent_dim, generator=generator)
    if threshold <= 0:
        raise ValueError(f"threshold={threshold}: must be positive (or None for no truncation)")
    z = torch.empty(n, latent_dim)
    return torch.nn.init.trunc_normal_(z, 0.0, 1.0, -threshold, threshold, generator=generator)


@torch.no_grad()
def generate(generator: torch.nn.Module, noise: torch.Tensor) -> torch.Tensor:
    """Images for ``noise`` as uint8 on the CPU, the generator in eval mode."""
    device = next(generator.parameters()).device
    with eval_mode(generator):
        return to_uint8(generator(noise.to(device))).cpu()


def truncation_grid(generator: torch.nn.Module, thresholds=(0.25, 0.5, 1.0, 2.0, None), *, n: int = 8,
                    seed: int = 0) -> torch.Tensor:
    """One row of ``n`` samples per threshold, the same seed in every row, as uint8 ``(rows·n, C, H, W)``."""
    rows = [generate(generator, truncated_noise(n, generator.latent_dim, t, seed=seed)) for t in thresholds]
    return torch.cat(rows)


def truncation_slider(generator: torch.nn.Module, *, n: int = 16, seed: int = 0):
    """An ipywidgets slider over the truncation threshold that redraws ``n`` samples as it moves."""
    import ipywidgets as widgets
    from IPython.display import display

    output = widgets.Output()
    slider = widgets.FloatSlider(value=1.0, min=0.05, max=3.0, step=0.05, description="threshold",
                                 continuous_update=False)
    seed_box = widgets.IntText(value=seed, description="seed")

    def redraw(_=None):
        with output:
            output.clear_output(wait=True)
            images = generate(generator, truncated_noise(n, generator.latent_dim, slider.value, seed=seed_box.value))
            show_images(images, nrow=min(n, 8), title=f"|z| ≤ {slider.value:.2f}", figsize=(8, 2.2 * -(-n // 8)))
            plt.show()

    slider.observe(redraw, names="value")
    seed_box.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([widgets.HBox([slider, seed_box]), output])
    display(box)
    return box


def frame_slider(frames: list[torch.Tensor], titles: list[str], *, nrow: int = 8, description: str = "frame"):
    """An ipywidgets slider that shows one of ``frames`` (image batches) at a time, titled by ``titles``."""
    import ipywidgets as widgets
    from IPython.display import display

    if not frames or len(frames) != len(titles):
        raise ValueError(f"{len(frames)} frames and {len(titles)} titles: need as many of each, at least one")
    output = widgets.Output()
    slider = widgets.IntSlider(value=0, min=0, max=len(frames) - 1, description=description, continuous_update=False)

    def redraw(_=None):
        with output:
            output.clear_output(wait=True)
            show_images(frames[slider.value], nrow=nrow, title=titles[slider.value])
            plt.show()

    slider.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([slider, output])
    display(box)
    return box


def interpolate_latents(z0: torch.Tensor, z1: torch.Tensor, steps: int = 8, *, spherical: bool = True) -> torch.Tensor:
    """``steps`` points from ``z0`` to ``z1`` (1-D tensors): along the great circle (slerp) or a straight line."""
    t = torch.linspace(0, 1, steps).unsqueeze(1)
    if not spherical:
        return (1 - t) * z0 + t * z1
    omega = torch.arccos(torch.clamp(torch.dot(z0 / z0.norm(), z1 / z1.norm()), -1.0, 1.0))
    if omega.abs() < 1e-6:
        return (1 - t) * z0 + t * z1
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def progress_figure(frames: list[Path], rows: int = 6, per_row: int = 8):
    """The first ``per_row`` samples of ``rows`` saved grids spread over training, one row each."""
    from PIL import Image

    picks = sorted({round(i * (len(frames) - 1) / max(rows - 1, 1)) for i in range(rows)})
    fig, axes = plt.subplots(len(picks), 1, figsize=(8, 1.25 * len(picks)), squeeze=False)
    for ax, i in zip(axes[:, 0], picks):
        with Image.open(frames[i]) as opened:
            grid = np.asarray(opened.convert("RGB"))
        cell = (grid.shape[1] - 2) // 8  # image side + padding, for the 8-wide grids save_grid writes
        ax.imshow(grid[: cell + 2, : cell * per_row + 2], interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(f"step {int(frames[i].stem.split('_')[-1])}", fontsize=9, loc="left")
    fig.tight_layout()
    return fig


def plot_quality(metrics: list[dict], *, collapse_threshold: float = 0.5, collapse_step: int | None = None, axes=None):
    """Fréchet distance, precision/recall and the diversity ratio over training; marks ``collapse_step``."""
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(13, 3.2))
    steps = [m["step"] for m in metrics]
    axes[0].plot(steps, [m["fd"] for m in metrics], marker="o")
    best = min(metrics, key=lambda m: m["fd"])
    axes[0].scatter([best["step"]], [best["fd"]], s=90, facecolors="none", edgecolors="red", label="best (kept)")
    axes[0].set_ylabel("Fréchet distance")
    axes[0].legend(loc="upper right")
    axes[1].plot(steps, [m["precision"] for m in metrics], marker="o", label="precision")
    axes[1].plot(steps, [m["recall"] for m in metrics], marker="o", label="recall")
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].legend(loc="lower right")
    axes[2].plot(steps, [m["diversity_ratio"] for m in metrics], marker="o", label="samples / real")
    axes[2].axhline(collapse_threshold, color="red", linestyle="--", linewidth=1, label="collapse threshold")
    if collapse_step is not None:
        axes[2].axvline(collapse_step, color="red", alpha=0.5, label=f"collapse at step {collapse_step}")
    axes[2].set_ylabel("diversity ratio")
    axes[2].legend(loc="lower right")
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].figure.tight_layout()
    return axes

"""What a notebook attaches to a trainer to watch it: live plots, saved sample grids, quality scores, TensorBoard.

Every one is a :class:`~cocogoat_utils.train.loop.Callback` and works with any trainer:

- :class:`LiveLossPlot` redraws the loss curves in one notebook output as training goes;
- :class:`SampleGridSaver` / :class:`ScaleGridSaver` write every fixed-noise grid (every scale of
  a multi-scale generator) as a PNG that outlives the kernel, for GIFs;
- :class:`QualityTracker` scores generated images every N steps (FD, KID, precision/recall,
  diversity), keeps the best checkpoint by FD and reports collapse whenever the samples'
  diversity is under the threshold (``metrics.collapse_status``); its record survives a resume;
- :class:`PerScaleLosses`: each scale's discriminator loss, for a per-scale discriminator;
- :class:`TensorBoardLogger` (``config.tensorboard=True`` adds one).
- :class:`ShadowEMA`: a second average of the weights (without warm-up by default), beside the trainer's.
- :class:`DieAt`: raises at a given step, a stand-in for a kernel that dies (resume demonstrations).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from ..metrics import collapse_status
from ..runtime import eval_mode
from ..viz import plot_discriminator_outputs, plot_losses, save_grid, scale_rows
from .loop import Callback


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
            plot_losses(trainer.history, ax=ax, window=self.window, keys=trainer.history_keys)
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

    The files outlive the kernel: after a crash or a resume, :func:`viz.save_gif` still
    gets every frame from :meth:`frames`.
    """

    def __init__(self, folder: str | Path, nrow: int = 8) -> None:
        self.folder, self.nrow = Path(folder), nrow

    def on_sample(self, trainer, images: torch.Tensor) -> None:
        save_grid(images, self.folder / f"step_{trainer.step:07d}.png", nrow=self.nrow)

    def frames(self) -> list[Path]:
        """The saved grids, in step order."""
        return sorted(self.folder.glob("step_*.png"))

    def gif(self, path: str | Path, **options) -> Path:
        """The saved grids as an animated GIF at ``path``, each frame labelled with its step (``viz.save_gif``'s
        ``options``); returns the path."""
        from ..viz import frame_step, save_gif

        frames = self.frames()
        return save_gif(frames, path, labels=[f"step {frame_step(f)}" for f in frames], **options)


class ScaleGridSaver(SampleGridSaver):
    """Writes every scale a multi-scale generator draws for the first ``n`` fixed noise vectors, a row per scale."""

    def __init__(self, folder: str | Path, n: int = 8) -> None:
        super().__init__(folder, nrow=n)

    @torch.no_grad()
    def on_sample(self, trainer, images: torch.Tensor) -> None:
        with eval_mode(trainer.sampler), trainer.autocast():
            scales = trainer.sampler(trainer.fixed_noise[: self.nrow])
        save_grid(scale_rows(scales, self.nrow), self.folder / f"step_{trainer.step:07d}.png", nrow=self.nrow)


class QualityTracker(Callback):
    """Scores ``samples`` generated images with ``quality`` (a :class:`~cocogoat_utils.metrics.QualityMetrics`)
    every ``every`` steps (``None``: only at the end) and after the last step.

    Keeps ``best.pt`` (the checkpoint with the lowest FD, when the trainer has an ``out_dir``),
    and warns whenever an evaluation finds the samples' diversity under the collapse
    threshold — from the start or after being diverse (:attr:`collapse`). The images come
    from ``trainer.generate(samples, seed=config.seed + 1)``: the same noise at every evaluation.
    Each entry of :attr:`metrics` holds the step, the training seconds and images seen so far, and the scores.
    """

    def __init__(self, quality, *, every: int | None = None, samples: int = 1000, keep_best: bool = True) -> None:
        if every is not None and every < 1:
            raise ValueError(f"every={every}: give a number of steps ≥ 1, or None for the end only")
        self.quality, self.every, self.samples, self.keep_best = quality, every, samples, keep_best
        self.metrics: list[dict] = []
        self.best_checkpoint: Path | None = None
        self._warned = False

    def on_step_end(self, trainer) -> None:
        if (self.every and trainer.step % self.every == 0) or trainer.finishing:
            self.evaluate(trainer)

    def evaluate(self, trainer) -> dict:
        """Score the trainer's samples now; returns the new entry of :attr:`metrics`."""
        trainer._flush()
        images = trainer.generate(self.samples, seed=trainer.config.seed + 1)
        result = {"step": trainer.step, "seconds": round(trainer.elapsed, 2), "images": trainer.images_seen,
                  **self.quality.evaluate(images)}
        best = min((m["fd"] for m in self.metrics), default=float("inf"))
        self.metrics.append(result)
        if self.keep_best and result["fd"] < best:
            self.best_checkpoint = trainer.save(filename="best.pt")
        status = self.collapse
        if result["collapsed"] and not self._warned:
            self._warned = True
            warnings.warn(f"mode collapse: {status['text']}", stacklevel=2)
        for callback in trainer.callbacks:
            if callback is not self:
                callback.on_metrics(trainer, result)
        return result

    @property
    def collapse(self) -> dict:
        """Whether and how the run collapsed so far (see :func:`~cocogoat_utils.metrics.collapse_status`)."""
        return collapse_status(self.metrics, threshold=self.quality.collapse_threshold)

    @property
    def collapse_step(self) -> int | None:
        """The step of the first evaluation under the collapse threshold (``None``: none was)."""
        return self.collapse["step"]

    @property
    def last(self) -> dict:
        return self.metrics[-1] if self.metrics else {}

    @property
    def best(self) -> dict:
        return min(self.metrics, key=lambda m: m["fd"]) if self.metrics else {}

    def state_dict(self) -> dict:
        return {"metrics": self.metrics, "best_checkpoint": str(self.best_checkpoint or "")}

    def load_state_dict(self, state: dict) -> None:
        self.metrics = list(state["metrics"])
        self.best_checkpoint = Path(state["best_checkpoint"]) if state.get("best_checkpoint") else None
        self._warned = any(m["collapsed"] for m in self.metrics)


class PerScaleLosses(Callback):
    """Each scale's discriminator loss on a fixed real batch and the fixed noise, at every log event.

    For a discriminator with ``per_scale(images)`` (one network per scale); ``history`` maps
    ``"step"`` and ``"scale_<size>"`` to lists, for a plot of every discriminator's loss.
    """

    def __init__(self, real: torch.Tensor, *, every: int = 1) -> None:
        self.real, self.every, self.count = real, every, 0
        self.history: dict[str, list[float]] = {"step": []}

    @torch.no_grad()
    def on_log(self, trainer) -> None:
        self.count += 1
        if self.count % self.every:
            return
        with eval_mode(trainer.generator, trainer.discriminator):
            fake = trainer.generator(trainer.fixed_noise[: len(self.real)])
            real = trainer.generator.match_real(self.real.to(trainer.device))
            pairs = zip(trainer.discriminator.per_scale(real), trainer.discriminator.per_scale(fake))
            losses = [trainer.loss.discriminator(r.float(), f.float()).item() for r, f in pairs]
        self.history["step"].append(trainer.step)
        for image, loss in zip(real, losses):
            self.history.setdefault(f"scale_{image.shape[-1]}", []).append(loss)

    def state_dict(self) -> dict:
        return {"history": self.history, "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.history, self.count = state["history"], state["count"]


class TensorBoardLogger(Callback):
    """Losses, sample grids and quality scores in ``folder`` for TensorBoard (``%tensorboard --logdir …``)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder, self.writer, self.written = Path(folder), None, 0

    def on_train_start(self, trainer) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(self.folder)
        self.written = len(trainer.history["step"])

    def on_log(self, trainer) -> None:
        if self.writer is None:
            return
        steps = trainer.history["step"]
        for i in range(self.written, len(steps)):
            for key in trainer.history_keys:
                self.writer.add_scalar(f"train/{key}", trainer.history[key][i], steps[i])
        self.written = len(steps)

    def on_sample(self, trainer, images: torch.Tensor) -> None:
        if self.writer is not None:
            from torchvision.utils import make_grid

            self.writer.add_image("samples", make_grid(images, nrow=8), trainer.step)

    def on_metrics(self, trainer, result: dict) -> None:
        if self.writer is not None:
            for key in ("fd", "kid", "precision", "recall", "diversity_ratio"):
                self.writer.add_scalar(f"quality/{key}", result[key], trainer.step)

    def on_train_end(self, trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class ShadowEMA(Callback):
    """A second average of ``model``'s weights, updated after every step like a trainer's own — by default without
    warm-up, to compare with the trainer's average that has one. Its state survives a resume."""

    def __init__(self, model, decay: float, *, warmup: bool = False) -> None:
        from .optim import EMA

        self.ema = EMA(model, decay, warmup=warmup)

    def on_step_end(self, trainer) -> None:
        self.ema.update_parameters(trainer.model)

    def state_dict(self) -> dict:
        return {"ema": self.ema.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.ema.load_state_dict(state["ema"])


class DieAt(Callback):
    """Stands in for a kernel that dies: raises ``InterruptedError`` as step ``step`` starts (at ``level`` of a
    progressive run when given, read from ``trainer.generator.level``), to show what a resume recovers."""

    def __init__(self, step: int, *, level: int | None = None) -> None:
        self.step, self.level = step, level

    def on_step_start(self, trainer) -> None:
        if trainer.step == self.step and (self.level is None or trainer.generator.level == self.level):
            where = f" of level {self.level}" if self.level is not None else ""
            raise InterruptedError(f"at step {self.step}{where}")

"""What a notebook attaches to a trainer to watch it: live plots, saved sample grids, quality scores, TensorBoard.

Every one is a :class:`Callback` and works with any trainer (quality evaluations are a step of the loop
itself, recorded by ``evaluation.QualityTracker``; callbacks see each result in ``on_metrics``):

- :class:`Callback`, the hooks; each of the others overrides some of them;
- :class:`LiveLossPlot` redraws the loss curves in one notebook output as training goes;
- :class:`SampleGridSaver` / :class:`ScaleGridSaver` write every fixed-noise grid (every scale of
  a multi-scale generator) as a PNG that outlives the kernel, for GIFs;
- :class:`PerScaleLosses`: each scale's discriminator loss, for a per-scale discriminator;
- :class:`TensorBoardLogger` (``config.tensorboard=True`` adds one).
- :class:`ShadowEMA`: a second average of the weights (without warm-up by default), beside the trainer's.
- :class:`DieAt`: raises at a given step, a stand-in for a kernel that dies (resume demonstrations).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from IPython.display import display
from torchvision.utils import make_grid

from ..runtime import eval_mode
from ..viz import frame_step, plot_discriminator_outputs, plot_losses, save_gif, save_grid, scale_rows
from .evaluation import QualityTracker  # noqa: F401  (re-exported: its old home)
from .optim import EMA

# A callback receives the ``Trainer`` (``train.loop``), which imports this module: the name stays a string
# annotation here, so that callbacks need not import the loop (no circle, not even for type checkers).


class Callback:
    """Hooks a notebook attaches to a trainer; every method is optional (the loop calls the ones a callback has).
    They run on rank 0 only, except :meth:`on_step_start`. A callback whose state must survive a resume names the
    ``key`` a checkpoint keeps it under (two callbacks of one kind on one trainer need two keys)."""

    key: str | None = None

    def on_train_start(self, trainer: "Trainer") -> None: ...

    def on_step_start(self, trainer: "Trainer") -> None:
        """Before every step (``trainer.step`` steps are done); runs on every rank; keep it cheap and free of host syncs."""

    def on_step_end(self, trainer: "Trainer") -> None:
        """After a step's logging, sampling and evaluation, before its checkpoint; ``trainer.finishing`` is true on the
        last step."""

    def on_log(self, trainer: "Trainer") -> None:
        """After losses up to ``trainer.step`` were appended to ``trainer.history``."""

    def on_sample(self, trainer: "Trainer", images: torch.Tensor) -> None:
        """``images``: the fixed-noise samples as uint8 ``(n_samples, C, H, W)`` on the CPU."""

    def on_metrics(self, trainer: "Trainer", result: dict) -> None:
        """After a quality evaluation (:meth:`Trainer.evaluate`): ``result`` is the quality record's new entry."""

    def on_train_end(self, trainer: "Trainer") -> None: ...

    def state_dict(self) -> dict | None:
        """What the callback must keep across a resume (``None``: nothing)."""
        return None

    def load_state_dict(self, state: dict) -> None: ...


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


class PerScaleLosses(Callback):
    """Each scale's discriminator loss on a fixed real batch and the fixed noise, at every log event.

    For a discriminator with ``per_scale(images)`` (one network per scale); ``history`` maps
    ``"step"`` and ``"scale_<size>"`` to lists, for a plot of every discriminator's loss.
    """

    def __init__(self, real: torch.Tensor, *, every: int = 1, key: str = "per_scale_losses") -> None:
        self.real, self.every, self.count, self.key = real, every, 0, key
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
    """Losses, sample grids and quality scores in ``folder`` for TensorBoard (``%tensorboard --logdir …``);
    ``TrainConfig(tensorboard=True)`` adds one writing to ``out_dir/tensorboard``. Needs the ``tensorboard`` package
    (``pip install "cocogoat_utils[tensorboard]"``; the ``dev`` extra has it too)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder, self.writer, self.written = Path(folder), None, 0

    def on_train_start(self, trainer) -> None:
        try:  # an optional dependency: imported when a run logs to TensorBoard, not with the package
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise ImportError("TensorBoard logging needs the tensorboard package: pip install "
                              "\"cocogoat_utils[tensorboard]\" (or pip install tensorboard), or tensorboard=False"
                              ) from error
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
            self.writer.add_image("samples", make_grid(images, nrow=8), trainer.step)

    def on_metrics(self, trainer, result: dict) -> None:
        if self.writer is not None:
            for key, value in result.items():  # every score (not the flags, nor where it was taken)
                if isinstance(value, (int, float)) and not isinstance(value, bool) and \
                        key not in ("step", "seconds", "images"):
                    self.writer.add_scalar(f"quality/{key}", value, trainer.step)

    def on_train_end(self, trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class ShadowEMA(Callback):
    """A second average of ``model``'s weights, updated after every step like a trainer's own — by default without
    warm-up, to compare with the trainer's average that has one. Its state survives a resume."""

    def __init__(self, model, decay: float, *, warmup: bool = False, key: str = "shadow_ema") -> None:
        self.ema, self.key = EMA(model, decay, warmup=warmup), key

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

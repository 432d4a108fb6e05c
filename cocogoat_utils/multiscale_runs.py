"""The runs of a multi-scale GAN comparison (notebook 04), each in its own folder and kept by name.

:class:`MultiScaleRuns` trains a generator and discriminator the notebook built with the comparison's shared
settings, scores it over time (``QualityTracker``), records each scale's discriminator loss for a per-scale
discriminator (``PerScaleLosses``) and saves every scale's samples (``ScaleGridSaver``); :meth:`MultiScaleRuns.show`
draws every scale of several runs side by side, :meth:`~MultiScaleRuns.plot_losses` and
:meth:`~MultiScaleRuns.plot_quality` a run's curves.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import torch

from .metrics import PARTLY_COLLAPSED
from .train.callbacks import PerScaleLosses, QualityTracker, ScaleGridSaver
from .train.gan import GANTrainConfig, GANTrainer
from .viz import plot_quality


class MultiScaleRuns:
    """Runs of one comparison on ``data``, each in ``run.out_dir / "runs" / <name>`` (a dead kernel resumes it).

    ``quality`` scores every run (every ``run["metric_every"]`` steps and at the end, on ``run["metric_samples"]``
    images; ``None``: no scores); ``probe`` is the fixed real batch of the per-scale losses; ``settings`` are the
    :class:`GANTrainConfig` fields every run shares. :attr:`rows` maps a name to its
    :func:`~cocogoat_utils.experiment.train_for` row, :attr:`trained` to its trainer, tracker, per-scale losses and
    grid saver.
    """

    def __init__(self, run, data, *, quality=None, probe: torch.Tensor | None = None, **settings: Any) -> None:
        self.run, self.data, self.quality, self.probe, self.settings = run, data, quality, probe, settings
        self.rows: dict[str, dict] = {}
        self.trained: dict[str, dict] = {}

    def train(self, name: str, generator, discriminator, /, *, seconds: float | None, loss: str, batch_size: int,
              steps: int | None = None, **extra: Any) -> dict:
        """Train one run for ``seconds`` (or ``steps``) with ``loss`` at ``batch_size``; returns its row, which
        also holds ``loss``, ``extra`` (e.g. ``discriminator="U-Net"``: the networks are positional only) and
        ``batch_size``."""
        from .experiment import train_for

        run = self.run
        config = GANTrainConfig(**{"log_every": 10, "sample_every": run["metric_every"], "checkpoint_every": None,
                                   "checkpoint_seconds": 10, "n_samples": 32, "precision": run.precision,
                                   "seed": run.seed, **self.settings, "steps": steps, "batch_size": batch_size,
                                   "loss": loss})
        folder = run.out_dir / "runs" / "".join(c if c.isalnum() or c in ".-" else "_" for c in name)
        tracker = (QualityTracker(self.quality, every=run["metric_every"], samples=run["metric_samples"])
                   if self.quality else None)
        per_scale = (PerScaleLosses(self.probe, every=max(1, (run["metric_every"] or 10) // 50))
                     if hasattr(discriminator, "per_scale") and self.probe is not None else None)
        grids = ScaleGridSaver(folder / "scales")
        trainer = GANTrainer(generator, discriminator, self.data, config=config, out_dir=folder, progress=False,
                             callbacks=[c for c in (tracker, grids, per_scale) if c is not None])
        self.trained[name] = {"trainer": trainer, "tracker": tracker, "scale_losses": per_scale, "grids": grids}
        self.rows[name] = train_for(name, trainer, seconds, tracker=tracker, loss=loss, **extra, batch_size=batch_size)
        return self.rows[name]

    def show(self, names: list[str], filename: str | None = None) -> None:
        """Every scale of each run's fixed-noise samples, a panel per run (saved as ``filename`` in the run's
        folder when given)."""
        from .runtime import eval_mode
        from .viz import scale_rows, show_grids

        panels, count = {}, 1
        for name in names:
            trainer = self.trained[name]["trainer"]
            with torch.no_grad(), eval_mode(trainer.sampler), trainer.autocast():
                scales = trainer.sampler(trainer.fixed_noise[:8])
            panels[f"{name}: step {trainer.step}"], count = scale_rows(scales), len(scales)
        self.run.figure(filename, show_grids(panels, panel_size=(5.5, 1.5 * (count + 1))))

    def plot_losses(self, name: str, *, healthy: dict[str, tuple[float, float]] | None = None) -> None:
        """A run's D and G losses (with the ``healthy`` bands shaded) beside each per-scale discriminator's loss."""

        from .viz import plot_scale_losses

        scale_losses = self.trained[name]["scale_losses"]
        plot_scale_losses(self.trained[name]["trainer"].history, scale_losses.history if scale_losses else None,
                          title=name, healthy=healthy)
        plt.show()

    def plot_quality(self, name: str) -> None:
        """A run's quality scores over training with the collapse threshold (nothing without scores)."""
        tracker = self.trained[name]["tracker"]
        if tracker is not None and tracker.metrics:
            plot_quality(tracker.metrics, collapse_step=tracker.collapse_step, collapse_threshold=PARTLY_COLLAPSED)
            plt.suptitle(name, y=1.02)
            plt.show()

"""The record of a run's quality evaluations: what the loop scores, how often, and what it found.

A :class:`QualityTracker` holds a quality measure (``quality.evaluate(images) -> dict``, e.g. a
:class:`~cocogoat_utils.metrics.QualityMetrics`), the cadence (``every`` steps, ``None``: only at
the end) and the number of generated images each evaluation scores. The loop
(:meth:`~cocogoat_utils.train.loop.Trainer.evaluate`) draws the images and hands them here; the
tracker scores them, appends the entry to :attr:`QualityTracker.metrics`, says whether it is the
best so far (lowest FD), and warns once when the samples collapsed
(:func:`~cocogoat_utils.metrics.collapse_status` reads each entry's ``"collapsed"`` flag).
The record survives a resume (the trainer saves it under the key ``"quality"``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from ..metrics import collapse_status


class QualityTracker:
    """Scores ``samples`` generated images with ``quality`` every ``every`` steps (``None``: only at the end) and after
    the last step; keeps ``best.pt`` (the checkpoint with the lowest FD) when ``keep_best`` and the trainer has an
    ``out_dir``. Give it to a trainer as ``quality=`` (a tracker among ``callbacks`` is taken as the quality too).

    Each entry of :attr:`metrics` holds the step, the training seconds and images seen so far, and the scores.
    """

    key = "quality"  # where the trainer saves the record in a checkpoint

    def __init__(self, quality, *, every: int | None = None, samples: int = 1000, keep_best: bool = True) -> None:
        if every is not None and every < 1:
            raise ValueError(f"every={every}: give a number of steps ≥ 1, or None for the end only")
        self.quality, self.every, self.samples, self.keep_best = quality, every, samples, keep_best
        self.metrics: list[dict] = []
        self.best_checkpoint: Path | None = None
        self._warned = False

    def due(self, step: int, last: bool) -> bool:
        """Whether the loop evaluates after ``step`` (``last``: the run's last step)."""
        return bool(self.every and step % self.every == 0) or last

    def record(self, where: dict, images: torch.Tensor) -> bool:
        """Score ``images`` and append ``where`` (step, seconds, images seen) with the scores; ``True`` when the new
        entry has the lowest FD so far and the best checkpoint should be kept."""
        best = min((m["fd"] for m in self.metrics), default=float("inf"))
        result = {**where, **self.quality.evaluate(images)}
        self.metrics.append(result)
        if result["collapsed"] and not self._warned:
            self._warned = True
            warnings.warn(f"mode collapse: {self.collapse['text']}", stacklevel=3)
        return self.keep_best and result["fd"] < best

    @property
    def collapse(self) -> dict:
        """Whether and how the run collapsed so far (see :func:`~cocogoat_utils.metrics.collapse_status`)."""
        return collapse_status(self.metrics)

    @property
    def collapse_step(self) -> int | None:
        """The step of the first evaluation that found the samples collapsed (``None``: none did)."""
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

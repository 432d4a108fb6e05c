"""Equal-time comparisons: train each arm for the same budget, score it, print the rows, judge two of them.

- :func:`train_for` trains one model of a comparison for a wall-time budget (time spent before a dead kernel counts:
  the run resumes from its checkpoint), scores it and returns one row; :func:`train_gan` builds that trainer for a
  GAN first; :func:`scores` reads a ``QualityTracker``; :func:`scored` is a row with its quality scores.
- :func:`print_table` prints rows as an aligned table, in the lesson's words.
- :func:`verdict` says which of two rows won by the judge's rule (:func:`~cocogoat_utils.metrics.compare`): a winner
  only where the intervals part, "inconclusive" where the baseline did not learn.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch

from .device_dataset import DeviceImageDataset
from .metrics import NOT_LEARNED, compare
from .train import GANTrainConfig, GANTrainer, QualityTracker

SCORE_KEYS = ("fd", "kid", "kid_std", "precision", "recall", "diversity_ratio")
JUDGE_KEYS = ("fd_low", "fd_high", "coverage", "near_duplicates", "dropped_mass", "copies", "findings")  # what the
# verdict rule and the findings read (metrics.compare), carried in a row beside the scores a table shows


def scores(tracker) -> dict[str, Any]:
    """The last evaluation's scores, the best FD and its step, and the collapse status, from a ``QualityTracker``
    (every value ``None`` without one)."""
    last = tracker.last if tracker is not None else {}
    best = tracker.best if tracker is not None else {}
    status = tracker.collapse if tracker is not None else {}
    return {**{k: last.get(k) for k in (*SCORE_KEYS, *JUDGE_KEYS)}, "best_fd": best.get("fd"), "best_step": best.get("step"),
            "metric_samples": last.get("n_samples"), "feature_space": last.get("feature_space"),
            "collapsed": status.get("collapsed"), "collapse": status.get("text"), "collapse_step": status.get("step")}


def train_for(name: str, trainer, seconds: float, *, tracker=None, resume: bool = True,
              say: Callable[[dict, int | None], str] | None = None, **extra: Any) -> dict:
    """Train ``trainer`` until ``seconds`` of training in all, then return one row of a comparison:
    ``{"run", "steps", "images", "seconds", <scores>, **extra}``.

    With an ``out_dir`` and ``resume``, a run killed earlier continues from its checkpoint and the
    seconds it already spent count against the budget; a finished run is loaded, not retrained.
    The row is printed as one line; ``say(row, resumed_step)`` words that line in the lesson's language
    (``resumed_step``: the step a resumed run started from — equal to ``row["steps"]`` when a finished run was
    loaded —, ``None`` for a fresh run).
    """
    trainer.fit(seconds=seconds, resume=resume)
    note = ""
    if trainer.resumed_step is not None:
        note = (" (finished before: loaded from its checkpoint)" if trainer.resumed_step == trainer.step
                else f" (continued from step {trainer.resumed_step})")
    row = {"run": name, "steps": trainer.step, "images": trainer.images_seen, "seconds": round(trainer.elapsed, 1),
           **scores(tracker), **extra}
    if say is not None:
        print(say(row, trainer.resumed_step))
        return row
    fd = f"FD {row['fd']:.2f}" if row["fd"] is not None else "FD —"
    collapse = f"; {row['collapse']}" if row["collapsed"] or (row["collapse"] or "").startswith("collapsed") else ""
    print(f"{name:<30} {row['steps']:6d} steps, {row['images']:8,} images in {row['seconds']:6.1f} s   {fd}{collapse}{note}")
    return row


def train_gan(name: str, networks, data, run: Any, *, seconds: float | None, out_dir, quality=None,
              samples: int | None = None, progress: bool = False, extra: Mapping[str, Any] | None = None,
              say: Callable[[dict, int | None], str] | None = None, **config: Any) -> dict:
    """Train one GAN of a comparison and return :func:`train_for`'s row (with ``extra`` in it), the trainer
    under ``"trainer"``.

    A :class:`~cocogoat_utils.train.GANTrainer` on ``networks`` (generator, discriminator) and ``data`` (a
    ``DeviceImageDataset``, or uint8 images put on the run's device), configured from ``run`` — its batch
    size, ``log_every`` (10 when the run has none), precision and seed, no step budget, no sample grids, a
    checkpoint at the end — overridden by ``config`` (any ``GANTrainConfig`` field: ``checkpoint_seconds``
    for checkpoints on the way), checkpointed in ``out_dir`` (so a dead kernel resumes) and scored at the end
    by ``quality`` on ``samples`` generated images (default: the run's ``metric_samples``); without
    ``quality`` the scores are ``None``. ``say`` words the row's line (:func:`train_for`).
    """
    if not isinstance(data, DeviceImageDataset):
        data = DeviceImageDataset(data, run.device, seed=run.seed)
    settings = dict(steps=None, batch_size=run["batch_size"], log_every=run.params.get("log_every") or 10,
                    sample_every=None, checkpoint_every=None, precision=run.precision, seed=run.seed) | config
    tracker = QualityTracker(quality, samples=samples or run["metric_samples"]) if quality is not None else None
    trainer = GANTrainer(*networks, data, config=GANTrainConfig(**settings), out_dir=out_dir,
                         callbacks=[tracker] if tracker else [], progress=progress)
    return train_for(name, trainer, seconds, tracker=tracker, say=say, **(extra or {})) | {"trainer": trainer}


def scored(images: torch.Tensor, quality, keys=("fd", "kid", "precision", "recall", "diversity_ratio", "collapsed"),
           /, **row: Any) -> dict[str, Any]:
    """``row`` followed by ``keys`` of ``quality.evaluate(images)`` (each ``None`` when ``quality`` is ``None``);
    ``row`` may hold any key, ``images`` too."""
    found = quality.evaluate(images) if quality is not None else {}
    return {**row, **{key: found.get(key) for key in keys}}


def _cell(value: Any, width: int, booleans: tuple[str, str] = ("yes", "no"), thousands: str = ",") -> str:
    if isinstance(value, bool) or value is None:
        text = "—" if value is None else booleans[0] if value else booleans[1]
    elif isinstance(value, float):
        text = f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}"
        text = "nan" if math.isnan(value) else text.replace(",", thousands)
    elif isinstance(value, int):
        text = f"{value:,}".replace(",", thousands)
    else:
        text = str(value)
    return text.rjust(width) if not isinstance(value, str) else text.ljust(width)


def print_table(rows: list[dict], columns: list[str], *, titles: Mapping[str, str] | None = None,
                booleans: tuple[str, str] = ("yes", "no"), thousands: str = ",") -> None:
    """Print ``rows`` as an aligned table of ``columns``. ``titles`` (column → header; default: the column names),
    ``booleans`` (how true and false read) and ``thousands`` (the digit-group separator; a space in Spanish or
    Russian, where a comma is the decimal mark) let a lesson print it in its own language."""
    titles = {c: (titles or {}).get(c, c) for c in columns}
    cell = dict(booleans=booleans, thousands=thousands)
    widths = {c: max(len(titles[c]), *(len(_cell(r.get(c), 0, **cell).strip()) for r in rows)) for c in columns}
    print("  ".join(titles[c].ljust(widths[c]) if rows and isinstance(rows[0].get(c), str) else titles[c].rjust(widths[c])
                    for c in columns))
    for row in rows:
        print("  ".join(_cell(row.get(c), widths[c], **cell) for c in columns))


def verdict(a: dict, b: dict, *, key: str = "fd", lower_is_better: bool = True, what: str = "FD",
            say: Callable[[dict], str] | None = None) -> str:
    """Two runs' rows judged by the verdict rule (:func:`~cocogoat_utils.metrics.compare`), as one line:
    ``"<a> FD 41.2 [39.0–43.1] vs <b> FD 55.0 [52.2–57.9] → <a> did better (the intervals part)"``; "no clear
    difference" when the intervals overlap; the collapse when one run did not learn; "inconclusive" when the first
    (the baseline) did not, or neither did.

    ``say`` words it in the lesson's language from the outcome ``{"a", "b" (the run names), "x", "y" (their
    values; ``None`` when one is missing), "what", "winner" (a run name, or ``None``), "outcome" (``"better"``, ``"no
    clear difference"``, ``"collapse"``, ``"inconclusive"``, or ``None`` without values), "apart" (the gap over the
    larger value), "judged" (the rule's full result)}``."""
    x, y = a.get(key), b.get(key)
    outcome = {"a": a["run"], "b": b["run"], "x": x, "y": y, "what": what, "winner": None, "outcome": None,
               "apart": None, "judged": None}
    if x is not None and y is not None:
        judged = compare(a, b, key=key, lower_is_better=lower_is_better)
        outcome.update(judged=judged, outcome=judged["outcome"],
                       winner={"a": a["run"], "b": b["run"], None: None}[judged["winner"]],
                       apart=abs(x - y) / max(abs(x), abs(y), 1e-12))
    if say is not None:
        return say(outcome)
    if outcome["outcome"] is None:
        return f"{a['run']} vs {b['run']}: no {what} to compare"

    def shown(row, value):
        low, high = row.get(f"{key}_low"), row.get(f"{key}_high")
        return f"{what} {value:.2f}" + (f" [{low:.2f}–{high:.2f}]" if low is not None and high is not None else "")

    head = f"{a['run']}: {shown(a, x)} vs {b['run']}: {shown(b, y)} → "
    judged = outcome["judged"]
    if judged["outcome"] == "better":
        return head + f"{outcome['winner']} did better (the intervals part; {outcome['apart']:.0%} apart)"
    if judged["outcome"] == "no clear difference":
        return head + "no clear difference (the intervals overlap)"
    if judged["outcome"] == "collapse":
        faults = ", ".join(f for f in judged["b"]["faults"] if f in NOT_LEARNED) or "collapsed"
        return head + f"{a['run']} ahead: {b['run']} did not learn ({faults})"
    return head + f"inconclusive ({a['run']}, the baseline, has not learned: nothing is decided against it)"

"""A shipped model beside the live run: both grids, both scored the same way in one table, and what its record says.

:func:`shipped_beside` loads a model shipped in ``checkpoints/`` (:func:`~cocogoat_utils.shipped.load_pretrained`),
shows its fixed-seed grid beside the live run's and scores both by the same judge (or says why it cannot: the file is
missing, or trained for another architecture or size). :func:`record_line` is the line it prints by default: which
step the weights are from, and which of its targets the model meets and misses — read from the record, never typed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import matplotlib.pyplot as plt
import torch

from .comparison import JUDGE_KEYS, SCORE_KEYS, print_table
from .shipped import PretrainedMismatch, load_pretrained
from .viz import show_images


def targets_met(record: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """``(met, missed)``: the names of the targets in a shipped model's record (``record["targets"]``, each true or
    false; its ``summary`` aside)."""
    targets = {k: v for k, v in record.get("targets", {}).items() if isinstance(v, bool)}
    return [k for k, v in targets.items() if v], [k for k, v in targets.items() if not v]


def record_line(name: str, record: Mapping[str, Any]) -> str:
    """One line from a shipped model's record: the model, the step its weights are from (the best by FD) out of the
    whole run, the time and hardware, the record's scores and which targets it meets and misses."""
    r = record
    best = r.get("best_step", r["steps"])
    weights = (f"weights from its last step, {best:,}" if best == r["steps"]
               else f"weights from step {best:,} (its best FD) of a {r['steps']:,}-step run")
    line = (f"shipped {name}: {r['model']} at {r['image_size']} px; {weights} ({r['images_seen']:,} images seen, "
            f"{r['wall_minutes']:.0f} min on {r['hardware']}, {r['precision']})")
    m = r.get("metrics", {})
    if "fd" in m:
        interval = f" [{m['fd_low']:.1f}–{m['fd_high']:.1f}]" if "fd_low" in m and "fd_high" in m else ""
        recall = f", recall {m['recall']:.2f}" if "recall" in m else ""
        findings = ", ".join(m.get("findings") or []) or "none"
        line += (f"\n  its record ({m.get('n_samples', '?'):,} samples, {m.get('feature_space', '?')} space): "
                 f"FD {m['fd']:.1f}{interval}{recall}; findings: {findings}")
    met, missed = targets_met(r)
    if met or missed:
        line += f"\n  targets met: {', '.join(met) or 'none'}; missed: {', '.join(missed) or 'none'}"
    return line


def shipped_beside(run: Any, name: str, live: torch.Tensor | None, *, quality=None, live_label: str = "this run",
                   model: str | None = None, image_size: int | None = None, samples: int = 1000, seed: int = 0,
                   pretrained: bool = True, recipe: bool = False,
                   say: str | Callable[[Exception | None], str] = "the shipped model is not shown: {reason}",
                   line: Callable[[Any], str] | None = None,
                   panel: str | Callable[[Mapping[str, Any]], str] =
                   "shipped: {name}, weights from step {best_step:,} of {steps:,}",
                   label: str = "shipped {name}", table: Mapping[str, Any] | None = None, **generate: Any):
    """The shipped model ``name`` (``load_pretrained``) beside the live run: both grids, both scored on ``samples``
    images by ``quality`` (``live``: the live run's images, uint8, at least as many), one row each (with its
    ``collapsed`` flag: diversity under the quality metrics' threshold).

    Returns ``(shipped, rows)``; ``shipped`` is ``None`` — with the reason printed — when the file is missing
    or was trained for another architecture or size (``model``, ``image_size``: what the notebook expects), or
    ``pretrained`` is false (the notebook's switch); ``say`` words that line: a template (``{reason}``:
    ``pretrained=False`` or what is wrong with the file, in English), or a function of the error
    (``FileNotFoundError`` or ``PretrainedMismatch``; ``None`` for ``pretrained=False``) that words it wholly in the
    lesson's language, as in :func:`~cocogoat_utils.experiment.make_quality`. ``recipe=True`` prints the
    shipped model's recipe last.

    The other words a learner reads can be given in the lesson's language too: ``line(shipped)`` the line that
    describes the model (default: :func:`record_line` — the step its weights are from and the targets it meets and
    misses); ``panel`` its grid's title and ``label`` its row's name, templates over ``name`` and the record's fields
    (``best_step`` — the step its weights are from, the best by FD — and ``steps``, the whole run), ``panel`` also a
    function of the record (for numbers written the lesson's way); ``table`` the
    table's :func:`~cocogoat_utils.comparison.print_table` options (``titles``, ``booleans``, ``thousands``).
    """
    def not_shown(error):
        print(say(error) if callable(say) else say.format(reason="pretrained=False" if error is None else error))
        return None, []

    if not pretrained:
        return not_shown(None)
    try:
        shipped = load_pretrained(name, device=run.device, model=model, image_size=image_size)
    except (FileNotFoundError, PretrainedMismatch) as error:
        return not_shown(error)
    record = {**shipped.record, "best_step": shipped.record.get("best_step", shipped.record["steps"]), "name": name}
    print(line(shipped) if line is not None else record_line(name, shipped.record))
    count = samples if quality is not None else 64
    theirs = shipped.generate(count, seed=seed, **generate)
    rows = []
    for row_label, images in ((live_label, live), (label.format(**record), theirs)):
        if images is None:
            continue
        row = {"model": row_label, "images": len(images)}
        if quality is not None and len(images) >= quality.min_samples:
            row.update({k: v for k, v in quality.evaluate(images[:count]).items()
                        if k in (*SCORE_KEYS, *JUDGE_KEYS, "collapsed")})
        rows.append(row)
    panels = [(live_label, live)] if live is not None else []
    panels.append((panel(record) if callable(panel) else panel.format(**record), theirs))
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 6.8), squeeze=False)
    for ax, (title, images) in zip(axes[0], panels):
        show_images(images[:64], ax=ax, title=title)
    run.figure(f"shipped_{name}.png", fig)
    if rows and quality is not None:
        print_table(rows, ["model", "images", *[k for k in (*SCORE_KEYS, "collapsed") if k in rows[-1]]],
                    **(table or {}))
    if recipe:
        print("recipe:", shipped.record["recipe"])
    return shipped, rows

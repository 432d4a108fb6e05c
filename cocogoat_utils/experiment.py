"""A notebook's run around its lessons: set-up, quality metrics, equal-time comparisons, tables and the summary.

- :func:`start_run` resolves the parameters against the notebook's scale table, makes the
  output folder (under :func:`~cocogoat_utils.runtime.home`), picks device and precision, seeds
  everything and prints where the outputs go: the first cell every notebook runs.
- :func:`make_quality` builds the quality metrics, or says why they are off (too few images,
  a missing feature network) and returns ``None``.
- :func:`train_for` trains one model of a comparison for a wall-time budget (time spent before
  a dead kernel counts: the run resumes from its checkpoint), scores it and returns one row;
  :func:`print_table` prints rows as a table; :func:`verdict` says which of two rows won.
- :func:`shipped_beside` loads a trained model shipped in ``checkpoints/``, shows its fixed-seed grid
  beside the live run's and scores both the same way in one table (or says why it cannot).
- :func:`finish_run` writes ``summary.json`` (the notebook's figures plus the common keys) and prints it.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping
from typing import Any

import torch

from .runtime import device_name, home, pick_device, pick_precision, resolve_params, set_seed, short_path

SCORE_KEYS = ("fd", "kid", "kid_std", "precision", "recall", "diversity_ratio")


@dataclass
class Run:
    """What :func:`start_run` resolved: ``run["steps"]`` reads a parameter."""

    notebook: str
    scale: str
    params: dict[str, Any]
    out_dir: Path
    device: torch.device
    precision: str
    seed: int
    started: float = field(default_factory=time.time)

    def __getitem__(self, name: str) -> Any:
        return self.params[name]

    @property
    def seconds(self) -> float:
        return time.time() - self.started

    def figure(self, name: str | None = None, fig=None) -> None:
        """Save ``fig`` (default: the current figure) as ``name`` in the run's folder, if named, and show it."""
        import matplotlib.pyplot as plt

        if name:
            (fig or plt.gcf()).savefig(self.out_dir / name, dpi=100, bbox_inches="tight")
        plt.show()

    @property
    def artifacts(self) -> list[str]:
        """The pictures (PNG, GIF) this run wrote into its folder (not the older ones there)."""
        return sorted(p.name for p in self.out_dir.iterdir()
                      if p.suffix in (".png", ".gif") and p.stat().st_mtime >= self.started - 1)


RUN_KEYS = ("scale", "out_dir", "device", "precision", "seed")


def start_run(notebook: str, namespace: Mapping[str, Any] | None = None, *, table: Mapping | None = None,
              **params: Any) -> Run:
    """Resolve the notebook's parameters against its scale table, make ``out_dir`` (default
    ``runs/<notebook>/<scale>`` under the home folder), pick the device and precision, seed everything, and
    print the run's header.

    ``namespace`` is where the parameters are read from — a notebook passes ``globals()``, its parameters
    cell (and papermill's injected one) — and ``params`` override it. Every key of the scale table
    (:func:`cocogoat_utils.scales.table`, or ``table``) is a parameter: ``None`` or absent takes the table's
    value, anything else wins. ``scale``, ``out_dir``, ``device`` (``"auto"``), ``precision`` (``"auto"``) and
    ``seed`` (0) are read the same way.
    """
    from .scales import table as scale_table

    table = scale_table(notebook) if table is None else table
    given = {**(namespace or {}), **params}
    keys = dict.fromkeys(key for row in table.values() for key in row)
    resolved = resolve_params(given.get("scale"), table, **{key: given.get(key) for key in keys})
    scale = resolved.pop("scale")
    out_dir = given.get("out_dir")
    folder = Path(out_dir) if out_dir else home() / "runs" / notebook / scale
    folder.mkdir(parents=True, exist_ok=True)
    device = pick_device(given.get("device") or "auto")
    seed = given.get("seed") or 0
    set_seed(seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    run = Run(notebook, scale, resolved, folder.resolve(), device, pick_precision(given.get("precision") or "auto", device),
              seed)
    print(f"scale={scale}  device={device_name(device)}  precision={run.precision}  outputs → {short_path(folder)}")
    print(resolved)
    return run


def make_quality(images: torch.Tensor, run: Run | None = None, *, device=None, feature_space: str = "auto",
                 collapse_threshold: float = 0.5, say: str = "quality metrics are off: {reason}"):
    """:class:`~cocogoat_utils.metrics.QualityMetrics` for ``images``, or ``None`` with the reason printed
    (fewer real images than feature dimensions, or a feature network that is not on this machine)."""
    from .metrics import QualityMetrics

    try:
        return QualityMetrics(images, feature_space=feature_space, device=device or (run.device if run else "cpu"),
                              collapse_threshold=collapse_threshold)
    except (ValueError, FileNotFoundError) as error:
        print(say.format(reason=error))
        return None


def scores(tracker) -> dict[str, Any]:
    """The last evaluation's scores, the best FD and its step, and the collapse status, from a ``QualityTracker``
    (every value ``None`` without one)."""
    last = tracker.last if tracker is not None else {}
    best = tracker.best if tracker is not None else {}
    status = tracker.collapse if tracker is not None else {}
    return {**{k: last.get(k) for k in SCORE_KEYS}, "best_fd": best.get("fd"), "best_step": best.get("step"),
            "metric_samples": last.get("n_samples"), "feature_space": last.get("feature_space"),
            "collapsed": status.get("collapsed"), "collapse": status.get("text"), "collapse_step": status.get("step")}


def train_for(name: str, trainer, seconds: float, *, tracker=None, resume: bool = True, **extra: Any) -> dict:
    """Train ``trainer`` until ``seconds`` of training in all, then return one row of a comparison:
    ``{"run", "steps", "images", "seconds", <scores>, **extra}``.

    With an ``out_dir`` and ``resume``, a run killed earlier continues from its checkpoint and the
    seconds it already spent count against the budget; a finished run is loaded, not retrained.
    """
    trainer.fit(seconds=seconds, resume=resume)
    note = ""
    if trainer.resumed_step is not None:
        note = (" (finished before: loaded from its checkpoint)" if trainer.resumed_step == trainer.step
                else f" (continued from step {trainer.resumed_step})")
    row = {"run": name, "steps": trainer.step, "images": trainer.images_seen, "seconds": round(trainer.elapsed, 1),
           **scores(tracker), **extra}
    fd = f"FD {row['fd']:.2f}" if row["fd"] is not None else "FD —"
    collapse = f"; {row['collapse']}" if row["collapsed"] or (row["collapse"] or "").startswith("collapsed") else ""
    print(f"{name:<30} {row['steps']:6d} steps, {row['images']:8,} images in {row['seconds']:6.1f} s   {fd}{collapse}{note}")
    return row


def _cell(value: Any, width: int) -> str:
    if isinstance(value, bool) or value is None:
        text = "—" if value is None else ("yes" if value else "no")
    elif isinstance(value, float):
        text = f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}"
        text = "nan" if math.isnan(value) else text
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return text.rjust(width) if not isinstance(value, str) else text.ljust(width)


def print_table(rows: list[dict], columns: list[str], *, titles: dict[str, str] | None = None) -> None:
    """Print ``rows`` as an aligned table of ``columns`` (titles default to the column names)."""
    titles = {c: (titles or {}).get(c, c) for c in columns}
    widths = {c: max(len(titles[c]), *(len(_cell(r.get(c), 0).strip()) for r in rows)) for c in columns}
    print("  ".join(titles[c].ljust(widths[c]) if rows and isinstance(rows[0].get(c), str) else titles[c].rjust(widths[c])
                    for c in columns))
    for row in rows:
        print("  ".join(_cell(row.get(c), widths[c]) for c in columns))


def verdict(a: dict, b: dict, *, key: str = "fd", lower_is_better: bool = True, what: str = "FD") -> str:
    """``"<a> FD 41.2 vs <b> FD 55.0 → <a> did better here (25 % apart)"``, whichever way it falls."""
    x, y = a.get(key), b.get(key)
    if x is None or y is None:
        return f"{a['run']} vs {b['run']}: no {what} to compare"
    first_wins = x < y if lower_is_better else x > y
    winner = a["run"] if first_wins else b["run"]
    apart = abs(x - y) / max(abs(x), abs(y), 1e-12)
    return (f"{a['run']}: {what} {x:.2f} vs {b['run']}: {what} {y:.2f} → {winner} did better here "
            f"({apart:.0%} apart)" if x != y else f"{a['run']} and {b['run']}: the same {what}, {x:.2f}")


def finish_run(run: Run, summary: dict[str, Any]) -> dict[str, Any]:
    """Write ``summary.json`` in the run's folder — the notebook's figures after the common keys
    (notebook, scale, device, numeric_precision — bf16, fp16 or fp32 —, the resolved parameters) and before
    ``artifacts`` (the pictures the run wrote) and ``seconds`` — print it, and return it."""
    full = {"notebook": run.notebook, "scale": run.scale, "device": device_name(run.device),
            "numeric_precision": run.precision, "params": run.params, **summary,
            "artifacts": summary.get("artifacts", run.artifacts), "seconds": round(run.seconds, 1)}
    (run.out_dir / "summary.json").write_text(json.dumps(full, indent=2, ensure_ascii=False, default=str))
    print(json.dumps(full, indent=2, ensure_ascii=False, default=str))
    return full


def shipped_beside(run: Run, name: str, live: torch.Tensor | None, *, quality=None, live_label: str = "this run",
                   model: str | None = None, image_size: int | None = None, samples: int = 1000, seed: int = 0,
                   **generate: Any):
    """The shipped model ``name`` (``load_pretrained``) beside the live run: both grids, both scored on ``samples``
    images by ``quality`` (``live``: the live run's images, uint8, at least as many), one row each (with its
    ``collapsed`` flag: diversity under the quality metrics' threshold).

    Returns ``(shipped, rows)``; ``shipped`` is ``None`` — with the reason printed — when the file is missing
    or was trained for another architecture or size (``model``, ``image_size``: what the notebook expects).
    """
    import matplotlib.pyplot as plt

    from .pretrained import PretrainedMismatch, load_pretrained
    from .viz import show_images

    try:
        shipped = load_pretrained(name, device=run.device, model=model, image_size=image_size)
    except (FileNotFoundError, PretrainedMismatch) as error:
        print(f"the shipped model is not shown: {error}")
        return None, []
    print("shipped:", shipped.describe())
    count = samples if quality is not None else 64
    theirs = shipped.generate(count, seed=seed, **generate)
    rows = []
    for label, images in ((live_label, live), (f"shipped {name}", theirs)):
        if images is None:
            continue
        row = {"model": label, "images": len(images)}
        if quality is not None and len(images) >= quality.min_samples:
            row.update({k: v for k, v in quality.evaluate(images[:count]).items() if k in (*SCORE_KEYS, "collapsed")})
        rows.append(row)
    panels = [(live_label, live)] if live is not None else []
    panels.append((f"shipped: {name}, {shipped.record['steps']:,} steps", theirs))
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 6.8), squeeze=False)
    for ax, (label, images) in zip(axes[0], panels):
        show_images(images[:64], ax=ax, title=label)
    run.figure(f"shipped_{name}.png", fig)
    if rows and quality is not None:
        print_table(rows, ["model", "images", *[k for k in (*SCORE_KEYS, "collapsed") if k in rows[-1]]])
    return shipped, rows

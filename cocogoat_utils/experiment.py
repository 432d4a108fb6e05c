"""A notebook's run around its lessons: set-up, quality metrics, equal-time comparisons, tables and the summary.

- :func:`start_run` resolves the notebook's parameters (``globals()``) against its scale table
  (:mod:`~cocogoat_utils.scales`), makes the output folder (under :func:`~cocogoat_utils.runtime.home`),
  picks device and precision, seeds everything and prints where the outputs go: the first cell every
  notebook runs. :meth:`Run.figure` saves a figure there and shows it; :meth:`Run.grid` an image grid.
- :func:`make_quality` builds the quality metrics, or says why they are off (too few images,
  a missing feature network) and returns ``None``; :func:`scored` is a row with its quality scores.
- :func:`train_for` trains one model of a comparison for a wall-time budget (time spent before
  a dead kernel counts: the run resumes from its checkpoint), scores it and returns one row;
  :func:`train_gan` builds that trainer for a GAN first, :func:`diffusion_trainer_for` for 06's UNet.
  :func:`print_table` prints rows as a table; :func:`verdict` says which of two rows won (the longer
  verdicts are in :mod:`~cocogoat_utils.verdicts`).
- Progressive and multi-scale comparisons (03, 04): :func:`level_rows`, :func:`per_resolution_rows`.
- :func:`shipped_beside` loads a trained model shipped in ``checkpoints/``, shows its fixed-seed grid
  beside the live run's and scores both the same way in one table (or says why it cannot).
- :func:`finish_run` writes ``summary.json`` (the notebook's figures plus the common keys) and prints it.
- Small measurements: :func:`tail_means` and :func:`mean_last` (the end of a training history),
  :func:`same_weights` (a step written out by hand against the library's, weight for weight),
  :func:`draws_per_second`, :func:`timed`; :func:`warnings_as_notes` prints every warning of a block as a
  ``note:`` line in the notebook's output.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass, field
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from .runtime import device_name, home, pick_device, pick_precision, resolve_params, set_seed, short_path
from .metrics import QualityMetrics, compare

SCORE_KEYS = ("fd", "kid", "kid_std", "precision", "recall", "diversity_ratio")
JUDGE_KEYS = ("fd_low", "fd_high", "coverage", "near_duplicates", "dropped_mass", "copies", "findings")  # what the
# verdict rule and the findings read (metrics.compare), carried in a row beside the scores a table shows


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

    def grid(self, name: str, images: torch.Tensor, *, title: str | None = None, nrow: int = 8,
             shown: int | None = None) -> None:
        """Save ``images`` as the grid ``name`` in the run's folder and show it (only the first ``shown``, if given)."""
        import matplotlib.pyplot as plt

        from .viz import save_grid, show_images

        save_grid(images, self.out_dir / name, nrow=nrow)
        show_images(images[:shown], nrow=nrow, title=title)
        plt.show()

    @property
    def artifacts(self) -> list[str]:
        """The pictures (PNG, GIF) this run wrote into its folder (not the older ones there)."""
        return sorted(p.name for p in self.out_dir.iterdir()
                      if p.suffix in (".png", ".gif") and p.stat().st_mtime >= self.started - 1)


def start_run(notebook: str, namespace: Mapping[str, Any] | None = None, *, table: Mapping | None = None,
              say: str = "scale={scale}  device={device}  precision={precision}  outputs → {out_dir}",
              **params: Any) -> Run:
    """Resolve the notebook's parameters against its scale table, make ``out_dir`` (default
    ``runs/<notebook>/<scale>`` under the home folder), pick the device and precision, seed everything, and
    print the run's header.

    ``namespace`` is where the parameters are read from — a notebook passes ``globals()``, its parameters
    cell (and papermill's injected one) — and ``params`` override it. Every key of the scale table
    (:func:`cocogoat_utils.scales.table`, or ``table``) is a parameter: ``None`` or absent takes the table's
    value, anything else wins. ``scale``, ``out_dir``, ``device`` (``"auto"``), ``precision`` (``"auto"``) and
    ``seed`` (0) are read the same way. ``say`` words the header line in the lesson's language (``{scale}``,
    ``{device}``, ``{precision}``, ``{out_dir}``); the resolved parameters follow it as a dict.
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
    print(say.format(scale=scale, device=device_name(device), precision=run.precision, out_dir=short_path(folder)))
    print(resolved)
    return run


def make_quality(images: torch.Tensor, run: Run | None = None, *, device=None, feature_space: str = "auto",
                 say: str | Callable[[Exception], str] = "quality metrics are off: {reason}"):
    """:class:`~cocogoat_utils.metrics.QualityMetrics` for ``images``, or ``None`` with the reason printed
    (fewer real images than feature dimensions — a ``ValueError`` —, or a feature network that is not on this
    machine — a ``FileNotFoundError``). ``say`` words that line: a template with ``{reason}``, or a function of the
    error, so that a lesson can say it in its own language."""

    try:
        return QualityMetrics(images, feature_space=feature_space, device=device or (run.device if run else "cpu"))
    except (ValueError, FileNotFoundError) as error:
        print(say(error) if callable(say) else say.format(reason=error))
        return None


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
        faults = ", ".join(f for f in judged["b"]["faults"] if f in ("collapsed", "unlike the data")) or "collapsed"
        return head + f"{a['run']}: {b['run']} did not learn ({faults})"
    return head + f"inconclusive ({a['run']}, the baseline, has not learned: nothing is decided against it)"


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
                   pretrained: bool = True, recipe: bool = False,
                   say: str = "the shipped model is not shown: {reason}",
                   line: Callable[[Any], str] | None = None,
                   panel: str = "shipped: {name}, weights from step {best_step:,} of {steps:,}",
                   label: str = "shipped {name}", table: Mapping[str, Any] | None = None, **generate: Any):
    """The shipped model ``name`` (``load_pretrained``) beside the live run: both grids, both scored on ``samples``
    images by ``quality`` (``live``: the live run's images, uint8, at least as many), one row each (with its
    ``collapsed`` flag: diversity under the quality metrics' threshold).

    Returns ``(shipped, rows)``; ``shipped`` is ``None`` — with the reason printed — when the file is missing
    or was trained for another architecture or size (``model``, ``image_size``: what the notebook expects), or
    ``pretrained`` is false (the notebook's switch); ``say`` words that line (``{reason}``: ``pretrained=False`` or
    what is wrong with the file), as in :func:`make_quality`. ``recipe=True`` prints the shipped model's recipe last.

    The other words a learner reads can be given in the lesson's language too: ``line(shipped)`` the line that
    describes the model (default: ``"shipped: "`` + ``shipped.describe()``); ``panel`` its grid's title and
    ``label`` its row's name, templates over ``name`` and the record's fields (``best_step`` — the step its
    weights are from, the best by FD — and ``steps``, the whole run); ``table`` the table's :func:`print_table`
    options (``titles``, ``booleans``, ``thousands``).
    """
    import matplotlib.pyplot as plt

    from .pretrained import PretrainedMismatch, load_pretrained
    from .viz import show_images

    if not pretrained:
        print(say.format(reason="pretrained=False"))
        return None, []
    try:
        shipped = load_pretrained(name, device=run.device, model=model, image_size=image_size)
    except (FileNotFoundError, PretrainedMismatch) as error:
        print(say.format(reason=error))
        return None, []
    record = {**shipped.record, "best_step": shipped.record.get("best_step", shipped.record["steps"]), "name": name}
    print(line(shipped) if line is not None else f"shipped: {shipped.describe()}")
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
    panels.append((panel.format(**record), theirs))
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


def draws_per_second(trainer, n: int = 256) -> float:
    """Images per second ``trainer.generate`` draws (uint8 on the CPU), after one warm-up batch of 32."""
    trainer.generate(32, seed=0)
    begin = time.perf_counter()
    trainer.generate(n, seed=0)
    return round(n / (time.perf_counter() - begin), 1)


def scored(images: torch.Tensor, quality, keys=("fd", "kid", "precision", "recall", "diversity_ratio", "collapsed"),
           /, **row: Any) -> dict[str, Any]:
    """``row`` followed by ``keys`` of ``quality.evaluate(images)`` (each ``None`` when ``quality`` is ``None``);
    ``row`` may hold any key, ``images`` too."""
    scores = quality.evaluate(images) if quality is not None else {}
    return {**row, **{key: scores.get(key) for key in keys}}


def diffusion_trainer_for(run: Run, model, images, *, classes: list[str], callbacks=(), data_dir=None,
                          **config: Any):
    """Notebook 06's trainer plumbing: a ``DiffusionTrainer`` for ``model`` on ``images`` (an ``ImageSet``) with the
    run's budgets (``steps``, ``batch_size``, ``warmup``, ``T``, ``ema_decay``, ``sample_every``, ``view_steps``), a
    checkpoint folder named after the data, the labels from ``classes`` and a ``QualityTracker`` (every
    ``eval_every`` steps on ``metric_samples``) when the metrics can run. ``config``: ``DiffusionTrainConfig``
    fields (``lr``, ``schedule``, ``prediction``). Returns ``(trainer, tracker or None, quality or None)``."""
    from .checkpoint import checkpoint_dir
    from .device_dataset import DeviceImageDataset
    from .train import DiffusionTrainConfig, DiffusionTrainer, QualityTracker

    image_size = images.images.shape[-1]
    cfg = DiffusionTrainConfig(steps=run["steps"], batch_size=run["batch_size"], warmup=run["warmup"], T=run["T"],
                               ema_decay=run["ema_decay"], log_every=25, sample_every=run["sample_every"],
                               sample_steps=min(run["view_steps"], run["T"]), checkpoint_every=None,
                               checkpoint_seconds=30, n_samples=32, precision=run.precision, seed=run.seed, **config)
    quality = make_quality(images.images, run)
    tracker = QualityTracker(quality, every=run["eval_every"], samples=run["metric_samples"]) if quality else None
    folder = checkpoint_dir(run.out_dir / "checkpoints", dataset="openmoji" if data_dir is None else str(data_dir),
                            batch_size=run["batch_size"], image_size=image_size, model=f"ddpm-{cfg.schedule}")
    labels = torch.tensor([classes.index(c) for c in images.categories]) if classes else None
    trainer = DiffusionTrainer(model, DeviceImageDataset(images.images, run.device, seed=run.seed), config=cfg,
                               labels=labels, num_classes=len(classes) or None, out_dir=folder,
                               callbacks=[*callbacks, *([tracker] if tracker else [])])
    return trainer, tracker, quality


def train_gan(name: str, networks, data, run: Run, *, seconds: float | None, out_dir, quality=None,
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
    from .device_dataset import DeviceImageDataset
    from .train import GANTrainConfig, GANTrainer, QualityTracker

    if not isinstance(data, DeviceImageDataset):
        data = DeviceImageDataset(data, run.device, seed=run.seed)
    settings = dict(steps=None, batch_size=run["batch_size"], log_every=run.params.get("log_every") or 10,
                    sample_every=None, checkpoint_every=None, precision=run.precision, seed=run.seed) | config
    tracker = QualityTracker(quality, samples=samples or run["metric_samples"]) if quality is not None else None
    trainer = GANTrainer(*networks, data, config=GANTrainConfig(**settings), out_dir=out_dir,
                         callbacks=[tracker] if tracker else [], progress=progress)
    return train_for(name, trainer, seconds, tracker=tracker, say=say, **(extra or {})) | {"trainer": trainer}


def tail_means(history: dict, keys, share: float = 0.1) -> dict[str, float]:
    """The mean of each of ``keys`` over the last ``share`` of a trainer's ``history`` (at least one entry)."""
    tail = max(1, int(len(history["step"]) * share + 1e-9))
    return {key: sum(history[key][-tail:]) / tail for key in keys}


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    """Whether two modules hold exactly the same state — every parameter and buffer equal (``torch.equal``)."""
    mine, theirs = a.state_dict(), b.state_dict()
    return mine.keys() == theirs.keys() and all(torch.equal(mine[key], theirs[key]) for key in mine)


LEVEL_SCORES = ("fd", "precision", "recall", "diversity_ratio", "collapsed")


def level_rows(runs: Mapping[str, Any]) -> list[dict]:
    """One row per finished level of every progressive run (label → ``ProgressiveTrainer``): ``run``, ``level``,
    ``resolution``, ``steps``, ``images``, ``seconds`` and the level's end scores (``None`` without a metric)."""
    return [{"run": label, "level": r["level"], "resolution": r["resolution"], "steps": r["steps"],
             "images": r["images"], "seconds": r["seconds"], **{k: (r["metrics"] or {}).get(k) for k in LEVEL_SCORES}}
            for label, trainer in runs.items() for r in trainer.results]


def per_resolution_rows(progressive, level_seconds: list[float], trainer, row: dict, images: torch.Tensor, run: Run,
                        quality=None, *, seed: int = 0) -> list[dict]:
    """A progressive run against a multi-scale generator at every resolution, scored the same way: for the
    progressive run its scores at the end of that level (``level_seconds``: the seconds each level took), for the
    multi-scale ``trainer`` its image at that scale at the end (``row``: its :func:`train_for` row), both against
    ``images`` (uint8, full size) pooled to the size, on ``run["metric_samples"]`` samples of the same noise.
    Two rows per resolution, ``"ProGAN"`` then ``"MSG-GAN"``; the progressive one counts images and seconds so far."""
    from .data import to_uint8
    from .runtime import eval_mode
    from .train.progressive import pool_to

    z = torch.randn(run["metric_samples"], trainer.latent_dim, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad(), eval_mode(trainer.sampler), trainer.autocast():
        chunks = [[to_uint8(x).cpu() for x in trainer.sampler(c.to(run.device))] for c in z.split(256)]
    rows, seconds, seen = [], 0.0, 0
    for result, spent, fakes in zip(progressive.results, level_seconds, zip(*chunks)):
        size, seconds, seen = result["resolution"], seconds + spent, seen + result["images"]
        scorer = quality if size == images.shape[-1] else make_quality(pool_to(images, size), run)
        theirs, mine = result["metrics"] or {}, scorer.evaluate(torch.cat(fakes)) if scorer else {}
        rows += [{"run": "ProGAN", "resolution": size, "images": seen, "seconds": round(seconds, 1),
                  **{k: theirs.get(k) for k in LEVEL_SCORES}},
                 {"run": "MSG-GAN", "resolution": size, "images": row["images"], "seconds": row["seconds"],
                  **{k: mine.get(k) for k in LEVEL_SCORES}}]
    return rows


@contextlib.contextmanager
def warnings_as_notes():
    """Print every warning raised inside the block as a ``note: …`` line (each one, not only the first of its
    kind), so a notebook's output names them all."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        print("note:", warning.message)


def timed(fn, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``(fn(*args, **kwargs), the seconds it took)``."""
    begin = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - begin


def mean_last(values: list[float], n: int = 10) -> float:
    """The mean of the last ``n`` values (all of them when there are fewer): a final loss without one step's noise."""
    tail = list(values)[-n:]
    return sum(tail) / len(tail)

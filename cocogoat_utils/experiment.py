"""A notebook's run around its lessons: its set-up, its quality metrics and its summary.

- :func:`start_run` resolves the notebook's parameters (``globals()``) against its scale table
  (:mod:`~cocogoat_utils.scales`), makes the output folder (under :func:`~cocogoat_utils.runtime.home`),
  picks device and precision, seeds everything and prints where the outputs go: the first cell every
  notebook runs. :meth:`Run.figure` saves a figure there and shows it; :meth:`Run.grid` an image grid.
- :func:`make_quality` builds the quality metrics, or says why they are off (too few images,
  a missing feature network) and returns ``None``.
- :func:`finish_run` writes ``summary.json`` (the notebook's figures plus the common keys).
- :func:`warnings_as_notes` prints every warning of a block as a ``note:`` line in the notebook's output.
- :func:`show_study` shows a recorded study (:mod:`~cocogoat_utils.study`) in an English lesson: how it ran, its table
  over seeds, every seed's score, its figures and its verdicts.

The rest of a notebook's run lives beside it, one concept a module: equal-time comparisons, tables and the verdict
rule in :mod:`~cocogoat_utils.comparison`, the shipped model beside the live run in
:mod:`~cocogoat_utils.shipped_beside`, small measurements in :mod:`~cocogoat_utils.measures`. Their names are
imported here too, where the notebooks have long imported them from.
"""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import torch

from .comparison import (JUDGE_KEYS, SCORE_KEYS, print_table, scored, scores, train_for,  # noqa: F401  (their old home)
                         train_gan, verdict)
from .measures import mean_last, same_weights, tail_means, timed  # noqa: F401  (their old home)
from .metrics import QualityMetrics
from . import study
from .runtime import device_name, home, pick_device, pick_precision, resolve_params, set_seed, short_path
from .scales import table as scale_table
from .shipped_beside import shipped_beside  # noqa: F401  (its old home)
from .viz import save_grid, show_images


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
        if name:
            (fig or plt.gcf()).savefig(self.out_dir / name, dpi=100, bbox_inches="tight")
        plt.show()

    def grid(self, name: str, images: torch.Tensor, *, title: str | None = None, nrow: int = 8,
             shown: int | None = None) -> None:
        """Save ``images`` as the grid ``name`` in the run's folder and show it (only the first ``shown``, if given)."""
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


def finish_run(run: Run, summary: dict[str, Any], *, echo: bool = True) -> dict[str, Any]:
    """Write ``summary.json`` in the run's folder — the notebook's figures after the common keys
    (notebook, scale, device, numeric_precision — bf16, fp16 or fp32 —, the resolved parameters) and before
    ``artifacts`` (the pictures the run wrote) and ``seconds`` — print it (``echo=False``: not; the lesson prints
    a short table of its key figures instead), and return it."""
    full = {"notebook": run.notebook, "scale": run.scale, "device": device_name(run.device),
            "numeric_precision": run.precision, "params": run.params, **summary,
            "artifacts": summary.get("artifacts", run.artifacts), "seconds": round(run.seconds, 1)}
    (run.out_dir / "summary.json").write_text(json.dumps(full, indent=2, ensure_ascii=False, default=str))
    if echo:
        print(json.dumps(full, indent=2, ensure_ascii=False, default=str))
    return full


@contextlib.contextmanager
def warnings_as_notes():
    """Print every warning raised inside the block as a ``note: …`` line (each one, not only the first of its
    kind), so a notebook's output names them all."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        print("note:", warning.message)


def _at(record: dict, row: dict) -> str:
    """A row's condition as words (``"1,500 steps"``, ``"50 labels"``), or ``""`` for a study run at one."""
    key = record.get("condition")
    if not key:
        return ""
    value = row[key]
    return f"{value:,} {key}" if isinstance(value, int) else f"{key} {value}"


def show_study(run: Run, name: str, labels: Mapping[str, str] | None = None, *, digits: int = 1,
               detail: Callable[[dict], str] | None = None) -> list[str]:
    """A recorded study of the lesson, in English: how it ran (seeds, minutes, hardware, the command that reproduces
    it), each arm over the seeds (mean, spread, best and worst seed, how many learned; per condition), every seed's
    score with its interval, recall and the judge's findings, the scores with every seed a point (saved as
    ``study_<name>.png`` in the run's folder), the record's figure with one seed's samples per arm, and the verdicts
    by the rule across seeds (:func:`~cocogoat_utils.study.verdict_line`). ``labels`` names the arms; ``detail`` (a
    seed's row → text) adds what the lesson reads in each seed's line; the steps are a column where the arms' differ
    (a study at equal time). Returns the verdict lines; until the study is recorded, it prints the command that
    records it and returns ``[]``."""
    try:
        record = study.load_record(name)
    except FileNotFoundError:
        print(f"{name}: not recorded yet — `python -m cocogoat_utils.study {name}` records it "
              f"({study.STUDIES[name].seeds} seeds per arm; `--list` names its arms)")
        return []
    label = {arm: (labels or {}).get(arm, arm.replace("_", " ")) for arm in record["arms"]}
    metric, short = record["metric"], record["metric_name"].split(" (")[0].split(" in ")[0]  # "FD", "L1", …
    print(f"{name}: {len(record['seeds_done'])} seeds per arm; {record['wall_minutes']} min on {record['hardware']} "
          f"({record['precision']})\nreproduce: {record['command']}")
    key = record.get("condition")
    by_time = len({(r.get(key) if key else None, round(r.get("steps") or 0)) for r in record["spread"]}) > len(
        {r.get(key) if key else None for r in record["spread"]})  # the arms' steps differ: trained for equal time
    print_table([{**({key: r[key]} if key else {}), "arm": label[r["arm"]], f"mean {short}": r["mean"], "sd": r["sd"],
                  "best seed": r["min" if not record["higher_is_better"] else "max"],
                  "worst seed": r["max" if not record["higher_is_better"] else "min"],
                  **({"steps": round(r["steps"])} if by_time else {}),
                  "learned": f"{r['learned']} of {r['seeds']}"} for r in record["spread"]],
                [*([key] if key else []), "arm", f"mean {short}", "sd", "best seed", "worst seed",
                 *(["steps"] if by_time else []), "learned"])
    for r in record["runs"]:
        at = _at(record, r)
        interval = (f" [{r[metric + '_low']:.{digits}f}–{r[metric + '_high']:.{digits}f}]"
                    if r.get(metric + "_low") is not None else "")
        recall = f", recall {r['recall']:.2f}" if r.get("recall") is not None else ""
        found = f"; findings: {', '.join(r['findings']) or 'none'}" if "findings" in r else ""
        more = f" ({detail(r)})" if detail else ""
        print(f"  seed {r['seed']}, {label[r['arm']]}{', ' + at if at else ''}: {short} {r[metric]:.{digits}f}"
              f"{interval}{recall}{found}{more}")
    study.plot_record(record, arm_labels=label,
                      title=f"the recorded study {name}: every seed a point ({len(record['seeds_done'])} seeds)")
    run.figure(f"study_{name.replace('-', '_')}.png")
    figure = study.record_figure(name)
    if figure is not None:
        picture = plt.imread(figure)
        fig, ax = plt.subplots(figsize=(picture.shape[1] / 110, picture.shape[0] / 110))
        ax.imshow(picture)
        ax.set_title("the record's figure: the scores, and the samples of one seed per arm", fontsize=9)
        ax.axis("off")
        plt.show()
    lines = [(f"at {_at(record, {key: v['condition']})}: " if key else "") + study.verdict_line(v, label, digits=digits)
             for v in study.verdicts(record)]
    print("\n".join(lines))
    return lines

"""Studies: comparisons of the source material run with seeds, at a budget where their baseline learns, and recorded.

    python -m cocogoat_utils.study --list                          # the studies and what each compares
    python -m cocogoat_utils.study selector-minent                 # every seed, on the best device; resumable
    python -m cocogoat_utils.study selector-minent --seeds 5 --device cpu --threads 1
    python -m cocogoat_utils.study selector-minent --record-only   # rewrite the record from the seeds done so far

A comparison that a notebook's live budget cannot decide is run here: every arm, ``--seeds`` seeds each (the seed
draws the data split, the label order and the initial weights alike), at a budget chosen by a pilot and stated in
the record. Each finished seed is kept under ``runs/studies/<name>/seed_<k>.pt``; a killed study continues with the
seeds it lacks (a GAN arm also continues inside its seed from its trainer's checkpoints, as ``pretrain`` does).
After each seed the record is written into ``studies/`` (the package data ``cocogoat_utils.studies``):

- ``<name>.json``: the arms (the baseline first), the settings, the budget and the pilot that chose it, one row per
  seed, arm and condition (score, its interval when the metric gives one, whether the run learned, steps, images
  seen, seconds), the spread per arm, wall time, hardware and the command;
- ``<name>.png``: the scores per arm with every seed's point (a sample grid per arm for a generative study);
- ``<name>.md``: the same for a reader on GitHub.

:func:`judge` applies the judge's verdict rule (:func:`~cocogoat_utils.metrics.compare`) to a record: a winner only
where the seeds' ranges part, "no clear difference" where they overlap, "inconclusive" where the baseline did not
learn. The words a lesson prints around it are the lesson's own.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import math
import os
import platform
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from torch import nn

from .augment import augment_dataset, diff_translation, random_flip
from .boxes import UpscaledCrops, crop_boxes, make_canvases
from .bundled import package_data_dirs
from .checkpoint import atomic_save
from .data import load_dataset, split_last, to_uint8
from .device_dataset import DeviceImageDataset
from .degrade import SELECTION_CLASSES, make_selection_task
from .metrics import QualityMetrics, compare, findings_of, learned
from .models.dcgan import build_dcgan
from .models.lstm_gan import Inpainter, match_parameters, parameter_count
from .models.classifier import ImageClassifier
from .models.emboxer import Emboxer
from .openmoji import load_openmoji
from .pretrain import (CATEGORIES, DDPM_NETWORK, DDPM_TRAINING, PROGAN_TRAINING, ddpm_network, lstm_pair_networks,
                       msggan_networks, progan_networks)
from .runtime import (PACKAGE_DIR, add_hardware_arguments, apply_threads, hardware, home, is_checkout, pick_device,
                      pick_precision, reproduce_command, set_seed)
from .selection import split_held_out
from .shipped import load_pretrained
from .train import (DiffusionTrainConfig, DiffusionTrainer, GANTrainConfig, GANTrainer, ProgressiveTrainer,
                    ShadowEMA, level_plan)
from .train.emboxer import box_scores, predict_boxes, train_emboxer
from .train.inpaint import evaluate_inpainter, mean_colour_l1, train_inpainter
from .train.classifier import (predict, prediction_spread, pretrain_information_max, pseudo_label,
                               train_classifier)
from .viz import image_grid

RECORD_PACKAGE = "cocogoat_utils.studies"


# --------------------------------------------------------------------------- what a study is

@dataclass
class SeedContext:
    """What a study's seed function gets: the seed, the device and precision, the budget, its work folder."""

    study: Study
    seed: int
    device: torch.device
    precision: str
    minutes: float | None
    work_dir: Path
    progress: bool = False


@dataclass(frozen=True)
class Study:
    """A comparison: its arms (name → what it is; the first is the baseline), the score (``metric``, higher or lower
    better), the conditions it is run at (``condition`` names the row key, e.g. ``"labels"``; ``None``: one), the
    seeds, the budget and how a pilot chose it, and the function that runs one seed and returns its rows."""

    name: str
    notebook: str
    question: str
    arms: dict[str, str]
    metric: str
    metric_name: str
    higher_is_better: bool
    run_seed: Callable[[SeedContext], list[dict]]
    settings: dict
    budget: str
    condition: str | None = None
    conditions: tuple = ()
    seeds: int = 3
    minutes: float | None = None  # per arm and seed, for studies that train by wall time (None: by steps)
    pilot: dict = field(default_factory=dict)
    chance: float | None = None  # the score of a run that learned nothing (a classifier's 1 / classes)

    @property
    def baseline(self) -> str:
        return next(iter(self.arms))


STUDIES: dict[str, Study] = {}


def register(study: Study) -> Study:
    STUDIES[study.name] = study
    return study


# --------------------------------------------------------------------------- scores with intervals

def wilson_interval(successes: int, n: int, *, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95 % by default) of a proportion ``successes / n`` — a held-out accuracy's
    uncertainty from the number of held-out images (Wilson 1927)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def accuracy_row(correct: int, n: int, *, chance: float, one_class: bool = False) -> dict:
    """A classifier's held-out score as a row the verdict rule reads: ``accuracy`` with its Wilson interval
    (``accuracy_low``, ``accuracy_high``) and ``collapsed`` — it did not learn: every prediction in one class, or an
    interval that reaches ``chance``."""
    low, high = wilson_interval(correct, n)
    reason = "every prediction in one class" if one_class else "at chance" if low <= chance else None
    return {"accuracy": correct / n, "accuracy_low": low, "accuracy_high": high, "held_out": n,
            "collapsed": reason is not None, "did_not_learn": reason}


# --------------------------------------------------------------------------- reading a record

def record_dirs() -> list[Path]:
    """Where records are looked for: the installed package data, then the checkout's ``studies/``."""
    return package_data_dirs(RECORD_PACKAGE, "studies")


def load_record(name: str) -> dict:
    """The record ``studies/<name>.json``, wherever the package is installed."""
    for folder in record_dirs():
        if (folder / f"{name}.json").is_file():
            return json.loads((folder / f"{name}.json").read_text())
    raise FileNotFoundError(f"no record of the study {name!r} (looked in {', '.join(map(str, record_dirs()))}); "
                            f"`python -m cocogoat_utils.study {name}` makes it")


def record_figure(name: str) -> Path | None:
    """The record's figure ``studies/<name>.png`` (the scores, and one seed's samples per arm for a generative study),
    or ``None`` where it is missing."""
    return next((folder / f"{name}.png" for folder in record_dirs() if (folder / f"{name}.png").is_file()), None)


def runs_of(record: dict, arm: str, condition=None) -> list[dict]:
    """The rows of ``arm`` (one per seed) at ``condition`` (ignored by a study with one condition)."""
    key = record.get("condition")
    return [r for r in record["runs"] if r["arm"] == arm and (key is None or r[key] == condition)]


def judge(record: dict, arm: str, *, condition=None, baseline: str | None = None) -> dict:
    """The verdict rule between the record's baseline (or ``baseline``) and ``arm`` at ``condition``, across the
    seeds: :func:`~cocogoat_utils.metrics.compare`'s result (``outcome`` "better" — the seeds' ranges part —,
    "no clear difference", "collapse" or "inconclusive"), with ``winner`` an arm name or ``None``."""
    baseline = baseline or record["baseline"]
    a, b = runs_of(record, baseline, condition), runs_of(record, arm, condition)
    if not a or not b:
        raise ValueError(f"the record {record['name']!r} has no runs of {baseline!r} and {arm!r} at {condition!r}")
    judged = compare(a, b, key=record["metric"], lower_is_better=not record["higher_is_better"])
    reason = {"b did not learn": f"{arm} did not learn in some seed",
              "the baseline did not learn": f"{baseline}, the baseline, did not learn in some seed"}
    return {**judged, "winner": {"a": baseline, "b": arm, None: None}[judged["winner"]], "baseline": baseline,
            "arm": arm, "condition": condition, "reason": reason.get(judged["reason"], judged["reason"])}


def verdicts(record: dict) -> list[dict]:
    """:func:`judge` for every arm against the baseline at every condition."""
    conditions = record.get("conditions") or [None]
    return [judge(record, arm, condition=c) for c in conditions for arm in record["arms"] if arm != record["baseline"]]


def verdict_line(v: dict, labels: dict | None = None, *, digits: int = 1) -> str:
    """One of :func:`verdicts` as an English line: the rule's outcome and the seeds' ranges of both arms, e.g.
    ``"no fade-in vs recipe: no clear difference (the seeds' ranges overlap: recipe 18.2–21.0, no fade-in 19.5–23.1
    over 3 seeds)"``; ``labels`` names the arms, ``digits`` the decimals of the scores. A lesson in another language
    words ``v`` itself."""
    name = (labels or {}).get
    base, arm = name(v["baseline"], v["baseline"]), name(v["arm"], v["arm"])
    a, b = v["a"], v["b"]
    ranges = (f"{base} {a['low']:.{digits}f}–{a['high']:.{digits}f}, {arm} {b['low']:.{digits}f}–{b['high']:.{digits}f} "
              f"over {v['seeds']} seeds")
    said = {"better": f"{name(v['winner'], v['winner'])} ahead (the seeds' ranges part: {ranges})",
            "no clear difference": f"no clear difference (the seeds' ranges overlap: {ranges})",
            "collapse": f"{base} ahead: {arm} did not learn in some seed ({', '.join(b['faults'])}; {ranges})",
            "inconclusive": f"inconclusive: {base}, the baseline, did not learn in some seed "
                            f"({', '.join(a['faults'])}; {ranges})"}[v["outcome"]]
    return f"{arm} vs {base}: {said}"


def spread(record: dict) -> list[dict]:
    """One row per condition and arm: the seeds, the mean, the standard deviation, the lowest and highest seed, and
    how many seeds learned; mean steps, images seen and seconds."""
    rows, key, metric = [], record.get("condition"), record["metric"]
    for condition in record.get("conditions") or [None]:
        for arm in record["arms"]:
            runs = runs_of(record, arm, condition)
            if not runs:
                continue
            values = [r[metric] for r in runs]
            mean = sum(values) / len(values)
            sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
            row = {key: condition} if key else {}
            rows.append({**row, "arm": arm, "seeds": len(values), "mean": mean, "sd": sd, "min": min(values),
                         "max": max(values), "learned": sum(not r.get("collapsed") for r in runs),
                         **{k: sum(r.get(k, 0) for r in runs) / len(runs)
                            for k in ("steps", "images_seen", "seconds")}, **row})  # a condition named "steps" wins
    return rows


def plot_record(record: dict, *, ax=None, arm_labels: dict | None = None, xlabel: str | None = None,
                ylabel: str | None = None, title: str | None = None):
    """The scores per arm: every seed's point, the arm's mean as a line (over the conditions) or a bar, and the
    chance level when the record gives one; on a log axis when the scores span more than a factor of ten (a run that
    did not learn beside runs that did). ``arm_labels``, ``xlabel``, ``ylabel`` and ``title`` let a lesson word it."""
    arms, metric, key = list(record["arms"]), record["metric"], record.get("condition")
    conditions = record.get("conditions") or [None]
    labels = {a: (arm_labels or {}).get(a, a.replace("_", " ")) for a in arms}
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    width = 0.7 / len(arms)
    for i, arm in enumerate(arms):
        colour = f"C{i}"
        means = []
        for j, condition in enumerate(conditions):
            values = [r[metric] for r in runs_of(record, arm, condition)]
            x = j + (i - (len(arms) - 1) / 2) * width
            ax.scatter([x] * len(values), values, s=14, color=colour, alpha=0.7, zorder=3)
            means.append((x, sum(values) / len(values) if values else float("nan")))
        if len(conditions) > 1:
            ax.plot(*zip(*means), "-", color=colour, label=labels[arm], lw=1.5)
        else:
            ax.hlines(means[0][1], means[0][0] - width / 2, means[0][0] + width / 2, color=colour, lw=2,
                      label=labels[arm])
    if record.get("chance") is not None:
        ax.axhline(record["chance"], color="grey", ls=":", lw=1, label="chance")
    scores = [r[metric] for r in record.get("runs", []) if r.get(metric) is not None]
    log = bool(scores) and min(scores) > 0 and max(scores) > 10 * min(scores)
    if log:
        ax.set_yscale("log")
    ax.set_xticks(range(len(conditions)), [f"{c:,}" if isinstance(c, int) else str(c) for c in conditions]
                  if key else [""])
    ylabel = (ylabel or record.get("metric_name", metric)) + (", log scale" if log else "")
    ax.set(xlabel=xlabel or (key or ""), ylabel=ylabel,
           title=title or f"{record['name']}: {len(record.get('seeds_done', []))} seeds per arm")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    return ax


# --------------------------------------------------------------------------- writing a record

def default_record_dir() -> Path:
    """``studies/`` of the checkout, else ``studies/`` under the home folder."""
    return PACKAGE_DIR.parent / "studies" if is_checkout() else home() / "studies"


def command_line(study: Study, args: argparse.Namespace) -> str:
    """The command that reproduces the study (pinned to one core with ``taskset`` when it ran on one)."""
    parts = ["python", "-m", "cocogoat_utils.study", study.name, "--seeds", str(args.seeds)]
    if args.minutes is not None:
        parts += ["--minutes", f"{args.minutes:g}"]
    return reproduce_command(parts, args, args.device_type)


def build_record(study: Study, results: dict[int, dict], *, command: str, device: torch.device, precision: str,
                 note: str | None = None) -> dict:
    """The record from the seeds done (``results``: seed → ``{"rows", "seconds"}``); ``note``: what a reader should
    know about how it ran (a shared machine, say)."""
    seeds = sorted(results)
    runs = [{"seed": s, **row} for s in seeds for row in results[s]["rows"]]
    for run in runs:  # judged by the present thresholds wherever the row keeps the measure (the judge may have moved)
        if run.get("findings") is not None:
            run["findings"] = findings_of(run)
            run["collapsed"] = not learned(run)
    seconds = sum(results[s]["seconds"] for s in seeds)
    record = {
        "name": study.name, "notebook": study.notebook, "question": study.question, "arms": study.arms,
        "baseline": study.baseline, "metric": study.metric, "metric_name": study.metric_name,
        "higher_is_better": study.higher_is_better, "chance": study.chance, "condition": study.condition,
        "conditions": sorted({r[study.condition] for r in runs}) if study.condition else [],
        "settings": study.settings, "budget": study.budget,
        "pilot": study.pilot, "seeds_done": seeds,
        "runs": runs, "wall_minutes": round(seconds / 60, 1),
        "seed_minutes": {str(s): round(results[s]["seconds"] / 60, 2) for s in seeds},
        "hardware": hardware(device), "precision": precision, "torch": str(torch.__version__),
        "python": platform.python_version(), "command": command, "note": note,
        "date": datetime.date.today().isoformat(),
    }
    record["spread"] = spread(record)
    record["verdicts"] = [{k: v[k] for k in ("condition", "baseline", "arm", "outcome", "winner", "reason", "seeds")}
                          for v in verdicts(record)]
    return record


def _value(x) -> str:
    return f"{x:,.3f}" if isinstance(x, float) else f"{x:,}" if isinstance(x, int) else str(x)


def record_markdown(record: dict) -> str:
    """A page for the record: the question, the budget, the spread table, the rule's verdicts, the command."""
    key = record.get("condition")
    lines = [f"# Study `{record['name']}` ({record['notebook']})", "", record["question"], "",
             "**Arms** (the first is the baseline): " + "; ".join(f"`{a}`: {d}" for a, d in record["arms"].items()),
             "", f"**Budget.** {record['budget']}", "",
             f"**Score.** {record['metric_name']} ({'higher' if record['higher_is_better'] else 'lower'} is better), "
             f"{len(record['seeds_done'])} seeds per arm; {record['wall_minutes']} min on {record['hardware']}, "
             f"{record['precision']}, torch {record['torch']}." + (f" {record['note']}" if record.get("note") else ""),
             "",
             "| " + (f"{key} | " if key else "") + "arm | seeds | mean | sd | lowest | highest | learned | steps | "
             "images seen | seconds |", "|" + "---|" * (11 if key else 10)]
    for r in record["spread"]:
        lines.append("| " + (f"{_value(r[key])} | " if key else "") + f"{r['arm']} | {r['seeds']} | {r['mean']:.3f} | "
                     f"{r['sd']:.3f} | {r['min']:.3f} | {r['max']:.3f} | {r['learned']} of {r['seeds']} | "
                     f"{r['steps']:,.0f} | {r['images_seen']:,.0f} | {r['seconds']:.0f} |")
    lines += ["", "**The verdict rule** (a winner only where the seeds' ranges part; inconclusive where the baseline "
              "did not learn):", ""]
    for v in record["verdicts"]:
        at = f"at {_value(v['condition'])} {key}: " if key else ""
        who = f"`{v['winner']}` ahead" if v["winner"] else v["outcome"]
        lines.append(f"- {at}`{v['arm']}` vs `{v['baseline']}` → {who} ({v['reason']}; {v['seeds']} seeds)")
    lines += ["", f"![{record['name']}]({record['name']}.png)", "", "Reproduce:", "", "```",
              record["command"], "```", ""]
    return "\n".join(lines)


def write_record(record: dict, folder: Path, *, samples: dict[str, torch.Tensor] | None = None) -> Path:
    """Write ``<name>.json``, ``<name>.png`` (the scores; beside them a grid per arm when ``samples`` are given) and
    ``<name>.md`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record['name']}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    with plt.ioff():
        panels = 1 + len(samples or {})
        fig, axes = plt.subplots(1, panels, figsize=(7 + 3.2 * (panels - 1), 4),
                                 gridspec_kw={"width_ratios": [2.2] + [1] * (panels - 1)}, squeeze=False)
        plot_record(record, ax=axes[0][0])
        for ax, (arm, images) in zip(axes[0][1:], (samples or {}).items()):
            ax.imshow(image_grid(images, nrow=8).permute(1, 2, 0).numpy())
            ax.set_title(arm, fontsize=9)
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(folder / f"{record['name']}.png", dpi=110)
        plt.close(fig)
    (folder / f"{record['name']}.md").write_text(record_markdown(record))
    return path


# --------------------------------------------------------------------------- running a study

def run_study(study: Study, args: argparse.Namespace) -> dict:
    """Run the seeds the work folder lacks, writing the record after each one; returns the record."""
    device = pick_device(args.device)
    precision = pick_precision(args.precision, device)
    args.device_type = device.type
    work = Path(args.work_dir) if args.work_dir else home() / "runs" / "studies" / study.name
    if args.fresh and work.exists():
        shutil.rmtree(work)
    folder = Path(args.record_dir) if args.record_dir else default_record_dir()
    command = command_line(study, args)
    only = set(range(args.seeds)) if getattr(args, "only", None) is None else set(args.only)
    if not only <= set(range(args.seeds)):
        raise SystemExit(f"[{study.name}] --only {sorted(only)}: seeds run from 0 to {args.seeds - 1}")
    results = finished_seeds(work, args.seeds)
    for seed in range(args.seeds):
        if seed in results or args.record_only or seed not in only:
            continue
        print(f"[{study.name}] seed {seed} of {args.seeds} on {hardware(device)}, {precision}", flush=True)
        set_seed(seed)
        started = time.time()
        ctx = SeedContext(study, seed, device, precision, args.minutes or study.minutes, work / f"seed_{seed}",
                          progress=args.progress)
        out = study.run_seed(ctx)  # the rows, or {"rows": …, "samples": {arm: uint8 images}} for a generative study
        rows, samples = (out["rows"], out.get("samples")) if isinstance(out, dict) else (out, None)
        atomic_save({"rows": rows, "seconds": time.time() - started, **({"samples": samples} if samples else {})},
                    work / f"seed_{seed}.pt")
        results = finished_seeds(work, args.seeds)  # with what another process (another core) finished meanwhile
        record = build_record(study, results, command=command, device=device, precision=precision, note=args.note)
        write_record(record, folder, samples=first_samples(results))
        print(f"[{study.name}] seed {seed} done in {results[seed]['seconds'] / 60:.1f} min; record {folder}",
              flush=True)
    if not results:
        raise SystemExit(f"[{study.name}] no seed done yet in {work}")
    record = build_record(study, results, command=command, device=device, precision=precision, note=args.note)
    write_record(record, folder, samples=first_samples(results))
    return record


def finished_seeds(work: Path, seeds: int) -> dict[int, dict]:
    """The seeds of ``range(seeds)`` whose results lie in the work folder, by seed (several processes, one core each,
    may share the folder with ``--only``: each counts what the others finished)."""
    return {s: torch.load(work / f"seed_{s}.pt", weights_only=True) for s in range(seeds)
            if (work / f"seed_{s}.pt").is_file()}


def first_samples(results: dict[int, dict]) -> dict[str, torch.Tensor] | None:
    """The sample grids of the lowest seed that kept some (a generative study's figure shows one seed's images)."""
    return next((results[s]["samples"] for s in sorted(results) if results[s].get("samples")), None)


# --------------------------------------------------------------------------- 01: the MinEnt pipeline vs supervised

SELECTOR_SETTINGS = {
    "task": "01's embedded selection task at its cpu size (keep: clean people; low quality: degraded people; off "
            "target: other glyphs; 700 images a class), drawn afresh by each seed",
    "target": "people", "per_class": 700, "image_size": 32, "held_out": 300, "label_budgets": [50, 100, 300, 1000],
    "width": 16, "lr": 1e-3, "batch_size": 64, "epochs": 10, "min_steps": 200, "threshold": 0.9,
    "self_training_rounds": 1, "pretrain_epochs": 12, "pretrain_clusters": 10,
    "augment": "random flips and shifts of 1/16", "optimiser": "AdamW, one-cycle schedule",
}


def _classifier_augment(x: torch.Tensor) -> torch.Tensor:
    return diff_translation(random_flip(x), ratio=0.0625)


def selector_seed(ctx: SeedContext, settings: dict | None = None) -> list[dict]:
    """One seed of 01's comparison: a fresh task and held-out split, one MinEnt pretraining on every image outside the
    held-out groups, then at each label budget supervised training alone and the pipeline's fine-tuning and
    self-learning (01's ``fit`` rule: ``epochs`` epochs and at least ``min_steps`` steps per training)."""
    s = {**SELECTOR_SETTINGS, **(settings or {})}
    pipeline = "minent" in s.get("arms", ("minent",))  # a pilot may train the supervised arm alone
    classes = list(SELECTION_CLASSES)
    task = make_selection_task(load_dataset(None, s["image_size"]), target=s["target"], seed=ctx.seed,
                               per_class=s["per_class"])
    truth = torch.tensor([classes.index(c) for c in task.categories])
    order = torch.randperm(len(task), generator=torch.Generator().manual_seed(ctx.seed)).tolist()
    train_names, test_names = split_held_out([task.names[i] for i in order], s["held_out"], seed=ctx.seed)
    index_of = {n: i for i, n in enumerate(task.names)}
    hand = torch.tensor([index_of[n] for n in train_names])  # the labelling order: budget b labels hand[:b]
    test = torch.tensor([index_of[n] for n in test_names])
    test_images, test_truth = task.images[test], truth[test]
    chance = 1 / len(classes)

    def build():
        torch.manual_seed(ctx.seed)
        return ImageClassifier(num_classes=len(classes), width=s["width"])

    def fit(n):
        batch = min(s["batch_size"], n)
        return dict(epochs=max(s["epochs"], -(-s["min_steps"] // max(1, n // batch))), batch_size=batch, lr=s["lr"],
                    val=(test_images, test_truth), val_every=None, augment=_classifier_augment,
                    precision=ctx.precision, device=ctx.device, seed=ctx.seed, progress=False)

    def score(model):
        predicted = predict(model, test_images).argmax(1)
        one_class = prediction_spread(predicted, len(classes))["collapsed"]
        return accuracy_row(int((predicted == test_truth).sum()), len(test), chance=chance, one_class=one_class)

    started = time.time()
    pretrained = build()
    if pipeline:  # stage 1: MinEnt pretraining on every image outside the held-out groups, without their labels
        pretraining = pretrain_information_max(pretrained, task.images[hand], clusters=s["pretrain_clusters"],
                                               epochs=s["pretrain_epochs"], batch_size=2 * s["batch_size"], lr=s["lr"],
                                               augment=_classifier_augment, precision=ctx.precision, device=ctx.device,
                                               seed=ctx.seed, progress=ctx.progress)
    else:
        pretraining = {"steps": 0, "spread": {"classes_used": 0, "collapsed": None}}
    pretrain_seconds, pretrain_steps = time.time() - started, pretraining["steps"]
    pretrain_images = pretrain_steps * min(2 * s["batch_size"], len(hand))

    def from_pretrained():
        torch.manual_seed(ctx.seed)
        return copy.deepcopy(pretrained)

    rows = []
    for budget in s["label_budgets"]:
        images, labels = task.images[hand[:budget]], truth[hand[:budget]]
        unlabelled = task.images[hand[budget:]]  # the pool outside the held-out groups, without the budget's labels
        started = time.time()
        supervised = build()
        steps = train_classifier(supervised, images, labels, **fit(budget))["steps"]
        rows.append({"arm": "supervised", "labels": budget, **score(supervised), "steps": steps,
                     "images_seen": steps * fit(budget)["batch_size"], "seconds": time.time() - started})
        if not pipeline:
            continue
        started = time.time()
        fine_tuned = from_pretrained()  # stage 2: fine-tuning the pretrained network (a fresh head) on the labels
        fine_steps = train_classifier(fine_tuned, images, labels, **fit(budget))["steps"]
        fine_images = fine_steps * fit(budget)["batch_size"]
        rows.append({"arm": "minent_fine_tuned", "labels": budget, **score(fine_tuned),
                     "steps": pretrain_steps + fine_steps, "images_seen": pretrain_images + fine_images,
                     "seconds": pretrain_seconds + time.time() - started})
        for _ in range(s["self_training_rounds"]):  # stage 3: self-learning, the pretrained network fine-tuned again
            predicted, confidence = pseudo_label(fine_tuned, unlabelled)  # on the labels and confident pseudo-labels
            sure = confidence >= s["threshold"]
            right = int((predicted[sure] == truth[hand[budget:]][sure]).sum())
            n = budget + int(sure.sum())
            fine_tuned = from_pretrained()
            more = train_classifier(fine_tuned, torch.cat([images, unlabelled[sure]]),
                                    torch.cat([labels, predicted[sure]]), **fit(n))["steps"]
            fine_steps, fine_images = fine_steps + more, fine_images + more * fit(n)["batch_size"]
        rows.append({"arm": "minent", "labels": budget, **score(fine_tuned), "steps": pretrain_steps + fine_steps,
                     "images_seen": pretrain_images + fine_images,
                     "seconds": pretrain_seconds + time.time() - started, "pseudo_labels": int(sure.sum()),
                     "pseudo_right": right})
        print(f"  {budget:5d} labels: supervised {rows[-3]['accuracy']:.3f}, fine-tuned {rows[-2]['accuracy']:.3f}, "
              f"self-learned {rows[-1]['accuracy']:.3f} ({time.time() - started + rows[-3]['seconds']:.0f} s, "
              f"{rows[-3]['steps']} + {rows[-1]['steps'] - pretrain_steps} steps)", flush=True)
    for row in rows:
        row["pretraining"] = {"steps": pretrain_steps, "seconds": round(pretrain_seconds, 1),
                              "groups_used": pretraining["spread"]["classes_used"],
                              "collapsed": pretraining["spread"]["collapsed"]}
    return rows


register(Study(
    name="selector-minent", notebook="01_DataSelector",
    question="Does the seed author's three-stage MinEnt pipeline (information-maximisation pretraining on the "
             "unlabelled images, supervised fine-tuning on the hand labels, self-learning on confident pseudo-labels) "
             "classify held-out images better than supervised training on the same hand labels alone, at 50, 100, "
             "300 and 1,000 labels?",
    arms={"supervised": "the selector trained on the hand labels alone",
          "minent_fine_tuned": "the MinEnt pipeline after its first two stages (pretraining, then fine-tuning)",
          "minent": "the whole MinEnt pipeline (pretraining, fine-tuning, then one round of self-learning on "
                    "pseudo-labels at confidence >= 0.9)"},
    metric="accuracy", metric_name="held-out accuracy", higher_is_better=True, chance=1 / 3,
    run_seed=selector_seed, settings=SELECTOR_SETTINGS, condition="labels", conditions=(50, 100, 300, 1000), seeds=5,
    budget="every training follows 01's rule with a longer floor than its cpu row: max(10 epochs, 200 steps) at batch "
           "min(64, labels), so 200 steps at every hand-label budget and about 280 for the self-learning round (labels "
           "plus confident pseudo-labels); the MinEnt pretraining 12 epochs at batch 128 over the ~1,800 images "
           "outside "
           "the held-out groups, without labels. Chosen by a pilot on seed 0 with supervised training alone (below): "
           "01's cpu row (10 epochs, at least 80 steps) reached 0.76 at 50 labels and 0.95 at 1,000; 200 and 300 "
           "steps reached 0.80 and 0.963, so the cpu row under-trains the smallest budget. A third pilot point (40 "
           "epochs, 400 steps) was stopped unfinished on a shared core: whether accuracy still rises past 200 steps "
           "is not measured",
    pilot={"seed": 0, "arm": "supervised", "held_out": 300,
           "max(10 epochs, 80 steps)": {"50 labels": {"accuracy": 0.76, "steps": 80},
                                        "1000 labels": {"accuracy": 0.95, "steps": 150}},
           "max(20 epochs, 200 steps)": {"50 labels": {"accuracy": 0.80, "steps": 200},
                                         "1000 labels": {"accuracy": 0.963, "steps": 300}},
           "how": "selector_seed(ctx, {'epochs': E, 'min_steps': M, 'label_budgets': [50, 1000], "
                  "'arms': ['supervised']})"},
))


# --------------------------------------------------------------------------- 07: the sprite DCGAN's tricks

SPRITE_TRICKS_SETTINGS = {
    "data": "07's set: OpenMoji animals, faces and people at 32 px, each image with 2 augmented copies (colour shift "
            "and elastic warp), augmented afresh by each seed",
    "categories": ["animals", "faces", "people"], "image_size": 32, "augment_factor": 3, "arch": "sprite",
    "latent_dim": 100, "g_width": 256, "d_width": 32, "batch_size": 64, "lr": 2e-4, "betas": [0.5, 0.9],
    "loss": "bce", "ema_decay": None, "diffaugment": None, "steps": 3000, "label_smoothing": 0.1,
    "instance_noise": 0.1, "instance_noise_fraction": 0.5, "samples": 1000,
    "arms": ["plain", "label_smoothing", "instance_noise"],
}


FD_1000 = {"metric": "fd", "metric_name": "FD (glyph space, 1,000 samples)", "higher_is_better": False}  # GAN studies
SCORE_KEYS = ("fd", "fd_low", "fd_high", "precision", "recall", "near_duplicates", "dropped_mass", "findings", "collapsed")


def judged_row(quality: QualityMetrics, images: torch.Tensor, arm: str, *, started: float, at: str = "",
               **row) -> dict:
    """A generative study's row: ``images`` scored by the judge for ``arm`` (``row``: the condition, steps, images
    seen …; ``seconds`` since ``started``, scoring included), its line printed: ``"  <arm><at>: FD … [low–high],
    <findings>"``."""
    scores = quality.evaluate(images)
    row = {"arm": arm, **row, **{k: scores[k] for k in SCORE_KEYS}, "seconds": time.time() - started}
    print(f"  {arm}{at}: FD {scores['fd']:.1f} [{scores['fd_low']:.1f}–{scores['fd_high']:.1f}], "
          f"{', '.join(scores['findings']) or 'no findings'} ({row['seconds']:.0f} s)", flush=True)
    return row


def gan_arm_config(s: dict, overrides: dict, *, precision: str, seed: int, **loop) -> GANTrainConfig:
    """A GAN study's :class:`GANTrainConfig` for one arm: the study's settings (``s``: steps, batch, lr, betas, loss,
    EMA, DiffAugment) with the arm's ``overrides``; ``loop`` sets the loop's own options (logging, checkpoints)."""
    return GANTrainConfig(**{"steps": s["steps"], "batch_size": s["batch_size"], "lr_g": s["lr"], "lr_d": s["lr"],
                             "betas": tuple(s["betas"]), "loss": s["loss"], "ema_decay": s["ema_decay"],
                             "diffaugment": s["diffaugment"], "log_every": 100, "sample_every": None,
                             "checkpoint_every": 500, "precision": precision, "seed": seed, **loop, **overrides})


def borrow_run(target: Path, source: Path, steps: int) -> bool:
    """Copy a finished run — its ``config.json`` and its checkpoint at ``steps`` — from another study's work folder
    into an arm's empty one, so that an arm identical to another study's (the same recipe, seed and budget) is scored
    without being trained again. Resuming it checks the copied ``config.json`` against the arm's own settings and
    networks and refuses a run that differs. Returns whether it copied."""
    final = source / f"step_{steps:08d}.pt"
    if any(target.glob("step_*.pt")) or not final.is_file() or not (source / "config.json").is_file():
        return False
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "config.json", target / "config.json")
    shutil.copy2(final, target / final.name)
    print(f"  {target.name}: the finished run of {source} ({steps:,} steps), not trained again", flush=True)
    return True


def study_run_folder(ctx: SeedContext, study_name: str, arm: str) -> Path:
    """Where the study ``study_name`` keeps this seed's run of ``arm`` when its work folder sits beside this one's."""
    return ctx.work_dir.parent.parent / study_name / ctx.work_dir.name / arm


def gan_arms_seed(ctx: SeedContext, s: dict, train_images: torch.Tensor | dict[str, torch.Tensor],
                  real_images: torch.Tensor, arms: dict[str, dict], networks: Callable[[str], tuple], *,
                  borrow: dict[str, Path] | None = None) -> dict:
    """One seed of a GAN study: for each arm, ``networks(arm)`` (built from the seed, so every arm starts from the
    same weights where the arms share a network), the study's :class:`GANTrainConfig` (``s``: batch, lr, betas,
    loss, EMA, DiffAugment, ``steps``) with the arm's overrides (``steps`` and ``batch_size`` among them), the same
    data order (``train_images``: one set for every arm, or arm → its own set); trained for its steps (resuming
    inside the seed from the arm's checkpoints) and scored by the judge on ``s["samples"]`` images from the same
    noise against ``real_images``. ``borrow``: arm → another study's finished run of the same arm
    (:func:`borrow_run`). Returns the rows and 32 samples per arm."""
    quality = QualityMetrics(real_images, device=ctx.device)
    rows, samples = [], {}
    for arm in s["arms"]:
        torch.manual_seed(ctx.seed)
        generator, discriminator = networks(arm)
        config = gan_arm_config(s, arms.get(arm, {}), precision=ctx.precision, seed=ctx.seed)
        if arm in (borrow or {}):
            borrow_run(ctx.work_dir / arm, borrow[arm], config.steps)
        data = train_images[arm] if isinstance(train_images, dict) else train_images
        trainer = GANTrainer(generator, discriminator, DeviceImageDataset(data, ctx.device, seed=ctx.seed),
                             config=config, out_dir=ctx.work_dir / arm, progress=ctx.progress)
        started = time.time()
        for steps in s.get("eval_steps") or [config.steps]:  # a study over training lengths scores one run at each
            trainer.fit(steps)  # resumes inside the seed from the arm's checkpoints
            images = trainer.generate(s["samples"], seed=ctx.seed)
            rows.append(judged_row(quality, images, arm, started=started, at=f" after {trainer.step} steps",
                                   steps=trainer.step, images_seen=trainer.images_seen))
        samples[arm] = images[:32] if images.dtype == torch.uint8 else to_uint8(images[:32])  # generate gives uint8
    return {"rows": rows, "samples": samples}


def sprite_networks(s: dict, **options) -> tuple[nn.Module, nn.Module]:
    """07's sprite DCGAN at a study's settings (``s``: size, architecture, latent size, widths); ``options`` go to
    :func:`~cocogoat_utils.models.dcgan.build_dcgan` (the generator's output)."""
    return build_dcgan(image_size=s["image_size"], arch=s["arch"], latent_dim=s["latent_dim"], g_width=s["g_width"],
                       d_width=s["d_width"], **options)


def sprite_tricks_seed(ctx: SeedContext, settings: dict | None = None) -> dict:
    """One seed of 07's comparison: its sprite DCGAN (07's cpu widths, BCE, Adam(0.5, 0.9), no EMA and no
    DiffAugment, as 07's live comparison) trained for a fixed number of steps plain, with one-sided label smoothing,
    and with instance noise annealed to 0 over the first part of the run; each scored by the judge on ``samples``
    images from the same noise. The same initial weights, data order and noise within a seed."""
    s = {**SPRITE_TRICKS_SETTINGS, **(settings or {})}
    real = load_dataset(None, s["image_size"], categories=s["categories"])
    train = augment_dataset(real.images, factor=s["augment_factor"], seed=ctx.seed)
    tricks = {"plain": {}, "label_smoothing": {"label_smoothing": s["label_smoothing"]},
              "instance_noise": {"instance_noise": s["instance_noise"],
                                 "instance_noise_steps": max(1, int(s["steps"] * s["instance_noise_fraction"]))}}
    return gan_arms_seed(ctx, s, train, real.images, tricks,
                         lambda arm: sprite_networks(s))


register(Study(
    name="sprite-dcgan-tricks", notebook="07_Pokemon_DCGAN",
    question="Do the ganhacks tricks 07 tries (one-sided label smoothing; instance noise on D's inputs) give its "
             "sprite DCGAN a lower FD than plain BCE, at the same number of steps?",
    arms={"plain": "07's sprite DCGAN with plain BCE (no EMA, no DiffAugment)",
          "label_smoothing": "the same with one-sided label smoothing (D's target for real images 0.9)",
          "instance_noise": "the same with Gaussian noise (σ 0.1) on everything D sees, annealed linearly to 0 over "
                            "the first half of the steps"},
    **FD_1000,
    run_seed=sprite_tricks_seed, settings=SPRITE_TRICKS_SETTINGS, seeds=3,
    budget="3,000 steps at batch 64 (192,000 images, about 25 passes over the ×3 set) per arm and seed, counted in "
           "steps so that a shared core does not change what is compared; 07's live comparison gets 40 s "
           "(about 300 steps) and its plain arm does not learn there",
))


SPRITE_SETTINGS_SETTINGS = {**SPRITE_TRICKS_SETTINGS, "tutorial_lr": 2.8e-3, "eval_steps": [1500, 3000],
                            "arms": ["plain", "unit_range", "tutorial_lr"]}


def sprite_settings_arms(s: dict) -> dict[str, dict]:
    """07's settings as changes to its plain arm's training config (the [0, 1] arm changes the network instead)."""
    return {"plain": {}, "unit_range": {}, "tutorial_lr": {"lr_g": s["tutorial_lr"], "lr_d": s["tutorial_lr"]}}


def sprite_settings_seed(ctx: SeedContext, settings: dict | None = None) -> dict:
    """One seed of 07's settings study: its plain sprite DCGAN (as ``sprite-dcgan-tricks``), the same with a sigmoid
    generator drawing in [0, 1] (D sees the real images mapped there too), and the same at the tutorial's learning
    rate; each scored after ``eval_steps`` steps (the tutorial's runs were 50 and 100 epochs: 1 to 2)."""
    s = {**SPRITE_SETTINGS_SETTINGS, **(settings or {})}
    real = load_dataset(None, s["image_size"], categories=s["categories"])
    train = augment_dataset(real.images, factor=s["augment_factor"], seed=ctx.seed)
    return gan_arms_seed(ctx, s, train, real.images, sprite_settings_arms(s),
                         lambda arm: sprite_networks(s, output="sigmoid" if arm == "unit_range" else "tanh"))


register(Study(
    name="sprite-dcgan-settings", notebook="07_Pokemon_DCGAN",
    question="Do the tutorial's own settings — images in [-1, 1] rather than [0, 1], and its learning rate of 0.0028 "
             "rather than 07's 2e-4 — give 07's sprite DCGAN a lower FD, after as many steps as its shorter run and "
             "after twice as many (its 50 and 100 epochs)?",
    arms={"plain": "07's sprite DCGAN with plain BCE, images in [-1, 1] (tanh), Adam(0.5, 0.9) at 2e-4",
          "unit_range": "the same with a sigmoid generator drawing in [0, 1], the real images mapped to [0, 1]",
          "tutorial_lr": "the same at the tutorial's learning rate, 0.0028 for G and D (its second run; its first "
                         "used 0.00275)"},
    **FD_1000,
    run_seed=sprite_settings_seed, settings=SPRITE_SETTINGS_SETTINGS, seeds=3, condition="steps",
    conditions=(1500, 3000),
    budget="each run scored after 1,500 and after 3,000 steps at batch 64 (96,000 and 192,000 images, about 12 and 25 "
           "passes over the ×3 set), the tutorial's 50 and 100 epochs kept 1 : 2; counted in steps. 3,000 steps is "
           "the sprite-dcgan-tricks study's budget, at which the plain arm learned in every seed",
))


# --------------------------------------------------------------------------- 02: the Emboxer's crops

EMBOXER_CROPS_SETTINGS = {
    "data": "a small set: 300 OpenMoji animals, faces and people at 32 px, drawn by the seed; the categories' other "
            "glyphs appear only inside 64 px pictures (white, three other glyphs at half opacity around, the subject "
            "at 30–80 % of the side), where the Emboxer has to find them",
    **{key: SPRITE_TRICKS_SETTINGS[key] for key in (
        "categories", "image_size", "arch", "latent_dim", "g_width", "d_width", "batch_size", "lr", "betas", "loss",
        "ema_decay", "diffaugment", "samples")},
    "small": 300, "factor": 3, "canvas_size": 64, "clutter": 3, "emboxer_canvases": 3000, "emboxer_steps": 1500,
    "emboxer_width": 16, "emboxer_lr": 2e-3, "margin": 0.1, "steps": 3000, "eval_steps": [1500, 3000],
    "arms": ["augmented_x3", "plain", "emboxer_crops"],
}


def found_crops(ctx: SeedContext, s: dict, glyphs: torch.Tensor) -> dict:
    """The seed's Emboxer crops, kept in its work folder (a resumed seed reuses them): pictures made of the RGBA
    ``glyphs`` (:func:`~cocogoat_utils.boxes.make_canvases`), an Emboxer trained on ``emboxer_canvases`` of them with
    their exact boxes, its boxes on ``(factor − 1) × small`` further pictures, grown by ``margin`` and cut out at the
    study's size. Returns the crops, the Emboxer's mean IoU on those pictures and how many crops were upscaled."""
    path = ctx.work_dir / "crops.pt"
    if path.is_file():
        return torch.load(path, weights_only=True)
    n = (s["factor"] - 1) * s["small"]
    pictures, boxes, _ = make_canvases(glyphs, s["emboxer_canvases"] + n, canvas_size=s["canvas_size"],
                                       clutter=s["clutter"], background="white", seed=ctx.seed)
    torch.manual_seed(ctx.seed)
    emboxer = Emboxer(image_size=s["canvas_size"], width=s["emboxer_width"])
    train_emboxer(emboxer, pictures[:-n], boxes[:-n], steps=s["emboxer_steps"], lr=s["emboxer_lr"], device=ctx.device,
                  precision=ctx.precision, seed=ctx.seed, progress=ctx.progress)
    found = predict_boxes(emboxer, pictures[-n:])
    with warnings.catch_warnings(record=True) as caught:  # crops under the study's size are upscaled: counted
        warnings.simplefilter("always")
        crops = crop_boxes(pictures[-n:], found, s["image_size"], margin=s["margin"])
    upscaled = sum(w.message.count for w in caught if isinstance(w.message, UpscaledCrops))
    out = {"crops": crops, "box_iou": box_scores(found, boxes[-n:])["mean_iou"], "upscaled": upscaled}
    print(f"  Emboxer: mean IoU {out['box_iou']:.3f} on the {n} pictures it crops ({upscaled} crops upscaled)",
          flush=True)
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    atomic_save(out, path)
    return out


def emboxer_crops_seed(ctx: SeedContext, settings: dict | None = None) -> dict:
    """One seed of 02's comparison: 07's sprite DCGAN (as ``sprite-dcgan-tricks``' plain arm) on a small set drawn
    by the seed, on that set ×3 (each image and two flipped, jittered, elastically warped copies), and on that set
    with as many Emboxer crops of pictures of the categories' other glyphs (:func:`found_crops`); scored by the judge
    against every glyph of the categories, the distribution the small set was drawn from."""
    s = {**EMBOXER_CROPS_SETTINGS, **(settings or {})}
    real = load_dataset(None, s["image_size"], categories=s["categories"])
    rgba = load_openmoji(s["canvas_size"], categories=s["categories"], background=None)
    if rgba.names != real.names:
        raise RuntimeError("the glyph set's order differs between its white and its transparent loads")
    order = torch.randperm(len(real), generator=torch.Generator().manual_seed(ctx.seed))
    small, others = real.images[order[:s["small"]]], rgba.images[order[s["small"]:]]
    found = found_crops(ctx, s, others)
    train = {"plain": small, "augmented_x3": augment_dataset(small, factor=s["factor"], seed=ctx.seed),
             "emboxer_crops": torch.cat([small, found["crops"]])}
    out = gan_arms_seed(ctx, s, train, real.images, {}, lambda arm: sprite_networks(s))
    for row in out["rows"]:
        row["images"] = len(train[row["arm"]])
        if row["arm"] == "emboxer_crops":
            row.update(box_iou=found["box_iou"], upscaled=found["upscaled"])
    return out


register(Study(
    name="emboxer-crops", notebook="02_DataAugmentator_Emboxer",
    question="Does growing a small set with the Emboxer's crops — its subjects found in larger pictures and cut out — "
             "keep a GAN trained on it from collapsing, as the author found, and does it beat the same set ×3 by "
             "flips, colour jitter and elastic warps, at the same number of steps?",
    arms={"augmented_x3": "07's sprite DCGAN (plain BCE, no EMA, no DiffAugment) on a small set ×3: 300 glyphs drawn by "
                          "the seed, each with two copies flipped, colour-jittered and elastically warped (900 images; "
                          "07's own augmentation)",
          "plain": "the same on the 300 glyphs alone",
          "emboxer_crops": "the same on the 300 glyphs and 600 Emboxer crops of pictures of the categories' other "
                           "glyphs (900 images): an Emboxer trained on 3,000 such pictures with exact boxes, each "
                           "found box grown by 10 % and cut out at 32 px"},
    **FD_1000,
    run_seed=emboxer_crops_seed, settings=EMBOXER_CROPS_SETTINGS, seeds=3, condition="steps", conditions=(1500, 3000),
    budget="each run scored after 1,500 and after 3,000 steps at batch 64 (96,000 and 192,000 images: 320 and 640 "
           "passes over the plain 300, 107 and 213 over the 900 of the other arms), counted in steps; 3,000 steps is "
           "the sprite-dcgan-tricks study's budget, at which the same DCGAN learned on the whole ×3 set in every seed. "
           "02's live payoff gets 40 s a run and neither run learns there. The baseline is the ×3 set, the "
           "augmentation 07 trains on; it was made the baseline after the first results: the plain set had not learned "
           "in any seed at 1,500 steps, and the verdict rule decides nothing against a baseline that did not learn",
))


EMBOXER_CROPS_DA_SETTINGS = {**EMBOXER_CROPS_SETTINGS, "diffaugment": "color,translation,cutout", "steps": 2000,
                             "eval_steps": [1000, 2000]}


def emboxer_crops_da_seed(ctx: SeedContext) -> dict:
    """One seed of ``emboxer-crops-diffaugment``: :func:`emboxer_crops_seed` with DiffAugment on everything D sees."""
    return emboxer_crops_seed(ctx, EMBOXER_CROPS_DA_SETTINGS)


register(Study(
    name="emboxer-crops-diffaugment", notebook="02_DataAugmentator_Emboxer",
    question="Once the GAN no longer collapses on a small set — DiffAugment (Zhao et al. 2020) on everything the "
             "discriminator sees — do the Emboxer's crops still make better samples than the same 300 glyphs ×3 by "
             "flips, colour jitter and elastic warps, or than the 300 alone?",
    arms={"augmented_x3": "07's sprite DCGAN (plain BCE, no EMA) with DiffAugment (colour, translation, cutout on "
                          "real and generated images alike) on the 300 glyphs drawn by the seed ×3: each with two "
                          "copies flipped, colour-jittered and elastically warped (900 images)",
          "plain": "the same on the 300 glyphs alone",
          "emboxer_crops": "the same on the 300 glyphs and 600 Emboxer crops of pictures of the categories' other "
                           "glyphs (900 images), found as in emboxer-crops"},
    **FD_1000,
    run_seed=emboxer_crops_da_seed, settings=EMBOXER_CROPS_DA_SETTINGS, seeds=3, condition="steps",
    conditions=(1000, 2000),
    budget="each run scored after 1,000 and after 2,000 steps at batch 64 (64,000 and 128,000 images: 213 and 427 "
           "passes over the plain 300, 71 and 142 over the 900 of the other arms), counted in steps. Chosen by a "
           "pilot on seed 2, the seed whose ×3 set had not learned at any of 500, 1,000 and 1,500 steps without "
           "DiffAugment: with it, the ×3 arm reached FD 25.9 (drops modes) at 1,000 steps, 18.3 (no findings) at "
           "2,000 and 22.3 (no findings) at 3,000; 2,000 steps keep the three seeds within one session's two cores",
    pilot={"seed": 2, "arm": "augmented_x3", "fd_by_step": {"1000": 25.9, "2000": 18.3, "3000": 22.3},
           "findings_by_step": {"1000": ["drops modes"], "2000": [], "3000": []},
           "without DiffAugment": {"fd_by_step": {"500": 97.5, "1000": 53.7, "1500": 44.7},
                                   "findings_by_step": {"500": ["drops modes", "unlike the data",
                                                                "covers almost none of the data"],
                                                        "1000": ["drops modes", "unlike the data"],
                                                        "1500": ["unlike the data"]}},
           "how": "emboxer_crops_seed(ctx, {'steps': 3000, 'eval_steps': [1000, 2000, 3000], 'arms': "
                  "['augmented_x3', 'plain'], 'diffaugment': 'color,translation,cutout'}) and, without DiffAugment, "
                  "{'steps': 1500, 'eval_steps': [500, 1000, 1500], 'arms': ['augmented_x3']}"},
))


# --------------------------------------------------------------------------- 04: the multi-scale GAN's losses

MSGGAN_LOSSES_SETTINGS = {
    "data": "04's set (and the msggan recipe's): OpenMoji animals, faces and people at 32 px",
    "categories": list(CATEGORIES), "image_size": 32, "g_width": 128, "d_width": 32, "batch_size": 64, "lr": 2e-4,
    "betas": [0.5, 0.9], "loss": "bce", "ema_decay": 0.999, "diffaugment": "color,translation,cutout", "steps": 3000,
    "samples": 1000, "arms": ["bce", "rasgan", "rahinge"],
}


def msggan_losses_seed(ctx: SeedContext, settings: dict | None = None) -> dict:
    """One seed of 04's loss comparison on the shipped msggan recipe (its generator against MSG-GAN's multi-scale
    discriminator, Adam(0.5, 0.9), DiffAugment on every scale, an EMA of G), only the loss changed."""
    s = {**MSGGAN_LOSSES_SETTINGS, **(settings or {})}
    return msggan_parts_seed(ctx, s, {loss: {"loss": loss} for loss in ("bce", "rasgan", "rahinge")})


register(Study(
    name="msggan-losses", notebook="04_Optimized_Cocogoat",
    question="Does the relativistic discriminator the author recommends (RaSGAN, RaHinge) give the multi-scale GAN a "
             "lower FD than the standard BCE loss, all else the shipped recipe's?",
    arms={"bce": "the shipped msggan recipe: standard BCE (non-saturating G loss)",
          "rasgan": "relativistic average standard GAN loss (Jolicoeur-Martineau 2019)",
          "rahinge": "relativistic average hinge loss (the first msggan recipe's)"},
    **FD_1000,
    run_seed=msggan_losses_seed, settings=MSGGAN_LOSSES_SETTINGS, seeds=3,
    budget="3,000 steps at batch 64 per arm and seed, counted in steps; the pilot (benchmarks/msggan_mend.py, one "
           "seed) had the BCE recipe learned by step 2,500 (FD 23.5, no findings) and at FD 12.5, recall 0.36 by "
           "4,000",
    pilot={"script": "benchmarks/msggan_mend.py", "arm": "bce-0.9", "fd_by_step": {"2500": 23.5, "3000": 18.9,
                                                                                   "4000": 12.5}},
))


MSGGAN_RECIPE_RUN = ("msggan-losses", "bce")  # the study that already ran the msggan recipe at these settings


def msggan_parts_arms(s: dict) -> dict[str, dict]:
    """04's switches of the msggan recipe's networks (:func:`~cocogoat_utils.pretrain.msggan_networks`) by arm."""
    return {"recipe": {}, "residual_g": {"residual": True}, "no_bn_g": {"batch_norm": False},
            "d_dropout": {"dropout": s.get("d_dropout", 0.0)}, "multi_scale": {},
            "per_scale": {"discriminator": "per_scale"}, "unet": {"discriminator": "unet"}}


def msggan_parts_seed(ctx: SeedContext, s: dict, arms: dict[str, dict] | None = None) -> dict:
    """One seed of a 04 study on the shipped msggan recipe (as ``msggan-losses``' BCE arm): each arm changes the
    networks (:func:`msggan_parts_arms`) or the training config (``arms``: overrides); the baseline arm is the
    ``msggan-losses`` study's finished BCE run of this seed where it lies beside this study's work folder (the same
    networks, settings, seed and data order: :func:`borrow_run` checks), else it is trained."""
    real = load_dataset(None, s["image_size"], categories=s["categories"])
    switches = msggan_parts_arms(s)
    return gan_arms_seed(ctx, s, real.images, real.images, arms or {},
                         lambda arm: msggan_networks(s["image_size"], seed=ctx.seed, g_width=s["g_width"],
                                                     d_width=s["d_width"], **switches.get(arm, {})),
                         borrow={s["arms"][0]: study_run_folder(ctx, *MSGGAN_RECIPE_RUN)})


MSGGAN_TIPS_SETTINGS = {**MSGGAN_LOSSES_SETTINGS, "d_dropout": 0.2,
                        "arms": ["recipe", "residual_g", "no_bn_g", "d_dropout"]}


def msggan_tips_seed(ctx: SeedContext, settings: dict | None = None) -> dict:
    """One seed of 04's tips, each alone against the recipe."""
    return msggan_parts_seed(ctx, {**MSGGAN_TIPS_SETTINGS, **(settings or {})})


register(Study(
    name="msggan-tips", notebook="04_Optimized_Cocogoat",
    question="Does each of the author's tips — residual generator blocks, no batch norm in the generator, dropout in "
             "the discriminator — on its own give the multi-scale GAN a lower FD than the shipped recipe without it?",
    arms={"recipe": "the shipped msggan recipe (BCE, Adam(0.5, 0.9), batch norm in G, no residual blocks, no dropout)",
          "residual_g": "residual generator blocks: a 1×1 skip around each block's two convolutions (He et al. 2016)",
          "no_bn_g": "no batch norm in the generator (the author, after ESRGAN: batch norm adds artefacts)",
          "d_dropout": "dropout 0.2 after each block of the discriminator"},
    **FD_1000,
    run_seed=msggan_tips_seed, settings=MSGGAN_TIPS_SETTINGS, seeds=3,
    budget="3,000 steps at batch 64 per arm and seed (192,000 images), counted in steps — msggan-losses' budget, at "
           "which the recipe learned in every seed (FD 18.6–19.7, no findings); the recipe arm is that study's BCE run "
           "of each seed, scored again, not trained again",
))


MSGGAN_DISCRIMINATORS_SETTINGS = {**MSGGAN_LOSSES_SETTINGS, "arms": ["multi_scale", "per_scale", "unet"]}


def msggan_discriminators_seed(ctx: SeedContext, settings: dict | None = None) -> dict:
    """One seed of 04's discriminators, each against the recipe's generator."""
    return msggan_parts_seed(ctx, {**MSGGAN_DISCRIMINATORS_SETTINGS, **(settings or {})})


register(Study(
    name="msggan-discriminators", notebook="04_Optimized_Cocogoat",
    question="Does one discriminator per scale (the seed's) or a U-Net discriminator (the author's pick, after "
             "Real-ESRGAN) give the multi-scale generator a lower FD than MSG-GAN's one discriminator for all scales?",
    arms={"multi_scale": "the shipped recipe: MSG-GAN's discriminator, each scale entering at the block of its size",
          "per_scale": "one small strided-conv discriminator per scale, their logits averaged (the seed's)",
          "unet": "a U-Net discriminator with spectral norm, one logit per pixel (Real-ESRGAN's D), each smaller "
                  "scale entering its encoder at its size"},
    **FD_1000,
    run_seed=msggan_discriminators_seed, settings=MSGGAN_DISCRIMINATORS_SETTINGS, seeds=3,
    budget="3,000 steps at batch 64 per arm and seed (192,000 images), counted in steps — msggan-losses' budget, at "
           "which the recipe learned in every seed; the multi_scale arm is that study's BCE run of each seed, scored "
           "again, not trained again. The discriminators' widths are the recipe's (32), so their sizes differ",
))


MSGGAN_BATCH_SETTINGS = {**MSGGAN_LOSSES_SETTINGS, "images": 192_000, "batch_sizes": [64, 16, 256],
                         "arms": ["batch_64", "batch_16", "batch_256"]}


def msggan_batch_seed(ctx: SeedContext, settings: dict | None = None) -> dict:
    """One seed of 04's batch sizes: the recipe at each batch size for the same number of images (so a bigger batch
    takes fewer, less noisy steps), the learning rate unchanged."""
    s = {**MSGGAN_BATCH_SETTINGS, **(settings or {})}
    return msggan_parts_seed(ctx, s, {f"batch_{b}": {"batch_size": b, "steps": s["images"] // b}
                                      for b in s["batch_sizes"]})


register(Study(
    name="msggan-batch", notebook="04_Optimized_Cocogoat",
    question="\"The bigger the batch, the better\": at the same number of images seen, does batch 256 (or 16) give the "
             "multi-scale GAN a lower FD than the recipe's 64?",
    arms={"batch_64": "the shipped recipe: batch 64, 3,000 steps",
          "batch_16": "batch 16, 12,000 steps", "batch_256": "batch 256, 750 steps"},
    **FD_1000,
    run_seed=msggan_batch_seed, settings=MSGGAN_BATCH_SETTINGS, seeds=3,
    budget="192,000 images per arm and seed (msggan-losses' budget at batch 64, where the recipe learned in every "
           "seed), the learning rate 2e-4 at every batch size; the batch_64 arm is that study's BCE run of each seed, "
           "scored again. BigGAN's gain from bigger batches was at equal steps, i.e. with more images",
))


PROGRESSIVE_SETTINGS = {
    "data": "04's set (and 03's): OpenMoji animals, faces and people at 32 px",
    "categories": list(CATEGORIES), "image_size": 32, "samples": 1000,
    "msggan": {k: v for k, v in MSGGAN_LOSSES_SETTINGS.items() if k not in ("data", "categories", "arms")},
    "progan": {"max_level": 3, "width": 128, "batch_size": 32, **PROGAN_TRAINING},
    "images": 192_000, "time_images_per_phase": 22_800,
    "arms": ["msggan", "progan_images", "progan_time"],
}


def progressive_seed(ctx: SeedContext, settings: dict | None = None) -> dict:
    """One seed of 04's central comparison: the msggan recipe (every scale from one generator; ``msggan-losses``'
    BCE run of the seed where it lies beside this study) against the progan recipe grown 4→32 px at its own width,
    once on as many images and once on as many images as it trains in the msggan run's time."""
    s = {**PROGRESSIVE_SETTINGS, **(settings or {})}
    real = load_dataset(None, s["image_size"], categories=s["categories"])
    msg = {**s["msggan"], "image_size": s["image_size"], "categories": s["categories"], "samples": s["samples"],
           "arms": ["msggan"]}
    out = msggan_parts_seed(ctx, msg)
    quality = QualityMetrics(real.images, device=ctx.device)
    pro = {**s["progan"], "samples": s["samples"]}
    phases = 1 + 2 * pro["max_level"]  # 4 px stabilises; every later level fades in and stabilises
    for arm, per_phase in (("progan_images", s["images"] // phases), ("progan_time", s["time_images_per_phase"])):
        row, images = progan_arm(ctx, pro, arm, real.images, quality, images_per_phase=per_phase)
        out["rows"].append(row)
        out["samples"][arm] = images[:32]
    return out


register(Study(
    name="progressive-vs-multiscale", notebook="04_Optimized_Cocogoat",
    question="The author's central claim: does generating every scale at once (MSG-GAN) reach a lower FD at 32 px, "
             "with fewer collapses, than growing the networks (ProGAN) — on as many images, and in as much time?",
    arms={"msggan": "the shipped msggan recipe: 3,000 steps at batch 64 (192,000 images)",
          "progan_images": "the shipped progan recipe (width 128, WGAN-GP, fade-in, batch 32) grown 4→32 px on as many "
                           "images: 27,428 per fade-in and per stabilisation",
          "progan_time": "the same on as many images as it trains in the msggan arm's time on one core: 22,800 per "
                         "phase (159,600)"},
    **FD_1000,
    run_seed=progressive_seed, settings=PROGRESSIVE_SETTINGS, seeds=3,
    budget="192,000 images (msggan-losses' budget, at which the msggan recipe learned in every seed; its arm is that "
           "study's BCE run of each seed, scored again). The equal-time budget is counted in images so that a shared "
           "core does not change it: the msggan run took 1,010 s on a free core of this Intel Xeon (msggan-losses, "
           "seed 0, scoring included), and the shipped progan trained 72,000 images per phase in 3,159 s on the same "
           "kind of core (43.9 ms per image of a phase), so 1,000 s buys 22,800 images per phase; each progan row "
           "keeps its own training seconds",
))


# --------------------------------------------------------------------------- 05: the LSTM generator vs a DCGAN generator

LSTM_PAIR_SETTINGS = {
    "data": "05's set (and the lstm recipe's): OpenMoji animals, faces and people at 32 px, no augmented copies",
    "categories": list(CATEGORIES), "image_size": 32, "batch_size": 64, "lr": 2e-4, "betas": [0.5, 0.999],
    "loss": "bce", "ema_decay": 0.999, "diffaugment": "color,translation,cutout", "steps": 4000, "samples": 1000,
    "arms": ["dcgan", "lstm"],
}


def lstm_pair_seed(ctx: SeedContext, settings: dict | None = None) -> dict:
    """One seed of 05's comparison, with the shipped ``lstm`` / ``lstm-baseline`` recipes' networks and settings
    (:func:`~cocogoat_utils.pretrain.lstm_pair_networks`): the same discriminator from the seed against the LSTM
    generator or a sprite DCGAN generator with as many parameters, for the same number of steps."""
    s = {**LSTM_PAIR_SETTINGS, **(settings or {})}
    real = load_dataset(None, s["image_size"], categories=s["categories"])
    return gan_arms_seed(ctx, s, real.images, real.images, {},
                         lambda arm: lstm_pair_networks("lstm" if arm == "lstm" else "baseline",
                                                        image_size=s["image_size"], seed=ctx.seed))


register(Study(
    name="lstm-vs-dcgan", notebook="05_Prototype_LSTM",
    question="Does 05's LSTM generator draw as well as a DCGAN generator with as many parameters, against the same "
             "discriminator, for the same number of steps — or does it collapse, as the shipped lstm partly did?",
    arms={"dcgan": "a sprite DCGAN generator with as many parameters as the LSTM generator (the lstm-baseline recipe)",
          "lstm": "05's LSTM generator: transposed convs, an LSTM over the rows, a 3×3 conv (the lstm recipe)"},
    **FD_1000,
    run_seed=lstm_pair_seed, settings=LSTM_PAIR_SETTINGS, seeds=3,
    budget="4,000 steps at batch 64 (256,000 images, about 90 passes over the set) per arm and seed, the recipes' "
           "BCE with DiffAugment and an EMA of G; counted in steps (the two generators' steps cost about the same "
           "on a CPU: the record keeps each arm's seconds). The shipped lstm's FD turned between steps 2,000 and "
           "4,000 of its run",
))


# --------------------------------------------------------------------------- 05: the three inpainters

INPAINTERS_SETTINGS = {
    "data": "05's set: OpenMoji animals, faces and people at 32 px, 10 % held out for scoring (drawn by the seed)",
    "categories": list(CATEGORIES), "image_size": 32, "features": 12, "hidden": 16, "hole_fraction": 0.25,
    "batch_size": 16, "lr": 2e-3, "seconds": 180, "arms": ["lstm", "attention", "conv"],
}


def inpainters_seed(ctx: SeedContext, settings: dict | None = None) -> list[dict]:
    """One seed of 05's recomposition comparison: the LSTM inpainter and the attention and dilated-conv inpainters
    matched to its parameter count (:func:`~cocogoat_utils.models.lstm_gan.match_parameters`), each trained by
    :func:`~cocogoat_utils.train.inpaint.train_inpainter` for the same ``seconds`` from the seed (weights, batches and
    holes), and scored by masked L1 and PSNR on the held-out images' fixed holes. An inpainter learned when its L1 is
    under the mean-colour fill's."""
    s = {**INPAINTERS_SETTINGS, **(settings or {})}
    seconds = ctx.minutes * 60 if ctx.minutes else s["seconds"]
    images = load_dataset(None, s["image_size"], categories=s["categories"]).images
    train, test = split_last(images[torch.randperm(len(images), generator=torch.Generator().manual_seed(ctx.seed))], 0.1)
    floor = mean_colour_l1(train, test)
    torch.manual_seed(ctx.seed)
    budget = parameter_count(Inpainter(image_size=s["image_size"], middle="lstm", features=s["features"],
                                       hidden=s["hidden"]))
    rows = []
    for arm in s["arms"]:
        torch.manual_seed(ctx.seed)
        if arm == "lstm":
            model = Inpainter(image_size=s["image_size"], middle="lstm", features=s["features"], hidden=s["hidden"])
        else:  # attention: 4 heads, so its width is a multiple of 4
            model = match_parameters(lambda f: Inpainter(image_size=s["image_size"], middle=arm, features=f), budget,
                                     multiple=4 if arm == "attention" else 2, largest=512)
        history = train_inpainter(model, train, steps=1_000_000, batch_size=s["batch_size"], lr=s["lr"],
                                  fraction=s["hole_fraction"], seconds=seconds, device=ctx.device,
                                  precision=ctx.precision, seed=ctx.seed, progress=ctx.progress)
        scores = evaluate_inpainter(model, test, fraction=s["hole_fraction"])
        rows.append({"arm": arm, "l1": scores["l1"], "psnr": scores["psnr"], "mean_colour_l1": floor,
                     "collapsed": not scores["l1"] < floor, "parameters": parameter_count(model),
                     "steps": len(history["loss"]), "images_seen": len(history["loss"]) * s["batch_size"],
                     "seconds": history["seconds"][0]})
        print(f"  {arm}: L1 {scores['l1']:.4f}, PSNR {scores['psnr']:.2f} dB ({rows[-1]['steps']:,} steps, "
              f"{parameter_count(model):,} parameters; mean-colour L1 {floor:.4f})", flush=True)
    return rows


register(Study(
    name="inpainters", notebook="05_Prototype_LSTM",
    question="Which middle recomposes a hole best — the author's LSTM (rows then columns), self-attention over the "
             "pixels, or dilated convolutions — at the same parameter count and the same training time?",
    arms={"lstm": "the LSTM bridge (bidirectional, rows then columns): the author's idea",
          "attention": "two transformer blocks over the 1,024 pixels, width matched to the LSTM inpainter's size",
          "conv": "four dilated 3×3 convolutions (dilation 1, 2, 4, 8), width matched likewise"},
    metric="l1", metric_name="L1 in the hole on held-out images (lower is better)", higher_is_better=False,
    run_seed=inpainters_seed, settings=INPAINTERS_SETTINGS, seeds=3, minutes=3.0,
    budget="3 minutes of training per inpainter and seed on one core (equal time: the notebook's comparison), batch "
           "16; scored on the held-out 10 % with fixed holes. Chosen from 05's cpu run as the pilot: at 30 s each all "
           "three had learned (L1 0.350, 0.379 and 0.358 against the mean-colour fill's 0.496) and their order was "
           "within 0.03; six times as long, with three seeds, asks whether that order holds",
))


# --------------------------------------------------------------------------- 00: G twice per D step, DRAGAN

GAN_CONCEPTS_SETTINGS = {
    "data": "00's set: OpenMoji faces and people at 32 px (the nearest the embedded set has to the tutorial's anime "
            "faces)",
    "categories": ["faces", "people"], "image_size": 32, "arch": "tutorial", "latent_dim": 100, "g_width": 128,
    "d_width": 32, "batch_size": 64, "lr": 2e-4, "betas": [0.5, 0.999], "loss": "bce", "ema_decay": None,
    "diffaugment": None, "steps": 2000, "dragan_lambda": 10.0, "samples": 1000, "arms": ["g1", "g2", "dragan"],
}


def gan_concepts_arms(s: dict) -> dict[str, dict]:
    """00's arms as overrides of the training config: plain, two G steps per D step, the DRAGAN penalty."""
    return {"g1": {}, "g2": {"g_steps_per_d_step": 2}, "dragan": {"dragan_lambda": s["dragan_lambda"]}}


def gan_concepts_networks(s: dict) -> tuple[nn.Module, nn.Module]:
    """00's tutorial DCGAN at the study's widths (every arm starts from the same weights for a seed)."""
    return build_dcgan(image_size=s["image_size"], arch=s["arch"], latent_dim=s["latent_dim"], g_width=s["g_width"],
                       d_width=s["d_width"])


def gan_concepts_seed(ctx: SeedContext, settings: dict | None = None) -> dict:
    """One seed of 00's comparison: the tutorial DCGAN at 00's cpu widths (BCE, Adam(0.5, 0.999) at 2e-4, no EMA,
    no DiffAugment) trained plain, with two generator steps per discriminator step, and with the DRAGAN penalty."""
    s = {**GAN_CONCEPTS_SETTINGS, **(settings or {})}
    real = load_dataset(None, s["image_size"], categories=s["categories"])
    return gan_arms_seed(ctx, s, real.images, real.images, gan_concepts_arms(s),
                         lambda arm: gan_concepts_networks(s))


register(Study(
    name="gan-concepts", notebook="00_GAN_Conceptos",
    question="Do the two changes 00 tries on the tutorial DCGAN — two generator steps per discriminator step, and "
             "the DRAGAN gradient penalty around the real images — give a lower FD than the plain loop at the same "
             "number of discriminator steps?",
    arms={"g1": "the tutorial DCGAN, one G step per D step (BCE, no EMA, no DiffAugment)",
          "g2": "the same with two G steps per D step (each on fresh noise)",
          "dragan": "the same with the DRAGAN penalty (λ 10, Kodali et al. 2017) on D"},
    **FD_1000,
    run_seed=gan_concepts_seed, settings=GAN_CONCEPTS_SETTINGS, seeds=3,
    pilot={"script": "benchmarks/study_pilot.py", "result": "benchmarks/results/pilot_gan-concepts_g1.json",
           "arm": "g1",
           "seed": 0, "fd_by_step": {"500": 61.8, "1000": 21.6, "1500": 14.1, "2000": 11.5, "2500": 12.6,
                                     "3000": 11.9, "3500": 11.9, "4000": 11.9, "4500": 14.7, "5000": 12.4},
           "recall_by_step": {"500": 0.0, "1000": 0.21, "1500": 0.38, "2000": 0.43, "2500": 0.44, "3000": 0.42,
                              "3500": 0.44, "4000": 0.43, "4500": 0.35, "5000": 0.4}},
    budget="2,000 discriminator steps at batch 64 (128,000 real images, about 50 passes over the set) per arm and "
           "seed, counted in steps; two G steps per D step costs more time per step (the record keeps each arm's "
           "seconds). The pilot (benchmarks/study_pilot.py, g1, seed 0, judged every 500 steps) had learned by step "
           "1,000 (FD 21.6, no findings) and levelled off from step 2,000 to 5,000 (FD 11.5–14.7, recall 0.35–0.44). "
           "00's live comparison gets 45 s (about 150 steps) and none of its runs learns there",
))


# --------------------------------------------------------------------------- 03: fade-in, pixel norm, minibatch std

PROGAN_TRICKS_SETTINGS = {
    "data": "03's set (and the progan recipe's): OpenMoji animals, faces and people at 32 px",
    "categories": list(CATEGORIES), "image_size": 32, "max_level": 3, "width": 64, "batch_size": 32,
    "images_per_phase": 24_000, **PROGAN_TRAINING,
    "group_size": 4, "samples": 1000,
    "arms": ["recipe", "no_fade", "pixel_norm", "no_mbstd"],
}


def progan_tricks_arms(s: dict) -> dict[str, dict]:
    """03's arms as changes to the progan recipe: without the fade-in (each level switched on at once, the fade's
    images spent stabilising), with pixel norm in G, without the minibatch standard deviation (groups of one image:
    the extra channel is a constant)."""
    return {"recipe": {}, "no_fade": {"fade": False}, "pixel_norm": {"pixel_norm": True}, "no_mbstd": {"group_size": 1}}


def progan_arm(ctx: SeedContext, s: dict, arm: str, real: torch.Tensor, quality: QualityMetrics, *,
               images_per_phase: int, fade: bool = True, pixel_norm: bool = False, group_size: int = 4) -> tuple:
    """One run of the progan recipe (WGAN-GP, equalised learning rate, Adam(0, 0.99) at 1e-3, an EMA of G) grown
    4 px → ``s["max_level"]`` at ``s["width"]`` from the seed, in ``ctx.work_dir / arm`` (resuming from its levels'
    checkpoints); each level's end judged against the reals pooled to its size, the top level on ``s["samples"]``
    images from the same noise. Returns its row and its top level's images."""
    generator, discriminator = progan_networks(s["max_level"], width=s["width"], seed=ctx.seed,
                                               pixel_norm=pixel_norm, group_size=group_size)
    plan = level_plan(s["max_level"], images_per_phase=images_per_phase, batch_size=s["batch_size"], fade=fade)
    config = GANTrainConfig(**{k: s[k] for k in PROGAN_TRAINING}, log_every=100, sample_every=None,
                            checkpoint_every=500, precision=ctx.precision, seed=ctx.seed)
    trainer = ProgressiveTrainer(generator, discriminator, DeviceImageDataset(real, ctx.device, seed=ctx.seed),
                                 plan=plan, config=config, out_dir=ctx.work_dir / arm, quality_images=real,
                                 metric_samples=s["samples"], progress=ctx.progress)
    started = time.time()
    trainer.fit()
    images = trainer.trainer.generate(s["samples"], seed=ctx.seed)
    levels = [{"resolution": r["resolution"], "seconds": r["seconds"],
               **({"fd": round(r["metrics"]["fd"], 3), "findings": findings_of(r["metrics"])} if r["metrics"] else {})}
              for r in trainer.results]
    row = judged_row(quality, images, arm, started=started,
                     at=" (level ends: " + ", ".join(f"{lv['resolution']}px {lv.get('fd', float('nan')):.1f}"
                                                     for lv in levels) + ")",
                     steps=sum(r["steps"] for r in trainer.results),
                     images_seen=sum(r["images"] for r in trainer.results),
                     train_seconds=round(sum(r["seconds"] for r in trainer.results), 1), levels=levels)
    return row, images


def progan_tricks_seed(ctx: SeedContext, settings: dict | None = None) -> dict:
    """One seed of 03's comparison: the progan recipe (:func:`progan_arm`) with one of its parts changed per arm;
    every arm from the same initial weights and data order."""
    s = {**PROGAN_TRICKS_SETTINGS, **(settings or {})}
    real = load_dataset(None, s["image_size"], categories=s["categories"])
    quality = QualityMetrics(real.images, device=ctx.device)
    rows, samples = [], {}
    for arm in s["arms"]:
        a = {"fade": True, "pixel_norm": False, "group_size": s["group_size"], **progan_tricks_arms(s)[arm]}
        row, images = progan_arm(ctx, s, arm, real.images, quality, images_per_phase=s["images_per_phase"], **a)
        rows.append(row)
        samples[arm] = images[:32]
    return {"rows": rows, "samples": samples}


register(Study(
    name="progan-tricks", notebook="03_Cocogoat_ProGAN",
    question="Do the progressive GAN's parts 03 teaches — the fade-in of each new level, pixel norm in G, the "
             "minibatch standard deviation in D — each give a lower FD at 32 px than the recipe without it (or, for "
             "pixel norm, which the recipe leaves out, with it), at the same number of images?",
    arms={"recipe": "the progan recipe (fade-in, minibatch std in D, no pixel norm) at the study's width",
          "no_fade": "each new level switched on at once (alpha 1), the fade's images spent stabilising",
          "pixel_norm": "pixel norm after every convolution of G and on the latent (Karras et al. 2018)",
          "no_mbstd": "no minibatch standard deviation: groups of one image, so D's extra channel is a constant"},
    **FD_1000,
    run_seed=progan_tricks_seed, settings=PROGAN_TRICKS_SETTINGS, seeds=3,
    budget="24,000 images per fade-in and per stabilisation at batch 32 (4 px stabilises only: 168,000 images, 5,250 "
           "steps per arm and seed), counted in images; width 64 (the recipe's is 128) so that twelve runs fit one "
           "working day of two cores. The pilot (benchmarks/study_pilot.py, the recipe arm, seed 0) at 12,000 images "
           "per phase had not learned at 32 px (FD 31.0, recall 0.02: covers almost none of the data; 3.8 min); at "
           "24,000 it had (FD 19.8, recall 0.15, no finding but drops modes; 7.2 min), its levels' ends FD 8.0, 9.4, "
           "15.3 (no findings) and 21.0 at 4, 8, 16 and 32 px. The shipped progan (width 128, 72,000 images per "
           "phase) reached FD 8.1",
    pilot={"script": "benchmarks/study_pilot.py", "arm": "recipe", "seed": 0,
           "results": ["benchmarks/results/pilot_progan-tricks_recipe_12000.json",
                       "benchmarks/results/pilot_progan-tricks_recipe_24000.json"],
           "final_fd": {"12000": 31.0, "24000": 19.8}, "final_recall": {"12000": 0.02, "24000": 0.15}},
))


# --------------------------------------------------------------------------- 06: the shipped flow model's samplers

FLOW_SAMPLERS_SETTINGS = {
    "model": "the shipped ddpm (flow matching, checkpoints/ddpm.pt), its EMA weights", "calls": [10, 25, 50],
    "samples": 500, "guidance": 1.0, "arms": ["euler", "heun"],
    "real": "06's real images: OpenMoji animals, faces and people at 32 px",
}


def flow_samplers_seed(ctx: SeedContext, settings: dict | None = None) -> dict:
    """One seed of 06's sampler comparison: the shipped flow model sampled from the seed's noise (the classes in
    turn) by Euler and by Heun at about the same number of network calls (Heun's steps take two calls but the
    last: n steps cost 2n − 1), scored by the judge. No training: the seed draws the noise."""
    s = {**FLOW_SAMPLERS_SETTINGS, **(settings or {})}
    shipped = load_pretrained("ddpm", device=ctx.device, model="UNet")
    real = load_dataset(None, shipped.image_size, categories=CATEGORIES)
    quality = QualityMetrics(real.images, device=ctx.device)
    rows, samples = [], {}
    for calls in s["calls"]:
        for arm in s["arms"]:
            steps = calls if arm == "euler" else (calls + 1) // 2
            started = time.time()
            images = shipped.generate(s["samples"], seed=ctx.seed, steps=steps, sampler=arm, guidance=s["guidance"])
            network_calls = steps if arm == "euler" else 2 * steps - 1
            rows.append(judged_row(quality, images, arm, started=started, at=f", {network_calls} calls", calls=calls,
                                   sampler_steps=steps, network_calls=network_calls, steps=0, images_seen=0))
            if calls == max(s["calls"]):
                samples[arm] = images[:32]
    return {"rows": rows, "samples": samples}


register(Study(
    name="flow-samplers", notebook="06_Diffusion",
    question="How many network calls does the shipped flow model need, and does Heun's second-order step beat "
             "Euler's at the same number of calls?",
    arms={"euler": "Euler: one network call a step (the sampler the model ships with)",
          "heun": "Heun (Karras et al. 2022): the Euler guess corrected by the slope at its end, two calls a step"},
    metric="fd", metric_name="FD (glyph space, 500 samples)", higher_is_better=False,
    run_seed=flow_samplers_seed, settings=FLOW_SAMPLERS_SETTINGS, seeds=3, condition="calls",
    conditions=(10, 25, 50),
    budget="no training: 500 samples per arm, seed and budget of 10, 25 and 50 network calls from the shipped "
           "weights; the seeds draw the starting noise",
))


# --------------------------------------------------------------------------- 06: EMA with and without warm-up

EMA_WARMUP_SETTINGS = {
    "data": "06's set (and the ddpm recipe's): OpenMoji animals, faces and people at 32 px, classes for guidance",
    "categories": list(CATEGORIES), "image_size": 32, "network": DDPM_NETWORK,
    **DDPM_TRAINING, "eval_steps": [1000, 3000], "samples": 500, "arms": ["warmup", "no_warmup"],
}


def ema_warmup_seed(ctx: SeedContext, settings: dict | None = None) -> dict:
    """One seed of 06's EMA comparison: one run of the ddpm recipe (flow matching, Euler-50) carries two averages of
    its weights — the trainer's, whose decay warms up from 0.1 towards ``ema_decay``, and a :class:`ShadowEMA` at
    ``ema_decay`` from the first step — so the arms differ only in the averaging. Both are scored by the judge after
    each of ``eval_steps`` steps, on the same noise."""
    s = {**EMA_WARMUP_SETTINGS, **(settings or {})}
    real = load_dataset(None, s["image_size"], categories=s["categories"])
    classes, labels = real.class_labels()
    model = ddpm_network(s["image_size"], len(classes), seed=ctx.seed, **s["network"])
    config = DiffusionTrainConfig(steps=max(s["eval_steps"]), **{k: s[k] for k in DDPM_TRAINING}, log_every=100,
                                  sample_every=None, checkpoint_every=500, precision=ctx.precision, seed=ctx.seed)
    shadow = ShadowEMA(model, s["ema_decay"])
    trainer = DiffusionTrainer(model, DeviceImageDataset(real.images, ctx.device, seed=ctx.seed), config=config,
                               labels=labels, num_classes=len(classes), out_dir=ctx.work_dir, callbacks=[shadow],
                               progress=ctx.progress)
    quality = QualityMetrics(real.images, device=ctx.device)
    rows, samples, started = [], {}, time.time()
    for steps in s["eval_steps"]:
        trainer.fit(steps)  # resumes inside the seed from its checkpoints (the shadow average with them)
        for arm, network in (("warmup", trainer.sampler), ("no_warmup", shadow.ema.module)):
            images = trainer.generate(s["samples"], seed=ctx.seed, network=network)
            rows.append(judged_row(quality, images, arm, started=started, at=f" after {trainer.step} steps",
                                   steps=trainer.step, images_seen=trainer.images_seen))
            samples[arm] = images[:32]
    return {"rows": rows, "samples": samples}


register(Study(
    name="ema-warmup", notebook="06_Diffusion",
    question="Does warming up the average of the weights (its decay growing from 0.1 towards 0.999) give the flow "
             "model a lower FD than the same average at 0.999 from the first step, early in training and later?",
    arms={"warmup": "the trainer's average: decay min(0.999, (1 + n) / (10 + n)) after n updates",
          "no_warmup": "the same run's second average (ShadowEMA) at 0.999 from the first step"},
    metric="fd", metric_name="FD (glyph space, 500 samples)", higher_is_better=False,
    run_seed=ema_warmup_seed, settings=EMA_WARMUP_SETTINGS, seeds=3, condition="steps", conditions=(1000, 3000),
    budget="one run of the ddpm recipe per seed (batch 32), both averages scored by Euler-50 after 1,000 and after "
           "3,000 steps (32,000 and 96,000 images); counted in steps. 0.999^1000 ≈ 0.37 of the average without "
           "warm-up is still the initial weights at step 1,000, 0.05 at step 3,000",
))


# --------------------------------------------------------------------------- command line

def list_studies() -> str:
    lines = [f"{'name':<20} {'seeds':>5}  {'notebook':<22} arms (baseline first)"]
    for s in STUDIES.values():
        lines.append(f"{s.name:<20} {s.seeds:5d}  {s.notebook:<22} {', '.join(s.arms)}")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m cocogoat_utils.study",
                                description="Run a recorded comparison with seeds and write its record into studies/.")
    p.add_argument("name", nargs="?", help="the study (see --list)")
    p.add_argument("--list", action="store_true", help="list the studies and exit")
    p.add_argument("--seeds", type=int, default=None,
                   help="seeds per arm (default: the study's own; 0, 1, … in turn)")
    p.add_argument("--only", type=lambda v: [int(x) for x in v.split(",")], default=None, metavar="S,S",
                   help="run only these seeds (0-based, comma-separated), e.g. one process per core sharing the work "
                        "folder; the record counts every seed finished there")
    p.add_argument("--minutes", type=float, default=None,
                   help="wall-time budget per arm and seed, for studies that train by time (default: the study's own)")
    add_hardware_arguments(p)
    p.add_argument("--work-dir", default=None, help="the seeds' state (default runs/studies/<name>)")
    p.add_argument("--record-dir", default=None, help="where the record goes (default studies/ of the checkout)")
    p.add_argument("--record-only", action="store_true", help="write the record from the seeds done, run nothing")
    p.add_argument("--fresh", action="store_true", help="start afresh instead of continuing")
    p.add_argument("--note", default=None, help="a line the record keeps about how the study ran")
    p.add_argument("--progress", action="store_true", help="progress bars")
    args = p.parse_args(argv)
    if not args.list and args.name not in STUDIES:
        p.error(f"name a study: one of {sorted(STUDIES)} (or --list)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        print(list_studies())
        return 0
    study = STUDIES[args.name]
    if args.minutes is not None and study.minutes is None:
        raise SystemExit(f"[{study.name}] trains by steps, not by wall time: {study.budget}")
    args.seeds = args.seeds or study.seeds
    apply_threads(args)
    record = run_study(study, args)
    for v in record["verdicts"]:
        at = f" at {v['condition']}" if v["condition"] is not None else ""
        print(f"[{study.name}]{at}: {v['arm']} vs {v['baseline']} → {v['winner'] or v['outcome']} ({v['reason']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

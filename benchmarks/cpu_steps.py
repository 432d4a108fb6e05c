"""One training step of every recipe the course trains, timed on the CPU (issue 28).

The CPU is this project's training hardware, so a step's milliseconds are what a model, a study or a live run
gets out of its minutes. Each row builds its step through the package's own recipe and trainer — the
``cocogoat_utils.pretrain`` recipe is run until it calls ``fit`` (nothing is re-implemented: the recipe's networks,
batch, loss, DiffAugment, EMA and optimisers are the ones trained) — and times ``train_step`` at the recipe's batch
in fp32 and as the trainer runs it (``precision="auto"``: bf16 autocast on a CPU with native bf16):

=========  ===================================================================================================
dcgan      07's 32 px sprite DCGAN (recipe ``dcgan``: G 256, D 32, batch 64, BCE, DiffAugment, EMA)
progan     03's ProGAN at 32 px in the middle of its fade-in (recipe ``progan``: WGAN-GP, batch 32, EMA)
msggan     04's MSG-GAN (recipe ``msggan``: every scale, relativistic hinge, DiffAugment, EMA; batch 64)
lstm       05's LSTM generator against the sprite D (recipe ``lstm``, batch 64)
ddpm       06's class-conditional UNet at 32 px by flow matching (recipe ``ddpm``, batch 32)
selector   01's classifier (recipe ``selector``: ``train_classifier`` with flips and shifts, batch 64)
emboxer    02's Emboxer (``train_emboxer`` at the notebook's 64 px canvases, width 16, batch 64)
quality    the judge: ``QualityMetrics.evaluate`` on ``--quality-samples`` generated-size images (features and
           every score), against the 32 px real set
=========  ===================================================================================================

and ``tutorial64``: the 64 px tutorial DCGAN, the PyTorch tutorial's loop against this package's trainer (both
from ``benchmarks/dcgan_throughput.py``), alternated in one run.

Variants of one row are timed in the same process, alternating (A, B, A, B, …, the order flipped each round)
and the median of the rounds is reported, so that a neighbour on the same core slows both alike. The first full
run's table is kept in the JSON as ``"baseline"`` and never overwritten; later runs add ``"latest"``.

    taskset -c 0 env OMP_NUM_THREADS=1 python benchmarks/cpu_steps.py                  # every row, one thread
    python benchmarks/cpu_steps.py --rows dcgan,ddpm --rounds 3 --steps 3               # a few rows
    python benchmarks/cpu_steps.py --profile dcgan                                      # the step's top ops
    python benchmarks/cpu_steps.py --threads 2                                          # the two-thread column
    python benchmarks/cpu_steps.py --smoke                                              # does it run (< 2 min)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from cocogoat_utils import pretrain  # noqa: E402
from cocogoat_utils.models.emboxer import Emboxer  # noqa: E402
from cocogoat_utils.models.progan import set_level  # noqa: E402
from cocogoat_utils.train import DiffusionTrainer, GANTrainer, ProgressiveTrainer  # noqa: E402
from cocogoat_utils.train.classifier import train_classifier  # noqa: E402
from cocogoat_utils.train.emboxer import train_emboxer  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "cpu_steps.json"
README = ROOT / "benchmarks" / "README.md"
ROWS = ("dcgan", "progan", "msggan", "lstm", "ddpm", "selector", "emboxer", "quality", "tutorial64")
TITLES = {"dcgan": "07 sprite DCGAN 32 px", "progan": "03 ProGAN 32 px, mid-fade", "msggan": "04 MSG-GAN 32 px",
          "lstm": "05 LSTM generator 32 px", "ddpm": "06 UNet 32 px (flow matching)", "selector": "01 classifier",
          "emboxer": "02 Emboxer 64 px", "quality": "quality evaluation", "tutorial64": "64 px tutorial DCGAN"}


# --------------------------------------------------------------------------- building a step from its recipe

@dataclass
class Step:
    """What a row times: ``run()`` does ``steps`` training steps of ``batch`` images in ``precision``; ``trainer`` (the
    loop's trainer) or ``model`` (a plain loop's network) is there for the A/B tweaks to change."""

    run: Callable[[], object]
    batch: int
    steps: int
    precision: str
    trainer: object = None
    model: torch.nn.Module | None = None


class _Built(Exception):
    """Raised in place of ``fit``: carries what the recipe built."""

    def __init__(self, what) -> None:
        super().__init__("built")
        self.what = what


def _stop(self, *args, **kwargs):
    raise _Built(self)


def _stop_classifier(*args, **kwargs):
    raise _Built((args, kwargs))


@contextlib.contextmanager
def _intercepted():
    with mock.patch.object(GANTrainer, "fit", _stop), mock.patch.object(DiffusionTrainer, "fit", _stop), \
            mock.patch.object(ProgressiveTrainer, "fit", _stop), \
            mock.patch.object(pretrain, "train_classifier", _stop_classifier):
        yield


def build_recipe(name: str, precision: str, work_dir: Path):
    """Run recipe ``name`` up to its ``fit`` call and return what it built (a trainer, or the classifier's call)."""
    recipe = pretrain.RECIPES[name]
    args = pretrain.parse_args([name, "--device", "cpu", "--precision", precision, "--no-progress"])
    args.minutes, args.image_size = recipe.minutes, recipe.image_size
    ctx = pretrain.Context(name, args, torch.device("cpu"), 0, 1, work_dir)
    with _intercepted():
        try:
            recipe.train(ctx)
        except _Built as built:
            return built.what
    raise RuntimeError(f"recipe {name} did not reach fit()")


def trainer_step(trainer):
    """The trainer's ``train_step`` with its models in training mode, as ``fit`` runs it."""
    for model in trainer.models.values():
        model.train()
    return trainer.train_step


def gan_row(name: str):
    def build(precision: str, work_dir: Path):
        trainer = build_recipe(name, precision, work_dir)
        return Step(trainer_step(trainer), trainer.config.batch_size, 1, trainer.precision, trainer=trainer)
    return build


def progan_row(precision: str, work_dir: Path):
    """03's progressive trainer at its 32 px level, half-way through the fade-in (the recipe's plan and level trainer)."""
    progressive = build_recipe("progan", precision, work_dir)
    index = next(i for i, p in enumerate(progressive.plan) if p.resolution == 32)
    with mock.patch.object(GANTrainer, "fit", _stop):
        try:
            progressive.fit_level(index, resume=False)
        except _Built as built:
            trainer = built.what
    set_level(progressive.plan[index].level, 0.5, progressive.generator, progressive.discriminator)
    return Step(trainer_step(trainer), trainer.config.batch_size, 1, trainer.precision, trainer=trainer)


def selector_row(precision: str, work_dir: Path, *, steps: int = 4):
    """01's ``train_classifier`` call as the recipe makes it, run for one epoch of ``steps`` batches per call."""
    args, kwargs = build_recipe("selector", precision, work_dir)
    model, images, labels = args
    batch = kwargs["batch_size"]
    kwargs = {**kwargs, "epochs": 1, "seconds": None, "progress": False}

    def run():
        train_classifier(model, images[:batch * steps], labels[:batch * steps], **kwargs)
    return Step(run, batch, steps, _resolved(precision), model=model)


def _resolved(precision: str) -> str:
    from cocogoat_utils.runtime import pick_precision
    return pick_precision(precision, "cpu")


EMBOXER_CANVAS, EMBOXER_WIDTH, EMBOXER_BATCH, EMBOXER_LR = 64, 16, 64, 2e-3  # notebook 02's cpu row


def emboxer_row(precision: str, work_dir: Path, *, steps: int = 4):
    """02's ``train_emboxer`` on 64 px canvases (random pixels and boxes: the step's cost does not depend on them)."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (512, 3, EMBOXER_CANVAS, EMBOXER_CANVAS), dtype=torch.uint8, generator=generator)
    corner = torch.randint(0, EMBOXER_CANVAS // 2, (512, 2), generator=generator)
    boxes = torch.cat([corner, corner + EMBOXER_CANVAS // 2], dim=1).float()
    torch.manual_seed(0)
    model = Emboxer(image_size=EMBOXER_CANVAS, width=EMBOXER_WIDTH)

    def run():
        train_emboxer(model, images, boxes, steps=steps, batch_size=EMBOXER_BATCH, lr=EMBOXER_LR, precision=precision,
                      progress=False)
    return Step(run, EMBOXER_BATCH, steps, _resolved(precision), model=model)


def quality_row(samples: int):
    def build(precision: str, work_dir: Path):
        """The judge the recipes score with: ``QualityMetrics`` on the recipes' 32 px real set, evaluating ``samples``
        images (the real images reshuffled stand in for generated ones). One 'step' is one evaluation."""
        from cocogoat_utils.data import load_dataset
        from cocogoat_utils.metrics import QualityMetrics
        real = load_dataset(None, 32, categories=pretrain.CATEGORIES).images
        quality = QualityMetrics(real, device="cpu")
        fake = real[torch.randperm(len(real), generator=torch.Generator().manual_seed(1))[:samples]]
        return Step(lambda: quality.evaluate(fake), samples, 1, "fp32", model=quality.extractor)
    return build


def builders(args) -> dict:
    return {"dcgan": gan_row("dcgan"), "progan": progan_row, "msggan": gan_row("msggan"), "lstm": gan_row("lstm"),
            "ddpm": gan_row("ddpm"), "selector": selector_row, "emboxer": emboxer_row,
            "quality": quality_row(args.quality_samples)}


# --------------------------------------------------------------------------- timing

def clock() -> float:
    """Seconds of this process's CPU time with one torch thread (the core is shared with other work on the
    development machine: CPU time counts only this step's computing), wall time with several."""
    return time.process_time() if torch.get_num_threads() == 1 else time.perf_counter()


def time_variants(variants: dict, *, warmup: int, rounds: int, calls: int) -> dict:
    """Alternate the variants' calls (``calls`` per round, the order flipped each round) after ``warmup`` calls each;
    returns each variant's median seconds per step over the rounds and every round's figure."""
    warm = {}
    for name, step in variants.items():
        start = time.perf_counter()
        for _ in range(warmup):
            step.run()
        warm[name] = time.perf_counter() - start
    print("  warm-up (wall): " + ", ".join(f"{name} {t:.1f} s" for name, t in warm.items()), flush=True)
    names, seconds = list(variants), {name: [] for name in variants}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            step = variants[name]
            start = clock()
            for _ in range(calls):
                step.run()
            seconds[name].append((clock() - start) / (calls * step.steps))
    return {name: {"median_s": statistics.median(v), "rounds_s": [round(x, 5) for x in v]} for name, v in seconds.items()}


def measure_row(row: str, args, variants: dict[str, tuple]) -> list[dict]:
    """Time ``row`` under each variant (name → (precision, tweaks applied to the built step))."""
    build = builders(args)[row]
    with tempfile.TemporaryDirectory() as tmp:
        built = {}
        for name, (precision, tweaks) in variants.items():
            step = build(precision, Path(tmp) / name)
            for tweak in tweaks:
                step = TWEAKS[tweak](step)
            built[name] = step
        calls = 1 if row == "quality" else args.steps
        timed = time_variants(built, warmup=1 if row == "quality" else args.warmup, rounds=args.rounds, calls=calls)
    out = []
    for name, result in timed.items():
        batch, resolved = built[name].batch, built[name].precision
        ms = result["median_s"] * 1000
        out.append({"row": row, "title": TITLES[row], "variant": name, "precision": resolved, "batch": batch,
                    "ms_per_step": round(ms, 2), "images_per_s": round(batch / result["median_s"], 1),
                    "rounds_s": result["rounds_s"]})
        print(f"  {row:10s} {name:8s} {resolved:5s} batch {batch:5d}: {ms:9.1f} ms/step  "
              f"{batch / result['median_s']:8.1f} images/s", flush=True)
    return out


def measure_tutorial(args) -> list[dict]:
    """The 64 px tutorial DCGAN: the tutorial's loop against the trainer, alternated ``rounds // 2`` times."""
    import dcgan_throughput as dt
    from cocogoat_utils.data import load_dataset
    images = load_dataset(None, 64).images
    device, batch = torch.device("cpu"), 64
    # one thread: CPU time, with the tutorial's image loading in this process (its two loader workers would run on
    # the same core anyway, and their CPU time would not be counted); several threads: wall time, two workers
    workers = 0 if torch.get_num_threads() == 1 else 2
    rounds = {"tutorial loop": [], "trainer": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = dt.write_image_folder(images[:1024], Path(tmp))
        for r in range(max(1, args.rounds // 2)):
            order = ["tutorial loop", "trainer"] if r % 2 == 0 else ["trainer", "tutorial loop"]
            for name in order:
                with mock.patch.object(dt.time, "perf_counter", clock):
                    if name == "tutorial loop":
                        result = dt.tutorial_loop(folder, device, batch_size=batch, workers=workers,
                                                  steps=args.tutorial_steps, warmup=2, seed=999)
                    else:
                        result = dt.cocogoat_trainer(images, device, batch_size=batch, steps=args.tutorial_steps,
                                                     warmup=2, channels_last=False, precision="auto", seed=999)
                rounds[name].append(result["images_per_s"])
    out = []
    for name, values in rounds.items():
        ips = statistics.median(values)
        out.append({"row": "tutorial64", "title": TITLES["tutorial64"], "variant": name,
                    "precision": "fp32" if name == "tutorial loop" else _resolved("auto"), "batch": batch,
                    "ms_per_step": round(batch / ips * 1000, 2), "images_per_s": round(ips, 1),
                    "rounds_images_per_s": [round(v, 1) for v in values]})
        print(f"  tutorial64 {name:14s}: {batch / ips * 1000:9.1f} ms/step  {ips:8.1f} images/s", flush=True)
    return out


def profile_row(row: str, args, *, top: int = 15) -> str:
    """torch.profiler's table of ``row``'s step as the trainer runs it (``--steps`` steps after a warm-up)."""
    from torch.profiler import ProfilerActivity, profile
    with tempfile.TemporaryDirectory() as tmp:
        step = builders(args)[row]("auto", Path(tmp))
        for tweak in args.tweaks:
            step = TWEAKS[tweak](step)
        for _ in range(args.warmup):
            step.run()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(args.steps):
                step.run()
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top)


# --------------------------------------------------------------------------- A/B tweaks

def _modules(step: Step) -> list[torch.nn.Module]:
    if step.trainer is None:
        return [step.model]
    return [*step.trainer.models.values(), *([step.trainer.ema.module] if step.trainer.ema is not None else [])]


def _wrapped(step: Step, context) -> Step:
    run = step.run

    def wrapped():
        with context():
            return run()
    step.run = wrapped
    return step


def _layout(step: Step, memory_format: torch.memory_format) -> None:
    """Every network of the step (and its weight average) in ``memory_format``; the real batches too."""
    for module in _modules(step):
        module.to(memory_format=memory_format)
    if step.trainer is not None:
        step.trainer.data.memory_format = memory_format


def tweak_channels_last(step: Step) -> Step:
    """Every network (and its weight average) in channels_last; the real batches too."""
    _layout(step, torch.channels_last)
    return step


def tweak_contiguous(step: Step) -> Step:
    """Every network (and its weight average) in the contiguous format; the real batches too (the undo of channels_last)."""
    _layout(step, torch.contiguous_format)
    if step.trainer is not None:
        return step
    from cocogoat_utils.train import classifier, emboxer
    return _wrapped(step, lambda: contextlib.ExitStack() if not hasattr(classifier, "fast_layout") else _no_layout())


@contextlib.contextmanager
def _no_layout():
    """The plain loops (classifier, Emboxer) without their ``fast_layout`` call."""
    from cocogoat_utils.train import classifier, emboxer
    with mock.patch.object(classifier, "fast_layout", lambda model, device: model), \
            mock.patch.object(emboxer, "fast_layout", lambda model, device: model):
        yield


def _adam_kind(**kind):
    def tweak(step: Step) -> Step:
        if step.trainer is not None:
            for optimizer in step.trainer.optimizers.values():
                for group in optimizer.param_groups:
                    group.update({"fused": None, "foreach": None, **kind})
            return step
        original = torch.optim.AdamW
        return _wrapped(step, lambda: mock.patch.object(
            torch.optim, "AdamW", lambda *a, **k: original(*a, **{**k, "fused": None, "foreach": None, **kind})))
    return tweak


def tweak_math_attention(step: Step) -> Step:
    """Scaled dot-product attention by its plain (math) kernel instead of the CPU flash kernel."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    return _wrapped(step, lambda: sdpa_kernel(SDPBackend.MATH))


def tweak_compile(step: Step) -> Step:
    """The GAN trainers' networks as the step calls them (``g_train``, ``d_train``) through ``torch.compile``
    (inductor's C++ kernels: element-wise passes fused); the warm-up calls pay the compile time."""
    if step.trainer is None or not hasattr(step.trainer, "g_train"):
        raise SystemExit("--ab compile: the GAN rows only (dcgan, msggan, lstm)")
    step.trainer.g_train = torch.compile(step.trainer.g_train)
    step.trainer.d_train = torch.compile(step.trainer.d_train)
    return step


TWEAKS = {"channels_last": tweak_channels_last, "contiguous": tweak_contiguous,
          "fused_adam": _adam_kind(fused=True), "foreach_adam": _adam_kind(foreach=True),
          "loop_adam": _adam_kind(foreach=False), "math_attention": tweak_math_attention, "compile": tweak_compile}


# --------------------------------------------------------------------------- report

def hardware() -> dict:
    try:
        model = next(line.split(":", 1)[1].strip() for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True).stdout.splitlines() if line.startswith("Model name"))
    except (StopIteration, OSError):
        model = platform.processor() or "unknown CPU"
    return {"cpu": model, "torch": torch.__version__, "python": platform.python_version(),
            "threads": torch.get_num_threads(), "bf16": _resolved("auto") == "bf16"}


def markdown(rows: list[dict], baseline: list[dict] | None = None) -> str:
    """One line per row and variant; with ``baseline``, its ms/step and the speed-up over it."""
    base = {(r["row"], r["variant"]): r for r in baseline or []}
    head = "| recipe | variant | precision | batch | ms/step | images/s |"
    rule = "|---|---|---|---:|---:|---:|"
    if baseline:
        head += " baseline ms/step | speed-up |"
        rule += "---:|---:|"
    lines = [head, rule]
    for r in rows:
        line = (f"| {r['title']} | {r['variant']} | {r['precision']} | {r['batch']} | {r['ms_per_step']:.1f} | "
                f"{r['images_per_s']:.1f} |")
        if baseline:
            b = base.get((r["row"], r["variant"]))
            line += (f" {b['ms_per_step']:.1f} | {b['ms_per_step'] / r['ms_per_step']:.2f}× |" if b else " – | – |")
        lines.append(line)
    return "\n".join(lines)


START, END = "<!-- cpu-steps:start -->", "<!-- cpu-steps:end -->"


def readme_block(saved: dict) -> str:
    """The README's table: the latest run against the baseline (or the baseline alone), with its hardware."""
    blocks = []
    for key in ("latest", "baseline"):
        entry = saved.get(key)
        if entry is None:
            continue
        hw = entry["hardware"]
        clock_kind = "CPU time of the process" if entry["threads"] == 1 else "wall time"
        title = {"latest": "Now, against the baseline", "baseline": "Baseline (the trainers at the issue's start)"}[key]
        blocks.append(f"**{title}** — {hw['cpu']}, {entry['threads']} thread(s), torch {hw['torch']}, "
                      f"{entry['date']}; median of {entry['settings']['rounds']} alternated rounds of "
                      f"{entry['settings']['steps']} steps, {clock_kind}:\n\n"
                      + markdown(entry["rows"], saved["baseline"]["rows"] if key == "latest" and "baseline" in saved
                                 else None))
    return "\n\n".join(blocks)


def write_readme(saved: dict, path: Path = README) -> None:
    text = path.read_text()
    if START not in text:
        raise SystemExit(f"{path} has no {START} … {END} block")
    head, rest = text.split(START, 1)
    path.write_text(head + START + "\n" + readme_block(saved) + "\n" + END + rest.split(END, 1)[1])


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", default=None, help=f"comma-separated subset of {','.join(ROWS)}")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: the one-core column; 2: two cores)")
    p.add_argument("--warmup", type=int, default=2, help="untimed calls of each variant first")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds; the median is reported")
    p.add_argument("--steps", type=int, default=3, help="steps per round and variant")
    p.add_argument("--tutorial-steps", type=int, default=10, help="timed steps per tutorial64 round")
    p.add_argument("--variants", default="fp32,trainer", help="the recipe rows' variants: fp32, trainer (as the "
                                                                 "trainer runs it) or both")
    p.add_argument("--quality-samples", type=int, default=1000, help="images one quality evaluation scores")
    p.add_argument("--ab", default=None, help="comma-separated tweaks timed against the trainer as it is (A: as it "
                   f"is; B: with them), alternated: {','.join(TWEAKS)}; nothing is written")
    p.add_argument("--tweaks", default="", help="tweaks applied to --profile's step")
    p.add_argument("--profile", default=None, help="print torch.profiler's top ops of these rows' steps and exit")
    p.add_argument("--out", default=str(RESULTS))
    p.add_argument("--key", default="latest", help="the JSON key this run's table goes under ('baseline' is kept "
                                                   "once written)")
    p.add_argument("--merge", action="store_true", help="keep the other rows already under --key")
    p.add_argument("--write-readme", action="store_true", help="replace the cpu-steps table in benchmarks/README.md")
    p.add_argument("--readme-only", action="store_true", help="write the README's table from the JSON and exit")
    p.add_argument("--smoke", action="store_true", help="1 round of 1 step, rows dcgan and selector: does it run")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.smoke:
        args.rows = args.rows or "dcgan,selector"
        args.rounds, args.steps, args.warmup, args.tutorial_steps = 1, 1, 1, 2
    args.tweaks = [t for t in args.tweaks.split(",") if t]
    if args.readme_only:
        write_readme(json.loads(Path(args.out).read_text()))
        return 0
    if args.profile:
        for row in args.profile.split(","):
            print(f"## {row}\n{profile_row(row, args)}", flush=True)
        return 0
    rows = [r for r in (args.rows or ",".join(ROWS)).split(",") if r]
    unknown = set(rows) - set(ROWS)
    if unknown:
        raise SystemExit(f"unknown rows {sorted(unknown)}: choose from {ROWS}")
    if args.ab:
        tweaks = [t for t in args.ab.split(",") if t]
        results = []
        for row in rows:
            results += measure_row(row, args, {"A": ("auto", []), "B": ("auto", tweaks)})
            a, b = results[-2]["ms_per_step"], results[-1]["ms_per_step"]
            print(f"  {row}: {'+'.join(tweaks)} {a / b:.2f}× ({a:.1f} → {b:.1f} ms/step)", flush=True)
        return 0
    info = hardware()
    print(f"{info['cpu']}, torch {info['torch']}, {args.threads} thread(s)", flush=True)
    table = []
    for row in rows:
        if row == "tutorial64":
            table += measure_tutorial(args)
        else:
            variants = {"fp32": ("fp32", []), "trainer": ("auto", [])}
            variants = {k: v for k, v in variants.items() if k in args.variants.split(",")}
            table += measure_row(row, args, {"quality": {"eval": ("fp32", [])}}.get(row, variants))
    out = Path(args.out)
    if args.smoke:
        print(markdown(table))
        return 0
    saved = json.loads(out.read_text()) if out.is_file() else {}
    entry = {"hardware": info, "threads": args.threads, "settings": {k: getattr(args, k) for k in (
        "warmup", "rounds", "steps", "tutorial_steps", "quality_samples")}, "date": time.strftime("%Y-%m-%d %H:%M"),
        "rows": table}
    key = args.key
    if key == "baseline" and "baseline" in saved:
        raise SystemExit("the baseline is kept once written: choose another --key")
    if args.merge and key in saved:  # this run's rows replace theirs; the others stay
        mine = {(r["row"], r["variant"]) for r in table}
        entry["rows"] = [r for r in saved[key]["rows"] if (r["row"], r["variant"]) not in mine] + table
        entry["rows"].sort(key=lambda r: ROWS.index(r["row"]))
    saved[key] = entry
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(saved, indent=2, ensure_ascii=False) + "\n")
    baseline = saved.get("baseline", {}).get("rows") if key != "baseline" else None
    print(markdown(entry["rows"], baseline))
    print(f"wrote {out} [{key}]")
    if args.write_readme:
        write_readme(saved)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

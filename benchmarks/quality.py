"""Sample quality of every generator in the package: same data, same wall-clock budget, same metrics.

Each registered model (see ``MODELS`` below) is built fresh, trained with
:class:`cocogoat_utils.train.GANTrainer` on the same embedded data
(``load_openmoji(--image-size)``, all categories or ``--categories``), held on the device as a
:class:`~cocogoat_utils.device_dataset.DeviceImageDataset` (no DataLoader), for the same number of
seconds (``--minutes``), then scored with :class:`cocogoat_utils.metrics.QualityMetrics`
against the dataset itself: Fréchet distance, KID ± std, precision, recall and the
diversity ratio and the findings, in the judge's fixed glyph feature space. The first row is the
baseline, the reference DCGAN at the PyTorch tutorial's settings. A floor row,
:func:`~cocogoat_utils.metrics.real_data_floor`, scores two disjoint halves of the real
data against each other: the best a generator can hope for.

The time budget: each model trains through :func:`cocogoat_utils.comparison.train_for` — the
notebooks' equal-time runner, the package's one loop with ``fit(seconds=…)``, which reads the clock
with the device synchronised — and is scored by a :class:`~cocogoat_utils.train.QualityTracker`
at the end. images/s is the global batch × steps / seconds over the whole budget (the first steps,
with cuDNN's autotuning, included).

Every figure printed or written comes from the run; nothing is hard-coded.

    python benchmarks/quality.py --minutes 10 --write-readme   # on a GPU (3 models: about 35 min)
    python benchmarks/quality.py --smoke                        # tiny settings, < 1 min on 2 CPU cores
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

README = ROOT / "benchmarks" / "README.md"
TABLE_START, TABLE_END = "<!-- quality-table:start -->", "<!-- quality-table:end -->"
SMOKE = dict(image_size=32, subset=256, seconds=3.0, metric_samples=100, batch_size=32)
DEFAULTS = dict(image_size=64, subset=0, seconds=None, metric_samples=5000, batch_size=None)
DEFAULT_MINUTES = 10.0
GRID_SAMPLES = 64  # images in each sample grid (the trainer's fixed noise)


# --------------------------------------------------------------------------- the models

class Entry(NamedTuple):  # a NamedTuple, not a dataclass: the tests load this file without sys.modules
    """One row of the benchmark: ``build(image_size, channels)`` → ``(generator, discriminator, config)``.

    ``config`` holds what is particular to the model (batch, learning rates, betas, loss,
    EMA, DiffAugment); the benchmark itself sets the steps, logging and seeds. ``trainer``
    is the training-loop class; a model whose loop differs (e.g. ProGAN's growing) can
    bring a :class:`~cocogoat_utils.train.GANTrainer` subclass with its own ``train_step``.
    """

    label: str
    build: Callable
    trainer: Callable | None = None  # None: cocogoat_utils.train.GANTrainer


def _tutorial_dcgan(image_size: int, channels: int):
    """The reference DCGAN at the PyTorch tutorial's settings: batch 128, Adam 2e-4 (0.5, 0.999), BCE."""
    from cocogoat_utils.models.dcgan import build_dcgan
    from cocogoat_utils.train import GANTrainConfig

    generator, discriminator = build_dcgan(image_size=image_size, channels=channels, arch="tutorial")
    config = GANTrainConfig(batch_size=128, lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), loss="bce",
                            ema_decay=None, diffaugment=None)
    return generator, discriminator, config


def _sprite_dcgan(image_size: int, channels: int, **extra):
    """The Pokémon-sprite write-up's DCGAN (linear stem, 3×3 RGB head), Adam 2e-4 (0.5, 0.9), BCE."""
    from cocogoat_utils.models.dcgan import build_dcgan
    from cocogoat_utils.train import GANTrainConfig

    generator, discriminator = build_dcgan(image_size=image_size, channels=channels, arch="sprite")
    config = GANTrainConfig(batch_size=128, lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.9), loss="bce", **extra)
    return generator, discriminator, config


def _sprite_dcgan_ema_diffaugment(image_size: int, channels: int):
    """The sprite DCGAN, sampled from an EMA of G (0.999); every image D sees goes through DiffAugment."""
    return _sprite_dcgan(image_size, channels, ema_decay=0.999, diffaugment="color,translation,cutout")


# The registry: name → how to build (G, D, GANTrainConfig). The first entry is the baseline
# row. Each later notebook's generator (ProGAN, MSG-GAN, LSTM-GAN, ...) is one more entry
# here — a builder returning its networks and training config (and, if its loop differs,
# a GANTrainer subclass in ``trainer``); nothing else in this script changes. Names are
# used in file names: keep them to lowercase letters, digits and dashes.
MODELS: dict[str, Entry] = {
    "dcgan-tutorial": Entry("DCGAN, tutorial settings (baseline)", _tutorial_dcgan),
    "dcgan-sprite": Entry("DCGAN sprite", _sprite_dcgan),
    "dcgan-sprite-ema-diffaug": Entry("DCGAN sprite + EMA 0.999 + DiffAugment", _sprite_dcgan_ema_diffaugment),
}
BASELINE = next(iter(MODELS))


# --------------------------------------------------------------------------- arguments

def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Sample quality (the judge's FD with its interval, KID, precision/recall, near-duplicates and "
        "findings, in the glyph feature space) of every generator in cocogoat_utils after the same wall-clock "
        "training budget on the same data.",
    )
    p.add_argument("--minutes", type=float, default=None,
                   help=f"training budget per model in minutes (default {DEFAULT_MINUTES:g}; meant for a GPU)")
    p.add_argument("--seconds", type=float, default=None,
                   help=f"training budget per model in seconds; wins over --minutes (default with --smoke: "
                        f"{SMOKE['seconds']:g})")
    p.add_argument("--image-size", type=int, default=None,
                   help=f"image side in pixels: 32, 64 or 128 (default {DEFAULTS['image_size']}; "
                        f"{SMOKE['image_size']} with --smoke)")
    p.add_argument("--categories", default=None,
                   help="comma-separated OpenMoji categories (e.g. 'animals,faces'; default: all)")
    p.add_argument("--subset", type=int, default=None,
                   help="train and score on a random N images of the dataset, 0 for all "
                        f"(default {DEFAULTS['subset']}; {SMOKE['subset']} with --smoke)")
    p.add_argument("--metric-samples", type=int, default=None,
                   help="generated images per evaluation, raised to the feature dimensions + 1 if lower "
                        f"(default {DEFAULTS['metric_samples']}; {SMOKE['metric_samples']} with --smoke)")
    p.add_argument("--models", default=None,
                   help=f"comma-separated subset of the registry (default: all, in order: {', '.join(MODELS)})")
    p.add_argument("--batch-size", type=int, default=None,
                   help="override every model's batch size (default: each model's own, 128 for the DCGANs; "
                        f"{SMOKE['batch_size']} with --smoke)")
    p.add_argument("--feature-space", default="auto", choices=("auto", "glyph", "classifier", "inception"),
                   help="metrics' feature network (default auto = the glyph space the judge uses)")
    p.add_argument("--device", default="auto", help="'auto' (default: CUDA, else MPS, else CPU), 'cuda', 'cpu', ...")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (default 0: torch's own choice); 1 can be much faster on a busy small CPU")
    p.add_argument("--seed", type=int, default=0, help="seed of the data subset, the models and the noise (default 0)")
    p.add_argument("--out-dir", default=None,
                   help="where the JSON and the sample grids go (default benchmarks/results)")
    p.add_argument("--merge", action="store_true",
                   help="keep the rows of models not run now from an earlier JSON of this device with the same "
                        "settings (to measure one model per call, e.g. under a per-command time limit)")
    p.add_argument("--write-readme", action="store_true",
                   help=f"replace the block between {TABLE_START} and {TABLE_END} in benchmarks/README.md with "
                        "this run's table (not with --smoke)")
    p.add_argument("--smoke", action="store_true",
                   help="tiny settings for a quick check on a CPU (explicit options still win)")
    args = p.parse_args(argv)
    preset = SMOKE if args.smoke else DEFAULTS
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.seconds is None:
        args.seconds = 60.0 * (DEFAULT_MINUTES if args.minutes is None else args.minutes)
    args.models = [m.strip() for m in (args.models or ",".join(MODELS)).split(",") if m.strip()]
    unknown = [m for m in args.models if m not in MODELS]
    if unknown or not args.models:
        p.error(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    args.categories = [c.strip() for c in args.categories.split(",") if c.strip()] if args.categories else None
    if args.seconds <= 0 or args.subset < 0 or args.metric_samples < 1 or args.threads < 0:
        p.error("--minutes/--seconds > 0, --subset ≥ 0, --metric-samples ≥ 1 and --threads ≥ 0 are required")
    if args.batch_size is not None and args.batch_size < 1:
        p.error("--batch-size must be positive")
    return args


# --------------------------------------------------------------------------- helpers

def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "device"


def count_parameters(module) -> int:
    return sum(t.numel() for t in module.parameters())


def fmt(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}g}" if math.isfinite(value) else str(value)


def markdown_table(rows: list[dict], floor: dict | None) -> str:
    lines = ["| model | FD [95 % interval] | KID ± std | precision | recall | near-duplicates | findings | steps | img/s "
             "| G params | D params |",
             "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        m = r["metrics"]
        interval = f" [{fmt(m['fd_low'])}–{fmt(m['fd_high'])}]" if "fd_low" in m else ""
        lines.append(f"| {r['label']} | {fmt(m['fd'])}{interval} | {fmt(m['kid'])} ± {fmt(m['kid_std'], 2)} | "
                     f"{m['precision']:.3f} | {m['recall']:.3f} | {m.get('near_duplicates', float('nan')):.0%} | "
                     f"{', '.join(m.get('findings') or []) or 'none'} | {r['steps']:,} | "
                     f"{r['images_per_s']:,.0f} | {r['g_params']:,} | {r['d_params']:,} |")
    if floor and "fd" in floor:
        lines.append(f"| real-data floor (two halves of {floor['n_per_half']:,} real images) | {fmt(floor['fd'])} | "
                     f"{fmt(floor['kid'])} ± {fmt(floor['kid_std'], 2)} | — | — | — | — | — | — | — | — |")
    return "\n".join(lines)


def update_readme(path: Path, block: str) -> None:
    """Replace what lies between the two markers in ``path`` with ``block``."""
    text = path.read_text()
    if TABLE_START not in text or TABLE_END not in text or text.index(TABLE_START) > text.index(TABLE_END):
        raise SystemExit(f"--write-readme: {path} has no {TABLE_START} ... {TABLE_END} block")
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    path.write_text(f"{head}{TABLE_START}\n{block}\n{TABLE_END}{tail}")


# --------------------------------------------------------------------------- main

def main(argv=None) -> int:
    args = parse_args(argv)
    import torch
    import torchvision

    from cocogoat_utils.device_dataset import DeviceImageDataset
    from cocogoat_utils.openmoji import load_openmoji
    from cocogoat_utils.metrics import QualityMetrics, real_data_floor
    from cocogoat_utils.runtime import device_name, pick_device
    from cocogoat_utils.comparison import train_for
    from cocogoat_utils.train import GANTrainer, QualityTracker
    from cocogoat_utils.viz import save_grid

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    name = device_name(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    dataset = load_openmoji(args.image_size, categories=args.categories)
    full_size = len(dataset)
    images = dataset.images  # (N, 3, S, S) uint8, composited on white
    if args.subset and args.subset < len(images):
        pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(args.seed))[: args.subset]
        images = images[pick.sort().values]
    print(f"device: {name} | torch {torch.__version__} | {len(images)} of {full_size} OpenMoji images "
          f"{args.image_size}x{args.image_size} | {args.seconds:g} s per model | models: {', '.join(args.models)}",
          flush=True)
    if device.type == "cpu" and not args.smoke:
        print("note: minutes of CPU training give a DCGAN few steps; the benchmark is meant for a GPU "
              "(pass --smoke for a quick check)", flush=True)

    # the metrics first: a missing feature network fails here, not after the training
    t = time.perf_counter()
    quality = QualityMetrics(images, feature_space=args.feature_space, device=device)
    metric_samples = max(args.metric_samples, quality.min_samples)
    try:
        floor = real_data_floor(images, feature_space=args.feature_space, seed=args.seed, device=device)
    except ValueError as error:  # fewer than 2 × (feature dims + 1) real images
        floor = {"error": str(error)}
    print(f"feature space: {quality.feature_space} | real features and floor in {time.perf_counter() - t:.1f} s | "
          f"{metric_samples} generated images per model"
          + (f" (raised from {args.metric_samples})" if metric_samples != args.metric_samples else ""), flush=True)

    out_dir = Path(args.out_dir) if args.out_dir else ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = f"{slug(name)}{'_smoke' if args.smoke else ''}"
    out = out_dir / f"quality_{suffix}.json"
    command = " ".join(["python benchmarks/quality.py", *(argv if argv is not None else sys.argv[1:])])
    settings = {"seconds_per_model": args.seconds, "categories": args.categories or "all",
                **{k: getattr(args, k) for k in ("image_size", "subset", "metric_samples", "batch_size",
                                                 "feature_space", "seed", "smoke")}}
    previous = json.loads(out.read_text()) if args.merge and out.is_file() else None
    if previous is not None:  # checked before any training: rows are merged only across identical settings
        differ = {k: (previous["settings"].get(k), v) for k, v in settings.items() if previous["settings"].get(k) != v}
        if differ or previous["device"] != name:
            raise SystemExit(f"--merge: {out} was measured with other settings or on another device "
                             f"({differ or previous['device']}); use the same settings or another --out-dir")
    rows: list[dict] = []
    for key in args.models:
        entry = MODELS[key]
        torch.manual_seed(args.seed)
        generator, discriminator, config = entry.build(args.image_size, images.shape[1])
        config = dataclasses.replace(
            config, steps=None, seed=args.seed, n_samples=GRID_SAMPLES, batch_size=args.batch_size or config.batch_size,
            log_every=50, sample_every=None, checkpoint_every=None, tensorboard=False)
        data = DeviceImageDataset(images, device, seed=args.seed)
        tracker = QualityTracker(quality, samples=metric_samples, keep_best=False)
        trainer = (entry.trainer or GANTrainer)(generator, discriminator, data, config=config, progress=False,
                                                callbacks=[tracker])
        print(f"training {key} for {args.seconds:g} s (batch {config.batch_size}) ...", flush=True)
        run = train_for(key, trainer, args.seconds, tracker=tracker)
        metrics = tracker.last
        grid = save_grid(trainer.sample(), out_dir / f"quality_{key}_{suffix}.png")
        last_losses = {k: trainer.history[k][-1] for k in trainer.history_keys}
        row = {
            "model": key, "label": entry.label, "baseline": key == BASELINE,
            "steps": run["steps"], "seconds": run["seconds"], "batch": config.batch_size,
            "images_per_s": run["images"] / run["seconds"],
            "finite_losses": True,  # the loop stops with an error on the first NaN or infinity
            "last_losses": last_losses, "collapse": run["collapse"],
            "g_params": count_parameters(generator), "d_params": count_parameters(discriminator),
            "feature_space": metrics["feature_space"], "metrics": metrics,
            "config": dataclasses.asdict(config), "sample_grid": str(grid),
        }
        rows.append(row)
        print(f"  {run['steps']} steps in {run['seconds']:.1f} s ({row['images_per_s']:,.0f} img/s): "
              f"FD {fmt(metrics['fd'])}, KID {fmt(metrics['kid'])}, precision {metrics['precision']:.3f}, "
              f"recall {metrics['recall']:.3f}; findings: {', '.join(metrics['findings']) or 'none'}", flush=True)
        del trainer, generator, discriminator, data
        if device.type == "cuda":
            torch.cuda.empty_cache()

    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    for row in rows:
        row.update(time=stamp, command=command)
    measured = len(rows)
    if previous is not None:  # --merge: keep the earlier runs' rows of the models not run now
        done = {r["model"] for r in rows}
        rows = [r for r in previous["rows"] if r["model"] not in done] + rows
        order = list(MODELS)
        rows.sort(key=lambda r: order.index(r["model"]) if r["model"] in order else len(order))
    table = markdown_table(rows, floor)
    print()
    if args.smoke:
        print("SMOKE RUN (tiny settings): checks that the benchmark runs; the figures are no quality claim.\n")
    print(table)
    print(f"\nfeature space: {quality.feature_space} (not comparable with Inception FID)")
    if previous is not None and len(rows) > measured:
        print(f"({len(rows) - measured} row(s) merged from the earlier run(s) in {out})")
    bad = [r["model"] for r in rows if not r["finite_losses"]]
    if bad:
        print(f"WARNING: non-finite losses in {', '.join(bad)}")

    report = {
        "device": name, "torch": torch.__version__, "torchvision": torchvision.__version__,
        "python": platform.python_version(), "cpu_threads": torch.get_num_threads(),
        "dataset": f"{dataset.source}, {args.image_size}x{args.image_size} on white "
                   "(cocogoat_utils.openmoji.load_openmoji)",
        "dataset_size": len(images), "dataset_full_size": full_size,
        "feature_space": quality.feature_space, "metric_samples": metric_samples,
        "settings": {**settings, "models": args.models},
        "floor": floor, "rows": rows, "table": table, "time": stamp,
    }
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {out} and {measured} sample grid(s) in {out_dir}")

    if args.write_readme:
        if args.smoke:
            print("--write-readme ignored with --smoke: smoke figures are not results")
        else:
            commands = "; ".join(f"`{c}`" for c in dict.fromkeys(r["command"] for r in rows))
            block = (f"Measured on **{name}** on {stamp[:10]} (torch {torch.__version__}) with {commands}: "
                     f"{args.seconds / 60:g} min of training per model, {len(images):,} OpenMoji images at "
                     f"{args.image_size}×{args.image_size}, {metric_samples:,} generated images per model, feature "
                     f"space {quality.feature_space}.\n\n{table}")
            update_readme(README, block)
            print(f"updated the quality table in {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

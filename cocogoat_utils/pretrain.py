"""Train the shipped models from scratch with the notebooks' own recipes, and export them with their records.

    python -m cocogoat_utils.pretrain --list                 # the names and what each trains
    python -m cocogoat_utils.pretrain dcgan                  # the recipe's own budget, on the best device
    python -m cocogoat_utils.pretrain dcgan --minutes 5 --device cpu --threads 1
    torchrun --nproc_per_node 2 -m cocogoat_utils.pretrain dcgan --minutes 30   # data-parallel

Each recipe builds the notebook's data, networks, loss and trainer (the same package
functions the notebook calls), trains for ``--minutes`` of wall time with a quality
evaluation every few minutes' worth of steps, and checkpoints under
``runs/pretrain/<name>/``; a killed run continues where it stopped (the minutes already
spent count). At the end the best checkpoint by Fréchet distance is scored once more on
2,000 samples against the notebook's real images and exported to ``checkpoints/<name>.pt``
(weights only, fp16) with its record ``checkpoints/<name>.json``: recipe, data, size,
steps, images seen, wall time, hardware, precision, metrics and the command that
reproduces it. :func:`~cocogoat_utils.shipped.load_pretrained` loads it.

Under ``torchrun`` every process trains on its own batches (global batch = batch × processes)
and rank 0 evaluates, checkpoints and exports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torchvision
from torch import nn

from .augment import augment_dataset, diff_translation, random_flip
from .checkpoint import atomic_save, cached, content_digest, load_checkpoint
from .data import load_dataset
from .degrade import SELECTION_CLASSES, make_selection_task
from .device_dataset import DeviceImageDataset
from .metrics import QualityMetrics
from .models import build_network  # noqa: F401  (re-exported: older imports)
from .models.dcgan import DCGANDiscriminator, DCGANGenerator, build_dcgan
from .models.lstm_gan import LSTMGenerator, match_parameters, parameter_count
from .models.msggan import MSGGenerator, MultiScaleDiscriminator, PerScaleDiscriminators, UNetDiscriminator
from .models.progan import ProDiscriminator, ProGenerator
from .models.classifier import ImageClassifier
from .models.unet import UNet
from .shipped import load_pretrained, shipped_name
from .runtime import (PACKAGE_DIR, add_hardware_arguments, apply_threads, distributed, hardware, home, is_checkout,
                      pick_device, reproduce_command, set_seed)
from .viz import save_grid
from .train import (DiffusionTrainConfig, DiffusionTrainer, GANTrainConfig, GANTrainer, ProgressiveTrainer,
                    QualityTracker, level_plan)
from .train.classifier import predict, train_classifier

CATEGORIES = ["animals", "faces", "people"]  # the generative notebooks' default subset of OpenMoji
EXPORT_SAMPLES = 2000  # generated images scored for a record


# --------------------------------------------------------------------------- the context a recipe trains in

@dataclass
class Context:
    """What a recipe gets: the command line's choices, the device, the folders, and the shared steps."""

    name: str
    args: argparse.Namespace
    device: torch.device
    rank: int
    world_size: int
    work_dir: Path
    started: float = field(default_factory=time.time)

    @property
    def seconds(self) -> float:
        return self.args.minutes * 60

    @property
    def image_size(self) -> int:
        return self.args.image_size

    def dataset(self, *, augment: int = 1):
        """The notebook's real images at the recipe's size (OpenMoji animals, faces and people, or ``--data-dir``),
        and the training set (with ``augment − 1`` augmented copies of each image, as 07 makes them; kept in the work
        folder, so that a resumed run does not make them again)."""
        real = load_dataset(self.args.data_dir, self.image_size,
                            categories=CATEGORIES if self.args.data_dir is None else None)
        if augment == 1:
            return real, real.images
        key = content_digest(real.images, augment, self.args.seed, torchvision.__version__)
        train = cached(self.work_dir / "train_images.pt", key,
                       lambda: augment_dataset(real.images, factor=augment, seed=self.args.seed))
        return real, train

    @property
    def metric_samples(self) -> int:
        """Generated images scored for the record (``--metric-samples``; the evaluations during training use at most
        as many)."""
        return self.args.metric_samples

    def quality(self, real_images: torch.Tensor, *, every: int, samples: int = 1000):
        """A quality tracker against the real images (FD every ``every`` steps on ``samples`` images, at most
        :attr:`metric_samples`; keeps ``best.pt``)."""
        return QualityTracker(QualityMetrics(real_images, device=self.device), every=every,
                              samples=min(samples, self.metric_samples))

    def loop_options(self) -> dict:
        """The loop settings every recipe shares: seed, precision, and a checkpoint every few minutes."""
        return {"seed": self.args.seed, "precision": self.args.precision,
                "checkpoint_seconds": self.args.checkpoint_minutes * 60}

    def report(self, trainer) -> None:
        """Print the effective batch and learning rates: per process and over every process."""
        cfg = trainer.config
        rates = {k: getattr(cfg, k) for k in ("lr", "lr_g", "lr_d") if hasattr(cfg, k)}
        print(f"[{self.name}] {self.world_size} process(es) × batch {cfg.batch_size} = global batch "
              f"{cfg.batch_size * self.world_size}; learning rates {rates} (not scaled with the batch); "
              f"precision {trainer.precision}; device {self.device}", flush=True)


@dataclass(frozen=True)
class Recipe:
    """A shipped model: what it is, the notebook it serves, its default budget, and how to train it."""

    name: str
    notebook: str
    model: str
    summary: str
    minutes: float
    image_size: int
    train: Callable[[Context], dict]  # trains; returns {"network": the module to ship, "trainer", "tracker", …}
    shipped: bool = True  # exported into checkpoints/ (False: into its work folder, unless --export-dir)


RECIPES: dict[str, Recipe] = {}


def recipe(name: str, *, notebook: str, model: str, summary: str, minutes: float, image_size: int = 32,
           shipped: bool = True):
    def register(function):
        RECIPES[name] = Recipe(name, notebook, model, summary, minutes, image_size, function, shipped)
        return function
    return register


def _gan(ctx: Context, generator, discriminator, train_images, real, config, *, metric_every: int,
         callbacks=()) -> dict:
    tracker = ctx.quality(real.images, every=metric_every)
    trainer = GANTrainer(generator, discriminator, DeviceImageDataset(train_images, ctx.device), config=config,
                         out_dir=ctx.work_dir, callbacks=[tracker, *callbacks], progress=ctx.args.progress)
    ctx.report(trainer)
    trainer.fit(seconds=ctx.seconds)
    return {"trainer": trainer, "tracker": tracker, "real": real}


# --------------------------------------------------------------------------- the recipes

@recipe("dcgan", notebook="07_Pokemon_DCGAN", model="DCGANGenerator", minutes=150,
        summary="07's sprite DCGAN at its cpu widths (G 256, D 32; BCE, Adam(0.5, 0.9), ×3 augmented sprites) made "
                "stable for long runs with DiffAugment on everything D sees and sampling from an EMA of G (0.999)")
def train_dcgan(ctx: Context) -> dict:
    real, train = ctx.dataset(augment=3)
    torch.manual_seed(ctx.args.seed)
    generator, discriminator = build_dcgan(image_size=ctx.image_size, arch="sprite", latent_dim=100, g_width=256,
                                           d_width=32)
    config = GANTrainConfig(steps=None, batch_size=64, lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.9), loss="bce",
                            ema_decay=0.999, diffaugment="color,translation,cutout", log_every=100,
                            sample_every=2000, checkpoint_every=None, **ctx.loop_options())
    return _gan(ctx, generator, discriminator, train, real, config, metric_every=2000)


PROGAN_IMAGES_PER_MINUTE = 800  # images per fade-in and per stabilisation for each minute of --minutes: measured at
# 842, 206, 89 and 50 images/s at 4, 8, 16 and 32 px on one core of the development CPU, seven phases take ≈ the minutes


PROGAN_TRAINING = {"loss": "wgan", "gp_lambda": 10.0, "lr_g": 1e-3, "lr_d": 1e-3, "betas": (0.0, 0.99),
                   "ema_decay": 0.999}  # the progan recipe's loss and optimiser (GANTrainConfig fields)


def progan_networks(max_level: int, *, width: int, seed: int, pixel_norm: bool = False,
                    group_size: int = 4) -> tuple[nn.Module, nn.Module]:
    """03's pair from ``seed``: the progressive generator and discriminator grown to ``max_level`` (4 px · 2^level);
    ``pixel_norm`` in G and D's minibatch-std ``group_size`` are the parts 03's study switches."""
    torch.manual_seed(seed)
    return (ProGenerator(max_level=max_level, width=width, pixel_norm=pixel_norm),
            ProDiscriminator(max_level=max_level, width=width, group_size=group_size))


@recipe("progan", notebook="03_Cocogoat_ProGAN", model="ProGenerator", minutes=90,
        summary="03's progressive GAN grown 4→8→16→32 px with the fade-in (WGAN-GP, equalised learning rate, "
                "minibatch std, Adam(0, 0.99) at 1e-3, width 128, batch 32) and an EMA of G; images per phase = 800 × minutes")
def train_progan(ctx: Context) -> dict:
    real, _ = ctx.dataset()
    max_level = {16: 2, 32: 3, 64: 4, 128: 5}[ctx.image_size]
    generator, discriminator = progan_networks(max_level, width=128, seed=ctx.args.seed)
    plan = level_plan(max_level, images_per_phase=int(PROGAN_IMAGES_PER_MINUTE * ctx.args.minutes), batch_size=32)
    config = GANTrainConfig(**PROGAN_TRAINING, log_every=50, sample_every=None, checkpoint_every=500,
                            **ctx.loop_options())
    trainer = ProgressiveTrainer(generator, discriminator, DeviceImageDataset(real.images, ctx.device), plan=plan,
                                 config=config, out_dir=ctx.work_dir, quality_images=real.images,
                                 metric_samples=min(1000, ctx.metric_samples),
                                 metric_every=1000, progress=ctx.args.progress)
    print(f"[progan] levels {[f'{p.resolution}px' for p in plan]}, {plan[-1].fade_images:,} images per phase", flush=True)
    trainer.fit()
    top = trainer.trainer
    tracker = next(c for c in top.callbacks if type(c).__name__ == "QualityTracker")
    seconds = sum(r["seconds"] for r in trainer.results)
    earlier = sum(r["steps"] for r in trainer.results[:-1])  # the top level's tracker counts its own steps only
    return {"trainer": top, "tracker": tracker, "real": real,
            "record": {"best_step": earlier + tracker.best.get("step", top.step),
                       "fd_history": [[earlier + m["step"], round(m["fd"], 3)] for m in tracker.metrics],
                       "fd_history_note": f"the top level's evaluations, in steps over all levels (the top level "
                                          f"began after step {earlier:,})",
                       "levels": [{"level": r["level"], "resolution": r["resolution"], "steps": r["steps"],
                                   "images": r["images"], "seconds": r["seconds"],
                                   "fd": round(r["metrics"]["fd"], 3) if r["metrics"] else None}
                                  for r in trainer.results],
                       "steps": sum(r["steps"] for r in trainer.results),
                       "images_seen": sum(r["images"] for r in trainer.results),
                       "wall_minutes": round(seconds / 60, 1),
                       "level": generator.level, "alpha": generator.alpha}}


MSGGAN_DISCRIMINATORS = {"multi_scale": MultiScaleDiscriminator, "per_scale": PerScaleDiscriminators,
                         "unet": UNetDiscriminator}


MSGGAN_TRAINING = {"batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.9), "loss": "bce", "ema_decay": 0.999,
                   "diffaugment": "color,translation,cutout"}  # the msggan recipe's loss and optimiser (GANTrainConfig)


def msggan_networks(image_size: int, *, seed: int, g_width: int = 128, d_width: int = 32, residual: bool = False,
                    batch_norm: bool = True, discriminator: str = "multi_scale",
                    dropout: float = 0.0) -> tuple[nn.Module, nn.Module]:
    """04's pair from ``seed``: the multi-scale generator and MSG-GAN's multi-scale discriminator at the msggan
    recipe's widths; the tips (``residual`` blocks, no ``batch_norm`` in G, ``dropout`` in D) and the other
    discriminators (``"per_scale"``, ``"unet"``) are 04's switches."""
    torch.manual_seed(seed)
    return (MSGGenerator(image_size=image_size, width=g_width, residual=residual, batch_norm=batch_norm),
            MSGGAN_DISCRIMINATORS[discriminator](image_size=image_size, width=d_width, dropout=dropout))


@recipe("msggan", notebook="04_Optimized_Cocogoat", model="MSGGenerator", minutes=90,
        summary="04's multi-scale generator (every scale from one forward pass) against MSG-GAN's multi-scale "
                "discriminator, BCE with Adam(0.5, 0.9), DiffAugment on every scale and an EMA of G. The first "
                "recipe (relativistic average hinge, Adam(0.5, 0.999)) dropped modes and blew up after step 2,000; "
                "the change was chosen by benchmarks/msggan_mend.py")
def train_msggan(ctx: Context) -> dict:
    real, _ = ctx.dataset()
    generator, discriminator = msggan_networks(ctx.image_size, seed=ctx.args.seed)
    config = GANTrainConfig(steps=None, **MSGGAN_TRAINING, log_every=100, sample_every=1000, checkpoint_every=None,
                            **ctx.loop_options())
    return _gan(ctx, generator, discriminator, real.images, real, config, metric_every=1000)


LSTM_PAIR_TRAINING = {"batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "loss": "bce",
                      "ema_decay": 0.999, "diffaugment": "color,translation,cutout"}  # 05's pair (GANTrainConfig)


def lstm_pair_networks(kind: str, *, image_size: int, seed: int) -> tuple[nn.Module, nn.Module]:
    """05's pair from ``seed``: the LSTM generator (``kind="lstm"``), or a sprite DCGAN generator with as many
    parameters (``"baseline"``), and the sprite DCGAN discriminator both face (the same initial D for either)."""
    torch.manual_seed(seed)
    lstm = LSTMGenerator(image_size=image_size, latent_dim=100, width=128, hidden=256, direction="rows")
    generator = lstm if kind == "lstm" else match_parameters(
        lambda width: DCGANGenerator(image_size=image_size, latent_dim=100, width=width, arch="sprite"),
        parameter_count(lstm))
    torch.manual_seed(seed)
    return generator, DCGANDiscriminator(image_size=image_size, width=32, arch="sprite")


def _lstm_pair(ctx: Context, kind: str) -> dict:
    """05's comparison: the LSTM generator, or a sprite DCGAN with as many parameters, against the same D."""
    real, _ = ctx.dataset()
    generator, discriminator = lstm_pair_networks(kind, image_size=ctx.image_size, seed=ctx.args.seed)
    config = GANTrainConfig(steps=None, **LSTM_PAIR_TRAINING, log_every=100, sample_every=2000, checkpoint_every=None,
                            **ctx.loop_options())
    return _gan(ctx, generator, discriminator, real.images, real, config, metric_every=2000)


@recipe("lstm", notebook="05_Prototype_LSTM", model="LSTMGenerator", minutes=60,
        summary="05's LSTM generator (transposed convs → an LSTM over the rows → 3×3 conv) against a sprite DCGAN "
                "discriminator, BCE with DiffAugment and an EMA of G; the same budget as lstm-baseline")
def train_lstm(ctx: Context) -> dict:
    return _lstm_pair(ctx, "lstm")


@recipe("lstm-baseline", notebook="05_Prototype_LSTM", model="DCGANGenerator", minutes=60,
        summary="05's baseline: a sprite DCGAN generator with as many parameters as the LSTM generator, the same "
                "discriminator, loss, augmentation and budget")
def train_lstm_baseline(ctx: Context) -> dict:
    return _lstm_pair(ctx, "baseline")


DDPM_TRAINING = {"batch_size": 32, "lr": 2e-4, "warmup": 500, "schedule": "flow", "T": 1000, "prediction": "velocity",
                 "sampler": "euler", "ema_decay": 0.999, "sample_steps": 50}  # the ddpm recipe (DiffusionTrainConfig)


DDPM_NETWORK = {"width": 32, "channel_mults": (1, 2, 2), "blocks_per_level": 1, "attention_at": (8,)}  # its UNet


def ddpm_network(image_size: int, num_classes: int, *, seed: int, **changes) -> nn.Module:
    """06's class-conditional UNet (:data:`DDPM_NETWORK`, with ``changes``) from ``seed``."""
    torch.manual_seed(seed)
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in {**DDPM_NETWORK, **changes}.items()}
    return UNet(image_size=image_size, num_classes=num_classes, **options)


@recipe("ddpm", notebook="06_Diffusion", model="UNet", minutes=150,
        summary="06's class-conditional UNet (1.1M, width 32, time and class embeddings, label dropout 0.1 for "
                "guidance) trained by flow matching (rectified flow: x_t = (1 − t) x0 + t ε, velocity target), batch "
                "32, EMA weights (0.999 with warm-up); drawn deterministically by Euler in 50 steps and kept by FD "
                "under it. Chosen over ε-prediction (muddy under deterministic DDIM) and v-prediction with min-SNR "
                "and zero terminal SNR by benchmarks/diffusion_recipes.py")
def train_ddpm(ctx: Context) -> dict:
    real, _ = ctx.dataset()
    classes, labels = real.class_labels()
    model = ddpm_network(ctx.image_size, len(classes), seed=ctx.args.seed)
    config = DiffusionTrainConfig(steps=None, **DDPM_TRAINING, log_every=100, sample_every=2000, checkpoint_every=500,
                                  **ctx.loop_options())
    tracker = ctx.quality(real.images, every=3000, samples=500)  # 500 Euler-50 samples: two minutes on one core
    trainer = DiffusionTrainer(model, DeviceImageDataset(real.images, ctx.device), config=config, labels=labels,
                               num_classes=len(classes), out_dir=ctx.work_dir, callbacks=[tracker],
                               progress=ctx.args.progress)
    ctx.report(trainer)
    trainer.fit(seconds=ctx.seconds)
    return {"trainer": trainer, "tracker": tracker, "real": real,
            "record": {"classes": classes, "schedule": config.schedule, "T": config.T,
                       "prediction": config.prediction, "sampler": config.sampler,
                       "sample_spacing": config.sample_spacing, "zero_terminal_snr": config.zero_terminal_snr,
                       "sampler_for_metrics": f"{config.sampler}-{config.sample_steps} (deterministic), classes in turn"}}


SELECTOR_HELD_OUT = 600  # images of the embedded selection task kept aside to score the selector


@recipe("selector", notebook="01_DataSelector", model="ImageClassifier", minutes=5, shipped=False,
        summary="01's selector (ImageClassifier, width 16) on the embedded three-class task (keep: clean people; "
                "low quality; off target) with every label known, AdamW and the one-cycle schedule, flips and shifts, "
                "batch 64; scored on 600 held-out images. Not shipped: the classifier recipe, data-parallel under torchrun")
def train_selector(ctx: Context) -> dict:
    if ctx.args.data_dir is not None:
        raise SystemExit("[selector] trains on the embedded task, whose truth is known; label your own folder in "
                         "01_DataSelector instead")
    task = make_selection_task(load_dataset(None, ctx.image_size), target="people", seed=ctx.args.seed)
    truth = torch.tensor([SELECTION_CLASSES.index(c) for c in task.categories])
    order = torch.randperm(len(task), generator=torch.Generator().manual_seed(ctx.args.seed))
    test, train = order[:SELECTOR_HELD_OUT], order[SELECTOR_HELD_OUT:]
    torch.manual_seed(ctx.args.seed)
    model = ImageClassifier(num_classes=len(SELECTION_CLASSES), width=16)
    batch = 64
    if ctx.rank == 0:
        print(f"[selector] {ctx.world_size} process(es) × batch {batch} = global batch {batch * ctx.world_size}; "
              f"{len(train)} training images, {len(test)} held out", flush=True)
    history = train_classifier(model, task.images[train], truth[train], epochs=10**6, batch_size=batch, lr=1e-3,
                               augment=lambda x: diff_translation(random_flip(x), ratio=0.0625),
                               seconds=ctx.seconds, precision=ctx.args.precision, device=ctx.device,
                               seed=ctx.args.seed, progress=ctx.args.progress)
    accuracy = (predict(model, task.images[test]).argmax(1) == truth[test]).float().mean().item()

    def export_selector(export_dir: Path) -> Path:
        record = {"name": "selector", "notebook": "01_DataSelector", "recipe": RECIPES["selector"].summary,
                  "model": "ImageClassifier", "model_config": dict(model.config),
                  "parameters": sum(p.numel() for p in model.parameters()), "classes": list(SELECTION_CLASSES),
                  "train_images": len(train), "held_out": len(test), "image_size": ctx.image_size,
                  "steps": history["steps"], "images_seen": history["steps"] * batch * ctx.world_size,
                  "processes": ctx.world_size, "epochs": len(history["epoch"]),
                  "wall_minutes": round((time.time() - ctx.started) / 60, 1), "hardware": hardware(ctx.device),
                  "torch": str(torch.__version__), "held_out_accuracy": round(accuracy, 4),
                  "command": command_line(ctx)}
        export_dir.mkdir(parents=True, exist_ok=True)
        path = atomic_save({"version": 1, "record": record, "weights": model.state_dict()}, export_dir / "selector.pt")
        (export_dir / "selector.json").write_text(json.dumps(record, indent=2) + "\n")
        print(f"[selector] exported {path}: {record['steps']:,} steps, {record['epochs']} epochs in "
              f"{record['wall_minutes']} min; held-out accuracy {accuracy:.3f}", flush=True)
        return path

    return {"export": export_selector}


# --------------------------------------------------------------------------- export

def _score(generate: Callable[[int], torch.Tensor], real: torch.Tensor, device, samples: int = EXPORT_SAMPLES) -> dict:
    quality = QualityMetrics(real, device=device)
    images = generate(samples)
    result = quality.evaluate(images)
    return {**{k: (round(v, 5) if isinstance(v, float) else v) for k, v in result.items()},
            "saturated_pixels": round(saturated_share(images), 5),
            "saturated_pixels_real": round(saturated_share(real), 5), "real_images": len(real)}


def saturated_share(images: torch.Tensor) -> float:
    """The share of pixel values at 0 or 255 (the glyphs' white background counts: the real set is about 60 %)."""
    return float(((images == 0) | (images == 255)).float().mean())


DIFFUSION_FD_FACTOR = 1.5  # the diffusion model's target: an FD at most this many times the shipped DCGAN's


def targets_met(model: str, scores: dict, *, dcgan_fd: float | None = None) -> dict:
    """The project's targets for a shipped model, each checked: no finding of the judge (not collapsed, partly
    collapsed, dropping modes, copying or unlike the data) and recall ≥ 0.3; a diffusion model (scored with its
    shipped sampler) also an FD at most 1.5× the shipped DCGAN's (``dcgan_fd``, same judge and real images) and
    no more saturated pixels than the real images have (±5 points: the glyphs sit on white, so about 60 % of the
    real images' values are 255).
    """
    checks = {"no findings": not scores.get("findings"), "recall >= 0.3": scores["recall"] >= 0.3}
    if model == "UNet":
        if dcgan_fd is not None:
            checks[f"fd <= {DIFFUSION_FD_FACTOR:g} x dcgan's ({DIFFUSION_FD_FACTOR * dcgan_fd:.1f})"] = \
                scores["fd"] <= DIFFUSION_FD_FACTOR * dcgan_fd
        checks["saturation within 5 points of the real"] = \
            abs(scores["saturated_pixels"] - scores["saturated_pixels_real"]) < 0.05
    missed = [name for name, ok in checks.items() if not ok]
    return {**checks, "summary": "all" if not missed else "missed: " + ", ".join(missed)}


def _dcgan_fd(folder: Path, image_size: int) -> float | None:
    """The shipped DCGAN's FD at ``image_size`` (the diffusion model's yardstick), when its record is in ``folder``
    and was scored by the same judge."""
    path = folder / f"{shipped_name('dcgan', image_size)}.json"
    if not path.is_file():
        return None
    metrics = json.loads(path.read_text()).get("metrics", {})
    return metrics.get("fd") if metrics.get("feature_space") == "glyph" else None


GRID_SEED, GRID_IMAGES = 0, 64  # every shipped model's grid in checkpoints/: 64 images drawn with seed 0


def rescore(name: str, folder: Path, *, samples: int = EXPORT_SAMPLES, device="cpu") -> dict:
    """Score the shipped model ``name`` in ``folder`` again with the present judge (no retraining): its record's
    metrics, targets and judge are replaced, the FD history of training is kept and labelled with the space it was
    measured in, and its fixed-seed grid is drawn to ``<name>.png``. Returns the record."""
    json_path = folder / f"{name}.json"
    record = json.loads(json_path.read_text())
    shipped = load_pretrained(name, device=device)
    if not record.get("dataset", "").startswith("OpenMoji"):
        raise SystemExit(f"[{name}] was trained on {record.get('dataset')!r}: rescore it with its own images")
    real = load_dataset(None, record["image_size"], categories=CATEGORIES)
    previous = record.get("metrics", {}).get("feature_space", "classifier")
    scores = _score(lambda n: shipped.generate(n, seed=1), real.images, device, samples)
    if record.get("fd_history") and "fd_history_space" not in record:
        record["fd_history_space"] = previous
    record["metrics"] = scores
    record["targets"] = targets_met(record["model"], scores, dcgan_fd=_dcgan_fd(folder, record["image_size"]))
    record["scored_by"] = "python -m cocogoat_utils.pretrain --rescore " + name
    json_path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    state = torch.load(folder / f"{name}.pt", map_location="cpu", weights_only=True)  # the record inside the weights
    atomic_save({**state, "record": record}, folder / f"{name}.pt")                  # file too (load_pretrained)
    save_grid(shipped.generate(GRID_IMAGES, seed=GRID_SEED), folder / f"{name}.png", nrow=16)
    print(f"[{name}] rescored: FD {scores['fd']:.2f} [{scores['fd_low']:.2f}–{scores['fd_high']:.2f}] in the "
          f"{scores['feature_space']} space; findings: {', '.join(scores['findings']) or 'none'}; targets "
          f"{record['targets']['summary']}", flush=True)
    return record


def export(ctx: Context, recipe_: Recipe, result: dict, export_dir: Path) -> Path:
    """Load the best checkpoint by FD, score it on ``--metric-samples`` samples (2,000), write ``<name>.pt`` (fp16)
    and ``<name>.json``."""
    trainer, tracker = result["trainer"], result.get("tracker")
    best = tracker.best_checkpoint if tracker is not None else None
    if best is not None and Path(best).is_file():
        load_checkpoint(best, models=trainer.models, ema=trainer.ema, map_location=trainer.device)
    network = result.get("network") or trainer.sampler
    generate = result.get("generate") or (lambda n: trainer.generate(n, seed=ctx.args.seed + 1))
    scores = _score(generate, result["real"].images, ctx.device, ctx.metric_samples)
    weights = {k: v.detach().cpu().half() if torch.is_tensor(v) and v.is_floating_point() else v
               for k, v in network.state_dict().items()}
    history = [[m["step"], round(m["fd"], 3)] for m in tracker.metrics] if tracker is not None else []
    record = {
        "name": recipe_.name, "notebook": recipe_.notebook, "recipe": recipe_.summary,
        "model": type(network).__name__, "model_config": dict(network.config),
        "parameters": sum(p.numel() for p in network.parameters()),
        "dataset": result["real"].source + (f", categories {', '.join(CATEGORIES)}" if ctx.args.data_dir is None
                                            else f", folder {ctx.args.data_dir}"),
        "train_images": len(trainer.data), "image_size": ctx.image_size,
        "steps": trainer.step, "images_seen": trainer.images_seen, "batch_size": trainer.config.batch_size,
        "processes": ctx.world_size, "best_step": tracker.best.get("step") if tracker is not None else trainer.step,
        "wall_minutes": round(trainer.elapsed / 60, 1), "hardware": hardware(ctx.device),
        "precision": trainer.precision, "torch": str(torch.__version__), "python": platform.python_version(),
        "train_config": asdict(trainer.config), "metrics": scores, "fd_history": history,
        "weights": "fp16 (EMA)" if trainer.ema is not None else "fp16",
        "command": result.get("command") or command_line(ctx),
        **result.get("record", {}),
    }
    record["targets"] = targets_met(recipe_.model, scores, dcgan_fd=_dcgan_fd(export_dir, ctx.image_size))
    export_dir.mkdir(parents=True, exist_ok=True)
    stem = shipped_name(recipe_.name, ctx.image_size, recipe_.image_size)
    save_grid(trainer.generate(GRID_IMAGES, seed=GRID_SEED), export_dir / f"{stem}.png", nrow=16)
    path = atomic_save({"version": 1, "record": record, "weights": weights}, export_dir / f"{stem}.pt")
    (export_dir / f"{stem}.json").write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return path


def command_line(ctx: Context) -> str:
    """The command that reproduces this run."""
    args = ctx.args
    parts = ["python", "-m", "cocogoat_utils.pretrain", ctx.name, "--minutes", f"{args.minutes:g}",
             "--image-size", str(args.image_size), "--seed", str(args.seed)]
    if args.metric_samples != EXPORT_SAMPLES:
        parts += ["--metric-samples", str(args.metric_samples)]
    if ctx.world_size > 1:
        parts = ["torchrun", "--nproc_per_node", str(ctx.world_size), "-m", *parts[2:]]
    return reproduce_command(parts, args, ctx.device.type, processes=ctx.world_size)


def default_export_dir() -> Path:
    """``checkpoints/`` of the checkout (the shipped models), else ``checkpoints/`` under the home folder."""
    return PACKAGE_DIR.parent / "checkpoints" if is_checkout() else home() / "checkpoints"


README_START, README_END = "<!-- shipped models: start -->", "<!-- shipped models: end -->"


def shipped_table(folder: Path) -> str:
    """A markdown row per shipped model in ``folder``, from the records beside the weights, then each one's grid."""
    lines = ["| model | notebook | network | size | steps (images) | wall time | hardware, precision | FD [95 % interval] "
             "| precision / recall | coverage | near-duplicates | findings | targets met | command |", "|" + "---|" * 14]
    grids = []
    for path in sorted(folder.glob("*.json")):
        record = json.loads(path.read_text())
        if "recipe" not in record or not (folder / f"{path.stem}.pt").is_file():
            continue
        m = record["metrics"]
        met = record.get("targets", {})
        interval = f" [{m['fd_low']:.1f}–{m['fd_high']:.1f}]" if "fd_low" in m else ""
        if m.get("n_samples", EXPORT_SAMPLES) != EXPORT_SAMPLES:
            interval += f", {m['n_samples']:,} samples"
        lines.append(
            f"| `{path.stem}` | {record['notebook']} | {record['model']} ({record['parameters']:,}) | "
            f"{record['image_size']} px | {record['steps']:,} ({record['images_seen']:,}) | {record['wall_minutes']} min | "
            f"{record['hardware']}, {record['precision']} | {m['fd']:.1f}{interval} | "
            f"{m['precision']:.2f} / {m['recall']:.2f} | {m.get('coverage', float('nan')):.2f} | "
            f"{m.get('near_duplicates', float('nan')):.0%} | {', '.join(m.get('findings', [])) or 'none'} | "
            f"{met.get('summary', '—')} | `{record['command']}` |")
        if (folder / f"{path.stem}.png").is_file():
            grids.append(f"**`{path.stem}`** (weights from step {record.get('best_step', record['steps']):,} of "
                         f"{record['steps']:,}; {GRID_IMAGES} samples, seed {GRID_SEED}):\n\n"
                         f"![{path.stem}]({path.stem}.png)\n")
    space = {json.loads(p.read_text()).get("metrics", {}).get("feature_space") for p in folder.glob("*.json")} - {None}
    note = f"\n\nScores in the {', '.join(sorted(space))} feature space, on {EXPORT_SAMPLES:,} samples (seed 1; fewer where " \
           "the FD cell says so) against the notebook's real images.\n\n" if space else "\n\n"
    return "\n".join(lines) + note + "\n".join(grids)


def write_readme(folder: Path) -> Path:
    """Refresh the table of shipped models between the markers in ``folder/README.md``."""
    path = folder / "README.md"
    text = path.read_text()
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    path.write_text(f"{head}{README_START}\n{shipped_table(folder)}\n{README_END}{tail}")
    return path


# --------------------------------------------------------------------------- command line

def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m cocogoat_utils.pretrain",
                                description="Train a shipped model with its notebook's recipe and export it with its record.")
    p.add_argument("names", nargs="*", help="recipes to train (see --list); 'all' for every one")
    p.add_argument("--list", action="store_true", help="list the recipes and exit")
    p.add_argument("--readme", action="store_true", help="refresh the table of shipped models in checkpoints/README.md")
    p.add_argument("--rescore", action="store_true",
                   help="score the named shipped models (or 'all') again with the present judge, without training, "
                        "draw their grids, and refresh the table")
    p.add_argument("--minutes", type=float, default=None, help="wall-time budget (default: the recipe's own)")
    add_hardware_arguments(p)
    p.add_argument("--image-size", type=int, default=None, help="image size (default: the recipe's, 32)")
    p.add_argument("--data-dir", default=None, help="a folder of your own images instead of OpenMoji")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--metric-samples", type=int, default=EXPORT_SAMPLES,
                   help=f"generated images scored for the record (default {EXPORT_SAMPLES}; fewer on a slow machine: the "
                        "evaluations during training use at most as many)")
    p.add_argument("--work-dir", default=None, help="training state (default runs/pretrain/<name>)")
    p.add_argument("--export-dir", default=None, help="where <name>.pt and <name>.json go (default checkpoints/; "
                                                      "the selector, which is not shipped: its work folder)")
    p.add_argument("--checkpoint-minutes", type=float, default=3.0, help="minutes of training between checkpoints")
    p.add_argument("--fresh", action="store_true", help="start afresh instead of continuing a killed run")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    args = p.parse_args(argv)
    unknown = [] if args.rescore else [n for n in args.names if n != "all" and n not in RECIPES]
    if unknown:
        p.error(f"unknown recipe(s) {unknown}; choose from {sorted(RECIPES)} or 'all'")
    if not args.list and not args.readme and not args.names:
        p.error("name a recipe (or 'all'), or pass --list or --readme")
    return args


def list_recipes() -> str:
    lines = [f"{'name':<16} {'minutes':>7}  {'notebook':<22} {'network':<16} what it trains"]
    for r in RECIPES.values():
        lines.append(f"{r.name:<16} {r.minutes:7g}  {r.notebook:<22} {r.model:<16} {r.summary}")
    return "\n".join(lines)


def _init_distributed() -> torch.device | None:
    """Under torchrun: join the process group (NCCL on GPUs, gloo on CPUs); returns this process's device."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
        torch.distributed.init_process_group("nccl")
        return torch.device("cuda", local)
    torch.distributed.init_process_group("gloo")
    return torch.device("cpu")


def run(name: str, args: argparse.Namespace) -> Path | None:
    """Train recipe ``name`` and export it (rank 0); returns the exported file."""
    recipe_ = RECIPES[name]
    local = _init_distributed() if not (torch.distributed.is_available() and torch.distributed.is_initialized()) else None
    rank, world = distributed()
    device = local or pick_device(args.device)
    run_args = argparse.Namespace(**{**vars(args), "minutes": args.minutes or recipe_.minutes,
                                     "image_size": args.image_size or recipe_.image_size})
    work = Path(args.work_dir) if args.work_dir else home() / "runs" / "pretrain" / f"{name}_{run_args.image_size}px"
    if args.fresh and rank == 0 and work.exists():
        shutil.rmtree(work)
    if world > 1:
        torch.distributed.barrier()
    set_seed(args.seed)
    ctx = Context(name, run_args, device, rank, world, work)
    if rank == 0:
        print(f"[{name}] {recipe_.summary}\n[{name}] {run_args.minutes:g} min at {run_args.image_size} px on "
              f"{hardware(device)}; state in {work}", flush=True)
    result = recipe_.train(ctx)
    if rank != 0:
        return None
    export_dir = Path(args.export_dir) if args.export_dir else default_export_dir() if recipe_.shipped else work
    if "export" in result:  # a recipe with its own record (the selector's is an accuracy, not a sample quality)
        return result["export"](export_dir)
    path = export(ctx, recipe_, result, export_dir)
    record = json.loads(path.with_suffix(".json").read_text())
    m = record["metrics"]
    print(f"[{name}] exported {path}: {record['steps']:,} steps in {record['wall_minutes']} min; FD {m['fd']:.2f}, "
          f"precision {m['precision']:.2f}, recall {m['recall']:.2f}, diversity {m['diversity_ratio']:.2f}", flush=True)
    return path


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        print(list_recipes())
        return 0
    if args.readme and not args.names:
        print(f"updated {write_readme(Path(args.export_dir) if args.export_dir else default_export_dir())}")
        return 0
    apply_threads(args)
    if args.rescore:
        folder = Path(args.export_dir) if args.export_dir else default_export_dir()
        stems = sorted(p.stem for p in folder.glob("*.json") if (folder / f"{p.stem}.pt").is_file()
                       and "recipe" in json.loads(p.read_text()))
        # the DCGAN first: the diffusion model's target is read from its record
        stems.sort(key=lambda stem: not stem.startswith("dcgan"))
        for stem in (stems if "all" in args.names else args.names):
            rescore(stem, folder, samples=args.metric_samples, device=pick_device(args.device))
        print(f"updated {write_readme(folder)}")
        return 0
    names = list(RECIPES) if "all" in args.names else args.names
    for name in names:
        run(name, args)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())

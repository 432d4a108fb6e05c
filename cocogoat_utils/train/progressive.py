"""Training a progressive GAN level by level with the shared :class:`~cocogoat_utils.train.gan.GANTrainer`.

A :class:`LevelPlan` says how many images a level spends fading its new block in and how many
stabilising, and with what batch size. :class:`ProgressiveTrainer` runs one ``GANTrainer`` per
level on the same two networks (Adam's moments start afresh at every level, as in the paper's
code), with a :class:`FadeIn` callback that moves ``alpha`` from 0 to 1 over the fade. Each level
writes its checkpoints to its own folder, ``level_<k>_<size>px``; resuming loads the newest level
that has one and lands on its step, so a run killed mid-fade goes on at the same ``alpha``;
``resume=False`` starts afresh and deletes the level folders of an earlier run in ``out_dir``.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from ..checkpoint import CheckpointMismatch
from ..device_dataset import DeviceImageDataset
from ..metrics import QualityMetrics
from ..models.progan import ProDiscriminator, ProGenerator, resolution, set_level
from .callbacks import Callback
from .evaluation import QualityTracker
from .gan import HISTORY_KEYS, GANTrainConfig, GANTrainer


@dataclass(frozen=True)
class LevelPlan:
    """One level of a progressive run: ``fade_images`` with the new block fading in, then ``stable_images``."""

    level: int
    batch_size: int
    fade_images: int
    stable_images: int

    def __post_init__(self) -> None:
        if self.level < 0 or self.batch_size < 1 or self.fade_images < 0 or self.stable_images < 0:
            raise ValueError(f"{self}: level ≥ 0, batch_size ≥ 1 and image counts ≥ 0 are required")
        if self.level == 0 and self.fade_images:
            raise ValueError("level 0 (4×4) has nothing to fade from: fade_images must be 0")

    @property
    def resolution(self) -> int:
        return resolution(self.level)

    @property
    def fade_steps(self) -> int:
        return math.ceil(self.fade_images / self.batch_size)

    @property
    def steps(self) -> int:
        return self.fade_steps + math.ceil(self.stable_images / self.batch_size)

    def alpha(self, step: int) -> float:
        """How far the new block is faded in after ``step`` steps of this level."""
        return 1.0 if self.fade_steps == 0 else min(1.0, step / self.fade_steps)


def level_plan(max_level: int, *, images_per_phase: int, batch_size: int | Sequence[int], fade: bool = True,
               start_level: int = 0) -> list[LevelPlan]:
    """Levels ``start_level`` … ``max_level``, each fading in over ``images_per_phase`` images and then
    stabilising over as many (the first level only stabilises).

    ``fade=False`` adds each new block at once (``alpha=1`` from its first step) and spends the fade's
    images on stabilising instead, so that a run without fade-in sees the same number of images.
    ``batch_size`` is one size for every level or one per level (index 0 = ``start_level``).
    """
    levels = range(start_level, max_level + 1)
    sizes = [batch_size] * len(levels) if isinstance(batch_size, int) else list(batch_size)
    if len(sizes) != len(levels):
        raise ValueError(f"{len(sizes)} batch sizes for the {len(levels)} levels {start_level}…{max_level}")
    plans = []
    for i, (level, size) in enumerate(zip(levels, sizes)):
        fading = fade and i > 0
        plans.append(LevelPlan(level, size, images_per_phase if fading else 0,
                               images_per_phase * (1 if fading or i == 0 else 2)))
    return plans


class FadeIn(Callback):
    """Sets the level and ``alpha`` of the trainer's generator, discriminator and EMA before every step."""

    def __init__(self, plan: LevelPlan) -> None:
        self.plan = plan

    def on_train_start(self, trainer: GANTrainer) -> None:
        self.on_step_start(trainer)

    def on_step_start(self, trainer: GANTrainer) -> None:
        set_level(self.plan.level, self.plan.alpha(trainer.step), trainer.generator, trainer.discriminator,
                  trainer.ema.module if trainer.ema is not None else None)


def pool_to(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``(N, C, S, S)`` images average-pooled to ``size × size`` (``S`` a multiple of ``size``)."""
    if images.shape[-1] == size:
        return images
    return F.avg_pool2d(images.float(), images.shape[-1] // size).round().to(torch.uint8)


class ProgressiveTrainer:
    """Trains a :class:`ProGenerator` / :class:`ProDiscriminator` pair through ``plan``, one level at a time.

    ``data`` holds the full-size images; each step pools the real batch to the level's size (and,
    while fading, blends it like the generator's output: ``ProGenerator.match_real``).
    ``config`` is the base :class:`GANTrainConfig`; each level overrides its ``steps`` and
    ``batch_size``. With ``quality_images`` (uint8, full size), every level ends with the
    quality metric against the real images pooled to that level's size (and is scored every
    ``metric_every`` steps too, keeping the level's ``best.pt``, when that is set).
    """

    def __init__(self, generator: ProGenerator, discriminator: ProDiscriminator, data: DeviceImageDataset, *,
                 plan: Sequence[LevelPlan], config: GANTrainConfig, out_dir: str | Path | None = None,
                 callbacks: Sequence[Callback] = (), quality_images: torch.Tensor | None = None,
                 feature_space: str = "auto", metric_samples: int = 1000, metric_every: int | None = None,
                 progress: bool = True) -> None:
        self.plan = list(plan)
        if not self.plan:
            raise ValueError("the plan has no levels")
        levels = [p.level for p in self.plan]
        if levels != list(range(levels[0], levels[0] + len(levels))):
            raise ValueError(f"the plan's levels {levels} must follow one another")
        for model in (generator, discriminator):
            model.set_level(levels[-1])  # a level beyond either network's maximum fails here, naming both
        size = data.image_shape[-1]
        if size % self.plan[-1].resolution:
            raise ValueError(f"the plan ends at {self.plan[-1].resolution}×{self.plan[-1].resolution}, "
                             f"but the data is {size}×{size}: the sizes must divide")
        set_level(levels[0], 1.0, generator, discriminator)
        self.generator, self.discriminator, self.data = generator, discriminator, data
        self.config, self.callbacks, self.progress = config, list(callbacks), progress
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.quality_images, self.feature_space = quality_images, feature_space
        self.metric_samples, self.metric_every = metric_samples, metric_every
        self.trainer: GANTrainer | None = None  # the current level's
        self.results: list[dict] = []  # one per finished level
        self._layout_checked = False

    def level_dir(self, plan: LevelPlan) -> Path | None:
        return None if self.out_dir is None else self.out_dir / f"level_{plan.level}_{plan.resolution}px"

    def _check_layout(self, resume: bool) -> None:
        """Refuse to resume checkpoints written for another plan (without ``resume``, clear them); write this plan."""
        if self.out_dir is None:
            return
        path = self.out_dir / "plan.json"
        mine = {"plan": [asdict(p) for p in self.plan], "generator": self.generator.config,
                "discriminator": self.discriminator.config}
        if not resume:  # start afresh: an earlier run's level checkpoints must not be picked up later
            for old in self.out_dir.glob("level_*px"):
                shutil.rmtree(old)
        elif path.exists():
            theirs = json.loads(path.read_text())
            if theirs != mine:
                def levels(layout):
                    return ", ".join(f"{resolution(p['level'])}px×{p['fade_images']}+{p['stable_images']}@{p['batch_size']}"
                                     for p in layout["plan"])
                raise CheckpointMismatch(
                    f"{path.parent} holds a run with levels [{levels(theirs)}] and G {theirs['generator']}; "
                    f"this run has levels [{levels(mine)}] and G {mine['generator']}: choose another out_dir")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(mine, indent=2))

    def _quality(self, plan: LevelPlan) -> list[QualityTracker]:
        """A tracker scoring the level's end against the reals pooled to its size (none without quality images)."""
        if self.quality_images is None:
            return []
        quality = QualityMetrics(pool_to(self.quality_images, plan.resolution), feature_space=self.feature_space,
                                 device=self.data.device)
        return [QualityTracker(quality, every=self.metric_every, samples=self.metric_samples)]

    def fit_level(self, index: int, *, resume: bool = True) -> GANTrainer:
        """Train level ``plan[index]`` (resuming its checkpoint when there is one); returns its trainer."""
        plan = self.plan[index]
        if not self._layout_checked:
            self._check_layout(resume)
            self._layout_checked = True
        config = replace(self.config, steps=plan.steps, batch_size=plan.batch_size)
        previous = self.trainer
        if previous is not None:
            previous.release()  # across processes: one DistributedDataParallel per network at a time
        set_level(plan.level, plan.alpha(0), self.generator, self.discriminator)
        tracker = self._quality(plan)
        trainer = GANTrainer(self.generator, self.discriminator, self.data, config=config,
                             out_dir=self.level_dir(plan), callbacks=[FadeIn(plan), *tracker, *self.callbacks],
                             progress=self.progress)
        if trainer.ema is not None and previous is not None and previous.ema is not None:
            trainer.ema.module.load_state_dict(previous.ema.module.state_dict())  # the average carries over
        if resume and trainer.resume() and self.generator.level != plan.level:
            raise CheckpointMismatch(f"{trainer.last_checkpoint} was saved at level {self.generator.level} "
                                     f"({self.generator.resolution}px); this plan's level is {plan.level} "
                                     f"({plan.resolution}px)")
        self.trainer = trainer
        started = time.perf_counter()
        trainer.fit(plan.steps, resume=False)
        set_level(plan.level, plan.alpha(trainer.step), self.generator, self.discriminator, trainer.sampler)
        result = {"level": plan.level, "resolution": plan.resolution, "steps": trainer.step,
                  "fade_steps": plan.fade_steps, "images": trainer.step * plan.batch_size,
                  "seconds": round(trainer.elapsed, 2), "wall_seconds": round(time.perf_counter() - started, 1),
                  "history": trainer.history,
                  "metrics": tracker[0].last or None if tracker else None, "samples": trainer.sample()}
        self.results = [r for r in self.results if r["level"] != plan.level] + [result]
        return trainer

    def fit(self, *, resume: bool = True) -> dict[str, list]:
        """Train every level in order (a finished level that was checkpointed is loaded, not retrained)."""
        for index in range(len(self.plan)):
            self.fit_level(index, resume=resume)
        return self.history

    @property
    def history(self) -> dict[str, list]:
        """Every finished level's losses on one axis: ``step`` and ``images`` count from the start of the run."""
        merged: dict[str, list] = {"step": [], "images": [], "level": [], **{k: [] for k in HISTORY_KEYS}}
        offset = images = 0
        for result, plan in zip(self.results, self.plan):
            history = result["history"]
            merged["step"].extend(offset + s for s in history["step"])
            merged["images"].extend(images + s * plan.batch_size for s in history["step"])
            merged["level"].extend([plan.level] * len(history["step"]))
            for key in HISTORY_KEYS:
                merged[key].extend(history[key])
            offset += result["steps"]
            images += result["images"]
        return merged

    @property
    def boundaries(self) -> dict[int, str]:
        """Global step → label at the start of every level and the end of every fade, for :func:`viz.plot_losses`."""
        marks, offset = {}, 0
        for result, plan in zip(self.results, self.plan):
            marks[offset] = f"{plan.resolution}px"
            if plan.fade_steps:
                marks[offset + plan.fade_steps] = "faded in"
            offset += result["steps"]
        return marks

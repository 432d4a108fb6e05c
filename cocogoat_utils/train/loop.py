"""The one training loop every model family's trainer builds on (:class:`Trainer`), and its hooks (:class:`Callback`).

Like minGPT's trainer, the loop knows no model family. A subclass says what one step does
(:meth:`Trainer.train_step`, which returns the step's losses as one device tensor), which
models, optimisers and weight average make up its state, and how it draws images
(:meth:`Trainer.sample`, :meth:`Trainer.generate`). The loop does the rest:

- a step budget, a wall-time budget (seconds of training in all, across resumes), or both;
- the progress bar; the losses kept on the device and read once every ``log_every`` steps,
  where a NaN or infinity stops training and names the last good checkpoint;
- precision (:func:`~cocogoat_utils.runtime.pick_precision`): bf16 or fp16 autocast, and
  with fp16 one gradient scaler per optimiser (:meth:`Trainer.optimize`);
- fixed-noise samples every ``sample_every`` steps; quality evaluations (:meth:`Trainer.evaluate`) as often as
  the trainer's ``quality`` record says, keeping ``best.pt``; checkpoints every ``checkpoint_every``
  steps and/or ``checkpoint_seconds`` of training (``None`` turns any of them off; ``steps=None``
  trains until the time is up);
- exact resume: a checkpoint holds every random stream that shapes training (the batches,
  the noise and augmentations, torch's global CPU and CUDA states for dropout), the
  optimisers, scalers and schedules, the callbacks' state and the seconds spent, so a run
  killed and resumed ends as the same run uninterrupted would; a run whose configuration
  changed is refused with each difference named; a damaged newest checkpoint is skipped (the checkpoint
  side of this lives beside the format, in :mod:`cocogoat_utils.checkpoint`);
- one :class:`Clock`: samples, evaluations, callbacks and checkpoints run with it paused;
- several processes under ``torchrun``: the models a step calls are wrapped in
  ``DistributedDataParallel`` (:meth:`Trainer.wrap`), everything else uses the bare
  modules; every rank draws its own batches and noise from ``(seed, rank)``; samples,
  callbacks and checkpoints happen on rank 0; a time budget stops every rank at the same step.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from ..checkpoint import (ConfigMismatch, by_key, check_run_config, list_checkpoints, load_newest,  # noqa: F401
                          model_signature, random_state, restore_training, save_training, write_run_config)
from ..device_dataset import DeviceImageDataset
from ..runtime import PRECISIONS, distributed, pick_precision, progress_bar, stream_seed, synchronize
from .callbacks import Callback, TensorBoardLogger  # noqa: F401  (Callback re-exported: its old home)
from .evaluation import QualityTracker
from .optim import EMA, StepTools


@dataclass(frozen=True)
class TrainConfig:
    """The loop's knobs, shared by every trainer's configuration; written to ``config.json``."""

    steps: int | None = 1000  # steps in all; None: until the ``seconds`` given to fit run out
    batch_size: int = 64  # per process: the global batch is batch_size × processes
    log_every: int = 50  # steps between host reads of the losses
    sample_every: int | None = 250  # steps between fixed-noise sample grids (None: only at the start and end)
    checkpoint_every: int | None = 1000  # steps between checkpoints (None: only at the end)
    checkpoint_seconds: float | None = None  # seconds of training between checkpoints too (None: by steps only)
    n_samples: int = 64  # images in each fixed-noise grid
    precision: str = "auto"  # "auto" | "bf16" | "fp16" | "fp32" (see runtime.pick_precision)
    tensorboard: bool = False  # add a TensorBoardLogger writing to out_dir/tensorboard (pip install tensorboard)
    seed: int = 0

    #: fields a resumed run may change: they do not change what is trained
    RESUMABLE: ClassVar[frozenset[str]] = frozenset(
        {"steps", "log_every", "sample_every", "checkpoint_every", "checkpoint_seconds", "n_samples", "precision",
         "tensorboard"})

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision={self.precision!r}: expected one of {PRECISIONS}")
        if (self.steps is not None and self.steps < 0) or self.batch_size < 1 or self.log_every < 1:
            raise ValueError("steps ≥ 0 (or None), batch_size ≥ 1 and log_every ≥ 1 are required")
        for name in ("sample_every", "checkpoint_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name}={value}: give a number of steps ≥ 1, or None for off")


class Clock:
    """Seconds of training: wall time since :meth:`start`, minus what ran inside :meth:`paused`, plus ``before``
    (the seconds of earlier sessions); ``saved_at``: the seconds at the last step checkpoint."""

    def __init__(self) -> None:
        self.start(0.0)

    def start(self, before: float) -> None:
        self._before, self._started, self._paused, self.saved_at = before, time.perf_counter(), 0.0, before

    @property
    def seconds(self) -> float:
        return self._before + time.perf_counter() - self._started - self._paused

    @contextmanager
    def paused(self):
        """Time spent inside does not count as training (samples, quality evaluations, checkpoints)."""
        began = time.perf_counter()
        try:
            yield
        finally:
            self._paused += time.perf_counter() - began

    def check(self, budget: float | None, every: float | None, *, device: torch.device,
              world_size: int) -> tuple[bool, bool]:
        """(``budget`` seconds are spent, ``every`` seconds passed since ``saved_at``); across processes rank 0's
        reading decides for every rank (call it on every rank at the same step)."""
        now = self.seconds
        if budget is not None and now >= budget and world_size == 1:
            synchronize(device)  # the queued work counts too
            now = self.seconds
        stop, due = budget is not None and now >= budget, bool(every) and now - self.saved_at >= every
        if world_size > 1:
            flags = torch.tensor([float(stop), float(due)], device=device)
            torch.distributed.broadcast(flags, src=0)
            stop, due = (bool(v) for v in flags.tolist())
        return stop, due


class LossLog:
    """The steps' losses kept on the device, copied to the host once every ``size`` steps (the loop's one sync)."""

    def __init__(self, keys: tuple[str, ...], size: int, device: torch.device) -> None:
        self.keys, self.values, self.steps = keys, torch.zeros(size, len(keys), device=device), []

    def add(self, step: int, losses: torch.Tensor) -> bool:
        """Keep ``losses`` of ``step``; ``True`` when the log is full."""
        self.values[len(self.steps)] = losses
        self.steps.append(step)
        return len(self.steps) == len(self.values)

    def read(self, history: dict[str, list], last_checkpoint: Path | None) -> bool:
        """Move the kept losses to ``history``; ``False`` when none were kept. A NaN or infinity raises
        ``FloatingPointError`` naming the loss, the step and ``last_checkpoint``."""
        if not self.steps:
            return False
        values = self.values[: len(self.steps)].cpu()
        bad = ~torch.isfinite(values).all(dim=1)
        if bad.any():
            row = int(bad.nonzero()[0])
            kept = f"; the last good checkpoint is {last_checkpoint}" if last_checkpoint else ""
            names = [k for k, v in zip(self.keys, values[row].tolist()) if not math.isfinite(v)]
            raise FloatingPointError(f"{', '.join(names)} became NaN or infinite at step {self.steps[row]}: "
                                     f"training stopped{kept}")
        history["step"].extend(self.steps)
        for i, key in enumerate(self.keys):
            history[key].extend(values[:, i].tolist())
        self.steps = []
        return True


class Trainer(StepTools):
    """The loop; subclasses define :meth:`train_step`, :meth:`sample`, :meth:`generate` and register their state.

    In ``__init__`` a subclass fills ``self.models`` (bare modules by name), ``self.optimizers``
    (by the same names), optionally ``self.ema``, ``self.schedulers`` and ``self.fixed_noise``,
    and lists its loss names in ``history_keys``. ``out_dir`` receives ``config.json``,
    checkpoints (``step_*.pt``) and TensorBoard logs; :meth:`fit` resumes from the newest
    checkpoint there unless ``resume=False``. ``quality`` (a :class:`QualityTracker`; one given
    among ``callbacks`` is taken too) makes evaluation a step of the loop.
    """

    history_keys: tuple[str, ...] = ("loss",)

    def __init__(self, data: DeviceImageDataset, *, config: TrainConfig, out_dir: str | Path | None = None,
                 callbacks=(), progress: bool = True, rank: int | None = None,
                 quality: QualityTracker | None = None) -> None:
        self.config, self.data, self.device = config, data, data.device
        self.rank, self.world_size = distributed()
        self.rank = self.rank if rank is None else rank  # a test may pretend to be another process
        self.precision = pick_precision(config.precision, self.device)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.callbacks = list(callbacks)
        self.quality = quality or next((c for c in self.callbacks if isinstance(c, QualityTracker)), None)
        if config.tensorboard and self.out_dir is not None and self.rank == 0:
            self.callbacks.append(TensorBoardLogger(self.out_dir / "tensorboard"))
        self.progress, self.step = progress, 0
        self.elapsed = 0.0  # seconds of training so far, earlier sessions included
        self.finishing = False  # true while the last step's logging, sampling and saving run
        self.history: dict[str, list[float]] = {"step": [], **{k: [] for k in self.history_keys}}
        self.samples, self.sample_steps = [], []  # this session's fixed-noise grids (uint8, CPU) and their steps
        self.last_checkpoint: Path | None = None
        self.resumed_step: int | None = None  # where a resume landed (None: started afresh)
        # the state a family registers: bare modules, optimisers, schedules and fp16 gradient scalers by name
        self.models, self.optimizers, self.schedulers, self.scalers = {}, {}, {}, {}
        self.ema: EMA | None = None
        self.streams = {name: torch.Generator(device=self.device).manual_seed(stream_seed(config.seed, self.rank, i))
                        for i, name in enumerate(("data", "noise"))}
        self.losses: LossLog | None = None  # made by fit() for config.log_every
        self.clock = Clock()  # this fit() call's

    # ----------------------------------------------------------------- what a family defines
    def train_step(self) -> torch.Tensor:
        """One optimisation step; returns ``len(history_keys)`` losses as one device tensor, without a host sync."""
        raise NotImplementedError

    def sample(self) -> torch.Tensor:
        """The fixed-noise grid as uint8 ``(n_samples, C, H, W)`` on the CPU."""
        raise NotImplementedError

    def generate(self, n: int, *, seed: int) -> torch.Tensor:
        """``n`` images drawn reproducibly from ``seed``, as uint8 on the CPU (for quality metrics)."""
        raise NotImplementedError

    @property
    def sampler(self) -> nn.Module:
        """The network to sample from: the weight average when there is one, else the first model."""
        return self.ema.module if self.ema is not None else next(iter(self.models.values()))

    @property
    def images_seen(self) -> int:
        """Real images drawn so far, over every process."""
        return self.step * self.config.batch_size * self.world_size

    # ----------------------------------------------------------------- logging, sampling
    def _flush(self) -> None:
        """Copy the kept losses to the history (the one host sync), and tell the callbacks."""
        if self.losses is not None and self.losses.read(self.history, self.last_checkpoint):
            self._hook("on_log")

    def _take_sample(self) -> None:
        self._flush()
        images = self.sample()
        self.samples.append(images)
        self.sample_steps.append(self.step)
        self._hook("on_sample", images)

    def _hook(self, name: str, *args, every_rank: bool = False) -> None:
        """Call hook ``name`` of every callback that has one (on rank 0 only, unless ``every_rank``)."""
        if self.rank == 0 or every_rank:
            for callback in self.callbacks:
                hook = getattr(callback, name, None)
                if hook is not None:
                    hook(self, *args)

    def evaluate(self) -> dict:
        """Score ``quality.samples`` images drawn from ``seed + 1`` (the same noise every time) with the quality record;
        keep ``best.pt`` when they are the best yet; returns the record's new entry (callbacks get ``on_metrics``)."""
        self._flush()
        images = self.generate(self.quality.samples, seed=self.config.seed + 1)
        where = {"step": self.step, "seconds": round(self.elapsed, 2), "images": self.images_seen}
        if self.quality.record(where, images):
            self.quality.best_checkpoint = self.save(filename="best.pt")
        self._hook("on_metrics", self.quality.last)
        return self.quality.last

    # ----------------------------------------------------------------- checkpoints
    def save(self, filename: str | None = None) -> Path | None:
        """Write a checkpoint of everything needed to resume (rank 0, with ``out_dir`` set). ``filename`` (``"best.pt"``)
        writes that file, which resume ignores, on rank 0 alone; every rank calls it for a step checkpoint, which
        gathers the ranks' random streams into the one file."""
        if self.out_dir is None:
            return None
        self._flush()
        gathered = [random_state(self.streams, self.device)]
        if self.world_size > 1 and filename is None:  # every rank's streams, for an exact resume
            gathered = [None] * self.world_size
            torch.distributed.all_gather_object(gathered, random_state(self.streams, self.device))
        if self.rank != 0:
            return None
        path = save_training(self.out_dir, step=self.step, models=self.models, optimizers=self.optimizers,
                             ema=self.ema, config=asdict(self.config), history=self.history, elapsed=self.elapsed,
                             random=gathered, world_size=self.world_size, scalers=self.scalers,
                             schedulers=self.schedulers, stateful=by_key(*self.callbacks, self.quality), filename=filename)
        if filename is None:
            self.last_checkpoint, self.clock.saved_at = path, self.elapsed
        return path

    def resume(self) -> bool:
        """Load the newest good checkpoint in ``out_dir``; ``False`` when there is none.

        Refused (:class:`ConfigMismatch`, nothing loaded) when the checkpoint was trained with another
        configuration; a damaged newest checkpoint is skipped with a warning.
        """
        if self.out_dir is None or not list_checkpoints(self.out_dir):
            return False
        check_run_config(self.out_dir, models=self.models, config=asdict(self.config),
                         resumable=self.config.RESUMABLE)
        found = load_newest(self.out_dir, models=self.models, optimizers=self.optimizers, ema=self.ema,
                            map_location=self.device)
        if found is None:
            return False
        self.last_checkpoint, state = found
        self.step, self.elapsed = state["step"], float(state.get("elapsed", 0.0))
        kept = {k: v for k, v in state["history"].items() if k != "metrics"}  # "metrics": the quality record's now
        self.history = {"step": [], **{k: [] for k in self.history_keys}, **kept}
        restore_training(state, rank=self.rank, seed=self.config.seed, streams=self.streams, device=self.device,
                         scalers=self.scalers, schedulers=self.schedulers, stateful=by_key(*self.callbacks, self.quality))
        self.resumed_step = self.step
        return True

    def _write_config(self) -> None:
        if self.out_dir is not None and self.rank == 0:
            write_run_config(self.out_dir, {
                "train": asdict(self.config), **{name: model_signature(m) for name, m in self.models.items()},
                "dataset_size": len(self.data), "image_shape": list(self.data.image_shape), "device": str(self.device),
                "precision": self.precision, "world_size": self.world_size})

    # ----------------------------------------------------------------- the loop
    def _budget(self, seconds: float | None) -> tuple[bool, bool]:
        """(the time budget is spent, a timed checkpoint is due); across processes read at log steps only, so that
        every rank stops and saves at the same step."""
        every = self.config.checkpoint_seconds
        if (seconds is None and not every) or (self.world_size > 1 and self.step % self.config.log_every):
            return False, False
        return self.clock.check(seconds, every, device=self.device, world_size=self.world_size)

    def fit(self, steps: int | None = None, *, seconds: float | None = None, resume: bool = True) -> dict[str, list]:
        """Train until ``steps`` (default ``config.steps``) steps in all, or until ``seconds`` of training in all
        (time spent before a resume counts; time spent on samples, quality evaluations and checkpoints does not),
        whichever comes first; returns the loss history.

        When the time runs out, the last step is logged, sampled, scored and saved as a planned last step is.
        """
        total = self.config.steps if steps is None else steps
        if total is None and seconds is None:
            raise ValueError("steps=None trains until the time is up: give fit(seconds=…)")
        if resume:
            self.resume()
        self._write_config()
        self._hook("on_train_start")
        for model in self.models.values():
            model.train()
        if self.losses is None or len(self.losses.values) != self.config.log_every:
            self.losses = LossLog(self.history_keys, self.config.log_every, self.device)
        bar = progress_bar(total=total if seconds is None else None, initial=self.step, unit="step", dynamic_ncols=True,
                   desc="training" if seconds is None else f"training for {seconds:g} s",
                   disable=not self.progress or self.rank != 0)
        self.clock.start(self.elapsed)
        if seconds is not None and self.step > 0 and self.elapsed >= seconds:
            total = self.step  # a resumed run whose time was already spent: nothing left to train
        try:
            if self.step == 0 and self.rank == 0:
                with self.clock.paused():
                    self._take_sample()
            while total is None or self.step < total:
                self._hook("on_step_start", every_rank=True)
                losses = self.train_step()
                self.step += 1
                full = self.losses.add(self.step, losses)
                bar.update(1)
                out_of_time, timed_checkpoint = self._budget(seconds)
                if out_of_time:
                    total = self.step  # out of time: this step is the last
                self.finishing = self.step == total
                self.elapsed = self.clock.seconds
                if full or self.finishing:
                    self._flush()
                    bar.set_postfix({k: f"{self.history[k][-1]:.3f}" for k in self.history_keys}, refresh=False)
                with self.clock.paused():
                    self._after_step(timed_checkpoint)
            self.elapsed = self.clock.seconds
            self.save()
        finally:
            bar.close()
            self.finishing = False
        self._hook("on_train_end")
        return self.history

    def _after_step(self, timed_checkpoint: bool) -> None:
        """A step's sample, quality evaluation, callbacks and checkpoint, each when due (the clock is paused)."""
        cfg, last = self.config, self.finishing
        if self.rank == 0:
            if (cfg.sample_every and self.step % cfg.sample_every == 0) or last:
                self._take_sample()
            if self.quality is not None and self.quality.due(self.step, last):
                self.evaluate()
            self._hook("on_step_end")
        if ((cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0) or timed_checkpoint) and not last:
            self.save()

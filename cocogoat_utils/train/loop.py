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
- fixed-noise samples every ``sample_every`` steps, checkpoints every ``checkpoint_every``
  steps and/or ``checkpoint_seconds`` of training (``None`` turns any of them off; ``steps=None``
  trains until the time is up);
- exact resume: a checkpoint holds every random stream that shapes training (the batches,
  the noise and augmentations, torch's global CPU and CUDA states for dropout), the
  optimisers, scalers and schedules, the callbacks' state and the seconds spent, so a run
  killed and resumed ends as the same run uninterrupted would; a run whose configuration
  changed is refused with each difference named; a damaged newest checkpoint is skipped;
- several processes under ``torchrun``: the models a step calls are wrapped in
  ``DistributedDataParallel`` (:meth:`Trainer.wrap`), everything else uses the bare
  modules; every rank draws its own batches and noise from ``(seed, rank)``; samples,
  callbacks and checkpoints happen on rank 0; a time budget stops every rank at the same step.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn
from tqdm.auto import tqdm

from ..checkpoint import CheckpointMismatch, list_checkpoints, load_newest, model_signature, save_checkpoint
from ..device_dataset import DeviceImageDataset
from ..runtime import autocast, distributed, pick_precision, stream_seed, synchronize
from .optim import EMA


class ConfigMismatch(CheckpointMismatch):
    """The checkpoint to resume was written with another training configuration."""


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
    tensorboard: bool = False  # log losses, samples and quality to out_dir/tensorboard
    seed: int = 0

    #: fields a resumed run may change: they do not change what is trained
    RESUMABLE: ClassVar[frozenset[str]] = frozenset(
        {"steps", "log_every", "sample_every", "checkpoint_every", "checkpoint_seconds", "n_samples", "precision",
         "tensorboard",
         "metric_every", "metric_samples"})

    def __post_init__(self) -> None:
        from ..runtime import PRECISIONS

        if self.precision not in PRECISIONS:
            raise ValueError(f"precision={self.precision!r}: expected one of {PRECISIONS}")
        if (self.steps is not None and self.steps < 0) or self.batch_size < 1 or self.log_every < 1:
            raise ValueError("steps ≥ 0 (or None), batch_size ≥ 1 and log_every ≥ 1 are required")
        for name in ("sample_every", "checkpoint_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name}={value}: give a number of steps ≥ 1, or None for off")

    def differences(self, saved: dict) -> list[str]:
        """``"lr_g 0.0002 → 0.001"`` for every field that changes training and differs from ``saved``."""
        changed = []
        for field in fields(self):
            if field.name in self.RESUMABLE or field.name not in saved:
                continue
            mine, theirs = getattr(self, field.name), saved[field.name]
            if isinstance(mine, tuple):
                mine = list(mine)
            if mine != theirs:
                changed.append(f"{field.name} {theirs} → {mine}")
        return changed


class Callback:
    """Hooks a notebook attaches to a trainer; every method is optional. They run on rank 0 only."""

    def on_train_start(self, trainer: Trainer) -> None: ...

    def on_step_start(self, trainer: Trainer) -> None:
        """Before every step (``trainer.step`` steps are done); runs on every rank; keep it cheap and free of host syncs."""

    def on_step_end(self, trainer: Trainer) -> None:
        """After a step's logging and sampling, before its checkpoint; ``trainer.finishing`` is true on the last step."""

    def on_log(self, trainer: Trainer) -> None:
        """After losses up to ``trainer.step`` were appended to ``trainer.history``."""

    def on_sample(self, trainer: Trainer, images: torch.Tensor) -> None:
        """``images``: the fixed-noise samples as uint8 ``(n_samples, C, H, W)`` on the CPU."""

    def on_metrics(self, trainer: Trainer, result: dict) -> None:
        """After a quality evaluation (see ``callbacks.QualityTracker``)."""

    def on_train_end(self, trainer: Trainer) -> None: ...

    def state_dict(self) -> dict | None:
        """What the callback must keep across a resume (``None``: nothing)."""
        return None

    def load_state_dict(self, state: dict) -> None: ...


class Trainer:
    """The loop; subclasses define :meth:`train_step`, :meth:`sample`, :meth:`generate` and register their state.

    In ``__init__`` a subclass fills ``self.models`` (bare modules by name), ``self.optimizers``
    (by the same names), optionally ``self.ema``, ``self.schedulers`` and ``self.fixed_noise``,
    and lists its loss names in ``history_keys``. ``out_dir`` receives ``config.json``,
    checkpoints (``step_*.pt``) and TensorBoard logs; :meth:`fit` resumes from the newest
    checkpoint there unless ``resume=False``.
    """

    history_keys: tuple[str, ...] = ("loss",)

    def __init__(self, data: DeviceImageDataset, *, config: TrainConfig, out_dir: str | Path | None = None,
                 callbacks=(), progress: bool = True, rank: int | None = None) -> None:
        self.config = config
        self.data = data
        self.device = data.device
        self.rank, self.world_size = distributed()
        if rank is not None:  # a test pretending to be another process
            self.rank = rank
        self.precision = pick_precision(config.precision, self.device)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.callbacks = list(callbacks)
        self.progress = progress
        self.step = 0
        self.elapsed = 0.0  # seconds of training so far, earlier sessions included
        self.finishing = False  # true while the last step's logging, sampling and saving run
        self.history: dict[str, list[float]] = {"step": [], **{k: [] for k in self.history_keys}}
        self.samples: list[torch.Tensor] = []  # fixed-noise grids taken in this session, uint8 on the CPU
        self.sample_steps: list[int] = []  # the step of each grid in ``samples``
        self.last_checkpoint: Path | None = None
        self.resumed_step: int | None = None  # the step a resume landed on (None: this trainer started afresh)
        self.models: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}
        self.ema: EMA | None = None
        self.scalers: dict[str, torch.amp.GradScaler] = {}
        self.streams = {name: torch.Generator(device=self.device).manual_seed(stream_seed(config.seed, self.rank, i))
                        for i, name in enumerate(("data", "noise"))}
        self._buffer: torch.Tensor | None = None
        self._buffered_steps: list[int] = []
        self._saved_at = 0.0  # ``elapsed`` at the last step checkpoint
        self._started = self._before = self._excluded = 0.0  # the clock of the current fit() call

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

    # ----------------------------------------------------------------- what every family uses
    def autocast(self):
        """The precision context for forward passes (a no-op in fp32)."""
        return autocast(self.device, self.precision)

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module a training step calls: ``model`` itself in one process; across processes, the model
        in ``DistributedDataParallel`` (its batch norms made ``SyncBatchNorm`` on CUDA, which is where torch
        supports it) — call it before building the weight average, and keep the bare model for the rest."""
        if self.world_size == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        # find_unused_parameters: a growing network (ProGAN) leaves the blocks of other levels unused, and
        # its fade-in path after the fade; DDP must not wait for their gradients
        return DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                                       find_unused_parameters=True)

    def release(self) -> None:
        """Drop the ``DistributedDataParallel`` wrappers (their gradient hooks go with them), so that another
        trainer can wrap the same models: the progressive GAN's next level does."""
        import gc

        for name in [k for k, v in vars(self).items() if type(v).__name__ == "DistributedDataParallel"]:
            setattr(self, name, getattr(self, name).module)
        gc.collect()

    def sync_batch_norm(self, model: nn.Module) -> nn.Module:
        """``model`` with ``SyncBatchNorm`` layers when several CUDA processes train it (CPU processes keep
        per-process batch statistics: torch's SyncBatchNorm runs on GPUs only)."""
        if self.world_size > 1 and self.device.type == "cuda":
            return nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return model

    def add_optimizer(self, name: str, optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
        """Register ``optimizer`` under ``name`` (saved and resumed), with a gradient scaler in fp16."""
        self.optimizers[name] = optimizer
        if self.precision == "fp16":
            self.scalers[name] = torch.amp.GradScaler(self.device.type)
        return optimizer

    def zero_grad(self, name: str) -> None:
        """Clear optimiser ``name``'s gradients: to ``None`` in one process; to zeros across processes, where DDP
        must find a gradient on a weight that stopped being used (the fade-in path once the fade is over)."""
        self.optimizers[name].zero_grad(set_to_none=self.world_size == 1)

    def optimize(self, name: str, loss: torch.Tensor, *, clip: float | None = None) -> None:
        """Backward ``loss`` and step optimiser ``name`` (through its gradient scaler in fp16; gradients clipped to
        norm ``clip`` when given). Call :meth:`zero_grad` before the forward pass."""
        optimizer, scaler = self.optimizers[name], self.scalers.get(name)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if scaler is None:
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(params, clip)
            optimizer.step()
            return
        scaler.scale(loss).backward()
        if clip:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(params, clip)
        scaler.step(optimizer)
        scaler.update()

    def batch(self, batch_size: int | None = None, *, with_index: bool = False):
        """A random real batch from this process's data stream."""
        return self.data.sample(batch_size or self.config.batch_size, with_index=with_index,
                                generator=self.streams["data"])

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
        """Copy buffered losses to the host (the one sync), check they are finite, extend the history."""
        if not self._buffered_steps:
            return
        values = self._buffer[: len(self._buffered_steps)].cpu()
        bad = ~torch.isfinite(values).all(dim=1)
        if bad.any():
            row = int(bad.nonzero()[0])
            kept = f"; the last good checkpoint is {self.last_checkpoint}" if self.last_checkpoint else ""
            names = [k for k, v in zip(self.history_keys, values[row].tolist()) if not math.isfinite(v)]
            raise FloatingPointError(f"{', '.join(names)} became NaN or infinite at step {self._buffered_steps[row]}: "
                                     f"training stopped{kept}")
        self.history["step"].extend(self._buffered_steps)
        for i, key in enumerate(self.history_keys):
            self.history[key].extend(values[:, i].tolist())
        self._buffered_steps = []
        if self.rank == 0:
            for callback in self.callbacks:
                callback.on_log(self)

    def _take_sample(self) -> None:
        images = self.sample()
        self.samples.append(images)
        self.sample_steps.append(self.step)
        for callback in self.callbacks:
            callback.on_sample(self, images)

    # ----------------------------------------------------------------- checkpoints
    def _random_state(self) -> dict:
        state = {name: g.get_state() for name, g in self.streams.items()}
        state["torch"] = torch.get_rng_state()
        if self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def _set_random_state(self, state: dict) -> None:
        for name, generator in self.streams.items():
            generator.set_state(state[name])
        torch.set_rng_state(state["torch"])
        if self.device.type == "cuda" and "cuda" in state:
            torch.cuda.set_rng_state(state["cuda"], self.device)

    def save(self, filename: str | None = None) -> Path | None:
        """Write a checkpoint of everything needed to resume (on rank 0, with ``out_dir`` set).

        ``filename`` (e.g. ``"best.pt"``) writes that file, which resume ignores. Across processes every
        rank calls it for a step checkpoint (the ranks' random states are gathered into the one file);
        a named file is rank 0's alone.
        """
        if self.out_dir is None:
            return None
        self._flush()
        gathered = [self._random_state()]
        if self.world_size > 1 and filename is None:  # every rank's streams, for an exact resume
            gathered = [None] * self.world_size
            torch.distributed.all_gather_object(gathered, self._random_state())
        if self.rank != 0:
            return None
        callbacks = {f"{i}:{type(c).__name__}": c.state_dict() for i, c in enumerate(self.callbacks)}
        path = save_checkpoint(
            self.out_dir, step=self.step, models=self.models, optimizers=self.optimizers, ema=self.ema,
            config=asdict(self.config), history=self.history, filename=filename,
            extra={"elapsed": self.elapsed, "random": gathered, "world_size": self.world_size,
                   "scalers": {n: s.state_dict() for n, s in self.scalers.items()},
                   "schedulers": {n: s.state_dict() for n, s in self.schedulers.items()},
                   "callbacks": {k: v for k, v in callbacks.items() if v is not None}})
        if filename is None:
            self.last_checkpoint = path
            self._saved_at = self.elapsed
        return path

    def resume(self) -> bool:
        """Load the newest good checkpoint in ``out_dir``; ``False`` when there is none.

        Refused (:class:`ConfigMismatch`, nothing loaded) when the checkpoint was trained with another
        configuration; a damaged newest checkpoint is skipped with a warning.
        """
        if self.out_dir is None or not list_checkpoints(self.out_dir):
            return False
        self._check_config(self.out_dir)
        found = load_newest(self.out_dir, models=self.models, optimizers=self.optimizers, ema=self.ema,
                            map_location=self.device)
        if found is None:
            return False
        path, state = found
        self.step = state["step"]
        self.elapsed = float(state.get("elapsed", 0.0))
        self.history = {"step": [], **{k: [] for k in self.history_keys}, **state["history"]}
        self.history.pop("metrics", None)  # kept by the quality tracker now
        for name, scaler in self.scalers.items():
            if name in state.get("scalers", {}):
                scaler.load_state_dict(state["scalers"][name])
        for name, scheduler in self.schedulers.items():
            if name in state.get("schedulers", {}):
                scheduler.load_state_dict(state["schedulers"][name])
        randomness = state.get("random") or []
        if self.rank < len(randomness):
            self._set_random_state(randomness[self.rank])
        else:  # written by fewer processes (or before random states were kept): fresh streams for this step
            for i, generator in enumerate(self.streams.values()):
                generator.manual_seed(stream_seed(self.config.seed + self.step, self.rank, i))
        saved = state.get("callbacks", {})
        for i, callback in enumerate(self.callbacks):
            key = f"{i}:{type(callback).__name__}"
            if key in saved:
                callback.load_state_dict(saved[key])
        self.last_checkpoint = path
        self.resumed_step = self.step
        return True

    def _check_config(self, folder: Path) -> None:
        """Refuse to resume a run of other models, or one trained with another configuration (naming each difference)."""
        info = folder / "config.json"
        if not info.is_file():
            return
        written = json.loads(info.read_text())
        for name, model in self.models.items():
            if name in written and written[name] != model_signature(model):
                raise CheckpointMismatch(f"{folder} holds a run of {written[name]}; this {name} is "
                                         f"{model_signature(model)}: choose another out_dir, or resume=False")
        changed = self.config.differences(written.get("train", {}))
        if changed:
            raise ConfigMismatch(f"{folder} holds a run trained with other settings ({', '.join(changed)}): "
                                 "fit(resume=False) starts this configuration afresh there, or choose another out_dir")

    def _write_config(self) -> None:
        if self.out_dir is None or self.rank != 0:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        info = {"train": asdict(self.config), **{name: model_signature(m) for name, m in self.models.items()},
                "dataset_size": len(self.data), "image_shape": list(self.data.image_shape),
                "device": str(self.device), "precision": self.precision, "world_size": self.world_size}
        (self.out_dir / "config.json").write_text(json.dumps(info, indent=2))

    # ----------------------------------------------------------------- the loop
    def _training_seconds(self) -> float:
        """Seconds of training in all: this call's wall time, minus what went to samples, quality evaluations and
        checkpoints, plus the seconds of earlier sessions."""
        return self._before + time.perf_counter() - self._started - self._excluded

    def _clock(self, seconds: float | None) -> tuple[bool, bool]:
        """(the time budget is spent, a timed checkpoint is due); across processes rank 0's clock decides for
        every rank, at log steps, so that all stop and save at the same step."""
        every = self.config.checkpoint_seconds
        if (seconds is None and not every) or (self.world_size > 1 and self.step % self.config.log_every):
            return False, False
        now = self._training_seconds()
        if seconds is not None and now >= seconds and self.world_size == 1:
            synchronize(self.device)  # the queued work counts too
            now = self._training_seconds()
        stop = seconds is not None and now >= seconds
        due = bool(every) and now - self._saved_at >= every
        if self.world_size > 1:
            flags = torch.tensor([float(stop), float(due)], device=self.device)
            torch.distributed.broadcast(flags, src=0)
            stop, due = (bool(v) for v in flags.tolist())
        return stop, due

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
        if self.config.tensorboard and self.out_dir is not None and self.rank == 0 and \
                not any(type(c).__name__ == "TensorBoardLogger" for c in self.callbacks):
            from .callbacks import TensorBoardLogger

            self.callbacks.append(TensorBoardLogger(self.out_dir / "tensorboard"))
        if self.rank == 0:
            for callback in self.callbacks:
                callback.on_train_start(self)
        for model in self.models.values():
            model.train()
        cfg = self.config
        if self._buffer is None or len(self._buffer) != cfg.log_every:
            self._buffer = torch.zeros(cfg.log_every, len(self.history_keys), device=self.device)
        bar = tqdm(total=total if seconds is None else None, initial=self.step, unit="step", dynamic_ncols=True,
                   desc="training" if seconds is None else f"training for {seconds:g} s",
                   disable=not self.progress or self.rank != 0)
        self._started, self._before, self._excluded = time.perf_counter(), self.elapsed, 0.0
        self._saved_at = self.elapsed
        self.finishing = False
        if seconds is not None and self.step > 0 and self.elapsed >= seconds:
            total = self.step  # a resumed run whose time was already spent: nothing left to train
        try:
            if self.step == 0 and self.rank == 0:
                self._take_sample()
                self._excluded = time.perf_counter() - self._started
            while total is None or self.step < total:
                for callback in self.callbacks:
                    callback.on_step_start(self)
                self._buffer[len(self._buffered_steps)] = self.train_step()
                self.step += 1
                self._buffered_steps.append(self.step)
                bar.update(1)
                out_of_time, timed_checkpoint = self._clock(seconds)
                if out_of_time:
                    total = self.step  # out of time: this step is the last
                self.finishing = self.step == total
                self.elapsed = self._training_seconds()
                if len(self._buffered_steps) == cfg.log_every or self.finishing:
                    self._flush()
                    bar.set_postfix({k: f"{self.history[k][-1]:.3f}" for k in self.history_keys}, refresh=False)
                aside = time.perf_counter()  # samples, evaluations and checkpoints do not count as training time
                if self.rank == 0:
                    if (cfg.sample_every and self.step % cfg.sample_every == 0) or self.finishing:
                        self._flush()
                        self._take_sample()
                    for callback in self.callbacks:
                        callback.on_step_end(self)
                if ((cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0) or timed_checkpoint) \
                        and not self.finishing:
                    self.save()
                self._excluded += time.perf_counter() - aside
            self.elapsed = self._training_seconds()
            self.save()
        finally:
            bar.close()
            self.finishing = False
        if self.rank == 0:
            for callback in self.callbacks:
                callback.on_train_end(self)
        return self.history

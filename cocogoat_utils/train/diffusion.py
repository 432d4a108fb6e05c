"""Training a denoising diffusion model with the same machinery as the GANs.

Like :class:`~cocogoat_utils.train.GANTrainer`: data on the device, bf16 autocast on CUDA,
fused Adam, an EMA of the weights that the samples come from, losses read from the
device once per ``log_every`` steps (a NaN stops training), fixed-noise sample grids
(DDIM, few steps, so that they are cheap), the same callbacks, atomic checkpoints and
resume.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from ..checkpoint import latest_checkpoint, load_checkpoint, model_signature, save_checkpoint
from ..data import DeviceImageDataset, to_uint8
from ..diffusion import PREDICTIONS, NoiseSchedule, ddim_sample, ddpm_sample, diffusion_loss
from .gan import EMA, Callback, eval_mode, make_adam


@dataclass(frozen=True)
class DiffusionTrainConfig:
    """Every knob of a diffusion run; written to ``config.json`` beside the checkpoints."""

    steps: int = 10_000
    batch_size: int = 64
    lr: float = 2e-4
    warmup: int = 500  # steps of linear learning-rate warm-up
    grad_clip: float = 1.0
    schedule: str = "linear"  # or "cosine"
    T: int = 1000
    prediction: str = "eps"  # or "v"
    p_uncond: float = 0.1  # with labels: how often the label is dropped (classifier-free guidance)
    ema_decay: float | None = 0.999
    amp: bool = True
    log_every: int = 50
    sample_every: int = 1000
    sample_steps: int = 50  # DDIM steps for the sample grids
    checkpoint_every: int = 1000
    n_samples: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"prediction={self.prediction!r}: expected one of {PREDICTIONS}")
        NoiseSchedule.make(self.schedule, 2)
        if self.steps < 0 or self.batch_size < 1 or self.log_every < 1 or not 1 <= self.sample_steps <= self.T:
            raise ValueError("steps ≥ 0, batch_size ≥ 1, log_every ≥ 1 and 1 ≤ sample_steps ≤ T are required")


class DiffusionTrainer:
    """Trains ``model`` (``model(x_t, t, labels)``) to denoise a :class:`DeviceImageDataset`.

    ``labels`` (one integer per image, ``0 … num_classes − 1``) make it a class-conditional
    model with classifier-free guidance. ``history`` holds ``step`` and ``loss``.
    """

    def __init__(self, model: nn.Module, data: DeviceImageDataset, *, config: DiffusionTrainConfig,
                 labels: torch.Tensor | None = None, num_classes: int | None = None, out_dir: str | Path | None = None,
                 callbacks: list[Callback] | tuple[Callback, ...] = (), progress: bool = True) -> None:
        if (labels is None) != (num_classes is None):
            raise ValueError("give both labels and num_classes, or neither")
        if labels is not None and len(labels) != len(data):
            raise ValueError(f"{len(labels)} labels for {len(data)} images")
        self.config = config
        self.device = data.device
        self.model = model.to(self.device)
        self.data = data
        self.labels = None if labels is None else labels.to(self.device)
        self.num_classes = num_classes
        self.schedule = NoiseSchedule.make(config.schedule, config.T)
        self.optimizer = make_adam(model.parameters(), lr=config.lr, betas=(0.9, 0.999), device=self.device)
        self.lr_schedule = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._warmup)
        self.ema = EMA(self.model, config.ema_decay) if config.ema_decay else None
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.callbacks = list(callbacks)
        self.progress = progress
        self.step = 0
        self.history: dict[str, list[float]] = {"step": [], "loss": []}
        self.samples: list[torch.Tensor] = []
        self.sample_steps: list[int] = []
        self.last_checkpoint: Path | None = None
        self._generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.sample_labels = None
        if labels is not None:  # the fixed grid shows the classes in turn
            self.sample_labels = torch.arange(config.n_samples, device=self.device) % num_classes
        self._buffer = torch.zeros(config.log_every, device=self.device)
        self._buffered_steps: list[int] = []

    def _warmup(self, step: int) -> float:
        """The learning-rate factor after ``step`` steps: linear warm-up to 1 over ``warmup`` steps."""
        return min(1.0, (step + 1) / max(1, self.config.warmup))

    def autocast(self):
        enabled = self.config.amp and self.device.type == "cuda"
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=enabled)

    @property
    def sampler(self) -> nn.Module:
        """The network to sample from: the EMA when there is one."""
        return self.ema.module if self.ema is not None else self.model

    def train_step(self) -> torch.Tensor:
        """One optimisation step on a random batch; returns the loss as a device tensor."""
        x0, index = self.data.sample(self.config.batch_size, with_index=True)
        labels = None if self.labels is None else self.labels[index]
        with self.autocast():
            loss = diffusion_loss(self.model, self.schedule, x0, labels=labels, num_classes=self.num_classes,
                                  p_uncond=self.config.p_uncond, prediction=self.config.prediction,
                                  generator=self._generator)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.lr_schedule.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        return loss.detach()

    @torch.no_grad()
    def sample(self, n: int | None = None, *, steps: int | None = None, eta: float = 0.0, sampler: str = "ddim",
               labels: torch.Tensor | None = None, guidance: float = 1.0, seed: int | None = None,
               progress: bool = False) -> torch.Tensor:
        """``n`` images (default: the fixed grid) as uint8 on the CPU, from the EMA in eval mode.

        ``sampler="ddpm"`` runs all ``T`` steps; ``"ddim"`` runs ``steps`` (default ``sample_steps``).
        """
        n = n or self.config.n_samples
        if labels is None and self.sample_labels is not None and n == self.config.n_samples:
            labels = self.sample_labels
        generator = torch.Generator(device=self.device).manual_seed(self.config.seed + 1 if seed is None else seed)
        shape = (n, *self.data.image_shape)
        common = dict(labels=labels, null_label=self.num_classes, guidance=guidance,
                      prediction=self.config.prediction, generator=generator, device=self.device, progress=progress)
        with eval_mode(self.sampler), self.autocast():
            if sampler == "ddpm":
                images, _ = ddpm_sample(self.sampler, self.schedule, shape, **common)
            else:
                images, _ = ddim_sample(self.sampler, self.schedule, shape, steps=steps or self.config.sample_steps,
                                        eta=eta, **common)
        return to_uint8(images).cpu()

    def _take_sample(self) -> None:
        images = self.sample()
        self.samples.append(images)
        self.sample_steps.append(self.step)
        for callback in self.callbacks:
            callback.on_sample(self, images)

    def _flush(self) -> None:
        if not self._buffered_steps:
            return
        values = self._buffer[: len(self._buffered_steps)].cpu()
        if not torch.isfinite(values).all():
            first = self._buffered_steps[int((~torch.isfinite(values)).nonzero()[0])]
            kept = f"; the last good checkpoint is {self.last_checkpoint}" if self.last_checkpoint else ""
            raise FloatingPointError(f"the loss became NaN or infinite at step {first}: training stopped{kept}")
        self.history["step"].extend(self._buffered_steps)
        self.history["loss"].extend(values.tolist())
        self._buffered_steps = []
        for callback in self.callbacks:
            callback.on_log(self)

    def save(self, filename: str | None = None) -> Path | None:
        """Write a checkpoint (``step_<step>.pt``, or ``filename``, which resume ignores) when ``out_dir`` is set."""
        if self.out_dir is None:
            return None
        self._flush()
        path = save_checkpoint(
            self.out_dir, step=self.step, models={"model": self.model}, optimizers={"model": self.optimizer},
            ema=self.ema, config=asdict(self.config), history=dict(self.history), filename=filename)
        if filename is None:
            self.last_checkpoint = path
        return path

    def resume(self) -> bool:
        """Load the newest ``step_*.pt`` in ``out_dir``; ``False`` when there is none."""
        path = latest_checkpoint(self.out_dir) if self.out_dir is not None else None
        if path is None:
            return False
        state = load_checkpoint(path, models={"model": self.model}, optimizers={"model": self.optimizer},
                                ema=self.ema, map_location=self.device)
        self.step = state["step"]
        self.history = {"step": [], "loss": [], **state["history"]}
        self.last_checkpoint = path
        self.lr_schedule.last_epoch = self.step  # where the warm-up had got to
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.lr * self._warmup(self.step)
        self._generator.manual_seed(self.config.seed + self.step)
        return True

    def fit(self, steps: int | None = None, *, resume: bool = True, seconds: float | None = None) -> dict[str, list[float]]:
        """Train until ``steps`` (default ``config.steps``) in total, or for ``seconds`` of wall time."""
        total = self.config.steps if steps is None else steps
        deadline = None if seconds is None else time.perf_counter() + seconds
        if resume:
            self.resume()
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            info = {"train": asdict(self.config), "model": model_signature(self.model), "dataset_size": len(self.data),
                    "image_shape": list(self.data.image_shape), "num_classes": self.num_classes}
            (self.out_dir / "config.json").write_text(json.dumps(info, indent=2))
        for callback in self.callbacks:
            callback.on_train_start(self)
        self.model.train()
        cfg = self.config
        bar = tqdm(total=total if deadline is None else None, initial=self.step, unit="step", dynamic_ncols=True,
                   desc="training" if deadline is None else f"training for {seconds:g} s", disable=not self.progress)
        try:
            if self.step == 0:
                self._take_sample()
            while self.step < total:
                self._buffer[len(self._buffered_steps)] = self.train_step()
                self.step += 1
                self._buffered_steps.append(self.step)
                bar.update(1)
                if deadline is not None and time.perf_counter() >= deadline:
                    total = self.step
                if len(self._buffered_steps) == cfg.log_every or self.step == total:
                    self._flush()
                    bar.set_postfix(loss=f"{self.history['loss'][-1]:.4f}", refresh=False)
                if self.step % cfg.sample_every == 0 or self.step == total:
                    self._flush()
                    self._take_sample()
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0 and self.step < total:
                    self.save()
            self.save()
        finally:
            bar.close()
        for callback in self.callbacks:
            callback.on_train_end(self)
        return self.history

"""The GAN training loop, shared by every generator/discriminator pair, and its callbacks.

One step (:meth:`GANTrainer.train_step`) is the loop of the PyTorch DCGAN tutorial
written as named functions: :meth:`~GANTrainer.discriminator_step` scores a real and a
generated batch and updates D; :meth:`~GANTrainer.generator_step` scores the same fakes
again and updates G (optionally ``g_steps_per_d_step`` times with fresh noise, the
Spanish tutorial's trick when D wins too fast).

Built for speed on a GPU: the dataset and DiffAugment stay on the device, bf16 autocast,
fused Adam, and no host sync inside a step — losses are written to a device buffer and
read once every ``log_every`` steps, where NaN/inf is also caught. Models and
optimisers are built outside and handed in, so the same trainer can run under
``torchrun``; sampling, logging and checkpoints happen on ``rank == 0`` only.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from ..augment import DIFF_AUGMENTS, diff_augment
from ..checkpoint import latest_checkpoint, load_checkpoint, model_signature, save_checkpoint
from ..data import DeviceImageDataset, to_uint8
from ..models.msggan import image_pyramid
from ..losses import get_loss, gradient_penalty, r1_penalty

HISTORY_KEYS = ("d_loss", "g_loss", "d_real", "d_fake")  # d_real/d_fake: mean σ(D(·)), the tutorial's D(x), D(G(z))


class EMA(nn.Module):
    """An exponential moving average of a model's weights: ``ema ← decay·ema + (1 − decay)·model``.

    Sampling from the average gives smoother, often better images than the last weights
    (Karras et al. 2018; Yazıcı et al. 2019). One fused ``lerp`` over all tensors per
    update and no host sync, unlike ``AveragedModel``, whose counter check waits for the GPU.
    Integer buffers (batch-norm's ``num_batches_tracked``) are copied.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        super().__init__()
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema decay={decay}: must be between 0 and 1")
        self.decay = decay
        self.module = copy.deepcopy(model).requires_grad_(False)

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        ema = [t for t in (*self.module.parameters(), *self.module.buffers()) if t.is_floating_point()]
        new = [t.detach() for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
        torch._foreach_lerp_(ema, new, 1.0 - self.decay)
        for mine, theirs in zip(self.module.buffers(), model.buffers()):
            if not mine.is_floating_point():
                mine.copy_(theirs)


@dataclass(frozen=True)
class GANTrainConfig:
    """Every knob of a GAN run; written to ``config.json`` beside the checkpoints."""

    steps: int = 1000
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    loss: str = "bce"
    g_steps_per_d_step: int = 1
    ema_decay: float | None = None  # e.g. 0.999: sample from an exponential moving average of G
    diffaugment: str | None = None  # e.g. "color,translation,cutout"
    amp: bool = True  # bf16 autocast on CUDA (ignored elsewhere)
    log_every: int = 50  # steps between host reads of the losses
    sample_every: int = 250  # steps between fixed-noise sample grids
    checkpoint_every: int = 1000  # steps between checkpoints (0: only at the end)
    n_samples: int = 64  # images in each fixed-noise grid
    tensorboard: bool = False
    seed: int = 0
    metric_every: int = 0  # steps between quality evaluations (needs ``quality=``; 0: only at the end)
    metric_samples: int = 1000  # generated images per evaluation, from one fixed noise batch
    r1_gamma: float = 0.0  # weight γ of the R1 penalty on D's gradient at real images (0: off)
    gp_lambda: float = 0.0  # weight λ of the WGAN-GP gradient penalty between real and fake (0: off; 10 with "wgan")

    def __post_init__(self) -> None:
        get_loss(self.loss)
        if self.diffaugment:
            unknown = {p.strip() for p in self.diffaugment.split(",") if p.strip()} - set(DIFF_AUGMENTS)
            if unknown:
                raise ValueError(f"unknown DiffAugment {sorted(unknown)}; choose from {sorted(DIFF_AUGMENTS)}")
        if self.g_steps_per_d_step < 1:
            raise ValueError("g_steps_per_d_step must be at least 1")
        if self.r1_gamma < 0 or self.gp_lambda < 0:
            raise ValueError(f"r1_gamma={self.r1_gamma}, gp_lambda={self.gp_lambda}: both must be ≥ 0")
        if self.steps < 0 or self.batch_size < 1 or self.log_every < 1:
            raise ValueError("steps ≥ 0, batch_size ≥ 1 and log_every ≥ 1 are required")


def make_adam(params, *, lr: float, betas: tuple[float, float], device: torch.device) -> torch.optim.Adam:
    """Adam, fused into one kernel per step on CUDA."""
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=device.type == "cuda")


class Callback:
    """Hooks a notebook can attach to a trainer; every method is optional."""

    def on_train_start(self, trainer: GANTrainer) -> None: ...

    def on_step_start(self, trainer: GANTrainer) -> None:
        """Before every training step (``trainer.step`` steps are done); keep it cheap and free of host syncs."""

    def on_log(self, trainer: GANTrainer) -> None:
        """After losses up to ``trainer.step`` were appended to ``trainer.history``."""

    def on_sample(self, trainer: GANTrainer, images: torch.Tensor) -> None:
        """``images``: the fixed-noise samples as uint8 ``(n_samples, C, H, W)`` on the CPU."""

    def on_metrics(self, trainer: GANTrainer, result: dict) -> None:
        """After a quality evaluation; ``result`` is the latest entry of ``trainer.metrics``."""

    def on_train_end(self, trainer: GANTrainer) -> None: ...


class GANTrainer:
    """Trains ``generator`` against ``discriminator`` on a :class:`DeviceImageDataset`.

    ``out_dir`` receives ``config.json``, checkpoints (``step_*.pt``) and TensorBoard
    logs. :meth:`fit` resumes from the newest checkpoint there when ``resume=True``.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        data: DeviceImageDataset,
        *,
        config: GANTrainConfig,
        out_dir: str | Path | None = None,
        callbacks: list[Callback] | tuple[Callback, ...] = (),
        g_optimizer: torch.optim.Optimizer | None = None,
        d_optimizer: torch.optim.Optimizer | None = None,
        rank: int = 0,
        progress: bool = True,
        quality=None,
    ) -> None:
        self.config = config
        self.quality = quality  # a metrics.QualityMetrics, evaluated every ``metric_every`` steps
        self.device = data.device
        self.generator = generator.to(self.device)
        self.discriminator = discriminator.to(self.device)
        self.data = data
        self.loss = get_loss(config.loss)
        self.latent_dim = int(getattr(generator, "latent_dim"))
        self.g_optimizer = g_optimizer or make_adam(generator.parameters(), lr=config.lr_g, betas=config.betas, device=self.device)
        self.d_optimizer = d_optimizer or make_adam(discriminator.parameters(), lr=config.lr_d, betas=config.betas, device=self.device)
        self.ema = None
        if config.ema_decay:
            self.ema = EMA(self.generator, config.ema_decay)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.callbacks = list(callbacks)
        self.rank = rank
        self.progress = progress
        self.step = 0
        self.history: dict[str, list[float]] = {"step": [], **{k: [] for k in HISTORY_KEYS}}
        self.samples: list[torch.Tensor] = []  # fixed-noise grids taken in this session, uint8 on the CPU
        self.sample_steps: list[int] = []  # the step of each grid in ``samples``
        self.last_checkpoint: Path | None = None
        self.metrics: list[dict] = []  # one entry per quality evaluation: {"step", "fd", "kid", …}
        self.best_checkpoint: Path | None = None
        self.collapse_step: int | None = None  # the first evaluation whose diversity fell below the threshold
        self._seed_generator = torch.Generator(device=self.device).manual_seed(config.seed)
        fixed = torch.Generator().manual_seed(config.seed)
        self.fixed_noise = torch.randn(config.n_samples, self.latent_dim, generator=fixed).to(self.device)
        self._buffer = torch.zeros(config.log_every, len(HISTORY_KEYS), device=self.device)
        self._buffered_steps: list[int] = []
        self._writer = None

    # ----------------------------------------------------------------- one step
    def autocast(self):
        enabled = self.config.amp and self.device.type == "cuda"
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=enabled)

    def noise(self, batch_size: int) -> torch.Tensor:
        return torch.randn(batch_size, self.latent_dim, device=self.device, generator=self._seed_generator)

    def augment(self, images):
        """DiffAugment (when configured) of a batch, or of every scale of a multi-scale batch."""
        if not self.config.diffaugment:
            return images
        if isinstance(images, (list, tuple)):
            return [diff_augment(x, self.config.diffaugment, generator=self._seed_generator) for x in images]
        return diff_augment(images, self.config.diffaugment, generator=self._seed_generator)

    def discriminator_step(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Update D on a real and a (detached) fake batch; returns (loss, mean σ(D(real)), mean σ(D(fake)))."""
        self.d_optimizer.zero_grad(set_to_none=True)
        real = self.augment(real)
        if self.config.r1_gamma:
            real = _map(real, lambda x: x.detach().requires_grad_(True))
        with self.autocast():
            real_logits = self.discriminator(real).float()
            fake_logits = self.discriminator(self.augment(_map(fake, torch.Tensor.detach))).float()
            loss = self.loss.discriminator(real_logits, fake_logits)
            if self.config.r1_gamma:
                loss = loss + r1_penalty(real_logits, real, self.config.r1_gamma)
            if self.config.gp_lambda:
                loss = loss + gradient_penalty(self.discriminator, real, self.augment(_map(fake, torch.Tensor.detach)),
                                               self.config.gp_lambda, generator=self._seed_generator)
        loss.backward()
        self.d_optimizer.step()
        return loss.detach(), torch.sigmoid(real_logits.detach()).mean(), torch.sigmoid(fake_logits.detach()).mean()

    def generator_step(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """Update G so that D scores ``fake`` (still attached to G's graph) as real; returns the loss."""
        self.g_optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            real_logits = None
            if self.loss.generator_uses_real:
                with torch.no_grad():
                    real_logits = self.discriminator(self.augment(real)).float()
            loss = self.loss.generator(real_logits, self.discriminator(self.augment(fake)).float())
        loss.backward()
        self.g_optimizer.step()
        return loss.detach()

    def train_step(self) -> torch.Tensor:
        """One D update and ``g_steps_per_d_step`` G updates; returns the step's losses as one device tensor."""
        batch_size = self.config.batch_size
        real = self.data.sample(batch_size)
        with self.autocast():
            fake = self.generator(self.noise(batch_size))
        real = self.match_real(real, fake)
        d_loss, d_real, d_fake = self.discriminator_step(real, fake)
        g_loss = self.generator_step(real, fake)
        for _ in range(self.config.g_steps_per_d_step - 1):
            with self.autocast():
                fake = self.generator(self.noise(batch_size))
            g_loss = self.generator_step(real, fake)
        if self.ema is not None:
            self.ema.update_parameters(self.generator)
        return torch.stack([d_loss, g_loss, d_real, d_fake])

    def match_real(self, real: torch.Tensor, fake) -> torch.Tensor | list[torch.Tensor]:
        """The real batch in the form D compares with ``fake``: every scale for a multi-scale generator; the
        generator's ``match_real`` for one that draws at a changing resolution (a progressive GAN); else as is."""
        if isinstance(fake, (list, tuple)):
            return image_pyramid(real, len(fake))
        if hasattr(self.generator, "match_real"):
            return self.generator.match_real(real)
        return real

    # ----------------------------------------------------------------- around the steps
    @property
    def sampler(self) -> nn.Module:
        """The network to sample from: the EMA generator when there is one."""
        return self.ema.module if self.ema is not None else self.generator

    @torch.no_grad()
    def sample(self, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Images for ``noise`` (default: the fixed noise) as uint8 on the CPU, generator in eval mode."""
        return self.sample_scales(noise)[-1]

    @torch.no_grad()
    def sample_scales(self, noise: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Like :meth:`sample`, but every scale a multi-scale generator draws (one item for any other)."""
        noise = self.fixed_noise if noise is None else noise.to(self.device)
        with eval_mode(self.sampler), self.autocast():
            images = self.sampler(noise)
        return [to_uint8(x).cpu() for x in (images if isinstance(images, (list, tuple)) else [images])]

    def _flush(self) -> None:
        """Copy buffered losses to the host (the one sync), check they are finite, extend the history."""
        if not self._buffered_steps:
            return
        values = self._buffer[: len(self._buffered_steps)].cpu()
        bad = ~torch.isfinite(values).all(dim=1)
        if bad.any():
            first = self._buffered_steps[int(bad.nonzero()[0])]
            kept = f"; the last good checkpoint is {self.last_checkpoint}" if self.last_checkpoint else ""
            names = [k for k, v in zip(HISTORY_KEYS, values[int(bad.nonzero()[0])].tolist()) if not math.isfinite(v)]
            raise FloatingPointError(f"{', '.join(names)} became NaN or infinite at step {first}: training stopped{kept}")
        self.history["step"].extend(self._buffered_steps)
        for i, key in enumerate(HISTORY_KEYS):
            self.history[key].extend(values[:, i].tolist())
        if self._writer is not None:
            for step, row in zip(self._buffered_steps, values.tolist()):
                for key, value in zip(HISTORY_KEYS, row):
                    self._writer.add_scalar(f"train/{key}", value, step)
        self._buffered_steps = []
        if self.rank == 0:
            for callback in self.callbacks:
                callback.on_log(self)

    def _take_sample(self) -> None:
        images = self.sample()
        self.samples.append(images)
        self.sample_steps.append(self.step)
        if self._writer is not None:
            from torchvision.utils import make_grid

            self._writer.add_image("samples", make_grid(images, nrow=8), self.step)
        for callback in self.callbacks:
            callback.on_sample(self, images)

    def evaluate_quality(self) -> dict:
        """Score ``metric_samples`` images from a fixed noise batch with ``quality``; keep the best checkpoint by FD."""
        noise = torch.randn(self.config.metric_samples, self.latent_dim,
                            generator=torch.Generator().manual_seed(self.config.seed + 1))
        images = torch.cat([self.sample(noise[i:i + 256]) for i in range(0, len(noise), 256)])
        result = {"step": self.step, **self.quality.evaluate(images)}
        best = min((m["fd"] for m in self.metrics), default=float("inf"))
        was_diverse = any(not m["collapsed"] for m in self.metrics)
        self.metrics.append(result)
        if result["fd"] < best:
            self.best_checkpoint = self.save(filename="best.pt")
        # a collapse is diversity *falling* below the threshold: early samples that are all alike
        # (a generator that has not learned yet) are not one
        if result["collapsed"] and was_diverse and self.collapse_step is None:
            self.collapse_step = self.step
            warnings.warn(f"possible mode collapse at step {self.step}: sample diversity is "
                          f"{result['diversity_ratio']:.2f}× the real data's", stacklevel=2)
        if self._writer is not None:
            for key in ("fd", "kid", "precision", "recall", "diversity_ratio"):
                self._writer.add_scalar(f"quality/{key}", result[key], self.step)
        for callback in self.callbacks:
            callback.on_metrics(self, result)
        return result

    def save(self, filename: str | None = None) -> Path | None:
        """Write a checkpoint of everything needed to resume (rank 0, with ``out_dir`` set)."""
        if self.out_dir is None or self.rank != 0:
            return None
        self._flush()
        path = save_checkpoint(
            self.out_dir,
            step=self.step,
            models={"generator": self.generator, "discriminator": self.discriminator},
            optimizers={"generator": self.g_optimizer, "discriminator": self.d_optimizer},
            ema=self.ema,
            config=asdict(self.config),
            history={**self.history, "metrics": self.metrics},
            filename=filename,
        )
        if filename is None:
            self.last_checkpoint = path
        return path

    def resume(self) -> bool:
        """Load the newest checkpoint in ``out_dir``; ``False`` when there is none."""
        path = latest_checkpoint(self.out_dir) if self.out_dir is not None else None
        if path is None:
            return False
        state = load_checkpoint(
            path,
            models={"generator": self.generator, "discriminator": self.discriminator},
            optimizers={"generator": self.g_optimizer, "discriminator": self.d_optimizer},
            ema=self.ema,
            map_location=self.device,
        )
        self.step = state["step"]
        history = dict(state["history"])
        self.metrics = list(history.pop("metrics", []))
        diverse = [i for i, m in enumerate(self.metrics) if not m["collapsed"]]
        self.collapse_step = next((m["step"] for m in self.metrics[diverse[0]:] if m["collapsed"]), None) \
            if diverse else None
        self.history = {"step": [], **{k: [] for k in HISTORY_KEYS}, **history}
        self.last_checkpoint = path
        # a fresh noise stream, different from the one the first run used
        self._seed_generator.manual_seed(self.config.seed + self.step)
        return True

    def _write_config(self) -> None:
        if self.out_dir is None or self.rank != 0:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        info = {"train": asdict(self.config), "generator": model_signature(self.generator),
                "discriminator": model_signature(self.discriminator), "dataset_size": len(self.data),
                "image_shape": list(self.data.image_shape), "device": str(self.device)}
        (self.out_dir / "config.json").write_text(json.dumps(info, indent=2))

    def fit(self, steps: int | None = None, *, resume: bool = True, seconds: float | None = None) -> dict[str, list[float]]:
        """Train until ``steps`` (default ``config.steps``) steps in total; returns the loss history.

        ``seconds`` also stops training once that much wall time has gone into this call
        (so that two models can be compared at equal compute); the last step is then
        logged, sampled, scored and saved as if it had been the planned last one.
        """
        total = self.config.steps if steps is None else steps
        deadline = None if seconds is None else time.perf_counter() + seconds
        if resume:
            self.resume()
        self._write_config()
        if self.config.tensorboard and self.out_dir is not None and self.rank == 0:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(self.out_dir / "tensorboard")
        for callback in self.callbacks:
            callback.on_train_start(self)
        self.generator.train()
        self.discriminator.train()
        cfg = self.config
        bar = tqdm(total=total if deadline is None else None, initial=self.step,  # a time budget: no percentage
                   desc="training" if deadline is None else f"training for {seconds:g} s", unit="step",
                   disable=not self.progress or self.rank != 0, dynamic_ncols=True)
        try:
            if self.step == 0 and self.rank == 0:
                self._take_sample()
            while self.step < total:
                for callback in self.callbacks:
                    callback.on_step_start(self)
                losses = self.train_step()
                self._buffer[len(self._buffered_steps)] = losses
                self.step += 1
                self._buffered_steps.append(self.step)
                bar.update(1)
                if deadline is not None and self.step < total and time.perf_counter() >= deadline:
                    total = self.step  # out of time: this step is the last
                if len(self._buffered_steps) == cfg.log_every or self.step == total:
                    self._flush()
                    bar.set_postfix({k: f"{self.history[k][-1]:.3f}" for k in HISTORY_KEYS}, refresh=False)
                if self.rank == 0 and (self.step % cfg.sample_every == 0 or self.step == total):
                    self._flush()
                    self._take_sample()
                if self.quality is not None and self.rank == 0 and (
                        (cfg.metric_every and self.step % cfg.metric_every == 0) or self.step == total):
                    self._flush()
                    self.evaluate_quality()
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0 and self.step < total:
                    self.save()
            self.save()
        finally:
            bar.close()
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        for callback in self.callbacks:
            callback.on_train_end(self)
        return self.history


def _map(images, function):
    """``function`` applied to a batch, or to every scale of a multi-scale batch."""
    return [function(x) for x in images] if isinstance(images, (list, tuple)) else function(images)


class PerScaleLosses(Callback):
    """Each scale's discriminator loss on a fixed real batch and the fixed noise, at every log event.

    For a discriminator with ``per_scale(images)`` (one network per scale); ``history`` maps
    ``"step"`` and ``"scale_<size>"`` to lists, for a plot of every discriminator's loss.
    """

    def __init__(self, real: torch.Tensor, *, every: int = 1) -> None:
        self.real, self.every, self.count = real, every, 0
        self.history: dict[str, list[float]] = {"step": []}

    @torch.no_grad()
    def on_log(self, trainer: GANTrainer) -> None:
        self.count += 1
        if self.count % self.every:
            return
        with eval_mode(trainer.generator, trainer.discriminator):
            fake = trainer.generator(trainer.fixed_noise[: len(self.real)])
            real = image_pyramid(self.real.to(trainer.device), len(fake))
            pairs = zip(trainer.discriminator.per_scale(real), trainer.discriminator.per_scale(fake))
            losses = [trainer.loss.discriminator(r.float(), f.float()).item() for r, f in pairs]
        self.history["step"].append(trainer.step)
        for image, loss in zip(real, losses):
            self.history.setdefault(f"scale_{image.shape[-1]}", []).append(loss)


@contextlib.contextmanager
def eval_mode(*modules: nn.Module):
    """Put ``modules`` in eval mode for the block, then restore each one's mode."""
    modes = [m.training for m in modules]
    try:
        for m in modules:
            m.eval()
        yield
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)

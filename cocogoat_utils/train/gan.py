"""The GAN trainer: any generator/discriminator pair, on the shared loop (:class:`~cocogoat_utils.train.loop.Trainer`).

One step (:meth:`GANTrainer.train_step`) is the loop of the PyTorch DCGAN tutorial written as
named functions: :meth:`~GANTrainer.discriminator_step` scores a real and a generated batch and
updates D; :meth:`~GANTrainer.generator_step` scores the same fakes again and updates G
(optionally ``g_steps_per_d_step`` times with fresh noise, the Spanish tutorial's trick when D
wins too fast). Options, each off by default: an exponential moving average of G, DiffAugment
(Zhao et al. 2020) on everything D sees, the R1, WGAN-GP and DRAGAN penalties, one-sided label
smoothing (Salimans et al. 2016: the reals' target is ``1 − s``, BCE only) and instance noise
(Sønderby et al. 2017; Arjovsky & Bottou 2017: Gaussian noise on D's inputs, its σ falling
linearly to zero). The trainer never asks which kind of generator it has: the real batch goes
through the generator's ``match_real`` and its images through ``images`` (see
:class:`~cocogoat_utils.layers.Generator`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils._pytree import tree_map

from ..augment import DIFF_AUGMENTS, diff_augment
from ..data import to_uint8
from ..device_dataset import DeviceImageDataset
from ..losses import dragan_penalty, get_loss, gradient_penalty, r1_penalty
from ..runtime import autocast, eval_mode, frozen
from .loop import Trainer, TrainConfig
from .optim import EMA, channels_last_on, fast_layout, make_adam

HISTORY_KEYS = ("d_loss", "g_loss", "d_real", "d_fake")  # d_real/d_fake: mean σ(D(·)), the tutorial's D(x), D(G(z))


@dataclass(frozen=True)
class GANTrainConfig(TrainConfig):
    """Every knob of a GAN run; written to ``config.json`` beside the checkpoints."""

    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    loss: str = "bce"
    g_steps_per_d_step: int = 1
    ema_decay: float | None = None  # e.g. 0.999: sample from an exponential moving average of G
    diffaugment: str | None = None  # e.g. "color,translation,cutout"
    r1_gamma: float = 0.0  # weight γ of the R1 penalty on D's gradient at real images (0: off)
    gp_lambda: float = 0.0  # weight λ of the WGAN-GP gradient penalty between real and fake (0: off; 10 with "wgan")
    dragan_lambda: float = 0.0  # weight λ of the DRAGAN penalty around the real images (0: off; the paper: 10)
    label_smoothing: float = 0.0  # one-sided: the reals' BCE target is 1 − label_smoothing (0: off; often 0.1)
    instance_noise: float = 0.0  # σ of Gaussian noise on D's inputs at step 0, falling linearly to 0 (0: off)
    instance_noise_steps: int | None = None  # steps over which σ falls to 0 (None: over ``steps``)

    def __post_init__(self) -> None:
        super().__post_init__()
        get_loss(self.loss)
        if self.diffaugment:
            unknown = {p.strip() for p in self.diffaugment.split(",") if p.strip()} - set(DIFF_AUGMENTS)
            if unknown:
                raise ValueError(f"unknown DiffAugment {sorted(unknown)}; choose from {sorted(DIFF_AUGMENTS)}")
        if self.g_steps_per_d_step < 1:
            raise ValueError("g_steps_per_d_step must be at least 1")
        if min(self.r1_gamma, self.gp_lambda, self.dragan_lambda, self.instance_noise) < 0:
            raise ValueError(f"r1_gamma={self.r1_gamma}, gp_lambda={self.gp_lambda}, dragan_lambda={self.dragan_lambda}"
                             f" and instance_noise={self.instance_noise} must all be ≥ 0")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing={self.label_smoothing}: must be in [0, 1)")
        if self.label_smoothing and self.loss != "bce":
            raise ValueError(f"label_smoothing works with the 'bce' loss (it sets the reals' target); "
                             f"loss={self.loss!r} has no target to smooth")
        if self.instance_noise and self.instance_noise_steps is None and self.steps is None:
            raise ValueError("instance_noise with steps=None needs instance_noise_steps (the steps σ falls over)")

    def instance_noise_at(self, step: int) -> float:
        """σ of the instance noise at ``step``: ``instance_noise · max(0, 1 − step / instance_noise_steps)``."""
        if not self.instance_noise:
            return 0.0
        span = self.instance_noise_steps or self.steps or 1
        return self.instance_noise * max(0.0, 1.0 - step / span)


class GANTrainer(Trainer):
    """Trains ``generator`` against ``discriminator`` on a :class:`DeviceImageDataset`.

    ``out_dir`` receives ``config.json``, checkpoints (``step_*.pt``) and TensorBoard logs;
    :meth:`fit` resumes from the newest checkpoint there unless ``resume=False``. Under
    ``torchrun`` the networks are wrapped in ``DistributedDataParallel`` for the steps;
    ``generator`` and ``discriminator`` stay the bare modules.
    """

    history_keys = HISTORY_KEYS

    def __init__(self, generator: nn.Module, discriminator: nn.Module, data: DeviceImageDataset, *,
                 config: GANTrainConfig, out_dir=None, callbacks=(), g_optimizer: torch.optim.Optimizer | None = None,
                 d_optimizer: torch.optim.Optimizer | None = None, rank: int | None = None, progress: bool = True) -> None:
        super().__init__(data, config=config, out_dir=out_dir, callbacks=callbacks, progress=progress, rank=rank)
        self.generator = fast_layout(self.sync_batch_norm(generator.to(self.device)), self.device)
        self.discriminator = fast_layout(self.sync_batch_norm(discriminator.to(self.device)), self.device)
        if channels_last_on(self.discriminator, self.device):
            data.memory_format = torch.channels_last  # the real batches in D's layout
        self.models = {"generator": self.generator, "discriminator": self.discriminator}
        self.g_train, self.d_train = self.wrap(self.generator), self.wrap(self.discriminator)
        self.loss = get_loss(config.loss)
        self.d_loss = self.loss.discriminator
        if config.label_smoothing:
            self.d_loss = functools.partial(self.loss.discriminator, real_label=1.0 - config.label_smoothing)
        self.latent_dim = int(self.generator.latent_dim)
        self.g_optimizer = self.add_optimizer("generator", g_optimizer or make_adam(
            self.generator.parameters(), lr=config.lr_g, betas=config.betas, device=self.device))
        self.d_optimizer = self.add_optimizer("discriminator", d_optimizer or make_adam(
            self.discriminator.parameters(), lr=config.lr_d, betas=config.betas, device=self.device))
        if config.ema_decay:
            self.ema = EMA(self.generator, config.ema_decay)
        fixed = torch.Generator().manual_seed(config.seed)
        self.fixed_noise = torch.randn(config.n_samples, self.latent_dim, generator=fixed).to(self.device)

    # ----------------------------------------------------------------- one step
    def noise(self, batch_size: int) -> torch.Tensor:
        return torch.randn(batch_size, self.latent_dim, device=self.device, generator=self.streams["noise"])

    def augment(self, images):
        """What D sees: DiffAugment (when on) and instance noise (while its σ is above 0), on every scale."""
        if self.config.diffaugment:
            images = tree_map(lambda x: diff_augment(x, self.config.diffaugment, generator=self.streams["noise"]), images)
        sigma = self.config.instance_noise_at(self.step)
        if sigma:
            images = tree_map(lambda x: x + sigma * torch.randn(x.shape, device=x.device, dtype=x.dtype,
                                                                generator=self.streams["noise"]), images)
        return images

    def penalty_precision(self):
        """The precision of the gradient penalties' double backward: the step's, except fp32 under fp16, whose
        range the second-order gradients overflow (every step would be skipped by the gradient scaler)."""
        return self.autocast() if self.precision != "fp16" else autocast(self.device, "fp32")

    def discriminator_step(self, real, fake) -> tuple[torch.Tensor, ...]:
        """Update D on a real and a (detached) fake batch; returns (loss, mean σ(D(real)), mean σ(D(fake)))."""
        cfg = self.config
        self.zero_grad("discriminator")
        real = self.augment(real)
        fake = self.augment(tree_map(torch.Tensor.detach, fake))
        if cfg.r1_gamma:
            real = tree_map(lambda x: x.detach().requires_grad_(True), real)
        with self.autocast():
            real_logits = self.d_train(real).float()
            fake_logits = self.d_train(fake).float()
            loss = self.d_loss(real_logits, fake_logits)
        if cfg.r1_gamma or cfg.gp_lambda or cfg.dragan_lambda:
            with self.penalty_precision():
                if cfg.r1_gamma:
                    logits = real_logits if self.precision != "fp16" else self.d_train(real)
                    loss = loss + r1_penalty(logits, real, cfg.r1_gamma)
                if cfg.gp_lambda:
                    loss = loss + gradient_penalty(self.d_train, real, fake, cfg.gp_lambda, generator=self.streams["noise"])
                if cfg.dragan_lambda:
                    loss = loss + dragan_penalty(self.d_train, real, cfg.dragan_lambda, generator=self.streams["noise"])
        self.optimize("discriminator", loss)
        return loss.detach(), torch.sigmoid(real_logits.detach()).mean(), torch.sigmoid(fake_logits.detach()).mean()

    def generator_step(self, real, fake) -> torch.Tensor:
        """Update G so that D scores ``fake`` (still attached to G's graph) as real; returns the loss.

        D is the bare module here, frozen: the gradient flows through it to G, but D's own weight
        gradients would never be used (D's next step starts from zero), so they are not computed
        (a quarter of the step's convolution backward passes) nor averaged across processes.
        """
        self.zero_grad("generator")
        with frozen(self.discriminator):
            with self.autocast():
                real_logits = None
                if self.loss.generator_uses_real:
                    with torch.no_grad():
                        real_logits = self.discriminator(self.augment(real)).float()
                loss = self.loss.generator(real_logits, self.discriminator(self.augment(fake)).float())
            self.optimize("generator", loss)
        return loss.detach()

    def train_step(self) -> torch.Tensor:
        """One D update and ``g_steps_per_d_step`` G updates; returns the step's losses as one device tensor."""
        batch_size = self.config.batch_size
        real = self.batch(batch_size)
        with self.autocast():
            fake = self.g_train(self.noise(batch_size))
        real = self.generator.match_real(real)
        d_loss, d_real, d_fake = self.discriminator_step(real, fake)
        g_loss = self.generator_step(real, fake)
        for _ in range(self.config.g_steps_per_d_step - 1):
            with self.autocast():
                fake = self.g_train(self.noise(batch_size))
            g_loss = self.generator_step(real, fake)
        if self.ema is not None:
            self.ema.update_parameters(self.generator)
        return torch.stack([d_loss, g_loss, d_real, d_fake])

    # ----------------------------------------------------------------- drawing images
    @property
    def sampler(self) -> nn.Module:
        """The network to sample from: the EMA generator when there is one."""
        return self.ema.module if self.ema is not None else self.generator

    @torch.no_grad()
    def sample(self, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Images for ``noise`` (default: the fixed noise) as uint8 on the CPU, the sampler in eval mode."""
        noise = self.fixed_noise if noise is None else noise.to(self.device)
        with eval_mode(self.sampler), self.autocast():
            return to_uint8(self.sampler.images(self.sampler(noise))).cpu()

    @torch.no_grad()
    def generate(self, n: int, *, seed: int) -> torch.Tensor:
        """``n`` images from noise drawn with ``seed`` (the same noise every time), in batches of 256."""
        noise = torch.randn(n, self.latent_dim, generator=torch.Generator().manual_seed(seed))
        return torch.cat([self.sample(noise[i:i + 256]) for i in range(0, n, 256)])

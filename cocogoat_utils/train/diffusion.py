"""Training a denoising diffusion model on the shared loop (:class:`~cocogoat_utils.train.loop.Trainer`).

One step draws a batch, a random step ``t`` and noise per image, and regresses the network's
``ε``, ``v`` or ``x_0`` prediction (:func:`~cocogoat_utils.diffusion.diffusion_loss`, optionally
min-SNR-γ weighted, on a schedule optionally rescaled to zero terminal SNR) — or, with
``schedule="flow"``, the rectified-flow velocity (:func:`~cocogoat_utils.diffusion.flow_matching_loss`) — with a linear
learning-rate warm-up, gradient clipping and an exponential moving average of the weights,
which the samples come from. The fixed grid is drawn with the config's deterministic sampler in few steps, so that it is
cheap; with labels, it shows the classes in turn.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..data import to_uint8
from ..device_dataset import DeviceImageDataset
from ..diffusion import (PREDICTIONS, SAMPLERS, SPACINGS, NoiseSchedule, diffusion_loss, flow_matching_loss,
                         sample as draw)
from ..runtime import eval_mode
from .loop import Trainer, TrainConfig
from .optim import EMA, channels_last_on, fast_layout, make_adam


@dataclass(frozen=True)
class DiffusionTrainConfig(TrainConfig):
    """Every knob of a diffusion run; written to ``config.json`` beside the checkpoints."""

    steps: int | None = 10_000
    sample_every: int | None = 1000
    lr: float = 2e-4
    warmup: int = 500  # steps of linear learning-rate warm-up
    grad_clip: float | None = 1.0
    schedule: str = "linear"  # or "cosine", or "flow" (rectified flow: prediction="velocity", sampler euler/heun)
    T: int = 1000
    prediction: str = "eps"  # or "v", "x0"
    zero_terminal_snr: bool = False  # rescale the schedule so that ᾱ_{T−1} = 0 (Lin et al. 2024; needs v or x0)
    min_snr_gamma: float | None = None  # min-SNR-γ loss weights (Hang et al. 2023; γ = 5 in the paper)
    p_uncond: float = 0.1  # with labels: how often the label is dropped (classifier-free guidance)
    ema_decay: float | None = 0.999
    sample_steps: int = 50  # sampler steps for the sample grids and for generate()
    sampler: str = "ddim"  # deterministic at eta 0; "euler" or "heun" for schedule="flow"
    sample_spacing: str = "linspace"  # DDIM's steps: "linspace", "leading" or "trailing" (Lin et al. 2024)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.schedule == "flow":
            if self.prediction != "velocity":
                raise ValueError(f"schedule='flow' learns the velocity ε − x0: set prediction='velocity', "
                                 f"not {self.prediction!r}")
        else:
            if self.prediction not in PREDICTIONS:
                raise ValueError(f"prediction={self.prediction!r}: expected one of {PREDICTIONS}")
            NoiseSchedule.make(self.schedule, 2)
            if self.zero_terminal_snr and self.prediction == "eps":
                raise ValueError("zero_terminal_snr with prediction='eps': x̂_0 is undefined at SNR 0 (Lin et al. "
                                 "2024); use 'v'")
        if self.sampler not in SAMPLERS.get(self.schedule, ()):
            raise ValueError(f"sampler={self.sampler!r}: expected one of {SAMPLERS[self.schedule]} for "
                             f"schedule={self.schedule!r}")
        if self.sample_spacing not in SPACINGS:
            raise ValueError(f"sample_spacing={self.sample_spacing!r}: expected one of {SPACINGS}")
        if not 1 <= self.sample_steps <= self.T:
            raise ValueError(f"sample_steps={self.sample_steps}: must be between 1 and T={self.T}")


class DiffusionTrainer(Trainer):
    """Trains ``model`` (``model(x_t, t, labels)``) to denoise a :class:`DeviceImageDataset`.

    ``labels`` (one integer per image, ``0 … num_classes − 1``) make it a class-conditional
    model with classifier-free guidance. ``history`` holds ``step`` and ``loss``.
    """

    history_keys = ("loss",)

    def __init__(self, model: nn.Module, data: DeviceImageDataset, *, config: DiffusionTrainConfig,
                 labels: torch.Tensor | None = None, num_classes: int | None = None, out_dir=None, callbacks=(),
                 progress: bool = True, rank: int | None = None) -> None:
        if (labels is None) != (num_classes is None):
            raise ValueError("give both labels and num_classes, or neither")
        if labels is not None and len(labels) != len(data):
            raise ValueError(f"{len(labels)} labels for {len(data)} images")
        super().__init__(data, config=config, out_dir=out_dir, callbacks=callbacks, progress=progress, rank=rank)
        self.model = fast_layout(self.sync_batch_norm(model.to(self.device)), self.device)
        if channels_last_on(self.model, self.device):
            data.memory_format = torch.channels_last  # the batches in the model's layout
        self.models = {"model": self.model}
        self.train_model = self.wrap(self.model)
        self.labels = None if labels is None else labels.to(self.device)
        self.num_classes = num_classes
        self.schedule = None if config.schedule == "flow" else NoiseSchedule.make(
            config.schedule, config.T, zero_terminal_snr=config.zero_terminal_snr).to(self.device)
        self.optimizer = self.add_optimizer("model", make_adam(self.model.parameters(), lr=config.lr,
                                                               betas=(0.9, 0.999), device=self.device))
        self.schedulers["model"] = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._warmup)
        self.ema = EMA(self.model, config.ema_decay) if config.ema_decay else None
        self.sample_labels = None
        if labels is not None:  # the fixed grid shows the classes in turn
            self.sample_labels = torch.arange(config.n_samples, device=self.device) % num_classes

    def _warmup(self, step: int) -> float:
        """The learning-rate factor after ``step`` steps: linear warm-up to 1 over ``warmup`` steps."""
        return min(1.0, (step + 1) / max(1, self.config.warmup))

    @property
    def sampler(self) -> nn.Module:
        """The network to sample from: the EMA when there is one."""
        return self.ema.module if self.ema is not None else self.model

    def train_step(self) -> torch.Tensor:
        """One optimisation step on a random batch; returns the loss as a device tensor."""
        cfg = self.config
        x0, index = self.batch(with_index=True)
        labels = None if self.labels is None else self.labels[index]
        self.zero_grad("model")
        with self.autocast():
            if self.schedule is None:
                loss = flow_matching_loss(self.train_model, x0, labels=labels, num_classes=self.num_classes,
                                          p_uncond=cfg.p_uncond, generator=self.streams["noise"])
            else:
                loss = diffusion_loss(self.train_model, self.schedule, x0, labels=labels, num_classes=self.num_classes,
                                      p_uncond=cfg.p_uncond, prediction=cfg.prediction,
                                      min_snr_gamma=cfg.min_snr_gamma, generator=self.streams["noise"])
        self.optimize("model", loss, clip=cfg.grad_clip)
        self.schedulers["model"].step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        return loss.detach().reshape(1)

    def class_cycle(self, n: int) -> torch.Tensor | None:
        """Labels ``0, 1, …, num_classes − 1, 0, 1, …`` for ``n`` images (``None`` for an unconditional model)."""
        return None if self.num_classes is None else torch.arange(n, device=self.device) % self.num_classes

    @torch.no_grad()
    def sample(self, n: int | None = None, *, steps: int | None = None, eta: float = 0.0, sampler: str | None = None,
               spacing: str | None = None, labels: torch.Tensor | None = None, guidance: float = 1.0,
               seed: int | None = None, progress: bool = False, network: nn.Module | None = None) -> torch.Tensor:
        """``n`` images (default: the fixed grid) as uint8 on the CPU, from the EMA (or ``network``: another average
        of the weights, say) in eval mode.

        ``sampler`` (default: the config's): ``"ddpm"`` runs all ``T`` steps; ``"ddim"`` (with ``spacing``,
        default the config's), ``"euler"`` and ``"heun"`` run ``steps`` (default ``sample_steps``).
        Without ``labels`` a class-conditional model draws the classes in turn (pass
        ``labels=torch.full((n,), num_classes)`` for unconditional samples).
        """
        n = n or self.config.n_samples
        if labels is None:
            labels = self.sample_labels if n == self.config.n_samples else self.class_cycle(n)
        generator = torch.Generator(device=self.device).manual_seed(self.config.seed + 1 if seed is None else seed)
        shape = (n, *self.data.image_shape)
        cfg = self.config
        network = self.sampler if network is None else network
        with eval_mode(network), self.autocast():
            images = draw(network, shape, schedule=cfg.schedule, T=cfg.T, prediction=cfg.prediction,
                          zero_terminal_snr=cfg.zero_terminal_snr, sampler=sampler or cfg.sampler,
                          spacing=spacing or cfg.sample_spacing, steps=steps or cfg.sample_steps, eta=eta,
                          labels=labels, null_label=self.num_classes, guidance=guidance, generator=generator,
                          device=self.device, progress=progress)
        return to_uint8(images).cpu()

    @torch.no_grad()
    def generate(self, n: int, *, seed: int, network: nn.Module | None = None) -> torch.Tensor:
        """``n`` images drawn with the config's sampler in ``sample_steps`` steps from ``seed``, the classes in turn, in
        batches of 256, from the EMA (or ``network``)."""
        labels = self.class_cycle(n)
        return torch.cat([self.sample(min(256, n - i), seed=seed + i, network=network,
                                      labels=None if labels is None else labels[i:i + 256])
                          for i in range(0, n, 256)])

"""What every trainer builds around its models: Adam, the precision of a plain loop's step, and an exponential
moving average of the weights."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..runtime import autocast, pick_precision


def make_adam(params, *, lr: float, betas: tuple[float, float], device: torch.device) -> torch.optim.Adam:
    """Adam, fused into one kernel per step on CUDA."""
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=torch.device(device).type == "cuda")


class PrecisionStep:
    """A plain training loop's precision: autocast for its forward passes and, in fp16, a gradient scaler for the
    backward pass and the step of ``optimizer``. ``precision`` is resolved by
    :func:`~cocogoat_utils.runtime.pick_precision` (``"auto"``: bf16 on Ampere-or-newer GPUs and on CPUs with native
    bf16, fp16 on older GPUs, fp32 elsewhere)."""

    def __init__(self, optimizer: torch.optim.Optimizer, *, device: str | torch.device, precision: str = "fp32") -> None:
        self.optimizer, self.device = optimizer, torch.device(device)
        self.precision = pick_precision(precision, self.device)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")

    def autocast(self):
        """The forward passes' context (a no-op in fp32); compute the loss outside it, in fp32."""
        return autocast(self.device, self.precision)

    def step(self, loss: torch.Tensor) -> None:
        """Clear the gradients, backward ``loss`` (scaled in fp16) and step the optimiser (skipped by the scaler when
        an fp16 gradient overflowed)."""
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()


class EMA(nn.Module):
    """An exponential moving average of a model's weights: ``ema ← d·ema + (1 − d)·model``.

    Sampling from the average gives smoother, often better images than the last weights
    (Karras et al. 2018; Yazıcı et al. 2019). With ``warmup`` (the default) the decay grows
    with the number of updates ``n``, ``d = min(decay, (1 + n) / (10 + n))`` (as TensorFlow's
    ``ExponentialMovingAverage`` does with ``num_updates``), so that the average does not carry
    the untrained first weights for thousands of steps: without it, a 0.999 average after
    3,000 steps still holds 5 % of the initial network, enough to turn a diffusion model's
    deterministic (DDIM) samples into noise while its raw weights draw glyphs. One fused
    update over all tensors and no host sync (the count is a device buffer). Integer buffers
    (batch-norm's ``num_batches_tracked``) are copied.
    """

    def __init__(self, model: nn.Module, decay: float, *, warmup: bool = True) -> None:
        super().__init__()
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema decay={decay}: must be between 0 and 1")
        self.decay, self.warmup = decay, warmup
        self.module = copy.deepcopy(model).requires_grad_(False)
        device = next((t.device for t in model.parameters()), torch.device("cpu"))
        self.register_buffer("updates", torch.zeros((), dtype=torch.float32, device=device))

    def current_decay(self) -> torch.Tensor:
        """The decay the next update uses (a device scalar)."""
        if not self.warmup:
            return torch.full_like(self.updates, self.decay)
        return ((1 + self.updates) / (10 + self.updates)).clamp(max=self.decay)

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        ema = [t for t in (*self.module.parameters(), *self.module.buffers()) if t.is_floating_point()]
        new = [t.detach() for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
        decay = self.current_decay()
        torch._foreach_mul_(ema, decay)
        torch._foreach_add_(ema, torch._foreach_mul(new, 1 - decay))
        self.updates += 1
        for mine, theirs in zip(self.module.buffers(), model.buffers()):
            if not mine.is_floating_point():
                mine.copy_(theirs)

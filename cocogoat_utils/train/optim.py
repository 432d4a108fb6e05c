"""What every trainer builds around its models: Adam, and an exponential moving average of the weights."""

from __future__ import annotations

import copy

import torch
from torch import nn


def make_adam(params, *, lr: float, betas: tuple[float, float], device: torch.device) -> torch.optim.Adam:
    """Adam, fused into one kernel per step on CUDA."""
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=torch.device(device).type == "cuda")


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

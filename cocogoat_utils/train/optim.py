"""What every trainer builds around its models: Adam, the precision of a plain loop's step, the tools a family's
step uses on the shared loop (:class:`StepTools`: precision with gradient scalers, processes, real batches), and an
exponential moving average of the weights."""

from __future__ import annotations

import copy
import gc

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..runtime import autocast, pick_precision


def fast_layout(model: nn.Module, device: str | torch.device) -> nn.Module:
    """``model`` in the memory layout its training step is fastest in on ``device``, converted in place: on a CPU,
    channels_last (NHWC) for a convolutional network without recurrent layers, whose oneDNN kernels (convolutions,
    pooling, batch norm) then skip the reorders to and from NCHW: 1.13× (07's DCGAN) to 1.41× (03's ProGAN) per step
    in bf16 on the development CPU (``benchmarks/cpu_steps.py --ab contiguous``). A network with an LSTM (05's
    generator) stays NCHW: its rows go through the LSTM as a sequence, and NHWC made that step 4 % slower; so does a
    network whose class says ``channels_last_on_cpu = False`` (06's UNet: 12 % slower in NHWC, its group norms and
    attention). Elsewhere
    unchanged (on a GPU it is the ``--channels-last`` choice of ``benchmarks/dcgan_throughput.py``). The values are
    the same; only the strides change, so checkpoints load across layouts."""
    if channels_last_on(model, device):
        model.to(memory_format=torch.channels_last)
    return model


def channels_last_on(model: nn.Module, device: str | torch.device) -> bool:
    """Whether :func:`fast_layout` puts ``model`` in channels_last on ``device`` (and its inputs are best given so)."""
    modules = list(model.modules())
    return (torch.device(device).type == "cpu" and getattr(model, "channels_last_on_cpu", True)
            and any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in modules)
            and not any(isinstance(m, nn.RNNBase) for m in modules))


def fused_on(device: str | torch.device) -> bool:
    """Whether Adam and AdamW run fused (one kernel over every tensor per step) on ``device``: on CUDA, and on a CPU
    (1.02–1.04× per recipe step there over torch's default per-tensor loop, ``benchmarks/cpu_steps.py --ab
    fused_adam``)."""
    return torch.device(device).type in ("cuda", "cpu")


def make_adam(params, *, lr: float, betas: tuple[float, float], device: torch.device) -> torch.optim.Adam:
    """Adam, fused into one kernel per step on CUDA and on a CPU."""
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=fused_on(device))


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


class StepTools:
    """What a family's ``train_step`` uses on the loop (:class:`~cocogoat_utils.train.loop.Trainer` inherits it):
    autocast, optimisers with one gradient scaler each in fp16, the models wrapped for several processes, and real
    batches from this process's data stream. Reads the trainer's ``device``, ``precision``, ``world_size``,
    ``optimizers``, ``scalers``, ``data``, ``streams`` and ``config``."""

    def autocast(self):
        """The precision context for forward passes (a no-op in fp32)."""
        return autocast(self.device, self.precision)

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module a training step calls: ``model`` itself in one process; across processes, the model
        in ``DistributedDataParallel`` (its batch norms made ``SyncBatchNorm`` on CUDA, which is where torch
        supports it) — call it before building the weight average, and keep the bare model for the rest."""
        if self.world_size == 1:
            return model
        # find_unused_parameters: a growing network (ProGAN) leaves the blocks of other levels unused, and
        # its fade-in path after the fade; DDP must not wait for their gradients
        return DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                                       find_unused_parameters=True)

    def release(self) -> None:
        """Drop the ``DistributedDataParallel`` wrappers (their gradient hooks go with them), so that another
        trainer can wrap the same models: the progressive GAN's next level does."""
        for name in [k for k, v in vars(self).items() if isinstance(v, DistributedDataParallel)]:
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

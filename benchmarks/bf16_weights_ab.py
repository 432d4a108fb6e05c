"""An A/B for issue 28: bf16 weights with fp32 master copies against autocast, on 07's sprite DCGAN step.

A: the networks in fp32 under bf16 autocast (the trainers' way: a convolution's weight is cast when first used in an
autocast region). B: the convolution and linear weights kept in bf16 (batch norm in fp32), no autocast, and an fp32
master copy of each weight that fused Adam updates once per step (grads copied up, weights copied down). One D step
and one G step (BCE) at batch 64, channels_last, one thread; CPU time per step, the variants alternated, the median
of 8 rounds of 2 steps.

    taskset -c 1 python benchmarks/bf16_weights_ab.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
from cocogoat_utils.models.dcgan import build_dcgan  # noqa: E402

BATCH, LATENT = 64, 100


def networks() -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    g, d = build_dcgan(image_size=32, arch="sprite", latent_dim=LATENT, g_width=256, d_width=32)
    return g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)


def adam(params) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, 2e-4, betas=(0.5, 0.9), fused=True)


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


class MasterWeights:
    """Adam on fp32 copies of a network's bf16 weights (its fp32 ones, batch norm's, directly)."""

    def __init__(self, network: nn.Module) -> None:
        self.network = network
        self.low = [p for p in network.parameters() if p.dtype == torch.bfloat16]
        self.master = [p.detach().float().clone().requires_grad_() for p in self.low]
        self.optimizer = adam(self.master + [p for p in network.parameters() if p.dtype == torch.float32])

    def zero_grad(self) -> None:
        self.network.zero_grad(set_to_none=True)
        self.optimizer.zero_grad(set_to_none=True)

    def step(self) -> None:
        for low, master in zip(self.low, self.master):
            master.grad = low.grad.float()
        self.optimizer.step()
        with torch.no_grad():
            torch._foreach_copy_(self.low, self.master)


def in_bf16(network: nn.Module) -> nn.Module:
    for module in network.modules():
        if not isinstance(module, nn.modules.batchnorm._BatchNorm):
            for p in module.parameters(recurse=False):
                p.data = p.data.bfloat16()
    return network


def main() -> int:
    torch.set_num_threads(1)
    real = (torch.rand(BATCH, 3, 32, 32) * 2 - 1).contiguous(memory_format=torch.channels_last)
    g_a, d_a = networks()
    opt_g, opt_d = adam(g_a.parameters()), adam(d_a.parameters())
    g_b, d_b = networks()
    master_g, master_d = MasterWeights(in_bf16(g_b)), MasterWeights(in_bf16(d_b))

    def autocast_step() -> None:
        z = torch.randn(BATCH, LATENT, 1, 1)
        with torch.autocast("cpu", torch.bfloat16):
            fake = g_a(z)
            loss = bce(d_a(real), 1.0) + bce(d_a(fake.detach()), 0.0)
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()
        with torch.autocast("cpu", torch.bfloat16):
            loss = bce(d_a(fake), 1.0)
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()

    def bf16_step() -> None:
        fake = g_b(torch.randn(BATCH, LATENT, 1, 1, dtype=torch.bfloat16))
        loss = bce(d_b(real.bfloat16()), 1.0) + bce(d_b(fake.detach()), 0.0)
        master_d.zero_grad()
        loss.backward()
        master_d.step()
        loss = bce(d_b(fake), 1.0)
        master_g.zero_grad()
        loss.backward()
        master_g.step()

    variants = {"autocast (the trainers)": autocast_step, "bf16 weights, fp32 masters": bf16_step}
    for step in variants.values():  # warm-up
        step()
        step()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(8):
        order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
        for name in order:
            started = time.process_time()
            variants[name]()
            variants[name]()
            times[name].append((time.process_time() - started) / 2 * 1000)
    for name, values in times.items():
        print(f"{name}: {statistics.median(values):.1f} ms/step (rounds: {', '.join(f'{v:.0f}' for v in values)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

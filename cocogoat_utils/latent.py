"""The generator's noise: the truncation trick, latent walks, and drawing images from noise.

The truncation trick (Brock et al. 2019, BigGAN, https://arxiv.org/abs/1809.11096)
samples the noise from a normal distribution truncated to ``|z| ≤ threshold``: lower
thresholds trade variety for fidelity, as the sample comes closer to the "average"
image the generator knows. Latent walks interpolate between two noise vectors, along the
great circle (slerp; White 2016, https://arxiv.org/abs/1609.04468) or a straight line.
"""

from __future__ import annotations

import torch

from .data import to_uint8
from .runtime import eval_mode


def truncated_noise(n: int, latent_dim: int, threshold: float | None, *, seed: int = 0) -> torch.Tensor:
    """``(n, latent_dim)`` noise from N(0, 1) truncated to ``[-threshold, threshold]`` (``None``: not truncated)."""
    generator = torch.Generator().manual_seed(seed)
    if threshold is None:
        return torch.randn(n, latent_dim, generator=generator)
    if threshold <= 0:
        raise ValueError(f"threshold={threshold}: must be positive (or None for no truncation)")
    z = torch.empty(n, latent_dim)
    return torch.nn.init.trunc_normal_(z, 0.0, 1.0, -threshold, threshold, generator=generator)


@torch.no_grad()
def generate(generator: torch.nn.Module, noise: torch.Tensor) -> torch.Tensor:
    """Images for ``noise`` as uint8 on the CPU, the generator in eval mode."""
    device = next(generator.parameters()).device
    with eval_mode(generator):
        output = generator(noise.to(device))
        return to_uint8(generator.images(output) if hasattr(generator, "images") else output).cpu()


def truncation_grid(generator: torch.nn.Module, thresholds=(0.25, 0.5, 1.0, 2.0, None), *, n: int = 8,
                    seed: int = 0) -> torch.Tensor:
    """One row of ``n`` samples per threshold, the same seed in every row, as uint8 ``(rows·n, C, H, W)``."""
    rows = [generate(generator, truncated_noise(n, generator.latent_dim, t, seed=seed)) for t in thresholds]
    return torch.cat(rows)


def interpolate_latents(z0: torch.Tensor, z1: torch.Tensor, steps: int = 8, *, spherical: bool = True) -> torch.Tensor:
    """``steps`` points from ``z0`` to ``z1`` (1-D tensors): along the great circle (slerp) or a straight line."""
    t = torch.linspace(0, 1, steps).unsqueeze(1)
    if not spherical:
        return (1 - t) * z0 + t * z1
    omega = torch.arccos(torch.clamp(torch.dot(z0 / z0.norm(), z1 / z1.norm()), -1.0, 1.0))
    if omega.abs() < 1e-6:
        return (1 - t) * z0 + t * z1
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


@torch.no_grad()
def generate_scales(generator: torch.nn.Module, noise: torch.Tensor) -> list[torch.Tensor]:
    """Every scale a multi-scale generator draws for ``noise`` (smallest first), each uint8 on the CPU, the generator
    in eval mode."""
    device = next(generator.parameters()).device
    with eval_mode(generator):
        return [to_uint8(x).cpu() for x in generator(noise.to(device))]

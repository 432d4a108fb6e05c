"""Building blocks shared by several models, and the one weight-init function.

The N(0, 0.02) initialisation is the DCGAN paper's (Radford, Metz & Chintala 2016,
https://arxiv.org/abs/1511.06434): convolutions and linear layers draw their weights
from N(0, 0.02); batch-norm scales from N(1, 0.02); biases start at zero.
"""

from __future__ import annotations

import math

from torch import nn


def init_normal_(module: nn.Module, std: float = 0.02) -> nn.Module:
    """DCGAN initialisation, applied by ``isinstance`` to every sub-module; returns ``module``."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return module


def check_image_size(image_size: int, allowed: tuple[int, ...], model: str) -> int:
    """The number of stride-2 stages from 4×4 up to ``image_size``; ``ValueError`` names the sizes allowed."""
    if image_size not in allowed:
        raise ValueError(f"{model} cannot be built for image_size={image_size}; it supports {allowed}")
    return int(math.log2(image_size)) - 2


def up_block(in_channels: int, out_channels: int, *, kernel_size: int = 4) -> nn.Sequential:
    """Transposed conv that doubles height and width, then batch norm and ReLU."""
    return nn.Sequential(
        nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride=2, padding=(kernel_size - 2) // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def down_block(in_channels: int, out_channels: int, *, batch_norm: bool = True, kernel_size: int = 4) -> nn.Sequential:
    """Strided conv that halves height and width, then (optional) batch norm and LeakyReLU(0.2)."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=2, padding=(kernel_size - 2) // 2, bias=False)
    ]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_channels))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)

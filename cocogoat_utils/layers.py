"""Building blocks shared by several models, the generators' common interface, and the one weight-init function.

The N(0, 0.02) initialisation is the DCGAN paper's (Radford, Metz & Chintala 2016,
https://arxiv.org/abs/1511.06434): convolutions and linear layers draw their weights
from N(0, 0.02); batch-norm scales from N(1, 0.02); biases start at zero.

The equalised-learning-rate layers, pixel-wise normalisation and minibatch standard
deviation are the progressive GAN's (Karras, Aila, Laine & Lehtinen, *Progressive Growing
of GANs for Improved Quality, Stability, and Variation*, ICLR 2018,
https://arxiv.org/abs/1710.10196, section 4 and 3).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Generator(nn.Module):
    """What every generator shows the GAN trainer: noise ``(B, latent_dim)`` in, and two methods.

    - ``match_real(images)``: a real batch in the form the discriminator compares with this
      generator's output — as it is for a generator that draws one image at the data's size;
      every scale for a multi-scale generator; pooled and faded for a growing one.
    - ``images(output)``: the final images in what ``forward`` returns (the output itself, or
      the largest scale of a multi-scale generator).

    The trainer calls these and never asks which kind of generator it has.
    """

    latent_dim: int

    def match_real(self, images: torch.Tensor):
        return images

    def images(self, output) -> torch.Tensor:
        return output


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


class _EqualizedLR:
    """Weights drawn from N(0, 1) and biases at zero; the subclass multiplies the weight by ``self.scale`` at run time."""

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight)
        nn.init.zeros_(self.bias)


class EqualizedConv2d(_EqualizedLR, nn.Conv2d):
    """A convolution with an equalised learning rate: weights drawn from N(0, 1), scaled at run time.

    The stored weight has unit variance; every forward pass multiplies it by He's constant
    ``gain / sqrt(fan_in)``. Adam's step is about the same size for every weight, so scaling at
    run time instead of at initialisation makes every layer learn at the same speed.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, padding: int = 0,
                 gain: float = math.sqrt(2)) -> None:
        super().__init__(in_channels, out_channels, kernel_size, padding=padding)
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.scale, self.bias)


class EqualizedLinear(_EqualizedLR, nn.Linear):
    """A linear layer with an equalised learning rate (see :class:`EqualizedConv2d`)."""

    def __init__(self, in_features: int, out_features: int, *, gain: float = math.sqrt(2)) -> None:
        super().__init__(in_features, out_features)
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class PixelNorm(nn.Module):
    """Each pixel's feature vector scaled to unit mean square: ``x / sqrt(mean_c(x²) + ε)``."""

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)


class MinibatchStdDev(nn.Module):
    """Appends one channel: the standard deviation of each feature over a group of images, averaged.

    The batch is split into groups of ``group_size`` (the largest divisor of the batch size up to
    it); within a group every feature's standard deviation across the images is averaged into one
    number, broadcast as an extra feature map. A generator that draws the same image again and
    again gives a low value, which the discriminator can see.
    """

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        group = min(self.group_size, batch)
        while batch % group:
            group -= 1
        y = x.float().reshape(group, batch // group, channels, height, width)  # image i is in group i % (batch/group)
        std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))
        std = std.reshape(-1, 1, 1, 1).repeat(group, 1, height, width)
        return torch.cat([x, std.to(x.dtype)], dim=1)

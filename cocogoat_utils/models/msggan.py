"""Multi-scale GANs: one generator that draws every resolution at once, judged at every scale.

The seed's "Optimized Cocogoat", after MSG-GAN (Karnewar & Wang, *MSG-GAN: Multi-Scale
Gradients for Generative Adversarial Networks*, CVPR 2020, https://arxiv.org/abs/1903.06048):
instead of growing the networks (ProGAN), every block of the generator emits an RGB image
at its scale — 4×4, 8×8, … up to the full size — and the discriminator sees all of them,
so gradients reach every block from the start.

- :class:`MSGGenerator`: noise → a list of images, one per scale, smallest first.
- :class:`MultiScaleDiscriminator`: the paper's way, one network that takes the image of
  each scale in at the block of that resolution.
- :class:`PerScaleDiscriminators`: the seed's way, one small discriminator per scale; the
  logits are averaged, and :meth:`PerScaleDiscriminators.per_scale` gives each one's.
- :class:`UNetDiscriminator`: the one the seed's author names from Real-ESRGAN (Wang et al.,
  *Real-ESRGAN*, 2021, https://arxiv.org/abs/2107.10833; after Schönfeld et al., *A U-Net Based
  Discriminator for GANs*, CVPR 2020): an encoder that takes every scale in, a decoder with skip
  connections back to full size, spectral norm on every conv, and one logit *per pixel*, so
  that D says where an image looks fake, not only whether.
- :func:`image_pyramid`: a real batch as the same list of scales (average pooling).

The seed's tips are switches: ``residual`` blocks, ``batch_norm`` in G, ``dropout`` in D.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import Generator, init_normal_

SIZES = (16, 32, 64, 128)


def _levels(image_size: int, model: str) -> int:
    if image_size not in SIZES:
        raise ValueError(f"{model} cannot be built for image_size={image_size}; it supports {SIZES}")
    return int(math.log2(image_size)) - 1  # 4×4 … image_size: 4 levels at 32 px


def image_pyramid(images: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """``[4×4, 8×8, …, S×S]`` versions of a ``(B, C, S, S)`` batch, by repeated 2×2 average pooling."""
    pyramid = [images]
    for _ in range(levels - 1):
        pyramid.append(F.avg_pool2d(pyramid[-1], 2))
    return pyramid[::-1]


class _GBlock(nn.Module):
    """×2 nearest upsampling, two 3×3 convs with (optional) batch norm and LeakyReLU; optionally residual."""

    def __init__(self, in_channels: int, out_channels: int, *, batch_norm: bool, residual: bool) -> None:
        super().__init__()
        norm = (lambda c: nn.BatchNorm2d(c)) if batch_norm else (lambda c: nn.Identity())
        self.body = nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1), norm(out_channels),
                                  nn.LeakyReLU(0.2), nn.Conv2d(out_channels, out_channels, 3, padding=1),
                                  norm(out_channels), nn.LeakyReLU(0.2))
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        out = self.body(x)
        return out + self.skip(x) if self.skip is not None else out


class MSGGenerator(Generator):
    """Noise ``(B, latent_dim)`` → ``[(B, C, 4, 4), (B, C, 8, 8), …, (B, C, S, S)]`` in ``[-1, 1]``."""

    def __init__(self, *, image_size: int = 64, latent_dim: int = 128, channels: int = 3, width: int = 256,
                 residual: bool = False, batch_norm: bool = True) -> None:
        super().__init__()
        levels = _levels(image_size, "MSGGenerator")
        self.config = dict(image_size=image_size, latent_dim=latent_dim, channels=channels, width=width,
                           residual=residual, batch_norm=batch_norm)
        self.latent_dim, self.levels = latent_dim, levels
        chans = [max(width // 2 ** max(0, i - 1), 16) for i in range(levels)]  # 256, 256, 128, 64, …
        self.stem = nn.Sequential(nn.Linear(latent_dim, chans[0] * 16), nn.Unflatten(1, (chans[0], 4, 4)),
                                  nn.LeakyReLU(0.2), nn.Conv2d(chans[0], chans[0], 3, padding=1), nn.LeakyReLU(0.2))
        self.blocks = nn.ModuleList([_GBlock(chans[i - 1], chans[i], batch_norm=batch_norm, residual=residual)
                                     for i in range(1, levels)])
        self.to_rgb = nn.ModuleList([nn.Conv2d(c, channels, 1) for c in chans])
        init_normal_(self)

    def match_real(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The real batch at every scale this generator draws (the discriminator sees them all)."""
        return image_pyramid(images, self.levels)

    def images(self, output: list[torch.Tensor]) -> torch.Tensor:
        """The largest scale."""
        return output[-1]

    def forward(self, z: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(z.flatten(1))
        images = [torch.tanh(self.to_rgb[0](x))]
        for block, to_rgb in zip(self.blocks, self.to_rgb[1:]):
            x = block(x)
            images.append(torch.tanh(to_rgb(x)))
        return images


def _check_scales(images, levels: int, image_size: int, model: str) -> None:
    if not isinstance(images, (list, tuple)) or len(images) != levels:
        found = len(images) if isinstance(images, (list, tuple)) else f"a {type(images).__name__}"
        raise ValueError(f"{model} expects a list of {levels} images (4×4 … {image_size}×{image_size}), got {found}")
    for k, image in enumerate(images):
        size = 4 * 2**k
        if image.shape[-2:] != (size, size):
            raise ValueError(f"{model}: scale {k} should be {size}×{size}, got {tuple(image.shape[-2:])}")


def _minibatch_std(x: torch.Tensor) -> torch.Tensor:
    """Append the mean standard deviation over the batch as one more channel (Karras et al. 2018)."""
    std = x.float().std(dim=0, unbiased=False).mean().to(x.dtype)
    return torch.cat([x, std.expand(x.shape[0], 1, *x.shape[2:])], dim=1)


class MultiScaleDiscriminator(nn.Module):
    """MSG-GAN's discriminator: ``[4×4 … S×S]`` images → ``(B,)`` logits.

    It reads the largest image through a 1×1 ``fromRGB``; at each smaller resolution the
    image of that scale is concatenated to the features before the block's convs. Minibatch
    standard deviation and a 4×4 conv end it.
    """

    def __init__(self, *, image_size: int = 64, channels: int = 3, width: int = 64, dropout: float = 0.0) -> None:
        super().__init__()
        levels = _levels(image_size, "MultiScaleDiscriminator")
        self.config = dict(image_size=image_size, channels=channels, width=width, dropout=dropout)
        self.levels, self.image_size = levels, image_size
        chans = [min(width * 2**i, 8 * width) for i in range(levels)]  # from the top (S×S) down to 4×4
        self.from_rgb = nn.Sequential(nn.Conv2d(channels, chans[0], 1), nn.LeakyReLU(0.2))
        self.blocks = nn.ModuleList()
        for i in range(levels - 1):  # block i: resolution S / 2^i → S / 2^(i+1)
            extra = channels if i > 0 else 0
            self.blocks.append(nn.Sequential(
                nn.Conv2d(chans[i] + extra, chans[i], 3, padding=1), nn.LeakyReLU(0.2),
                nn.Conv2d(chans[i], chans[i + 1], 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                nn.Dropout2d(dropout) if dropout else nn.Identity()))
        self.head = nn.Sequential(nn.Conv2d(chans[-1] + channels + 1, chans[-1], 3, padding=1), nn.LeakyReLU(0.2),
                                  nn.Conv2d(chans[-1], 1, 4), nn.Flatten(0))
        init_normal_(self)

    def forward(self, images: list[torch.Tensor]) -> torch.Tensor:
        _check_scales(images, self.levels, self.image_size, "MultiScaleDiscriminator")
        x = self.from_rgb(images[-1])
        for i, block in enumerate(self.blocks):
            if i > 0:
                x = torch.cat([x, images[-1 - i]], dim=1)
            x = block(x)
        return self.head(_minibatch_std(torch.cat([x, images[0]], dim=1)))


class PerScaleDiscriminators(nn.Module):
    """One small strided-conv discriminator per scale (4×4 through S×S); the logits are averaged.

    :meth:`per_scale` returns each discriminator's logits, for per-scale losses.
    """

    def __init__(self, *, image_size: int = 64, channels: int = 3, width: int = 64, dropout: float = 0.0) -> None:
        super().__init__()
        levels = _levels(image_size, "PerScaleDiscriminators")
        self.config = dict(image_size=image_size, channels=channels, width=width, dropout=dropout)
        self.levels, self.image_size = levels, image_size
        self.discriminators = nn.ModuleList()
        for k in range(levels):  # scale k is 4·2^k pixels: k stride-2 convs bring it to 4×4
            layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1), nn.LeakyReLU(0.2)]
            c = width
            for _ in range(k):
                layers += [nn.Conv2d(c, min(2 * c, 8 * width), 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
                c = min(2 * c, 8 * width)
            if dropout:
                layers.append(nn.Dropout2d(dropout))
            layers += [nn.Flatten(1), nn.Linear(c * 16, 1), nn.Flatten(0)]
            self.discriminators.append(nn.Sequential(*layers))
        init_normal_(self)

    def per_scale(self, images: list[torch.Tensor]) -> list[torch.Tensor]:
        """Each scale's discriminator's ``(B,)`` logits, smallest scale first."""
        _check_scales(images, self.levels, self.image_size, "PerScaleDiscriminators")
        return [d(image) for d, image in zip(self.discriminators, images)]

    def forward(self, images: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(self.per_scale(images)).mean(dim=0)


class UNetDiscriminator(nn.Module):
    """``[4×4 … S×S]`` images → per-pixel logits ``(B, S, S)``: a U-Net with spectral norm (Real-ESRGAN's D).

    The encoder reads the largest image and, like :class:`MultiScaleDiscriminator`, takes each
    smaller scale in at its resolution, down to 4×4; the decoder upsamples back to ``S × S``,
    adding the encoder's features at each resolution (skip connections). Every loss of the
    package averages over all the logits, so each pixel's realness counts once.
    """

    def __init__(self, *, image_size: int = 64, channels: int = 3, width: int = 64, dropout: float = 0.0) -> None:
        super().__init__()
        levels = _levels(image_size, "UNetDiscriminator")
        self.config = dict(image_size=image_size, channels=channels, width=width, dropout=dropout)
        self.levels, self.image_size = levels, image_size
        sn = nn.utils.parametrizations.spectral_norm
        chans = [min(width * 2**i, 8 * width) for i in range(levels)]  # from the top (S×S) down to 4×4
        self.from_rgb = nn.Sequential(sn(nn.Conv2d(channels, chans[0], 3, padding=1)), nn.LeakyReLU(0.2))
        self.down = nn.ModuleList()
        for i in range(levels - 1):  # (B, chans[i] (+C), S/2^i, S/2^i) → (B, chans[i+1], S/2^(i+1), …)
            extra = channels if i > 0 else 0
            self.down.append(nn.Sequential(sn(nn.Conv2d(chans[i] + extra, chans[i + 1], 4, stride=2, padding=1)),
                                           nn.LeakyReLU(0.2)))
        self.bottom = nn.Sequential(sn(nn.Conv2d(chans[-1] + channels, chans[-1], 3, padding=1)),  # + the 4×4 image
                                    nn.LeakyReLU(0.2))
        self.up = nn.ModuleList()
        for i in reversed(range(levels - 1)):  # (B, chans[i+1], S/2^(i+1), …) → (B, chans[i], S/2^i, …), + skip
            self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                                         sn(nn.Conv2d(chans[i + 1], chans[i], 3, padding=1)), nn.LeakyReLU(0.2)))
        self.head = nn.Sequential(sn(nn.Conv2d(chans[0], chans[0], 3, padding=1)), nn.LeakyReLU(0.2),
                                  nn.Dropout2d(dropout) if dropout else nn.Identity(),
                                  nn.Conv2d(chans[0], 1, 3, padding=1))  # (B, 1, S, S)

    def forward(self, images: list[torch.Tensor]) -> torch.Tensor:
        _check_scales(images, self.levels, self.image_size, "UNetDiscriminator")
        x = self.from_rgb(images[-1])
        skips = [x]
        for i, block in enumerate(self.down):
            x = block(torch.cat([x, images[-1 - i]], dim=1) if i > 0 else x)
            skips.append(x)
        skips.pop()  # the bottom (4×4) is x itself
        x = self.bottom(torch.cat([x, images[0]], dim=1))
        for block in self.up:
            x = block(x) + skips.pop()
        return self.head(x).squeeze(1)  # (B, S, S)

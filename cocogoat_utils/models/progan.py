"""The progressive GAN: networks that grow from 4×4 by one level at a time, each new level faded in.

After Karras, Aila, Laine & Lehtinen, *Progressive Growing of GANs for Improved Quality,
Stability, and Variation* (ICLR 2018, https://arxiv.org/abs/1710.10196). Level ``k`` draws
``4·2^k`` pixels: level 0 is 4×4, level 1 8×8, level 2 16×16, level 3 32×32, level 4 64×64.

Both networks hold the blocks of every level from the start, and :meth:`ProGenerator.set_level`
chooses how many are used, so the weights of the earlier levels carry over untouched when a
level is added. While a level fades in (``alpha`` from 0 to 1) the generator blends two paths:
the previous level's image, upsampled (``toRGB`` of the old top block), and the new block's
image; the discriminator mirrors it with a ``fromRGB`` on the downsampled input. At ``alpha=0``
the grown network draws exactly what the smaller one drew, enlarged; at ``alpha=1`` the old path
is gone.

Every convolution and linear layer has an equalised learning rate; the discriminator ends with
a minibatch standard-deviation channel; pixel-wise normalisation in the generator is a switch,
off by default — the Cocogoat author found it collapsed his runs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import EqualizedConv2d, EqualizedLinear, Generator, MinibatchStdDev, PixelNorm
from ..runtime import eval_mode


def resolution(level: int) -> int:
    """The image size drawn at ``level``: ``4 · 2**level``."""
    return 4 * 2**level


def level_channels(max_level: int, width: int, min_width: int = 16) -> list[int]:
    """Channels of each level's block: ``width`` at 4×4 and 8×8, then halved per level, at least ``min_width``."""
    return [max(min_width, width // 2 ** max(0, k - 1)) for k in range(max_level + 1)]


class _Growing(nn.Module):
    """The level and fade-in state both networks share; saved in the state dict (``_extra_state``)."""

    def __init__(self, max_level: int) -> None:
        super().__init__()
        if max_level < 0:
            raise ValueError(f"max_level={max_level}: must be ≥ 0")
        self.max_level = max_level
        self.level = 0
        self.alpha = 1.0

    @property
    def resolution(self) -> int:
        return resolution(self.level)

    @property
    def fading(self) -> bool:
        """Whether the top block is being faded in (level above 0 and ``alpha < 1``)."""
        return self.level > 0 and self.alpha < 1.0

    def set_level(self, level: int, alpha: float = 1.0) -> None:
        """Use the blocks up to ``level``; ``alpha`` in [0, 1] is how far the top one is faded in."""
        if not 0 <= level <= self.max_level:
            raise ValueError(f"level {level} ({resolution(level)}×{resolution(level)}) is beyond this "
                             f"{type(self).__name__}'s range: levels 0 (4×4) to {self.max_level} "
                             f"({resolution(self.max_level)}×{resolution(self.max_level)})")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha={alpha}: must be between 0 and 1")
        self.level, self.alpha = int(level), float(alpha)

    def get_extra_state(self) -> dict:
        return {"level": self.level, "alpha": self.alpha}

    def set_extra_state(self, state: dict) -> None:
        self.set_level(state["level"], state["alpha"])


class ProGenerator(_Growing, Generator):
    """Noise ``(B, latent_dim)`` → images ``(B, C, 4·2^level, 4·2^level)``, roughly in ``[-1, 1]``.

    The output is linear, as in the paper; :func:`cocogoat_utils.data.to_uint8` clamps it.
    """

    def __init__(self, *, max_level: int = 4, latent_dim: int = 128, channels: int = 3, width: int = 256,
                 pixel_norm: bool = False) -> None:
        super().__init__(max_level)
        self.config = dict(max_level=max_level, latent_dim=latent_dim, channels=channels, width=width,
                           pixel_norm=pixel_norm)
        self.latent_dim = latent_dim
        chans = level_channels(max_level, width)  # channels at 4, 8, 16, … px: width, width, width/2, …
        norm = PixelNorm if pixel_norm else nn.Identity
        self.latent_norm = norm()
        self.stem = nn.Sequential(EqualizedLinear(latent_dim, chans[0] * 16, gain=2**0.5 / 4),  # (B, chans[0]·16)
                                  nn.Unflatten(1, (chans[0], 4, 4)), nn.LeakyReLU(0.2), norm(),  # (B, chans[0], 4, 4)
                                  EqualizedConv2d(chans[0], chans[0], 3, padding=1), nn.LeakyReLU(0.2), norm())
        self.blocks = nn.ModuleList([  # block k: (B, chans[k-1], S/2, S/2) → (B, chans[k], S, S), S = 4·2^k
            nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                          EqualizedConv2d(chans[k - 1], chans[k], 3, padding=1), nn.LeakyReLU(0.2), norm(),
                          EqualizedConv2d(chans[k], chans[k], 3, padding=1), nn.LeakyReLU(0.2), norm())
            for k in range(1, max_level + 1)])
        self.to_rgb = nn.ModuleList([EqualizedConv2d(c, channels, 1, gain=1.0) for c in chans])  # (B, C, S, S) per level

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.stem(self.latent_norm(z))
        for block in self.blocks[: max(0, self.level - 1)]:
            x = block(x)
        if self.level == 0:
            return self.to_rgb[0](x)
        new = self.to_rgb[self.level](self.blocks[self.level - 1](x))
        if not self.fading:
            return new
        old = F.interpolate(self.to_rgb[self.level - 1](x), scale_factor=2, mode="nearest")
        return torch.lerp(old, new, self.alpha)

    def match_real(self, images: torch.Tensor) -> torch.Tensor:
        """Real images as this generator draws them now: brought to its resolution by average pooling and,
        while fading in, blended with their half-resolution version enlarged (the paper's fade of the reals)."""
        size = images.shape[-1]
        if size % self.resolution or images.shape[-2] != size:
            raise ValueError(f"real images of {tuple(images.shape[-2:])} cannot be pooled to level {self.level} "
                             f"({self.resolution}×{self.resolution})")
        images = F.avg_pool2d(images, size // self.resolution) if size != self.resolution else images
        if not self.fading:
            return images
        coarse = F.interpolate(F.avg_pool2d(images, 2), scale_factor=2, mode="nearest")
        return torch.lerp(coarse, images, self.alpha)


class ProDiscriminator(_Growing):
    """Images ``(B, C, 4·2^level, 4·2^level)`` → logits ``(B,)``; the mirror of :class:`ProGenerator`."""

    def __init__(self, *, max_level: int = 4, channels: int = 3, width: int = 256, group_size: int = 4) -> None:
        super().__init__(max_level)
        self.config = dict(max_level=max_level, channels=channels, width=width, group_size=group_size)
        chans = level_channels(max_level, width)
        self.from_rgb = nn.ModuleList([nn.Sequential(EqualizedConv2d(channels, c, 1), nn.LeakyReLU(0.2))
                                       for c in chans])  # (B, C, S, S) → (B, chans[k], S, S) at level k
        self.blocks = nn.ModuleList([  # block k: (B, chans[k], S, S) → (B, chans[k-1], S/2, S/2)
            nn.Sequential(EqualizedConv2d(chans[k], chans[k], 3, padding=1), nn.LeakyReLU(0.2),
                          EqualizedConv2d(chans[k], chans[k - 1], 3, padding=1), nn.LeakyReLU(0.2),
                          nn.AvgPool2d(2))
            for k in range(1, max_level + 1)])
        self.head = nn.Sequential(MinibatchStdDev(group_size),  # (B, chans[0] + 1, 4, 4)
                                  EqualizedConv2d(chans[0] + 1, chans[0], 3, padding=1), nn.LeakyReLU(0.2),
                                  nn.Flatten(), EqualizedLinear(chans[0] * 16, chans[0]), nn.LeakyReLU(0.2),
                                  EqualizedLinear(chans[0], 1, gain=1.0))  # (B, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-1] != self.resolution or images.shape[-2] != self.resolution:
            raise ValueError(f"{type(self).__name__} at level {self.level} takes {self.resolution}×{self.resolution} "
                             f"images, got {tuple(images.shape[-2:])}")
        x = self.from_rgb[self.level](images)
        if self.level > 0:
            x = self.blocks[self.level - 1](x)
            if self.fading:
                x = torch.lerp(self.from_rgb[self.level - 1](F.avg_pool2d(images, 2)), x, self.alpha)
            for block in reversed(self.blocks[: self.level - 1]):
                x = block(x)
        return self.head(x).squeeze(1)


def set_level(level: int, alpha: float, *models: _Growing | None) -> None:
    """Set the level and fade-in ``alpha`` of several growing networks at once (``None`` is skipped)."""
    for model in models:
        if model is not None:
            model.set_level(level, alpha)


def level_parameters(generator: ProGenerator, discriminator: ProDiscriminator) -> list[dict]:
    """One row per level: its ``resolution``, its block's ``channels`` and the parameters each network uses at that
    level (G: stem, blocks up to it and its ``toRGB``; D: its ``fromRGB``, blocks down from it and the head)."""
    def count(modules) -> int:
        return sum(w.numel() for m in modules for w in m.parameters())

    channels = level_channels(generator.max_level, generator.config["width"])
    return [{"level": k, "resolution": resolution(k), "channels": channels[k],
             "G params used": count([generator.stem, *generator.blocks[:k], generator.to_rgb[k]]),
             "D params used": count([discriminator.head, *discriminator.blocks[:k], discriminator.from_rgb[k]])}
            for k in range(generator.max_level + 1)]


@torch.no_grad()
def fade_in_frames(generator: ProGenerator, noise: torch.Tensor, alphas: list[float]) -> list[torch.Tensor]:
    """The generator's images for ``noise`` at its top level with ``alpha`` set to each of ``alphas`` (float in
    ``[-1, 1]``, on the CPU), in eval mode; the generator is left at ``alpha = 1``."""
    top, frames = generator.level, []
    with eval_mode(generator):
        for alpha in alphas:
            generator.set_level(top, alpha)
            frames.append(generator(noise).float().clamp(-1, 1).cpu())
    generator.set_level(top, 1.0)
    return frames

"""A compact UNet for denoising diffusion, sized for 32×32 and 64×64 images.

The shape of Ho et al. 2020's network (itself a PixelCNN++-style UNet), smaller:
residual blocks with GroupNorm and SiLU, the time step as a sinusoidal embedding
(Vaswani et al. 2017) through an MLP and added inside every block, self-attention at
the lowest resolutions, skip connections from every down block to its up block, and an
optional class embedding (with one extra "no label" class for classifier-free
guidance). The last conv starts at zero, so the untrained network predicts zero noise.
"""

from __future__ import annotations

import math

import contextlib

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """``(B,)`` integer steps → ``(B, dim)``: sines and cosines at geometrically spaced frequencies."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(32, channels // 4) or 1, channels)


class ResBlock(nn.Module):
    """GroupNorm → SiLU → 3×3 conv, plus the embedding, → GroupNorm → SiLU → dropout → 3×3 conv; a residual path."""

    def __init__(self, in_channels: int, out_channels: int, emb_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.block1 = nn.Sequential(_norm(in_channels), nn.SiLU(), nn.Conv2d(in_channels, out_channels, 3, padding=1))
        self.emb = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, out_channels))
        self.block2 = nn.Sequential(_norm(out_channels), nn.SiLU(), nn.Dropout(dropout),
                                    nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.block1(x) + self.emb(emb)[:, :, None, None]
        return self.skip(x) + self.block2(h)


class Attention(nn.Module):
    """Self-attention over the ``H × W`` positions (GroupNorm first, residual)."""

    def __init__(self, channels: int, heads: int = 4) -> None:
        super().__init__()
        self.norm = _norm(channels)
        self.attention = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        seq = self.norm(x).flatten(2).transpose(1, 2)  # (B, H·W, C)
        # on a CPU the plain (math) kernel: at these short sequences (64 positions) the flash kernel's backward made
        # 06's training step 1.18× slower (benchmarks/cpu_steps.py --ab math_attention); the same attention
        with sdpa_kernel(SDPBackend.MATH) if x.device.type == "cpu" else contextlib.nullcontext():
            out, _ = self.attention(seq, seq, seq, need_weights=False)
        return x + out.transpose(1, 2).reshape(b, c, h, w)


class UNet(nn.Module):
    """``(x_t (B, C, S, S), t (B,), labels (B,) or None)`` → ``(B, C, S, S)``: the predicted noise (or v).

    ``channel_mults`` sets the width at each resolution (``width · mult``); there are
    ``len(channel_mults) − 1`` halvings. Attention runs at the resolutions in
    ``attention_at``. ``num_classes`` adds a class embedding with a null class
    ``num_classes`` (also used when ``labels`` is ``None``).
    """

    channels_last_on_cpu = False  # trains 12 % slower in NHWC on a CPU (benchmarks/cpu_steps.py; train.optim.fast_layout)

    def __init__(self, *, image_size: int = 32, channels: int = 3, width: int = 64,
                 channel_mults: tuple[int, ...] = (1, 2, 2), blocks_per_level: int = 2,
                 attention_at: tuple[int, ...] = (8,), dropout: float = 0.1, num_classes: int | None = None) -> None:
        super().__init__()
        levels = len(channel_mults)
        if image_size % 2 ** (levels - 1):
            raise ValueError(f"image_size={image_size} does not halve {levels - 1} times")
        self.config = dict(image_size=image_size, channels=channels, width=width, channel_mults=tuple(channel_mults),
                           blocks_per_level=blocks_per_level, attention_at=tuple(attention_at), dropout=dropout,
                           num_classes=num_classes)
        self.num_classes = num_classes
        emb_dim = 4 * width
        self.time_mlp = nn.Sequential(nn.Linear(width, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))  # (B, emb)
        self.class_emb = nn.Embedding(num_classes + 1, emb_dim) if num_classes else None  # (B, emb), + the null class
        self.stem = nn.Conv2d(channels, width, 3, padding=1)  # (B, width, S, S)

        # down: at each level, blocks_per_level ResBlocks (B, ch, s, s) → (B, width·mult, s, s), then a stride-2
        # conv to (B, width·mult, s/2, s/2); every output is kept as a skip for the way up
        self.down, skips, ch, size = nn.ModuleList(), [width], width, image_size
        for level, mult in enumerate(channel_mults):
            for _ in range(blocks_per_level):
                block = nn.ModuleList([ResBlock(ch, width * mult, emb_dim, dropout)])
                ch = width * mult
                if size in attention_at:
                    block.append(Attention(ch))
                self.down.append(block)
                skips.append(ch)
            if level < levels - 1:
                self.down.append(nn.ModuleList([nn.Conv2d(ch, ch, 3, stride=2, padding=1)]))
                skips.append(ch)
                size //= 2
        self.middle = nn.ModuleList([ResBlock(ch, ch, emb_dim, dropout), Attention(ch), ResBlock(ch, ch, emb_dim, dropout)])
        # (B, width·mults[-1], S/2^(L-1), S/2^(L-1)) at the bottom
        # up: at each level, blocks_per_level + 1 ResBlocks on (the features ⊕ a skip), then ×2 nearest + a conv

        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(channel_mults))):
            for _ in range(blocks_per_level + 1):
                block = nn.ModuleList([ResBlock(ch + skips.pop(), width * mult, emb_dim, dropout)])
                ch = width * mult
                if size in attention_at:
                    block.append(Attention(ch))
                self.up.append(block)
            if level > 0:
                self.up.append(nn.ModuleList([nn.Upsample(scale_factor=2, mode="nearest"),
                                              nn.Conv2d(ch, ch, 3, padding=1)]))
                size *= 2
        self.head = nn.Sequential(_norm(ch), nn.SiLU(), nn.Conv2d(ch, channels, 3, padding=1))  # (B, C, S, S)
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    @staticmethod
    def _is_resample(block: nn.ModuleList) -> bool:
        return not isinstance(block[0], ResBlock)

    def _run(self, block: nn.ModuleList, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        for layer in block:
            x = layer(x, emb) if isinstance(layer, ResBlock) else layer(x)
        return x

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.time_mlp(timestep_embedding(t, self.time_mlp[0].in_features))
        if self.class_emb is not None:
            if labels is None:
                labels = torch.full((x.shape[0],), self.num_classes, device=x.device, dtype=torch.long)
            emb = emb + self.class_emb(labels)
        h = self.stem(x)
        skips = [h]
        for block in self.down:
            h = self._run(block, h, emb)
            skips.append(h)
        for layer in self.middle:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
        for block in self.up:
            if self._is_resample(block):
                h = self._run(block, h, emb)
            else:
                h = self._run(block, torch.cat([h, skips.pop()], dim=1), emb)
        return self.head(h)

"""The seed author's untested idea: an LSTM inside the generator, reading the image as a table.

Transposed convolutions make an image-shaped feature map from noise; an LSTM then reads
that map as a table — each row (or column) one time step, the rest of the row its
features — "to predict the best pixel value from what has been created so far"; a
linear layer per step and a reshape bring the sequence back to ``C × H × W``.

- :func:`as_sequence` / :func:`from_sequence`: the shape bookkeeping between
  ``(B, C, H, W)`` and ``(B, steps, features)`` (the step the author's ``(1, 3, 8, 8)``
  tensor was missing: ``nn.LSTM`` wants 3 dimensions, not 4).
- :class:`LSTMBridge`: the LSTM over rows, over columns, or over rows then columns,
  optionally bidirectional.
- :class:`LSTMGenerator`: the prototype as described (conv stack → bridge → 3×3 conv).
- :class:`LSTMRefiner` and :class:`TwoStageGenerator`: his later variant, an LSTM stage
  that refines a first generator's output.
- :class:`Inpainter`: his other thought, recomposing masked images, with an LSTM, a
  self-attention (:class:`SelfAttentionMixer`, his alternative to the LSTM) or a conv-only
  middle, so that the three can be compared (the holes and the loss are in ``train.inpaint``).
- :func:`match_parameters`: the width that gives a competitor the same parameter count.
- :func:`trace_shapes`: each stage's input and output shape in one forward pass (forward hooks).

Every generator takes noise ``(B, latent_dim)`` and returns ``(B, C, S, S)`` in
``[-1, 1]``, so it trains with the shared :class:`~cocogoat_utils.train.GANTrainer`
and the DCGAN discriminators.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers import Generator, check_image_size, init_normal_, up_block
from .dcgan import DCGANGenerator

SIZES = (32, 64, 128)
DIRECTIONS = ("rows", "columns", "rows+columns")


def as_sequence(x: torch.Tensor, direction: str = "rows") -> torch.Tensor:
    """``(B, C, H, W)`` → ``(B, H, C·W)`` for ``"rows"`` (a row per step) or ``(B, W, C·H)`` for ``"columns"``."""
    b, c, h, w = x.shape
    if direction == "rows":
        return x.permute(0, 2, 1, 3).reshape(b, h, c * w)
    if direction == "columns":
        return x.permute(0, 3, 1, 2).reshape(b, w, c * h)
    raise ValueError(f"direction={direction!r}: expected 'rows' or 'columns'")


def from_sequence(seq: torch.Tensor, channels: int, direction: str = "rows") -> torch.Tensor:
    """The inverse of :func:`as_sequence`: ``(B, steps, channels · other)`` → ``(B, channels, H, W)``."""
    b, steps, features = seq.shape
    if features % channels:
        raise ValueError(f"{features} features per step do not split into {channels} channels")
    other = features // channels
    if direction == "rows":
        return seq.reshape(b, steps, channels, other).permute(0, 2, 1, 3)
    if direction == "columns":
        return seq.reshape(b, steps, channels, other).permute(0, 2, 3, 1)
    raise ValueError(f"direction={direction!r}: expected 'rows' or 'columns'")


class LSTMBridge(nn.Module):
    """Feature map ``(B, in_channels, S, S)`` → LSTM over its rows and/or columns → ``(B, out_channels, S, S)``.

    Each pass reads ``S`` steps of ``channels · S`` features, runs an LSTM with
    ``hidden`` units (twice that when ``bidirectional``) and maps every hidden state
    back to a row (or column) of ``out_channels · S`` values. ``"rows+columns"``
    runs a rows pass, then a columns pass over its output.
    """

    def __init__(self, in_channels: int, out_channels: int, size: int, *, hidden: int = 256,
                 direction: str = "rows", bidirectional: bool = False) -> None:
        super().__init__()
        if direction not in DIRECTIONS:
            raise ValueError(f"direction={direction!r}: expected one of {DIRECTIONS}")
        self.directions = direction.split("+")
        self.out_channels = out_channels
        self.lstms, self.projections = nn.ModuleList(), nn.ModuleList()
        channels = in_channels
        for _ in self.directions:
            self.lstms.append(nn.LSTM(channels * size, hidden, batch_first=True, bidirectional=bidirectional))
            self.projections.append(nn.Linear(hidden * (2 if bidirectional else 1), out_channels * size))
            channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for direction, lstm, projection in zip(self.directions, self.lstms, self.projections):
            hidden, _ = lstm(as_sequence(x, direction))  # (B, S, hidden · directions)
            x = from_sequence(projection(hidden), self.out_channels, direction)  # (B, out, S, S)
        return x


class LSTMGenerator(Generator):
    """The prototype: noise → linear to 4×4 → transposed convs up to ``S × S`` → LSTM bridge → 3×3 conv → tanh."""

    def __init__(self, *, image_size: int = 32, latent_dim: int = 100, channels: int = 3, width: int = 256,
                 lstm_channels: int = 16, hidden: int = 256, direction: str = "rows",
                 bidirectional: bool = False) -> None:
        super().__init__()
        stages = check_image_size(image_size, SIZES, "LSTMGenerator")
        self.config = dict(image_size=image_size, latent_dim=latent_dim, channels=channels, width=width,
                           lstm_channels=lstm_channels, hidden=hidden, direction=direction, bidirectional=bidirectional)
        self.latent_dim = latent_dim
        self.stem = nn.Sequential(  # (B, latent) → (B, width, 4, 4)
            nn.Linear(latent_dim, width * 16, bias=False), nn.Unflatten(1, (width, 4, 4)),
            nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        chans = [max(width // 2**i, 16) for i in range(stages + 1)]
        self.body = nn.Sequential(*[up_block(chans[i], chans[i + 1]) for i in range(stages)])  # (B, chans[-1], S, S)
        self.bridge = LSTMBridge(chans[-1], lstm_channels, image_size, hidden=hidden, direction=direction,
                                 bidirectional=bidirectional)  # (B, lstm_channels, S, S)
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(lstm_channels, channels, 3, 1, 1), nn.Tanh())
        init_normal_(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.bridge(self.body(self.stem(z.flatten(1)))))


class LSTMRefiner(nn.Module):
    """A second stage: image ``(B, C, S, S)`` → 3×3 conv features → LSTM bridge → 3×3 conv on both → a correction.

    The correction is added to the image before its tanh (``tanh(atanh(x) + Δ)``), and the
    last conv starts at zero, so an untrained refiner passes the first generator's image
    through unchanged and learns only what the LSTM can add from the rows it has read.
    """

    def __init__(self, *, image_size: int = 32, channels: int = 3, features: int = 16, hidden: int = 256,
                 direction: str = "rows+columns", bidirectional: bool = True) -> None:
        super().__init__()
        self.config = dict(image_size=image_size, channels=channels, features=features, hidden=hidden,
                           direction=direction, bidirectional=bidirectional)
        self.encode = nn.Sequential(nn.Conv2d(channels, features, 3, 1, 1), nn.LeakyReLU(0.2))
        self.bridge = LSTMBridge(features, features, image_size, hidden=hidden, direction=direction,
                                 bidirectional=bidirectional)
        self.decode = nn.Conv2d(2 * features, channels, 3, 1, 1)
        init_normal_(self)
        nn.init.zeros_(self.decode.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.encode(x)
        correction = self.decode(torch.cat([features, self.bridge(features)], dim=1))
        return torch.tanh(torch.atanh(x.clamp(-0.999, 0.999)) + correction)


class TwoStageGenerator(Generator):
    """``refiner(first(z))``: a DCGAN generator whose image an :class:`LSTMRefiner` reworks."""

    def __init__(self, first: DCGANGenerator, refiner: LSTMRefiner) -> None:
        super().__init__()
        self.first, self.refiner = first, refiner
        self.latent_dim = first.latent_dim
        self.config = {**{f"first_{k}": v for k, v in first.config.items()},
                       **{f"refiner_{k}": v for k, v in refiner.config.items()}}

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.refiner(self.first(z))


# --------------------------------------------------------------------------- recomposition

class SelfAttentionMixer(nn.Module):
    """Feature map ``(B, C, S, S)`` → every position attends to every other → ``(B, C, S, S)``.

    The map is average-pooled by ``pool`` (attention's cost grows with the square of the
    positions: 1,024 at 32 px, 256 after pooling by 2), becomes ``(S/pool)²`` tokens of ``C``
    features with a learned position embedding, goes through ``layers`` pre-norm transformer
    blocks (``nn.MultiheadAttention`` with ``heads`` heads and a 2×-wide MLP; Vaswani et al.
    2017, https://arxiv.org/abs/1706.03762), and is enlarged back (bilinear). Unlike the LSTM,
    which reads rows in order, attention lets a hole's position look at any other at once.
    """

    def __init__(self, channels: int, size: int, *, layers: int = 2, heads: int = 4, pool: int = 2) -> None:
        super().__init__()
        if size % pool:
            raise ValueError(f"size {size} is not a multiple of pool {pool}")
        self.pool = pool
        self.position = nn.Parameter(torch.zeros(1, (size // pool) ** 2, channels))
        nn.init.normal_(self.position, std=0.02)
        self.norms = nn.ModuleList([nn.LayerNorm(channels) for _ in range(2 * layers)])
        self.attentions = nn.ModuleList([nn.MultiheadAttention(channels, heads, batch_first=True) for _ in range(layers)])
        self.mlps = nn.ModuleList([nn.Sequential(nn.Linear(channels, 2 * channels), nn.GELU(),
                                                 nn.Linear(2 * channels, channels)) for _ in range(layers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        small = nn.functional.avg_pool2d(x, self.pool) if self.pool > 1 else x  # (B, C, S/p, S/p)
        tokens = small.flatten(2).transpose(1, 2) + self.position  # (B, (S/p)², C)
        for k, (attention, mlp) in enumerate(zip(self.attentions, self.mlps)):
            normed = self.norms[2 * k](tokens)
            tokens = tokens + attention(normed, normed, normed, need_weights=False)[0]
            tokens = tokens + mlp(self.norms[2 * k + 1](tokens))
        mixed = tokens.transpose(1, 2).reshape(b, c, h // self.pool, w // self.pool)
        if self.pool > 1:
            mixed = nn.functional.interpolate(mixed, size=(h, w), mode="bilinear", align_corners=False)
        return mixed  # (B, C, S, S)


INPAINT_MIDDLES = ("lstm", "attention", "conv")


class Inpainter(nn.Module):
    """Masked image and mask ``(B, C+1, S, S)`` → the image with the hole filled, ``(B, C, S, S)``.

    Between a conv encoder and decoder sits the part that carries what is around the hole
    into it: ``middle="lstm"`` an :class:`LSTMBridge` (rows then columns, bidirectional),
    ``"attention"`` a :class:`SelfAttentionMixer`, ``"conv"`` dilated 3×3 convs. The three
    differ only there. Pixels outside the hole are copied from the input.
    """

    def __init__(self, *, image_size: int = 32, channels: int = 3, features: int = 32, middle: str = "lstm",
                 hidden: int = 128, conv_layers: int = 4, attention_layers: int = 2, heads: int = 4) -> None:
        super().__init__()
        if middle not in INPAINT_MIDDLES:
            raise ValueError(f"middle={middle!r}: expected one of {INPAINT_MIDDLES}")
        self.config = dict(image_size=image_size, channels=channels, features=features, middle=middle,
                           hidden=hidden, conv_layers=conv_layers, attention_layers=attention_layers, heads=heads)
        self.encode = nn.Sequential(nn.Conv2d(channels + 1, features, 3, 1, 1), nn.LeakyReLU(0.2),  # (B, F, S, S)
                                    nn.Conv2d(features, features, 3, 1, 1), nn.LeakyReLU(0.2))
        if middle == "lstm":
            self.middle = LSTMBridge(features, features, image_size, hidden=hidden, direction="rows+columns",
                                     bidirectional=True)
        elif middle == "attention":
            self.middle = SelfAttentionMixer(features, image_size, layers=attention_layers, heads=heads)
        else:
            self.middle = nn.Sequential(*[m for i in range(conv_layers) for m in (
                nn.Conv2d(features, features, 3, 1, padding=2**i, dilation=2**i), nn.LeakyReLU(0.2))])
        self.decode = nn.Sequential(nn.Conv2d(2 * features, features, 3, 1, 1), nn.LeakyReLU(0.2),  # (B, F, S, S)
                                    nn.Conv2d(features, channels, 3, 1, 1), nn.Tanh())  # (B, C, S, S)

    def forward(self, masked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``masked`` images in ``[-1, 1]`` (hole zeroed), ``mask`` ``(B, 1, S, S)`` with 1 in the hole."""
        features = self.encode(torch.cat([masked, mask], dim=1))
        filled = self.decode(torch.cat([features, self.middle(features)], dim=1))
        return masked * (1 - mask) + filled * mask


def parameter_count(module: nn.Module) -> int:
    """Trainable parameters in ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def match_parameters(make, budget: int, *, extra: int = 0, multiple: int = 8, largest: int = 1024) -> nn.Module:
    """``make(width)`` for the width (a multiple of ``multiple`` up to ``largest``) whose parameter count plus
    ``extra`` is closest to ``budget``: how the notebook gives competing models the same size.

    The count must grow with the width; the search bisects, so only a handful of models are built.
    """
    count = lambda w: parameter_count(make(w)) + extra  # noqa: E731
    lo, hi = 1, largest // multiple
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(multiple * mid) < budget else (lo, mid)
    return make(min(multiple * lo, multiple * hi, key=lambda w: abs(count(w) - budget)))


def trace_shapes(model: nn.Module, stages: dict[str, nn.Module], *inputs: torch.Tensor) -> list[tuple]:
    """Run ``model(*inputs)`` with a forward hook on each of ``stages`` (name → sub-module) and return
    ``(name, input shape, output shape)`` in the order the stages ran; the hooks are removed afterwards."""
    trace, hooks = [], []
    for name, module in stages.items():
        hooks.append(module.register_forward_hook(
            lambda m, args, out, name=name: trace.append((name, tuple(args[0].shape), tuple(out.shape)))))
    try:
        model(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return trace

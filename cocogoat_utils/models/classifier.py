"""A small image classifier: the DataSelector's network and the fixed feature space of ``metrics``.

Strided convs with batch norm and ReLU, global average pooling (so it takes any image
size), a ``feature_dim`` embedding, then a linear layer to ``num_classes`` logits.
:meth:`ImageClassifier.features` returns the embedding that the quality metrics compare.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers import init_normal_


class ImageClassifier(nn.Module):
    """Images ``(B, C, H, W)`` in ``[-1, 1]`` → ``(B, num_classes)`` logits; ``features`` gives ``(B, feature_dim)``."""

    def __init__(self, *, num_classes: int, channels: int = 3, width: int = 32, depth: int = 4,
                 feature_dim: int = 64, dropout: float = 0.2) -> None:
        super().__init__()
        self.config = dict(num_classes=num_classes, channels=channels, width=width, depth=depth,
                           feature_dim=feature_dim, dropout=dropout)
        self.feature_dim = feature_dim
        layers: list[nn.Module] = []
        in_channels = channels
        for i in range(depth):  # each block halves H and W: (B, width·2^i, H/2^(i+1), W/2^(i+1))
            out_channels = width * 2**i
            layers += [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
                       nn.ReLU(inplace=True),
                       nn.Conv2d(out_channels, out_channels, 3, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
            in_channels = out_channels
        self.body = nn.Sequential(*layers)
        self.embed = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(in_channels, feature_dim),
                                   nn.ReLU(inplace=True))  # (B, feature_dim)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, num_classes))  # (B, num_classes)
        init_normal_(self)
        for m in self.modules():  # He init suits the ReLU classifier better than DCGAN's N(0, 0.02)
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

"""A denoiser for two-dimensional points: 06's toy diffusion (two moons), small enough to train in seconds."""

from __future__ import annotations

import torch
from torch import nn

from .unet import timestep_embedding


class ToyDenoiser(nn.Module):
    """(x_t (B, 2), t (B,), labels (B,) or None) → (B, 2): the time and the label as embeddings, then an MLP.
    ``labels=None`` is the "no label" class (index ``num_classes``), for guidance."""

    def __init__(self, width: int = 128, num_classes: int = 2, embedding: int = 32):
        super().__init__()
        self.num_classes, self.embedding = num_classes, embedding
        self.label_embedding = nn.Embedding(num_classes + 1, embedding)           # + 1: "no label"
        self.net = nn.Sequential(nn.Linear(2 + embedding, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU(),
                                 nn.Linear(width, width), nn.SiLU(), nn.Linear(width, 2))

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is None:
            labels = torch.full((len(x),), self.num_classes, dtype=torch.long, device=x.device)
        h = timestep_embedding(t, self.embedding) + self.label_embedding(labels)  # (B, embedding)
        return self.net(torch.cat([x, h], 1))                                      # (B, 2)

"""The Emboxer: a small CNN that puts one box around the subject of an image.

The seed's DataAugmentator network. Strided conv blocks (the DCGAN discriminator's
``down_block``) halve the image down to 4×4; the 4×4 map is flattened, not pooled, because
where things are is the answer; a small MLP gives four numbers: the box centre and size as
fractions of the image, through a sigmoid, returned as ``(x0, y0, x1, y1)`` in pixels. :func:`box_loss` is L1 on the
normalised corners plus the generalised IoU loss of Rezatofighi et al. 2019
(https://arxiv.org/abs/1902.09630), from ``torchvision.ops``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import generalized_box_iou_loss

from ..layers import check_image_size, down_block


class Emboxer(nn.Module):
    """Images ``(B, C, S, S)`` in ``[-1, 1]`` → boxes ``(B, 4)`` as ``(x0, y0, x1, y1)`` in pixels."""

    def __init__(self, *, image_size: int = 64, channels: int = 3, width: int = 32, hidden: int = 256) -> None:
        super().__init__()
        stages = check_image_size(image_size, (16, 32, 64, 128), "Emboxer")
        self.config = dict(image_size=image_size, channels=channels, width=width, hidden=hidden)
        self.image_size = image_size
        chans = [min(width * 2**i, 8 * width) for i in range(stages)]
        blocks = [down_block(channels, chans[0], batch_norm=False)]
        blocks += [down_block(chans[i], chans[i + 1]) for i in range(stages - 1)]  # (B, chans[-1], 4, 4)
        self.body = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Flatten(1), nn.Linear(chans[-1] * 16, hidden), nn.LeakyReLU(0.2),
                                  nn.Linear(hidden, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cx, cy, w, h = torch.sigmoid(self.head(self.body(x))).unbind(dim=1)
        box = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=1)
        return box.clamp(0, 1) * self.image_size


def box_loss(predicted: torch.Tensor, target: torch.Tensor, image_size: int, *, giou_weight: float = 1.0) -> torch.Tensor:
    """``L1(corners / image_size) + giou_weight · GIoU loss``, both averaged over the batch."""
    l1 = F.l1_loss(predicted / image_size, target / image_size)
    return l1 + giou_weight * generalized_box_iou_loss(predicted, target, reduction="mean")

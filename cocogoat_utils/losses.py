"""GAN losses, each a small function of the discriminator's logits.

Every loss pair shares one signature, ``loss(real_logits, fake_logits) -> scalar``, so
that the trainer can take any of them by name from :data:`LOSSES`. The generator's half
receives the real logits too (relativistic losses need them; the BCE loss ignores them).

The standard GAN objective (Goodfellow et al. 2014, https://arxiv.org/abs/1406.2661) is
``min_G max_D  E[log D(x)] + E[log(1 − D(G(z)))]`` with ``D = σ(logit)``. The generator
uses the non-saturating form: instead of minimising ``log(1 − D(G(z)))``, whose gradient
vanishes when D confidently rejects fakes, it maximises ``log D(G(z))`` — that is, it is
trained with the labels flipped (fakes labelled "real").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F


def bce_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, *, real_label: float = 1.0) -> torch.Tensor:
    """``L_D = −E[log σ(D(x))] − E[log(1 − σ(D(G(z))))]`` (binary cross-entropy on logits).

    ``real_label < 1`` is one-sided label smoothing (Salimans et al. 2016).
    """
    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_label))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def bce_generator_loss(real_logits: torch.Tensor | None, fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating ``L_G = −E[log σ(D(G(z)))]``: the fakes scored against the label "real"."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


class GANLoss(NamedTuple):
    """A discriminator loss and a generator loss with the shared signature."""

    discriminator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    generator: Callable[[torch.Tensor | None, torch.Tensor], torch.Tensor]
    generator_uses_real: bool = False  # whether the generator's loss reads D(real)


LOSSES: dict[str, GANLoss] = {
    "bce": GANLoss(bce_discriminator_loss, bce_generator_loss),
}


def get_loss(name: str) -> GANLoss:
    """The loss pair called ``name``; ``ValueError`` lists the names available."""
    if name not in LOSSES:
        raise ValueError(f"unknown GAN loss {name!r}; choose from {sorted(LOSSES)}")
    return LOSSES[name]

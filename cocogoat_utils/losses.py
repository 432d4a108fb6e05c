"""GAN losses, each a small function of the discriminator's logits.

Every loss pair shares one signature, ``loss(real_logits, fake_logits) -> scalar``, so
that the trainer can take any of them by name from :data:`LOSSES`. The generator's half
receives the real logits too (relativistic losses need them; the BCE loss ignores them).

The standard GAN objective (Goodfellow et al. 2014, https://arxiv.org/abs/1406.2661) is
``min_G max_D  E[log D(x)] + E[log(1 − D(G(z)))]`` with ``D = σ(logit)``. The generator
uses the non-saturating form: instead of minimising ``log(1 − D(G(z)))``, whose gradient
vanishes when D confidently rejects fakes, it maximises ``log D(G(z))`` — that is, it is
trained with the labels flipped (fakes labelled "real").

The relativistic losses (Jolicoeur-Martineau, *The relativistic discriminator: a key element
missing from standard GAN*, 2018, https://arxiv.org/abs/1807.00734) score how much more
real a real image looks than a fake one, ``C(x_r) − C(x_f)`` (RSGAN), or than the average
fake, ``C(x_r) − E[C(x_f)]`` (the "relativistic average" Ra- losses). Their generator loss
is the discriminator loss with the roles of real and fake swapped, so the generator also
learns from the real images' scores. ``C`` is the raw logit. :func:`r1_penalty`
(Mescheder et al. 2018, https://arxiv.org/abs/1801.04406) is a regulariser on D's
gradient at real images, added by the trainer (``GANTrainConfig.r1_gamma``).

The Wasserstein loss (Arjovsky et al. 2017, https://arxiv.org/abs/1701.07875) with the
gradient penalty of Gulrajani et al. 2017 (WGAN-GP, https://arxiv.org/abs/1704.00028) is the
progressive GAN's: D ("the critic") raises its score of reals and lowers that of fakes, and
:func:`gradient_penalty` (``GANTrainConfig.gp_lambda``, λ = 10 in both papers) keeps its gradient
norm near 1 on points between real and fake images. The small drift term ``ε·E[C(x_r)²]``
(ε = 0.001, Karras et al. 2018) keeps the critic's scores from wandering off from zero.
:func:`dragan_penalty` (Kodali et al. 2017) is the same penalty taken around the real images
only (``GANTrainConfig.dragan_lambda``), with any loss.
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


def hinge_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``L_D = E[max(0, 1 − C(x_r))] + E[max(0, 1 + C(x_f))]`` (Lim & Ye 2017; Miyato et al. 2018)."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def hinge_generator_loss(real_logits: torch.Tensor | None, fake_logits: torch.Tensor) -> torch.Tensor:
    """``L_G = −E[C(x_f)]``."""
    return -fake_logits.mean()


def rsgan_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """RSGAN: ``L_D = −E[log σ(C(x_r) − C(x_f))]`` over pairs (real i with fake i)."""
    return F.softplus(-(real_logits - fake_logits)).mean()


def rsgan_generator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """RSGAN: ``L_G = −E[log σ(C(x_f) − C(x_r))]``."""
    return rsgan_discriminator_loss(fake_logits, real_logits)


def rasgan_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """RaSGAN: ``L_D = −E[log σ(C(x_r) − E C(x_f))] − E[log(1 − σ(C(x_f) − E C(x_r)))]``."""
    return (F.softplus(-(real_logits - fake_logits.mean())).mean()
            + F.softplus(fake_logits - real_logits.mean()).mean())


def rasgan_generator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """RaSGAN: ``L_G = −E[log σ(C(x_f) − E C(x_r))] − E[log(1 − σ(C(x_r) − E C(x_f)))]``."""
    return rasgan_discriminator_loss(fake_logits, real_logits)


def ralsgan_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """RaLSGAN: ``L_D = E[(C(x_r) − E C(x_f) − 1)²] + E[(C(x_f) − E C(x_r) + 1)²]``."""
    return ((real_logits - fake_logits.mean() - 1) ** 2).mean() + ((fake_logits - real_logits.mean() + 1) ** 2).mean()


def ralsgan_generator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """RaLSGAN: ``L_G = E[(C(x_f) − E C(x_r) − 1)²] + E[(C(x_r) − E C(x_f) + 1)²]``."""
    return ralsgan_discriminator_loss(fake_logits, real_logits)


def rahinge_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """RaHinge: ``L_D = E[max(0, 1 − (C(x_r) − E C(x_f)))] + E[max(0, 1 + (C(x_f) − E C(x_r)))]``."""
    return F.relu(1 - (real_logits - fake_logits.mean())).mean() + F.relu(1 + (fake_logits - real_logits.mean())).mean()


def rahinge_generator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """RaHinge: ``L_G = E[max(0, 1 − (C(x_f) − E C(x_r)))] + E[max(0, 1 + (C(x_r) − E C(x_f)))]``."""
    return rahinge_discriminator_loss(fake_logits, real_logits)


def wgan_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, *, drift: float = 1e-3) -> torch.Tensor:
    """``L_D = E[C(x_f)] − E[C(x_r)] + ε·E[C(x_r)²]`` (the critic's loss, with the progressive GAN's drift term)."""
    return fake_logits.mean() - real_logits.mean() + drift * real_logits.pow(2).mean()


def wgan_generator_loss(real_logits: torch.Tensor | None, fake_logits: torch.Tensor) -> torch.Tensor:
    """``L_G = −E[C(x_f)]``."""
    return -fake_logits.mean()


def _input_gradients(logits: torch.Tensor, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """``∇_x C(x)`` of every image's logit for every input, kept in the graph (so that the penalty trains D).

    A discriminator with a logit per pixel (``(B, H, W)``) counts as the mean of its map, as the losses do.
    """
    per_image = logits.float().reshape(len(logits), -1).mean(1)
    return list(torch.autograd.grad(per_image.sum(), inputs, create_graph=True))


def _squared_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    """Per image, the squared norm of the gradients over every pixel of every scale."""
    return sum(g.float().pow(2).flatten(1).sum(1) for g in grads)


def gradient_penalty(discriminator: Callable, real: torch.Tensor | list[torch.Tensor],
                     fake: torch.Tensor | list[torch.Tensor], weight: float = 10.0, *,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """``λ · E[(‖∇_x̂ C(x̂)‖ − 1)²]`` at ``x̂ = ε·x_r + (1 − ε)·x_f``, ``ε ~ U(0, 1)`` per image (WGAN-GP).

    ``real`` and ``fake`` may be lists (one batch per scale, for a multi-scale D): every scale
    of an image is mixed with the same ``ε``, and the norm is taken over all of them.
    """
    reals = real if isinstance(real, (list, tuple)) else [real]
    fakes = fake if isinstance(fake, (list, tuple)) else [fake]
    first = reals[0]
    eps = torch.rand(first.shape[0], 1, 1, 1, device=first.device, generator=generator)
    mixed = [torch.lerp(f.detach().float(), r.detach().float(), eps).requires_grad_(True) for r, f in zip(reals, fakes)]
    logits = discriminator(mixed if isinstance(real, (list, tuple)) else mixed[0])
    norm = _squared_norm(_input_gradients(logits, mixed)).add(1e-12).sqrt()
    return weight * (norm - 1).pow(2).mean()


def dragan_penalty(discriminator: Callable, real: torch.Tensor | list[torch.Tensor], weight: float = 10.0, *,
                   spread: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """DRAGAN's penalty, ``λ · E[(‖∇_x̂ C(x̂)‖ − 1)²]`` at points near the real data only.

    ``x̂ = x + α·δ`` with ``δ = spread · std(x) · u``, ``u ~ U(0, 1)`` per pixel and ``α ~ U(0, 1)``
    per image (Kodali et al., *On Convergence and Stability of GANs*, 2017,
    https://arxiv.org/abs/1705.07215, with their code's perturbation, ``spread = 0.5``, λ = 10).
    Where WGAN-GP keeps the gradient near 1 on lines between real and fake images, DRAGAN
    keeps it there around the reals, against the sharp gradients that come with mode collapse.
    """
    reals = real if isinstance(real, (list, tuple)) else [real]
    first = reals[0]
    alpha = torch.rand(first.shape[0], 1, 1, 1, device=first.device, generator=generator)
    points = []
    for x in reals:
        x = x.detach().float()
        u = torch.rand(x.shape, device=x.device, generator=generator)
        points.append((x + alpha * spread * x.std() * u).requires_grad_(True))
    logits = discriminator(points if isinstance(real, (list, tuple)) else points[0])
    norm = _squared_norm(_input_gradients(logits, points)).add(1e-12).sqrt()
    return weight * (norm - 1).pow(2).mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor | list[torch.Tensor],
               gamma: float = 10.0) -> torch.Tensor:
    """``(γ/2) · E[‖∇_x C(x_r)‖²]``: the R1 penalty on D's gradient at the real images.

    ``real_images`` (a tensor, or one per scale for a multi-scale D) must have had
    ``requires_grad_(True)`` before D saw them; the graph is kept so the penalty trains D.
    """
    inputs = real_images if isinstance(real_images, (list, tuple)) else [real_images]
    return gamma / 2 * _squared_norm(_input_gradients(real_logits, inputs)).mean()


class GANLoss(NamedTuple):
    """A discriminator loss and a generator loss with the shared signature."""

    discriminator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    generator: Callable[[torch.Tensor | None, torch.Tensor], torch.Tensor]
    generator_uses_real: bool = False  # whether the generator's loss reads D(real)


LOSSES: dict[str, GANLoss] = {
    "bce": GANLoss(bce_discriminator_loss, bce_generator_loss),
    "hinge": GANLoss(hinge_discriminator_loss, hinge_generator_loss),
    "rsgan": GANLoss(rsgan_discriminator_loss, rsgan_generator_loss, generator_uses_real=True),
    "rasgan": GANLoss(rasgan_discriminator_loss, rasgan_generator_loss, generator_uses_real=True),
    "ralsgan": GANLoss(ralsgan_discriminator_loss, ralsgan_generator_loss, generator_uses_real=True),
    "rahinge": GANLoss(rahinge_discriminator_loss, rahinge_generator_loss, generator_uses_real=True),
    "wgan": GANLoss(wgan_discriminator_loss, wgan_generator_loss),  # add the gradient penalty: gp_lambda=10
}


def get_loss(name: str) -> GANLoss:
    """The loss pair called ``name``; ``ValueError`` lists the names available."""
    if name not in LOSSES:
        raise ValueError(f"unknown GAN loss {name!r}; choose from {sorted(LOSSES)}")
    return LOSSES[name]

"""Denoising diffusion: noise schedules, the forward process, the training loss, DDPM and DDIM sampling.

Notation of Ho, Jain & Abbeel, *Denoising Diffusion Probabilistic Models*, 2020
(https://arxiv.org/abs/2006.11239): ``β_t`` the noise added at step ``t`` (``t = 0 … T−1``
here), ``α_t = 1 − β_t``, ``ᾱ_t = ∏_{s≤t} α_s``. The forward process has a closed form,
``x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε``, so training draws a random ``t`` per image and
asks the network for ``ε`` (or for ``v = √ᾱ_t · ε − √(1 − ᾱ_t) · x_0``, Salimans & Ho 2022,
https://arxiv.org/abs/2202.00512).

- :class:`NoiseSchedule`: ``"linear"`` (Ho et al.: β from 1e-4 to 0.02) or ``"cosine"``
  (Nichol & Dhariwal 2021, https://arxiv.org/abs/2102.09672: ᾱ from a squared cosine,
  β clipped at 0.999), with the posterior ``q(x_{t−1} | x_t, x_0)`` coefficients.
- :func:`q_sample`, :func:`diffusion_loss`.
- :func:`ddpm_sample`: the ancestral sampler, one network call per step.
- :func:`ddim_sample`: Song, Meng & Ermon, *Denoising Diffusion Implicit Models*, 2021
  (https://arxiv.org/abs/2010.02502), on any sub-sequence of steps; ``eta = 0`` is
  deterministic, ``eta = 1`` over every step is the DDPM update.
- Classifier-free guidance (Ho & Salimans 2022, https://arxiv.org/abs/2207.12598):
  training drops the label with probability ``p_uncond`` (label ``num_classes`` means
  "no label"); sampling mixes ``ε = ε_∅ + w · (ε_y − ε_∅)``.

The network is called as ``model(x_t, t, labels)`` with integer ``t`` of shape ``(B,)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

PREDICTIONS = ("eps", "v")


@dataclass
class NoiseSchedule:
    """β, α, ᾱ and the posterior coefficients of a ``T``-step schedule, as float64 tensors of shape ``(T,)``.

    These stay on the CPU (samplers read them as Python numbers, one step at a time). What a
    training step gathers per image — ``√ᾱ_t`` and ``√(1 − ᾱ_t)`` — comes from :meth:`table`,
    which keeps one copy per device and dtype: after a step's first call nothing crosses
    between host and device.
    """

    kind: str
    betas: torch.Tensor

    def __post_init__(self) -> None:
        betas = self.betas.double()
        self.T = len(betas)
        self.alphas = 1.0 - betas
        self.alpha_bars = torch.cumprod(self.alphas, dim=0)
        self.alpha_bars_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bars[:-1]])
        # q(x_{t-1} | x_t, x_0) = N(coef_x0 · x_0 + coef_xt · x_t, posterior_variance)
        self.posterior_variance = betas * (1 - self.alpha_bars_prev) / (1 - self.alpha_bars)
        self.posterior_coef_x0 = betas * self.alpha_bars_prev.sqrt() / (1 - self.alpha_bars)
        self.posterior_coef_xt = (1 - self.alpha_bars_prev) * self.alphas.sqrt() / (1 - self.alpha_bars)
        self.betas = betas
        self._tables: dict[tuple, torch.Tensor] = {}

    def table(self, name: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """``"sqrt_alpha_bars"`` (√ᾱ) or ``"sqrt_one_minus_alpha_bars"`` (√(1 − ᾱ)) on ``device`` in ``dtype``, made once."""
        key = (name, torch.device(device), dtype)
        if key not in self._tables:
            values = {"sqrt_alpha_bars": self.alpha_bars.sqrt(),
                      "sqrt_one_minus_alpha_bars": (1 - self.alpha_bars).sqrt()}[name]
            self._tables[key] = values.to(device=device, dtype=dtype)
        return self._tables[key]

    def to(self, device: str | torch.device, dtype: torch.dtype = torch.float32) -> NoiseSchedule:
        """Make the per-step tables on ``device`` now (a trainer does this once, before its first step)."""
        for name in ("sqrt_alpha_bars", "sqrt_one_minus_alpha_bars"):
            self.table(name, torch.device(device), dtype)
        return self

    @classmethod
    def linear(cls, T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> NoiseSchedule:
        """Ho et al.'s schedule, scaled so that other ``T`` keep the same total noise (β × 1000 / T),
        clipped at 0.999 as the cosine schedule is (below T ≈ 50 the scaled β would pass 1)."""
        scale = 1000 / T
        return cls("linear", torch.linspace(beta_start * scale, beta_end * scale, T, dtype=torch.float64).clamp(max=0.999))

    @classmethod
    def cosine(cls, T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
        """Nichol & Dhariwal's schedule: ``ᾱ(t) = cos²((t/T + s)/(1 + s) · π/2) / ᾱ(0)``, β clipped at ``max_beta``."""
        steps = torch.arange(T + 1, dtype=torch.float64) / T
        f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        betas = (1 - f[1:] / f[:-1]).clamp(max=max_beta)
        return cls("cosine", betas)

    @classmethod
    def make(cls, kind: str = "linear", T: int = 1000) -> NoiseSchedule:
        if kind not in ("linear", "cosine"):
            raise ValueError(f"schedule {kind!r}: expected 'linear' or 'cosine'")
        return getattr(cls, kind)(T)

    def snr(self) -> torch.Tensor:
        """The signal-to-noise ratio ``ᾱ_t / (1 − ᾱ_t)`` at every step."""
        return self.alpha_bars / (1 - self.alpha_bars)


def _at(schedule: NoiseSchedule, name: str, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``schedule.table(name)[t]`` shaped ``(B, 1, 1, 1)``, gathered on ``like``'s device in its dtype."""
    return schedule.table(name, like.device, like.dtype)[t].view(-1, *([1] * (like.ndim - 1)))


def q_sample(schedule: NoiseSchedule, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
    """``x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε``: the forward process in one jump."""
    noise = torch.randn_like(x0) if noise is None else noise
    return _at(schedule, "sqrt_alpha_bars", t, x0) * x0 + _at(schedule, "sqrt_one_minus_alpha_bars", t, x0) * noise


def diffusion_loss(model, schedule: NoiseSchedule, x0: torch.Tensor, *, labels: torch.Tensor | None = None,
                   num_classes: int | None = None, p_uncond: float = 0.1, prediction: str = "eps",
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Mean squared error of the network's ``ε`` (or ``v``) prediction at a random step per image.

    With ``labels``, each is replaced by the null label ``num_classes`` with probability
    ``p_uncond``, so that one network learns both the conditional and the unconditional model.
    """
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction={prediction!r}: expected one of {PREDICTIONS}")
    b = x0.shape[0]
    t = torch.randint(0, schedule.T, (b,), device=x0.device, generator=generator)
    noise = torch.randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)
    x_t = q_sample(schedule, x0, t, noise)
    if labels is not None:
        if num_classes is None:
            raise ValueError("labels need num_classes (the null label is num_classes)")
        drop = torch.rand(b, device=x0.device, generator=generator) < p_uncond
        labels = torch.where(drop, torch.full_like(labels, num_classes), labels)
    target = noise if prediction == "eps" else (
        _at(schedule, "sqrt_alpha_bars", t, x0) * noise - _at(schedule, "sqrt_one_minus_alpha_bars", t, x0) * x0)
    return F.mse_loss(model(x_t, t, labels).float(), target.float())


def _predict(model, schedule: NoiseSchedule, x: torch.Tensor, t: int, *, labels, null_label, guidance: float,
             prediction: str, clip: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(ε̂, x̂_0) at step ``t`` for the batch ``x``, with classifier-free guidance when ``labels`` are given."""
    steps = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)
    if labels is not None and guidance != 1.0:
        both = model(torch.cat([x, x]), torch.cat([steps, steps]), torch.cat([labels, torch.full_like(labels, null_label)]))
        conditional, unconditional = both.float().chunk(2)
        out = unconditional + guidance * (conditional - unconditional)
    else:
        out = model(x, steps, labels).float()
    a = schedule.alpha_bars[t].item()
    if prediction == "eps":
        eps = out
        x0 = (x - math.sqrt(1 - a) * eps) / math.sqrt(a)
    else:  # v = √ᾱ ε − √(1 − ᾱ) x0  ⇒  x0 = √ᾱ x − √(1 − ᾱ) v,  ε = √(1 − ᾱ) x + √ᾱ v
        x0 = math.sqrt(a) * x - math.sqrt(1 - a) * out
        eps = math.sqrt(1 - a) * x + math.sqrt(a) * out
    if clip:  # keep x̂_0 in the data range, and the ε that goes with it
        x0 = x0.clamp(-1, 1)
        eps = (x - math.sqrt(a) * x0) / math.sqrt(1 - a)
    return eps, x0


def _start(shape, device, generator) -> torch.Tensor:
    return torch.randn(shape, generator=generator, device="cpu" if generator is None else generator.device).to(device)


def _noise_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    device = "cpu" if generator is None else generator.device
    return torch.randn(x.shape, generator=generator, device=device).to(x.device)


@torch.no_grad()
def ddpm_sample(model, schedule: NoiseSchedule, shape: tuple[int, ...], *, labels: torch.Tensor | None = None,
                null_label: int | None = None, guidance: float = 1.0, prediction: str = "eps", clip: bool = True,
                generator: torch.Generator | None = None, device: str | torch.device = "cpu",
                keep_every: int = 0, progress: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Ancestral sampling over all ``T`` steps; returns (images in ``[-1, 1]``, the states kept every ``keep_every`` steps).

    ``x_{t−1} = coef_x0 · x̂_0 + coef_xt · x_t + √(posterior variance) · z``, no noise at the last step.
    """
    x = _start(shape, device, generator)
    kept = []
    for t in tqdm(range(schedule.T - 1, -1, -1), desc="DDPM", disable=not progress):
        _, x0 = _predict(model, schedule, x, t, labels=labels, null_label=null_label, guidance=guidance,
                         prediction=prediction, clip=clip)
        mean = schedule.posterior_coef_x0[t].item() * x0 + schedule.posterior_coef_xt[t].item() * x
        x = mean + math.sqrt(schedule.posterior_variance[t].item()) * _noise_like(x, generator) if t > 0 else mean
        if keep_every and (t % keep_every == 0):
            kept.append(x.cpu())
    return x, kept


def ddim_timesteps(T: int, steps: int) -> list[int]:
    """``steps`` evenly spaced steps of ``0 … T−1``, from the last down to 0."""
    if not 1 <= steps <= T:
        raise ValueError(f"steps={steps}: must be between 1 and T={T}")
    return sorted({round(i * (T - 1) / max(steps - 1, 1)) for i in range(steps)}, reverse=True)


@torch.no_grad()
def ddim_sample(model, schedule: NoiseSchedule, shape: tuple[int, ...], *, steps: int = 50, eta: float = 0.0,
                labels: torch.Tensor | None = None, null_label: int | None = None, guidance: float = 1.0,
                prediction: str = "eps", clip: bool = True, generator: torch.Generator | None = None,
                device: str | torch.device = "cpu", keep_every: int = 0,
                progress: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """DDIM over ``steps`` of the ``T``: ``x_prev = √ᾱ_prev · x̂_0 + √(1 − ᾱ_prev − σ²) · ε̂ + σ · z``,
    ``σ = eta · √((1 − ᾱ_prev)/(1 − ᾱ_t)) · √(1 − ᾱ_t/ᾱ_prev)``; returns (images, the kept states)."""
    x = _start(shape, device, generator)
    kept = []
    timesteps = ddim_timesteps(schedule.T, steps)
    for i, t in enumerate(tqdm(timesteps, desc=f"DDIM-{steps}", disable=not progress)):
        eps, x0 = _predict(model, schedule, x, t, labels=labels, null_label=null_label, guidance=guidance,
                           prediction=prediction, clip=clip)
        a = schedule.alpha_bars[t].item()
        a_prev = schedule.alpha_bars[timesteps[i + 1]].item() if i + 1 < len(timesteps) else 1.0
        sigma = eta * math.sqrt((1 - a_prev) / (1 - a)) * math.sqrt(1 - a / a_prev)
        x = math.sqrt(a_prev) * x0 + math.sqrt(max(1 - a_prev - sigma**2, 0.0)) * eps
        if sigma > 0:
            x = x + sigma * _noise_like(x, generator)
        if keep_every and (i % keep_every == 0 or i == len(timesteps) - 1):
            kept.append(x.cpu())
    return x, kept

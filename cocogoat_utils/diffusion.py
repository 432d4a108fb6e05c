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
- Zero terminal SNR and the timestep spacings (Lin, Liu, Li & Yang, *Common Diffusion Noise
  Schedules and Sample Steps Are Flawed*, WACV 2024, https://arxiv.org/abs/2305.08891):
  :func:`rescale_zero_terminal_snr`, ``ddim_timesteps(spacing="trailing")``.
- Three things a network may predict, ``ε``, ``v`` or ``x_0`` (:func:`to_eps_and_x0`,
  :func:`prediction_target`), and the min-SNR-γ loss weights (Hang et al., *Efficient
  Diffusion Training via Min-SNR Weighting Strategy*, ICCV 2023, https://arxiv.org/abs/2303.09556):
  :func:`min_snr_weight`.
- Flow matching / rectified flow (Lipman et al., ICLR 2023, https://arxiv.org/abs/2210.02747;
  Liu, Gong & Liu, ICLR 2023, https://arxiv.org/abs/2209.03003): the straight path
  ``x_t = (1 − t) · x_0 + t · ε`` with the velocity ``ε − x_0`` as target
  (:func:`flow_matching_loss`), integrated from ``t = 1`` to ``0`` by Euler or Heun (:func:`flow_sample`).

The network is called as ``model(x_t, t, labels)`` with integer ``t`` of shape ``(B,)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .runtime import progress_bar

PREDICTIONS = ("eps", "v", "x0")
SPACINGS = ("linspace", "leading", "trailing")
FLOW_TIME_SCALE = 999.0  # flow time t ∈ [0, 1] reaches the network as t · 999, the range of the DDPM step index


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
    zero_terminal_snr: bool = False  # the betas were rescaled by :func:`rescale_zero_terminal_snr`

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
    def make(cls, kind: str = "linear", T: int = 1000, *, zero_terminal_snr: bool = False) -> NoiseSchedule:
        """The schedule ``kind`` over ``T`` steps; ``zero_terminal_snr`` rescales it so that ``ᾱ_{T−1} = 0``."""
        if kind not in ("linear", "cosine"):
            raise ValueError(f"schedule {kind!r}: expected 'linear' or 'cosine'")
        schedule = getattr(cls, kind)(T)
        return cls(kind, rescale_zero_terminal_snr(schedule.betas), True) if zero_terminal_snr else schedule

    def snr(self) -> torch.Tensor:
        """The signal-to-noise ratio ``ᾱ_t / (1 − ᾱ_t)`` at every step."""
        return self.alpha_bars / (1 - self.alpha_bars)


def rescale_zero_terminal_snr(betas: torch.Tensor) -> torch.Tensor:
    """Lin et al. 2024 (https://arxiv.org/abs/2305.08891), Algorithm 1: shift and scale ``√ᾱ`` so that
    ``√ᾱ_{T−1} = 0`` (the last step is pure noise, SNR 0) while ``√ᾱ_0`` keeps its value:
    ``√ᾱ'_t = (√ᾱ_t − √ᾱ_{T−1}) · √ᾱ_0 / (√ᾱ_0 − √ᾱ_{T−1})``, then ``β'_t = 1 − ᾱ'_t / ᾱ'_{t−1}``.

    With it the network sees at ``t = T − 1`` exactly what sampling starts from. An ε-prediction
    cannot be turned into ``x̂_0`` there (``x̂_0 = (x − √(1 − ᾱ) ε̂) / √ᾱ`` divides by 0), so Lin et al.
    pair it with v-prediction.
    """
    sqrt_bars = torch.cumprod(1 - betas.double(), 0).sqrt()
    first, last = sqrt_bars[0].clone(), sqrt_bars[-1].clone()
    bars = ((sqrt_bars - last) * first / (first - last)) ** 2
    alphas = torch.cat([bars[:1], bars[1:] / bars[:-1]])
    return 1 - alphas


def _at(schedule: NoiseSchedule, name: str, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``schedule.table(name)[t]`` shaped ``(B, 1, 1, 1)``, gathered on ``like``'s device in its dtype."""
    return schedule.table(name, like.device, like.dtype)[t].view(-1, *([1] * (like.ndim - 1)))


def q_sample(schedule: NoiseSchedule, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
    """``x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε``: the forward process in one jump."""
    noise = torch.randn_like(x0) if noise is None else noise
    return _at(schedule, "sqrt_alpha_bars", t, x0) * x0 + _at(schedule, "sqrt_one_minus_alpha_bars", t, x0) * noise


def to_eps_and_x0(out: torch.Tensor, x: torch.Tensor, alpha_bar, prediction: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The network's output ``out`` at ``x_t = x`` (``alpha_bar`` = ᾱ_t, a number or a tensor that broadcasts) as
    ``(ε̂, x̂_0)``, from ``x_t = √ᾱ x_0 + √(1 − ᾱ) ε`` and ``v = √ᾱ ε − √(1 − ᾱ) x_0`` (Salimans & Ho 2022):

    - ``"eps"``: ``x̂_0 = (x − √(1 − ᾱ) ε̂) / √ᾱ`` — divides by ``√ᾱ``, which is 5·10⁻⁵ at the cosine schedule's
      last step: any error in ε̂ reaches x̂_0 twenty thousand times larger;
    - ``"v"``: ``x̂_0 = √ᾱ x − √(1 − ᾱ) v̂``, ``ε̂ = √(1 − ᾱ) x + √ᾱ v̂`` — no division, defined at SNR 0;
    - ``"x0"``: ``ε̂ = (x − √ᾱ x̂_0) / √(1 − ᾱ)``.
    """
    a = torch.as_tensor(alpha_bar, dtype=torch.float64)
    sa, sb = a.sqrt().to(x.dtype).to(x.device), (1 - a).sqrt().to(x.dtype).to(x.device)
    if prediction == "eps":
        return out, (x - sb * out) / sa
    if prediction == "v":
        return sb * x + sa * out, sa * x - sb * out
    if prediction == "x0":
        return (x - sa * out) / sb, out
    raise ValueError(f"prediction={prediction!r}: expected one of {PREDICTIONS}")


def prediction_target(x0: torch.Tensor, noise: torch.Tensor, sqrt_alpha_bar: torch.Tensor,
                      sqrt_one_minus_alpha_bar: torch.Tensor, prediction: str) -> torch.Tensor:
    """What the network is trained to output: ``ε``, ``v = √ᾱ ε − √(1 − ᾱ) x_0`` or ``x_0``."""
    if prediction == "eps":
        return noise
    if prediction == "v":
        return sqrt_alpha_bar * noise - sqrt_one_minus_alpha_bar * x0
    if prediction == "x0":
        return x0
    raise ValueError(f"prediction={prediction!r}: expected one of {PREDICTIONS}")


def min_snr_weight(snr: torch.Tensor, prediction: str, gamma: float) -> torch.Tensor:
    """Hang et al. 2023 (https://arxiv.org/abs/2303.09556), min-SNR-γ: weigh each step's x_0 error by
    ``min(SNR_t, γ)``, so that the easy low-noise steps stop dominating. The plain MSE of each target already
    carries a weight on the x_0 error — ε: ``SNR``, v: ``SNR + 1``, x_0: 1 — so the loss of that target is
    multiplied by ``min(SNR, γ) / SNR``, ``min(SNR, γ) / (SNR + 1)`` or ``min(SNR, γ)``. (At SNR = 0 the ε
    weight is taken as 1, its limit.)"""
    clipped = snr.clamp(max=gamma)
    if prediction == "eps":
        return torch.where(snr > 0, clipped / snr.clamp(min=1e-20), torch.ones_like(snr))
    if prediction == "v":
        return clipped / (snr + 1)
    if prediction == "x0":
        return clipped
    raise ValueError(f"prediction={prediction!r}: expected one of {PREDICTIONS}")


def _drop_labels(labels, num_classes, p_uncond, b, device, generator):
    if labels is None:
        return None
    if num_classes is None:
        raise ValueError("labels need num_classes (the null label is num_classes)")
    drop = torch.rand(b, device=device, generator=generator) < p_uncond
    return torch.where(drop, torch.full_like(labels, num_classes), labels)


def _weighted_mse(out: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return F.mse_loss(out.float(), target.float())
    per_image = (out.float() - target.float()).pow(2).flatten(1).mean(1)
    return (weight.float() * per_image).mean()


def diffusion_loss(model, schedule: NoiseSchedule, x0: torch.Tensor, *, labels: torch.Tensor | None = None,
                   num_classes: int | None = None, p_uncond: float = 0.1, prediction: str = "eps",
                   min_snr_gamma: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mean squared error of the network's ``ε``, ``v`` or ``x_0`` prediction at a random step per image;
    with ``min_snr_gamma``, each image's error weighted by :func:`min_snr_weight`.

    With ``labels``, each is replaced by the null label ``num_classes`` with probability
    ``p_uncond``, so that one network learns both the conditional and the unconditional model.
    """
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction={prediction!r}: expected one of {PREDICTIONS}")
    if prediction == "eps" and schedule.zero_terminal_snr:
        raise ValueError("ε-prediction with a zero-terminal-SNR schedule: x̂_0 is undefined at the last step "
                         "(Lin et al. 2024); use prediction='v'")
    b = x0.shape[0]
    t = torch.randint(0, schedule.T, (b,), device=x0.device, generator=generator)
    noise = torch.randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)
    x_t = q_sample(schedule, x0, t, noise)
    labels = _drop_labels(labels, num_classes, p_uncond, b, x0.device, generator)
    sa, sb = _at(schedule, "sqrt_alpha_bars", t, x0), _at(schedule, "sqrt_one_minus_alpha_bars", t, x0)
    target = prediction_target(x0, noise, sa, sb, prediction)
    weight = None
    if min_snr_gamma is not None:
        snr = (sa.flatten() ** 2) / (sb.flatten() ** 2)
        weight = min_snr_weight(snr.float(), prediction, min_snr_gamma)
    return _weighted_mse(model(x_t, t, labels), target, weight)


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
    if prediction == "eps" and a == 0:
        raise ValueError("ε-prediction at SNR 0 (a zero-terminal-SNR schedule): x̂_0 is undefined; use prediction='v'")
    eps, x0 = to_eps_and_x0(out, x, a, prediction)
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
    for t in progress_bar(range(schedule.T - 1, -1, -1), desc="DDPM", disable=not progress):
        _, x0 = _predict(model, schedule, x, t, labels=labels, null_label=null_label, guidance=guidance,
                         prediction=prediction, clip=clip)
        mean = schedule.posterior_coef_x0[t].item() * x0 + schedule.posterior_coef_xt[t].item() * x
        x = mean + math.sqrt(schedule.posterior_variance[t].item()) * _noise_like(x, generator) if t > 0 else mean
        if keep_every and (t % keep_every == 0):
            kept.append(x.cpu())
    return x, kept


def ddim_timesteps(T: int, steps: int, spacing: str = "linspace") -> list[int]:
    """``steps`` of ``0 … T−1``, from the noisiest down, spaced as Lin et al. 2024 (Table 2) name them:

    - ``"linspace"``: evenly from ``T − 1`` down to 0, both ends included (this package's first sampler);
    - ``"leading"``: ``0, T/S, 2T/S, …`` (DDIM's and Stable Diffusion's): the first step is ``T − T/S``, so
      sampling never starts at the step the network saw pure noise at;
    - ``"trailing"``: ``T − 1, T − 1 − T/S, …`` down to ``T/S − 1`` (Lin et al.'s fix): starts at the last step.
    """
    if not 1 <= steps <= T:
        raise ValueError(f"steps={steps}: must be between 1 and T={T}")
    if spacing == "linspace":
        return sorted({round(i * (T - 1) / max(steps - 1, 1)) for i in range(steps)}, reverse=True)
    if spacing == "leading":
        return sorted({i * (T // steps) for i in range(steps)}, reverse=True)
    if spacing == "trailing":
        return sorted({round(T - i * T / steps) - 1 for i in range(steps)}, reverse=True)
    raise ValueError(f"spacing={spacing!r}: expected one of {SPACINGS}")


@torch.no_grad()
def ddim_sample(model, schedule: NoiseSchedule, shape: tuple[int, ...], *, steps: int = 50, eta: float = 0.0,
                labels: torch.Tensor | None = None, null_label: int | None = None, guidance: float = 1.0,
                prediction: str = "eps", clip: bool = True, spacing: str = "linspace",
                generator: torch.Generator | None = None, device: str | torch.device = "cpu", keep_every: int = 0,
                progress: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """DDIM over ``steps`` of the ``T`` (spaced by :func:`ddim_timesteps`):
    ``x_prev = √ᾱ_prev · x̂_0 + √(1 − ᾱ_prev − σ²) · ε̂ + σ · z``,
    ``σ = eta · √((1 − ᾱ_prev)/(1 − ᾱ_t)) · √(1 − ᾱ_t/ᾱ_prev)``; returns (images, the kept states)."""
    x = _start(shape, device, generator)
    kept = []
    timesteps = ddim_timesteps(schedule.T, steps, spacing)
    for i, t in enumerate(progress_bar(timesteps, desc=f"DDIM-{steps}", disable=not progress)):
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


# --------------------------------------------------------------------------- flow matching / rectified flow

def flow_matching_loss(model, x0: torch.Tensor, *, labels: torch.Tensor | None = None, num_classes: int | None = None,
                       p_uncond: float = 0.1, generator: torch.Generator | None = None) -> torch.Tensor:
    """Conditional flow matching on the straight path (Lipman et al. 2023, https://arxiv.org/abs/2210.02747, §4.1
    with σ_min = 0; Liu et al. 2023's rectified flow, https://arxiv.org/abs/2209.03003):
    ``x_t = (1 − t) · x_0 + t · ε`` with ``t ~ U(0, 1)``, and the network regresses the velocity
    ``dx_t/dt = ε − x_0``: ``‖v_θ(x_t, t) − (ε − x_0)‖²``. The network sees ``t · FLOW_TIME_SCALE``."""
    b = x0.shape[0]
    t = torch.rand(b, device=x0.device, generator=generator)
    noise = torch.randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)
    tt = t.view(-1, *([1] * (x0.ndim - 1))).to(x0.dtype)
    x_t = (1 - tt) * x0 + tt * noise
    labels = _drop_labels(labels, num_classes, p_uncond, b, x0.device, generator)
    return _weighted_mse(model(x_t, t * FLOW_TIME_SCALE, labels), noise - x0, None)


def _velocity(model, x, t: float, *, labels, null_label, guidance: float) -> torch.Tensor:
    steps = torch.full((x.shape[0],), t * FLOW_TIME_SCALE, device=x.device)
    if labels is not None and guidance != 1.0:
        both = model(torch.cat([x, x]), torch.cat([steps, steps]), torch.cat([labels, torch.full_like(labels, null_label)]))
        conditional, unconditional = both.float().chunk(2)
        return unconditional + guidance * (conditional - unconditional)
    return model(x, steps, labels).float()


@torch.no_grad()
def flow_sample(model, shape: tuple[int, ...], *, steps: int = 50, method: str = "euler",
                labels: torch.Tensor | None = None, null_label: int | None = None, guidance: float = 1.0,
                generator: torch.Generator | None = None, device: str | torch.device = "cpu", keep_every: int = 0,
                progress: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Integrate ``dx/dt = v_θ(x, t)`` from ``t = 1`` (noise) to ``t = 0`` over ``steps`` equal steps: deterministic
    given the starting noise. ``"euler"``: ``x ← x + (t' − t) · v(x, t)``, one network call a step; ``"heun"``
    (Karras et al. 2022, https://arxiv.org/abs/2206.00364, Algorithm 1): the Euler guess ``x̃``, then
    ``x ← x + (t' − t) · (v(x, t) + v(x̃, t')) / 2``, two calls a step (one on the last, which ends at ``t' = 0``)."""
    if method not in ("euler", "heun"):
        raise ValueError(f"method={method!r}: expected 'euler' or 'heun'")
    x = _start(shape, device, generator)
    kept = []
    times = [1 - i / steps for i in range(steps + 1)]
    common = dict(labels=labels, null_label=null_label, guidance=guidance)
    for i in progress_bar(range(steps), desc=f"flow-{method}-{steps}", disable=not progress):
        t, t_next = times[i], times[i + 1]
        v = _velocity(model, x, t, **common)
        guess = x + (t_next - t) * v
        if method == "heun" and t_next > 0:
            v = (v + _velocity(model, guess, t_next, **common)) / 2
            guess = x + (t_next - t) * v
        x = guess
        if keep_every and (i % keep_every == 0 or i == steps - 1):
            kept.append(x.cpu())
    return x.clamp(-1, 1), kept


SAMPLERS = {"linear": ("ddim", "ddpm"), "cosine": ("ddim", "ddpm"), "flow": ("euler", "heun")}


def sample(model, shape: tuple[int, ...], *, schedule: str = "cosine", T: int = 1000, prediction: str = "eps",
           zero_terminal_snr: bool = False, sampler: str = "ddim", spacing: str = "linspace", steps: int = 50,
           eta: float = 0.0, labels: torch.Tensor | None = None, null_label: int | None = None, guidance: float = 1.0,
           generator: torch.Generator | None = None, device: str | torch.device = "cpu",
           progress: bool = False) -> torch.Tensor:
    """Images in ``[-1, 1]`` from a network trained on ``schedule`` (``"linear"``, ``"cosine"``, or ``"flow"``
    for rectified flow) with the named ``sampler``: ``"ddim"`` (``steps``, ``spacing``, ``eta``), ``"ddpm"`` (all
    ``T``), ``"euler"`` or ``"heun"`` (flow, ``steps``). The settings are a trainer config's or a record's fields."""
    if sampler not in SAMPLERS.get(schedule, ()):
        raise ValueError(f"sampler={sampler!r} with schedule={schedule!r}: expected one of {SAMPLERS.get(schedule)}")
    common = dict(labels=labels, null_label=null_label, guidance=guidance, generator=generator, device=device,
                  progress=progress)
    if schedule == "flow":
        return flow_sample(model, shape, steps=steps, method=sampler, **common)[0]
    noise_schedule = NoiseSchedule.make(schedule, T, zero_terminal_snr=zero_terminal_snr)
    if sampler == "ddpm":
        return ddpm_sample(model, noise_schedule, shape, prediction=prediction, **common)[0]
    return ddim_sample(model, noise_schedule, shape, steps=steps, eta=eta, prediction=prediction, spacing=spacing,
                       **common)[0]

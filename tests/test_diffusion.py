"""Diffusion: schedules against their formulas, the forward process, DDIM = DDPM, the UNet, the trainer."""

import math

import pytest
import torch

from cocogoat_utils.device_dataset import DeviceImageDataset
from cocogoat_utils.diffusion import (NoiseSchedule, ddim_sample, ddim_timesteps, ddpm_sample, diffusion_loss,
                                      q_sample)
from cocogoat_utils.models.unet import UNet, timestep_embedding
from cocogoat_utils.train import DiffusionTrainConfig, DiffusionTrainer


def test_linear_schedule_values():
    s = NoiseSchedule.linear(1000)
    assert s.betas[0].item() == pytest.approx(1e-4) and s.betas[-1].item() == pytest.approx(0.02)
    assert torch.allclose(s.alphas, 1 - s.betas)
    assert torch.allclose(s.alpha_bars, torch.cumprod(1 - s.betas, 0))
    assert (s.alpha_bars[1:] < s.alpha_bars[:-1]).all(), "ᾱ strictly decreases"
    assert s.alpha_bars[0].item() == pytest.approx(1 - 1e-4) and s.alpha_bars[-1].item() < 1e-4
    t = 500
    expected = s.betas[t] * (1 - s.alpha_bars[t - 1]) / (1 - s.alpha_bars[t])
    assert s.posterior_variance[t].item() == pytest.approx(expected.item())
    assert s.posterior_variance[0].item() == 0.0
    assert NoiseSchedule.linear(100).betas[-1].item() == pytest.approx(0.2), "fewer steps, larger steps"


def test_cosine_schedule_follows_its_formula():
    s = NoiseSchedule.cosine(1000)
    f = lambda t: math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    for t in (0, 10, 500, 900):
        assert s.alpha_bars[t].item() == pytest.approx(f(t + 1) / f(0), rel=1e-6)
    assert (s.alpha_bars[1:] <= s.alpha_bars[:-1]).all()
    assert s.betas.max().item() <= 0.999
    linear = NoiseSchedule.linear(1000)
    assert s.snr()[250] > linear.snr()[250], "the cosine schedule destroys information more slowly"
    with pytest.raises(ValueError, match="schedule"):
        NoiseSchedule.make("quadratic")


def test_q_sample_endpoints():
    s = NoiseSchedule.linear(1000)
    x0 = torch.rand(256, 3, 8, 8) * 2 - 1
    noise = torch.randn_like(x0)
    at_start = q_sample(s, x0, torch.zeros(256, dtype=torch.long), noise)
    # √ᾱ_0 ≈ 0.99995 and √(1 − ᾱ_0) = 0.01: the input, up to 1 % of the noise
    assert ((at_start - x0).abs() <= 0.0101 * noise.abs() + 1e-4).all()
    assert (at_start - x0).abs().mean() < 0.01
    at_end = q_sample(s, x0, torch.full((256,), 999, dtype=torch.long))
    assert abs(at_end.mean().item()) < 0.02 and abs(at_end.std().item() - 1) < 0.02
    corr = torch.corrcoef(torch.stack([at_end.flatten(), x0.flatten()]))[0, 1]
    assert abs(corr.item()) < 0.03, "nothing of x0 is left at t = T"


def _eps_model(seed=0):
    torch.manual_seed(seed)
    weight = torch.randn(3, 3) * 0.3

    def model(x, t, labels=None):  # any deterministic function of x and t will do
        return torch.einsum("oc,bchw->bohw", weight, x) * (1 + t.float().view(-1, 1, 1, 1) / 1000)
    return model


def test_ddim_with_every_step_and_eta_1_is_ddpm():
    s = NoiseSchedule.linear(100)
    model = _eps_model()
    ddpm, _ = ddpm_sample(model, s, (4, 3, 8, 8), generator=torch.Generator().manual_seed(3))
    ddim, _ = ddim_sample(model, s, (4, 3, 8, 8), steps=100, eta=1.0, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(ddpm, ddim, atol=1e-4), (ddpm - ddim).abs().max()
    other, _ = ddim_sample(model, s, (4, 3, 8, 8), steps=100, eta=0.0, generator=torch.Generator().manual_seed(3))
    assert not torch.allclose(ddpm, other, atol=1e-3)


def test_ddim_steps_and_determinism():
    assert ddim_timesteps(1000, 50)[0] == 999 and ddim_timesteps(1000, 50)[-1] == 0
    assert len(ddim_timesteps(1000, 50)) == 50 and ddim_timesteps(10, 10) == list(range(9, -1, -1))
    with pytest.raises(ValueError):
        ddim_timesteps(10, 11)
    s = NoiseSchedule.cosine(200)
    a, kept = ddim_sample(_eps_model(), s, (2, 3, 8, 8), steps=20, generator=torch.Generator().manual_seed(0),
                          keep_every=5)
    b, _ = ddim_sample(_eps_model(), s, (2, 3, 8, 8), steps=20, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and len(kept) == 5 and a.abs().max() <= 1 + 1e-5


def test_v_prediction_target_and_loss():
    s = NoiseSchedule.linear(1000)
    x0 = torch.rand(8, 3, 8, 8) * 2 - 1
    perfect_zero = lambda x, t, labels=None: torch.zeros_like(x)  # noqa: E731
    eps_loss = diffusion_loss(perfect_zero, s, x0, generator=torch.Generator().manual_seed(0))
    assert 0.8 < eps_loss.item() < 1.2  # predicting 0 for unit noise costs about 1
    with pytest.raises(ValueError, match="prediction"):
        diffusion_loss(perfect_zero, s, x0, prediction="x1")
    with pytest.raises(ValueError, match="num_classes"):
        diffusion_loss(perfect_zero, s, x0, labels=torch.zeros(8, dtype=torch.long))


@pytest.mark.parametrize("size,mults,attention", [(32, (1, 2, 2), (8,)), (64, (1, 2, 2, 2), (8, 16))])
def test_unet_output_shape_equals_input(size, mults, attention):
    model = UNet(image_size=size, width=16, channel_mults=mults, attention_at=attention, num_classes=5)
    x = torch.randn(2, 3, size, size)
    out = model(x, torch.tensor([0, 999]), torch.tensor([1, 5]))
    assert out.shape == x.shape
    assert out.abs().max() == 0, "the last conv starts at zero"
    assert model(x, torch.tensor([3, 3])).shape == x.shape, "no labels: the null class"
    with pytest.raises(ValueError, match="halve"):
        UNet(image_size=36, channel_mults=(1, 2, 2, 2))


def test_timestep_embedding_distinguishes_steps():
    emb = timestep_embedding(torch.tensor([0, 1, 500]), 32)
    assert emb.shape == (3, 32)
    assert not torch.allclose(emb[0], emb[1]) and emb.abs().max() <= 1


def _trainer(tmp_path=None, **overrides):
    torch.manual_seed(0)
    images = torch.randint(0, 256, (32, 3, 16, 16), dtype=torch.uint8)
    config = dict(steps=6, batch_size=4, T=50, log_every=2, sample_every=3, sample_steps=5, checkpoint_every=3,
                  n_samples=4, warmup=2)
    config.update(overrides)
    model = UNet(image_size=16, width=8, channel_mults=(1, 2), attention_at=(8,), num_classes=3)
    return DiffusionTrainer(model, DeviceImageDataset(images, seed=0), config=DiffusionTrainConfig(**config),
                            labels=torch.arange(32) % 3, num_classes=3, out_dir=tmp_path, progress=False)


def test_trainer_learns_samples_checkpoints_and_resumes(tmp_path):
    trainer = _trainer(tmp_path / "run")
    history = trainer.fit()
    assert history["step"] == [1, 2, 3, 4, 5, 6] and all(math.isfinite(v) for v in history["loss"])
    assert trainer.sample_steps == [0, 3, 6] and trainer.samples[0].shape == (4, 3, 16, 16)
    assert trainer.samples[0].dtype == torch.uint8
    ema_before = [p.clone() for p in trainer.ema.module.parameters()]
    again = _trainer(tmp_path / "run", steps=8)
    again.fit()
    assert again.step == 8 and again.history["step"][:6] == [1, 2, 3, 4, 5, 6]
    assert any(not torch.equal(a, b) for a, b in zip(ema_before, again.ema.module.parameters()))
    ddpm = again.sample(2, sampler="ddpm", labels=torch.tensor([0, 1]), guidance=2.0)
    assert ddpm.shape == (2, 3, 16, 16)


def test_trainer_time_budget_and_bad_config(tmp_path):
    trainer = _trainer(steps=1000)
    trainer.fit(seconds=0.0)
    assert trainer.step == 1
    with pytest.raises(ValueError, match="prediction"):
        DiffusionTrainConfig(prediction="x1")
    with pytest.raises(ValueError, match="labels"):
        DiffusionTrainer(UNet(image_size=16, width=8, channel_mults=(1, 2)),
                         DeviceImageDataset(torch.zeros(4, 3, 16, 16, dtype=torch.uint8)),
                         config=DiffusionTrainConfig(), labels=torch.zeros(4, dtype=torch.long))


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_samplers_recover_the_data_with_an_oracle_denoiser(kind):
    """For data that is one image, the ideal ε-prediction is known in closed form; every sampler must land on it."""
    s = NoiseSchedule.make(kind, 200)
    target = torch.rand(1, 3, 8, 8) * 1.6 - 0.8

    def oracle(x, t, labels=None):
        a = s.alpha_bars[t].float().view(-1, 1, 1, 1)
        return (x - a.sqrt() * target) / (1 - a).sqrt()

    def v_oracle(x, t, labels=None):
        a = s.alpha_bars[t].float().view(-1, 1, 1, 1)
        return a.sqrt() * oracle(x, t) - (1 - a).sqrt() * target

    runs = [ddpm_sample(oracle, s, (3, 3, 8, 8), generator=torch.Generator().manual_seed(0))[0],
            ddim_sample(oracle, s, (3, 3, 8, 8), steps=10, generator=torch.Generator().manual_seed(0))[0],
            ddim_sample(oracle, s, (3, 3, 8, 8), steps=40, eta=1.0, generator=torch.Generator().manual_seed(0))[0],
            ddim_sample(v_oracle, s, (3, 3, 8, 8), steps=10, prediction="v", generator=torch.Generator().manual_seed(0))[0]]
    for images in runs:
        assert torch.allclose(images, target.expand_as(images), atol=1e-4)


# --------------------------------------------------------------------------- zero terminal SNR, v/x0, min-SNR, flow

from cocogoat_utils.diffusion import (flow_matching_loss, flow_sample, min_snr_weight, prediction_target,  # noqa: E402
                                      rescale_zero_terminal_snr, sample, to_eps_and_x0)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_zero_terminal_snr_rescale(kind):
    base = NoiseSchedule.make(kind, 1000)
    s = NoiseSchedule.make(kind, 1000, zero_terminal_snr=True)
    assert s.alpha_bars[-1].item() == 0 and s.snr()[-1].item() == 0 and s.zero_terminal_snr
    assert s.alpha_bars[0].item() == pytest.approx(base.alpha_bars[0].item(), rel=1e-12), "√ᾱ_0 is kept"
    assert (s.alpha_bars[1:] < s.alpha_bars[:-1]).all()
    # Lin et al.'s Algorithm 1: √ᾱ' is √ᾱ shifted and scaled, i.e. an affine map of √ᾱ
    a, b = base.alpha_bars.sqrt(), s.alpha_bars.sqrt()
    expected = (a - a[-1]) * a[0] / (a[0] - a[-1])
    assert torch.allclose(b, expected, atol=1e-12)
    assert torch.allclose(rescale_zero_terminal_snr(base.betas), s.betas)
    assert NoiseSchedule.linear(1000).snr()[-1] > 1e-5 > s.snr()[-1], "the linear schedule's terminal SNR is not 0"


def test_eps_v_x0_round_trip():
    torch.manual_seed(0)
    x0, eps = torch.randn(4, 3, 5, 5), torch.randn(4, 3, 5, 5)
    for a in (0.999, 0.5, 1e-3):
        x = math.sqrt(a) * x0 + math.sqrt(1 - a) * eps
        sa, sb = torch.tensor(math.sqrt(a)), torch.tensor(math.sqrt(1 - a))
        for prediction in ("eps", "v", "x0"):
            target = prediction_target(x0, eps, sa, sb, prediction)
            eps_hat, x0_hat = to_eps_and_x0(target, x, a, prediction)
            assert torch.allclose(eps_hat, eps, atol=1e-4) and torch.allclose(x0_hat, x0, atol=1e-3), (a, prediction)
    x = torch.randn(2, 3)  # at SNR 0 the v-prediction still gives x̂_0 (= −v) without dividing by zero
    eps_hat, x0_hat = to_eps_and_x0(torch.ones(2, 3), x, 0.0, "v")
    assert torch.equal(x0_hat, -torch.ones(2, 3)) and torch.allclose(eps_hat, x)


def test_min_snr_weights_match_hand_computation():
    snr = torch.tensor([0.0, 0.5, 5.0, 100.0])
    assert torch.allclose(min_snr_weight(snr, "x0", 5.0), torch.tensor([0.0, 0.5, 5.0, 5.0]))
    assert torch.allclose(min_snr_weight(snr, "eps", 5.0), torch.tensor([1.0, 1.0, 1.0, 0.05]))
    assert torch.allclose(min_snr_weight(snr, "v", 5.0), torch.tensor([0.0, 0.5 / 1.5, 5 / 6, 5 / 101]))
    # every target then weighs the x0 error by min(SNR, γ): ε-MSE = SNR · x0-MSE, v-MSE = (SNR + 1) · x0-MSE
    s = torch.tensor([0.5, 5.0, 100.0])
    for prediction, factor in (("eps", s), ("v", s + 1), ("x0", torch.ones(3))):
        assert torch.allclose(min_snr_weight(s, prediction, 5.0) * factor, s.clamp(max=5.0))


def test_v_loss_with_min_snr_and_zero_terminal_snr():
    s = NoiseSchedule.make("cosine", 100, zero_terminal_snr=True)
    x0 = torch.rand(8, 3, 8, 8) * 2 - 1
    zero = lambda x, t, labels=None: torch.zeros_like(x)  # noqa: E731
    loss = diffusion_loss(zero, s, x0, prediction="v", min_snr_gamma=5.0, generator=torch.Generator().manual_seed(0))
    assert math.isfinite(loss.item()) and loss.item() > 0
    with pytest.raises(ValueError, match="zero-terminal-SNR"):
        diffusion_loss(zero, s, x0, prediction="eps")
    unweighted = diffusion_loss(zero, s, x0, prediction="x0", generator=torch.Generator().manual_seed(1))
    assert unweighted.item() == pytest.approx(x0.pow(2).mean().item(), rel=1e-5), "predicting 0 for x0 costs E[x0²]"


def test_trailing_and_leading_spacing():
    assert ddim_timesteps(1000, 50, "trailing")[:3] == [999, 979, 959] and ddim_timesteps(1000, 50, "trailing")[-1] == 19
    assert ddim_timesteps(1000, 50, "leading")[:2] == [980, 960] and ddim_timesteps(1000, 50, "leading")[-1] == 0
    assert all(len(ddim_timesteps(1000, 50, s)) == 50 for s in ("linspace", "leading", "trailing"))
    with pytest.raises(ValueError, match="spacing"):
        ddim_timesteps(1000, 50, "middle")


def test_v_oracle_recovers_the_data_with_zero_terminal_snr_and_trailing_steps():
    s = NoiseSchedule.make("cosine", 200, zero_terminal_snr=True)
    target = torch.rand(1, 3, 8, 8) * 1.6 - 0.8

    def v_oracle(x, t, labels=None):  # the ideal v for data that is one image
        a = s.alpha_bars[t].float().view(-1, 1, 1, 1)
        eps = torch.where(a < 1, (x - a.sqrt() * target) / (1 - a).clamp(min=1e-12).sqrt(), torch.zeros_like(x))
        return a.sqrt() * eps - (1 - a).sqrt() * target

    images, _ = ddim_sample(v_oracle, s, (3, 3, 8, 8), steps=10, prediction="v", spacing="trailing",
                            generator=torch.Generator().manual_seed(0))
    assert torch.allclose(images, target.expand_as(images), atol=1e-4)


def test_flow_matching_loss_and_deterministic_samplers():
    target = torch.rand(1, 3, 8, 8) * 1.6 - 0.8

    def velocity_oracle(x, t, labels=None):  # x_t = (1 − t) x0 + t ε with x0 = target: v = (x_t − x0) / t
        tt = (t / 999.0).view(-1, 1, 1, 1)
        return (x - target) / tt.clamp(min=1e-6)

    for method, steps in (("euler", 10), ("heun", 5)):
        a, _ = flow_sample(velocity_oracle, (2, 3, 8, 8), steps=steps, method=method,
                           generator=torch.Generator().manual_seed(0))
        b, _ = flow_sample(velocity_oracle, (2, 3, 8, 8), steps=steps, method=method,
                           generator=torch.Generator().manual_seed(0))
        assert torch.equal(a, b), "deterministic given the seed"
        assert torch.allclose(a, target.expand_as(a), atol=1e-4), method
    x0 = torch.rand(8, 3, 8, 8) * 2 - 1
    zero = lambda x, t, labels=None: torch.zeros_like(x)  # noqa: E731
    loss = flow_matching_loss(zero, x0, generator=torch.Generator().manual_seed(0))
    assert loss.item() == pytest.approx(1 + x0.pow(2).mean().item(), abs=0.15), "E‖ε − x0‖² = 1 + E[x0²]"
    with pytest.raises(ValueError, match="method"):
        flow_sample(zero, (1, 3, 4, 4), method="rk4")


def test_sample_dispatch_is_deterministic():
    model = _eps_model()
    kw = dict(schedule="cosine", T=100, prediction="v", zero_terminal_snr=True, spacing="trailing", steps=10)
    a = sample(model, (2, 3, 8, 8), generator=torch.Generator().manual_seed(5), **kw)
    b = sample(model, (2, 3, 8, 8), generator=torch.Generator().manual_seed(5), **kw)
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="sampler"):
        sample(model, (2, 3, 8, 8), schedule="flow", sampler="ddim")


@pytest.mark.parametrize("overrides", [
    dict(schedule="cosine", prediction="v", zero_terminal_snr=True, min_snr_gamma=5.0, sample_spacing="trailing"),
    dict(schedule="flow", prediction="velocity", sampler="heun"),
])
def test_trainer_with_the_new_recipes(overrides):
    trainer = _trainer(**overrides)
    history = trainer.fit()
    assert all(math.isfinite(v) for v in history["loss"])
    a, b = trainer.sample(2, seed=3), trainer.sample(2, seed=3)
    assert a.shape == (2, 3, 16, 16) and torch.equal(a, b)


def test_new_config_checks():
    with pytest.raises(ValueError, match="velocity"):
        DiffusionTrainConfig(schedule="flow")
    with pytest.raises(ValueError, match="zero_terminal_snr"):
        DiffusionTrainConfig(zero_terminal_snr=True)
    with pytest.raises(ValueError, match="sampler"):
        DiffusionTrainConfig(schedule="flow", prediction="velocity", sampler="ddim")
    with pytest.raises(ValueError, match="sample_spacing"):
        DiffusionTrainConfig(sample_spacing="middle")

"""The progressive GAN: growing, fade-in, equalised learning rate, minibatch std, level-by-level training."""

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from cocogoat_utils.checkpoint import CheckpointMismatch
from cocogoat_utils.device_dataset import DeviceImageDataset
from cocogoat_utils.layers import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm
from cocogoat_utils.models.progan import ProDiscriminator, ProGenerator, level_channels, resolution, set_level
from cocogoat_utils.train import Callback, FadeIn, GANTrainConfig, GANTrainer, LevelPlan, ProgressiveTrainer, level_plan


def _pair(max_level=2, width=16, **kwargs):
    torch.manual_seed(0)
    return ProGenerator(max_level=max_level, latent_dim=8, width=width, **kwargs), ProDiscriminator(max_level=max_level, width=width)


def test_resolutions_and_channels():
    assert [resolution(k) for k in range(5)] == [4, 8, 16, 32, 64]
    assert level_channels(4, 256) == [256, 256, 128, 64, 32]
    G, D = _pair(max_level=3)
    z = torch.randn(4, 8)
    for level in range(4):
        set_level(level, 1.0, G, D)
        images = G(z)
        assert images.shape == (4, 3, resolution(level), resolution(level))
        assert D(images).shape == (4,)


def test_at_alpha_zero_the_grown_generator_draws_the_smaller_ones_image_enlarged():
    G, _ = _pair()
    z = torch.randn(5, 8)
    with torch.no_grad():
        G.set_level(1, 1.0)
        small = G(z)
        G.set_level(2, 0.0)
        grown = G(z)
    assert grown.shape[-1] == 2 * small.shape[-1]
    torch.testing.assert_close(grown, F.interpolate(small, scale_factor=2, mode="nearest"))


def test_at_alpha_one_the_old_path_has_no_effect():
    G, D = _pair()
    z = torch.randn(5, 8)
    set_level(2, 1.0, G, D)
    with torch.no_grad():
        before_g, images = G(z), torch.randn(5, 3, 16, 16)
        before_d = D(images)
        G.to_rgb[1].weight.add_(1.0)
        D.from_rgb[1][0].weight.add_(1.0)
        torch.testing.assert_close(G(z), before_g)
        torch.testing.assert_close(D(images), before_d)
        set_level(2, 0.5, G, D)  # halfway, the old path counts
        assert not torch.allclose(G(z), before_g)
        assert not torch.allclose(D(images), before_d)


def test_the_discriminator_fades_in_as_the_mirror_of_the_generator():
    """At alpha=0 D ignores the new block: its score is the smaller D's score of the pooled image."""
    _, D = _pair()
    images = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        D.set_level(1)
        small = D(F.avg_pool2d(images, 2))
        D.set_level(2, 0.0)
        torch.testing.assert_close(D(images), small)


def test_match_real_pools_to_the_level_and_fades_like_the_generator():
    G, _ = _pair()
    real = torch.randn(3, 3, 32, 32)
    G.set_level(1)
    torch.testing.assert_close(G.match_real(real), F.avg_pool2d(real, 4))
    G.set_level(2, 0.0)
    at_zero = G.match_real(real)
    torch.testing.assert_close(at_zero, F.interpolate(F.avg_pool2d(real, 4), scale_factor=2, mode="nearest"))
    G.set_level(2, 1.0)
    torch.testing.assert_close(G.match_real(real), F.avg_pool2d(real, 2))
    with pytest.raises(ValueError, match="cannot be pooled"):
        G.match_real(torch.randn(1, 3, 12, 12))


def test_equalized_layers_store_unit_variance_weights_and_scale_at_run_time():
    torch.manual_seed(0)
    conv = EqualizedConv2d(64, 32, 3, padding=1)
    linear = EqualizedLinear(256, 128)
    for layer, fan_in in ((conv, 64 * 9), (linear, 256)):
        assert layer.weight.std().item() == pytest.approx(1.0, abs=0.05)
        assert layer.weight.mean().item() == pytest.approx(0.0, abs=0.05)
        assert layer.scale == pytest.approx(math.sqrt(2) / math.sqrt(fan_in))
        assert torch.count_nonzero(layer.bias) == 0
    x = torch.randn(2, 64, 5, 5)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight * conv.scale, conv.bias, padding=1))
    with torch.no_grad():
        conv.weight.mul_(2.0)  # the scale is applied at run time: doubling the stored weight doubles the output
    torch.testing.assert_close(conv(x) - conv.bias.view(1, -1, 1, 1), 2 * F.conv2d(x, conv.weight / 2 * conv.scale, padding=1))
    # He's constant keeps activations near unit variance through a deep stack
    y = torch.randn(64, 256)
    for _ in range(6):
        y = F.leaky_relu(EqualizedLinear(256, 256)(y), 0.0)
    assert 0.3 < y.pow(2).mean().item() < 3.0


def test_pixel_norm_gives_unit_mean_square_per_pixel():
    x = torch.randn(2, 16, 4, 4) * 7
    y = PixelNorm()(x)
    torch.testing.assert_close(y.pow(2).mean(1), torch.ones(2, 4, 4), rtol=1e-4, atol=1e-4)


def test_minibatch_stddev_adds_one_channel_of_the_group_spread():
    layer = MinibatchStdDev(group_size=4)
    x = torch.randn(8, 5, 3, 3)
    y = layer(x)
    assert y.shape == (8, 6, 3, 3)
    torch.testing.assert_close(y[:, :5], x)
    # image i is in group i % 2; the channel is the mean over features of the std across the group
    group = x[0::2]
    expected = (group.var(0, unbiased=False) + 1e-8).sqrt().mean()
    torch.testing.assert_close(y[0, 5], torch.full((3, 3), expected.item()))
    same = layer(torch.ones(4, 5, 3, 3))  # identical images: no spread
    assert same[:, 5].abs().max() < 1e-3
    assert layer(torch.randn(6, 5, 3, 3)).shape == (6, 6, 3, 3)  # 6 is not a multiple of 4: groups of 3


def test_pixel_norm_is_a_switch_off_by_default():
    plain, _ = _pair()
    normed, _ = _pair(pixel_norm=True)
    assert not any(isinstance(m, PixelNorm) for m in plain.modules())
    assert sum(isinstance(m, PixelNorm) for m in normed.modules()) == 1 + 2 + 2 * 2  # latent, stem, two per block


def test_a_level_beyond_the_maximum_is_refused_naming_both():
    G, D = _pair(max_level=2)
    with pytest.raises(ValueError, match=r"level 3 \(32×32\).*levels 0 \(4×4\) to 2 \(16×16\)"):
        G.set_level(3)
    with pytest.raises(ValueError, match="alpha"):
        D.set_level(1, 1.5)
    data = DeviceImageDataset(torch.zeros(8, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="level 3"):
        ProgressiveTrainer(G, D, data, plan=level_plan(3, images_per_phase=8, batch_size=4), config=GANTrainConfig())


def test_level_plan_gives_equal_images_with_and_without_fade():
    faded = level_plan(2, images_per_phase=100, batch_size=[10, 20, 25])
    plain = level_plan(2, images_per_phase=100, batch_size=[10, 20, 25], fade=False)
    assert [(p.level, p.fade_images, p.stable_images) for p in faded] == [(0, 0, 100), (1, 100, 100), (2, 100, 100)]
    assert [(p.fade_images, p.stable_images) for p in plain] == [(0, 100), (0, 200), (0, 200)]
    assert [p.steps for p in faded] == [p.steps for p in plain] == [10, 10, 8]
    assert faded[1].fade_steps == 5 and faded[1].alpha(0) == 0.0 and faded[1].alpha(2) == 0.4 and faded[1].alpha(9) == 1.0
    assert plain[1].alpha(0) == 1.0
    with pytest.raises(ValueError, match="nothing to fade"):
        LevelPlan(0, 4, 10, 10)
    with pytest.raises(ValueError, match="3 batch sizes"):
        level_plan(3, images_per_phase=8, batch_size=[4, 4, 4])


def _trainer(out_dir, plan, **kwargs):
    G, D = _pair(max_level=2, width=8)
    images = torch.randint(0, 256, (32, 3, 16, 16), dtype=torch.uint8)
    config = GANTrainConfig(loss="wgan", gp_lambda=10.0, lr_g=1e-3, lr_d=1e-3, betas=(0.0, 0.99), log_every=2,
                            sample_every=1000, checkpoint_every=2, n_samples=4, ema_decay=0.9, **kwargs)
    return ProgressiveTrainer(G, D, DeviceImageDataset(images, seed=0), plan=plan, config=config, out_dir=out_dir,
                              progress=False)


def test_weights_of_earlier_levels_carry_over_bit_for_bit(tmp_path):
    plan = level_plan(2, images_per_phase=8, batch_size=4)
    trainer = _trainer(tmp_path, plan)
    trainer.fit_level(0)
    z = trainer.trainer.fixed_noise
    state = {k: v.clone() for k, v in trainer.generator.state_dict().items() if isinstance(v, torch.Tensor)}
    with torch.no_grad():
        small = trainer.generator(z)  # level 0's image
    seen = []

    class FirstStep(Callback):
        def on_step_start(self, t):
            if t.step == 0:  # level 1 is about to take its first step
                seen.append({k: v.clone() for k, v in t.generator.state_dict().items() if isinstance(v, torch.Tensor)})
                with torch.no_grad():
                    seen.append(t.generator(z))

    trainer.callbacks.append(FirstStep())
    trainer.fit_level(1)
    carried, first_image = seen
    assert carried.keys() == state.keys()
    for key in state:
        assert torch.equal(carried[key], state[key]), key
    torch.testing.assert_close(first_image, F.interpolate(small, scale_factor=2, mode="nearest"))  # alpha = 0
    after = trainer.generator.state_dict()
    assert not torch.equal(state["stem.0.weight"], after["stem.0.weight"])  # the shared stem kept training
    for key in state:  # the level-2 block has not been used yet
        if key.startswith(("blocks.1.", "to_rgb.2.")):
            assert torch.equal(state[key], after[key]), key


def test_fade_in_moves_alpha_from_zero_to_one_over_the_fade(tmp_path):
    plan = LevelPlan(1, batch_size=4, fade_images=16, stable_images=8)
    trainer = _trainer(None, [LevelPlan(0, 4, 0, 4), plan])
    seen = []

    class Record(Callback):
        def on_step_start(self, t):
            seen.append((t.step, t.generator.alpha, t.discriminator.alpha, t.ema.module.alpha))

    trainer.callbacks.append(Record())
    trainer.fit(resume=False)
    level1 = seen[-plan.steps:]
    assert [a for _, a, _, _ in level1] == [plan.alpha(s) for s, _, _, _ in level1] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert all(g == d == e for _, g, d, e in seen)


def test_resuming_mid_fade_lands_in_the_right_level_and_alpha(tmp_path):
    plan = [LevelPlan(0, 4, 0, 8), LevelPlan(1, 4, 16, 8), LevelPlan(2, 4, 16, 8)]
    first = _trainer(tmp_path, plan)
    first.fit_level(0)
    # level 1 stops after 2 of its 4 fade steps (a killed kernel), with a checkpoint every 2 steps
    level = plan[1]
    set_level(1, 0.0, first.generator, first.discriminator)
    config = replace(first.config, steps=level.steps, batch_size=level.batch_size)
    partial = GANTrainer(first.generator, first.discriminator, first.data, config=config,
                         out_dir=first.level_dir(level), callbacks=[FadeIn(level)], progress=False)
    partial.fit(2)  # 2 steps: alpha was 0, then 0.25; the checkpoint holds step 2
    saved = torch.load(first.level_dir(level) / "step_00000002.pt", weights_only=True)
    assert saved["models"]["generator"]["_extra_state"] == {"level": 1, "alpha": 0.25}

    resumed = _trainer(tmp_path, plan)  # a fresh kernel: new networks at level 0
    resumed.fit_level(0)  # loads level 0's finished checkpoint, trains nothing
    assert resumed.trainer.step == plan[0].steps
    steps = []

    class Watch(Callback):
        def on_train_start(self, t):
            steps.append(("start", t.step, t.generator.level, t.generator.alpha))

        def on_step_start(self, t):
            steps.append((t.step, t.generator.level, t.generator.alpha))

    resumed.callbacks.append(Watch())
    resumed.fit_level(1)
    assert steps[0] == ("start", 2, 1, 0.5)  # the FadeIn before it set alpha for step 2: 2/4
    assert steps[1] == (2, 1, 0.5)
    assert resumed.trainer.step == level.steps
    assert len(resumed.results) == 2


def test_a_checkpoint_from_another_level_layout_is_refused_naming_both(tmp_path):
    plan = level_plan(1, images_per_phase=8, batch_size=4)
    _trainer(tmp_path, plan).fit_level(0)
    other = _trainer(tmp_path, level_plan(1, images_per_phase=16, batch_size=4))
    with pytest.raises(CheckpointMismatch, match=r"levels \[4px×0\+8@4, 8px×8\+8@4\].*levels \[4px×0\+16@4, 8px×16\+16@4\]"):
        other.fit_level(0)
    # a wider generator in the same folder: the checkpoint's signature names both
    (tmp_path / "plan.json").unlink()
    G, D = ProGenerator(max_level=2, latent_dim=8, width=16), ProDiscriminator(max_level=2, width=16)
    wide = ProgressiveTrainer(G, D, DeviceImageDataset(torch.zeros(8, 3, 16, 16, dtype=torch.uint8)), plan=plan,
                              config=GANTrainConfig(n_samples=4), out_dir=tmp_path, progress=False)
    with pytest.raises(CheckpointMismatch, match=r"width=8.*width=16"):
        wide.fit_level(0)


def test_history_and_boundaries_span_the_levels(tmp_path):
    plan = level_plan(2, images_per_phase=8, batch_size=4)
    trainer = _trainer(None, plan)
    history = trainer.fit(resume=False)
    assert history["step"] == list(range(1, sum(p.steps for p in plan) + 1))
    assert history["level"] == [0] * 2 + [1] * 4 + [2] * 4
    assert history["images"][-1] == sum(p.steps * p.batch_size for p in plan)
    assert trainer.boundaries == {0: "4px", 2: "8px", 4: "faded in", 6: "16px", 8: "faded in"}
    assert all(math.isfinite(v) for v in history["d_loss"])
    assert [r["samples"].shape[-1] for r in trainer.results] == [4, 8, 16]


def test_starting_afresh_clears_an_earlier_runs_levels(tmp_path):
    plan = level_plan(1, images_per_phase=8, batch_size=4)
    _trainer(tmp_path, plan).fit(resume=False)
    assert (tmp_path / "level_1_8px").is_dir()
    other = _trainer(tmp_path, level_plan(0, images_per_phase=4, batch_size=4))
    other.fit(resume=False)  # another plan, not resumed: no error, and level 1 of the old run is gone
    assert not (tmp_path / "level_1_8px").exists()
    assert other.results[0]["steps"] == 1

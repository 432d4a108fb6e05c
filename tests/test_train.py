"""cocogoat_utils.train: the GAN trainer on tiny random data."""

import json
import math

import pytest
import torch
from torch import nn

from cocogoat_utils.checkpoint import list_checkpoints, load_checkpoint
from cocogoat_utils.device_dataset import DeviceImageDataset
from cocogoat_utils.models.dcgan import DCGANDiscriminator, DCGANGenerator
from cocogoat_utils.train import EMA, HISTORY_KEYS, Callback, GANTrainConfig, GANTrainer, eval_mode


SIZE, LATENT = 32, 8


def _models(seed=0):
    torch.manual_seed(seed)
    return (DCGANGenerator(image_size=SIZE, latent_dim=LATENT, width=8),
            DCGANDiscriminator(image_size=SIZE, width=8))


def _data():
    images = torch.randint(0, 256, (64, 3, SIZE, SIZE), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return DeviceImageDataset(images, seed=0)


def _trainer(out_dir=None, *, seed=0, generator=None, discriminator=None, callbacks=(), **overrides):
    config = dict(steps=6, batch_size=8, log_every=2, sample_every=3, checkpoint_every=3, n_samples=4)
    config.update(overrides)
    g, d = _models(seed)
    generator = g if generator is None else generator
    discriminator = d if discriminator is None else discriminator
    return GANTrainer(generator, discriminator, _data(), config=GANTrainConfig(**config),
                      out_dir=out_dir, callbacks=callbacks, progress=False)


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def _differ(a, b):
    return any(not torch.equal(x, y) for x, y in zip(a, b))


def test_fit_records_history_samples_and_checkpoints(tmp_path):
    trainer = _trainer(tmp_path / "run")
    before = _params(trainer.generator)
    history = trainer.fit()
    assert trainer.step == 6
    assert history["step"] == [1, 2, 3, 4, 5, 6]
    for key in HISTORY_KEYS:
        assert len(history[key]) == 6
        assert all(math.isfinite(v) for v in history[key])
    assert all(0 < v < 1 for v in history["d_real"] + history["d_fake"])  # mean σ(D)
    assert all(v > 0 for v in history["d_loss"] + history["g_loss"])
    assert _differ(before, _params(trainer.generator))

    assert trainer.sample_steps == [0, 3, 6]
    assert len(trainer.samples) == 3
    for images in trainer.samples:
        assert images.shape == (4, 3, SIZE, SIZE) and images.dtype == torch.uint8
    assert not torch.equal(trainer.samples[0], trainer.samples[-1])

    names = [p.name for p in list_checkpoints(tmp_path / "run")]
    assert names == ["step_00000003.pt", "step_00000006.pt"]
    assert trainer.last_checkpoint.name == "step_00000006.pt"
    info = json.loads((tmp_path / "run" / "config.json").read_text())
    assert info["train"]["steps"] == 6 and info["train"]["batch_size"] == 8
    assert info["generator"].startswith("DCGANGenerator(")
    assert info["dataset_size"] == 64 and info["image_shape"] == [3, SIZE, SIZE]

    state = torch.load(trainer.last_checkpoint, weights_only=True)
    assert state["step"] == 6
    assert state["history"]["step"] == [1, 2, 3, 4, 5, 6]
    assert set(state["history"]) == {"step", *HISTORY_KEYS}
    assert state["callbacks"] == {}  # no quality tracker (or other stateful callback) attached
    assert state["elapsed"] > 0 and set(state["random"][0]) == {"data", "noise", "torch"}


def test_fit_without_out_dir_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    trainer = _trainer(None, steps=3)
    history = trainer.fit()
    assert history["step"] == [1, 2, 3]
    assert trainer.last_checkpoint is None
    assert list(tmp_path.iterdir()) == []


def test_resume_continues_from_checkpoint(tmp_path):
    out = tmp_path / "run"
    first = _trainer(out, sample_every=2, checkpoint_every=None)
    first.fit(4)
    assert [p.name for p in list_checkpoints(out)] == ["step_00000004.pt"]
    trained = _params(first.generator)

    second = _trainer(out, seed=123, sample_every=2, checkpoint_every=None)  # fresh models, other init
    fresh = _params(second.generator)
    history = second.fit(8)
    assert second.step == 8
    assert history["step"] == list(range(1, 9))
    for key in HISTORY_KEYS:
        assert len(history[key]) == 8
        assert history[key][:4] == first.history[key]
    assert second.sample_steps == [6, 8]  # the grids this session took, one per picture
    assert len(second.samples) == len(second.sample_steps)
    assert _differ(fresh, _params(second.generator))
    assert _differ(trained, _params(second.generator))  # it trained on past step 4
    assert [p.name for p in list_checkpoints(out)][-1] == "step_00000008.pt"


def test_resume_loads_the_first_runs_weights(tmp_path):
    out = tmp_path / "run"
    first = _trainer(out, checkpoint_every=None)
    first.fit(2)
    second = _trainer(out, seed=7)
    assert _differ(_params(first.generator), _params(second.generator))
    assert second.resume() is True
    assert second.step == 2
    assert not _differ(_params(first.generator), _params(second.generator))
    assert not _differ(_params(first.discriminator), _params(second.discriminator))
    assert _trainer(tmp_path / "empty").resume() is False


def test_resume_into_another_model_is_refused(tmp_path):
    from cocogoat_utils.checkpoint import CheckpointMismatch

    out = tmp_path / "run"
    _trainer(out, checkpoint_every=None).fit(2)
    torch.manual_seed(0)
    sprite_g = DCGANGenerator(image_size=SIZE, latent_dim=LATENT, width=16, arch="sprite")
    before = _params(sprite_g)
    other = _trainer(out, generator=sprite_g)
    with pytest.raises(CheckpointMismatch, match="sprite"):
        other.fit(4)
    assert not _differ(before, _params(sprite_g))
    assert other.step == 0


def test_fit_resume_false_starts_over(tmp_path):
    out = tmp_path / "run"
    _trainer(out, checkpoint_every=None).fit(2)
    again = _trainer(out, checkpoint_every=None)
    history = again.fit(3, resume=False)
    assert history["step"] == [1, 2, 3]


def test_two_generator_steps_per_discriminator_step():
    trainer = _trainer(None, steps=3, g_steps_per_d_step=2)
    history = trainer.fit()
    assert history["step"] == [1, 2, 3]
    g_param = next(trainer.generator.parameters())
    d_param = next(trainer.discriminator.parameters())
    assert trainer.g_optimizer.state[g_param]["step"].item() == 6
    assert trainer.d_optimizer.state[d_param]["step"].item() == 3


def test_ema_sampler(tmp_path):
    trainer = _trainer(tmp_path / "run", steps=4, ema_decay=0.9)
    assert trainer.ema is not None
    assert trainer.sampler is trainer.ema.module
    assert trainer.sampler is not trainer.generator
    trainer.fit()
    assert _differ(_params(trainer.generator), _params(trainer.ema.module))
    with eval_mode(trainer.ema.module), trainer.autocast():
        expected = trainer.ema.module(trainer.fixed_noise).float()
    assert torch.equal(trainer.sample(), ((expected + 1) * 127.5).round().clamp(0, 255).to(torch.uint8))
    state = torch.load(trainer.last_checkpoint, weights_only=True)
    assert state["ema"] is not None
    # the EMA is restored on resume
    resumed = _trainer(tmp_path / "run", steps=4, ema_decay=0.9, seed=5)
    assert resumed.resume()
    assert not _differ(_params(trainer.ema.module), _params(resumed.ema.module))


def test_ema_update_by_hand():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    ema = EMA(model, decay=0.75, warmup=False)
    old = [t.clone() for t in ema.module.state_dict().values()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model(torch.randn(4, 3))  # train mode: running stats and num_batches_tracked move
    ema.update_parameters(model)
    for (key, mine), before, theirs in zip(ema.module.state_dict().items(), old, model.state_dict().values()):
        if mine.is_floating_point():
            assert torch.allclose(mine, 0.75 * before + 0.25 * theirs), key
        else:
            assert torch.equal(mine, theirs), key
    assert not any(p.requires_grad for p in ema.module.parameters())
    with pytest.raises(ValueError):
        EMA(model, decay=1.5)


def test_ema_warms_up_from_a_short_average_to_its_decay():
    model = nn.Linear(1, 1, bias=False)
    ema = EMA(model, decay=0.999)
    decays = []
    for _ in range(3000):
        decays.append(ema.current_decay().item())
        ema.update_parameters(model)
    assert decays[0] == pytest.approx(0.1) and decays[90] == pytest.approx(91 / 100)
    assert decays[-1] < 0.999 and EMA(model, decay=0.9).current_decay().item() == pytest.approx(0.1)
    # the share of the initial weights left after 3,000 updates: ~0 with the warm-up, 5 % without
    with torch.no_grad():
        model.weight.fill_(0.0)
    warm, cold = EMA(model, 0.999), EMA(model, 0.999, warmup=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    for _ in range(3000):
        warm.update_parameters(model), cold.update_parameters(model)
    assert warm.module.weight.item() > 0.999 and cold.module.weight.item() == pytest.approx(1 - 0.999**3000, abs=1e-3)
    assert warm.state_dict()["updates"].item() == 3000  # the count travels in checkpoints


def test_no_ema_sampler_is_generator():
    trainer = _trainer(None)
    assert trainer.ema is None
    assert trainer.sampler is trainer.generator


def test_diffaugment_policy_runs():
    trainer = _trainer(None, steps=3, diffaugment="color,translation,cutout")
    history = trainer.fit()
    assert history["step"] == [1, 2, 3]
    assert all(math.isfinite(v) for key in HISTORY_KEYS for v in history[key])


def test_bad_diffaugment_policy_fails_when_configured():
    with pytest.raises(ValueError, match="zoom"):
        GANTrainConfig(diffaugment="color,zoom")


class NaNAfter(nn.Module):
    """A discriminator whose logits turn NaN from its ``after``-th call on."""

    def __init__(self, inner, after):
        super().__init__()
        self.inner, self.after, self.calls = inner, after, 0

    def forward(self, x):
        out = self.inner(x)
        self.calls += 1
        if self.calls > self.after:
            out = out * float("nan")
        return out


def test_nan_stops_training_and_keeps_the_last_checkpoint(tmp_path):
    out = tmp_path / "run"
    _, d = _models()
    # three D calls per step (real, fake, fake for G): steps 1 and 2 are clean, step 3 is NaN
    trainer = _trainer(out, steps=6, log_every=1, checkpoint_every=2, sample_every=100,
                       discriminator=NaNAfter(d, after=6))
    with pytest.raises(FloatingPointError) as info:
        trainer.fit()
    message = str(info.value)
    assert "step 3" in message
    assert "d_loss" in message
    assert "step_00000002.pt" in message  # names the last good checkpoint
    assert [p.name for p in list_checkpoints(out)] == ["step_00000002.pt"]
    g2, d2 = _models(seed=99)
    state = load_checkpoint(out / "step_00000002.pt",
                            models={"generator": g2, "discriminator": NaNAfter(d2, after=10**9)})
    assert state["step"] == 2
    assert state["history"]["step"] == [1, 2]
    assert all(torch.isfinite(p).all() for p in g2.parameters())
    assert all(torch.isfinite(t).all() for t in state["models"]["discriminator"].values() if t.is_floating_point())


def test_nan_detected_between_log_reads(tmp_path):
    # with a long log interval the NaN is caught at the next read, still naming its step
    _, d = _models()
    trainer = _trainer(tmp_path / "run", steps=6, log_every=50, checkpoint_every=None, sample_every=100,
                       discriminator=NaNAfter(d, after=9))
    with pytest.raises(FloatingPointError, match="step 4"):
        trainer.fit()
    assert list_checkpoints(tmp_path / "run") == []


def test_config_validation():
    with pytest.raises(ValueError, match="nope"):
        GANTrainConfig(loss="nope")
    with pytest.raises(ValueError):
        GANTrainConfig(g_steps_per_d_step=0)
    with pytest.raises(ValueError):
        GANTrainConfig(batch_size=0)


class Recorder(Callback):
    def __init__(self):
        self.events, self.logged_steps, self.sampled = [], [], []

    def on_train_start(self, trainer):
        self.events.append("start")

    def on_log(self, trainer):
        self.events.append("log")
        self.logged_steps.append(trainer.history["step"][-1])

    def on_sample(self, trainer, images):
        self.events.append("sample")
        self.sampled.append((trainer.step, images))

    def on_train_end(self, trainer):
        self.events.append("end")


def test_callbacks_are_called():
    recorder = Recorder()
    trainer = _trainer(None, steps=4, log_every=2, sample_every=2, callbacks=[recorder])
    trainer.fit()
    assert recorder.events[0] == "start" and recorder.events[-1] == "end"
    assert recorder.logged_steps == [2, 4]
    assert [step for step, _ in recorder.sampled] == [0, 2, 4]
    for _, images in recorder.sampled:
        assert images.dtype == torch.uint8
        assert images.shape == (4, 3, SIZE, SIZE)
        assert images.device.type == "cpu"


def test_other_ranks_sample_and_save_nothing(tmp_path):
    recorder = Recorder()
    g, d = _models()
    trainer = GANTrainer(g, d, _data(), config=GANTrainConfig(steps=2, batch_size=4, log_every=1, n_samples=2),
                         out_dir=tmp_path / "run", callbacks=[recorder], rank=1, progress=False)
    trainer.fit()
    assert trainer.samples == [] and "sample" not in recorder.events
    assert not (tmp_path / "run").exists()


def test_eval_mode_restores_modes():
    a, b = nn.BatchNorm1d(2), nn.BatchNorm1d(2)
    a.train()
    b.eval()
    with eval_mode(a, b):
        assert not a.training and not b.training
    assert a.training and not b.training


def test_tensorboard_logs_scalars_and_samples(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    trainer = _trainer(tmp_path / "run", tensorboard=True)
    trainer.fit()
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    tags = events.Tags()
    assert {f"train/{k}" for k in HISTORY_KEYS} <= set(tags["scalars"])
    assert "samples" in tags["images"]
    logged = events.Scalars("train/d_loss")
    assert [e.step for e in logged] == [1, 2, 3, 4, 5, 6]
    assert [e.value for e in logged] == pytest.approx(trainer.history["d_loss"])


def test_generator_twice_per_discriminator_step_counts_updates():
    trainer = _trainer(None, steps=3, g_steps_per_d_step=2)
    trainer.fit()
    assert trainer.g_optimizer.state_dict()["state"][0]["step"].item() == 6
    assert trainer.d_optimizer.state_dict()["state"][0]["step"].item() == 3


def test_time_budget_ends_training_early_and_closes_it_properly(tmp_path):
    trainer = _trainer(tmp_path / "run", steps=50, sample_every=40, checkpoint_every=40)
    history = trainer.fit(seconds=0.0)  # the budget is spent after the first step
    assert trainer.step == 1 and history["step"] == [1]
    assert list_checkpoints(tmp_path / "run")[-1].name == "step_00000001.pt"
    assert len(trainer.samples) == 2  # at step 0 and at the (early) last step
    trainer.fit(seconds=60.0)  # a generous budget: the planned steps decide
    assert trainer.step == 50


@pytest.mark.parametrize("loss", ["hinge", "rsgan", "rasgan", "ralsgan", "rahinge"])
def test_every_loss_trains(loss):
    trainer = _trainer(loss=loss, steps=3)
    history = trainer.fit()
    assert all(math.isfinite(v) for key in HISTORY_KEYS for v in history[key])


def test_r1_penalty_changes_the_discriminator_update():
    plain, penalised = _trainer(steps=1), _trainer(steps=1, r1_gamma=10.0)
    plain.fit(), penalised.fit()
    assert _differ(_params(plain.discriminator), _params(penalised.discriminator))
    assert penalised.history["d_loss"][0] > 0
    with pytest.raises(ValueError, match="r1_gamma"):
        GANTrainConfig(r1_gamma=-1.0)


def test_label_smoothing_and_instance_noise_reach_the_discriminator():
    seen = []

    class Spy(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            seen.append(x.detach().clone())
            return self.inner(x)

    _, d = _models()
    noisy = _trainer(steps=1, instance_noise=0.5, discriminator=Spy(d), diffaugment=None)
    noisy.fit()
    clean_real = seen[0]
    assert not torch.equal(clean_real.clamp(-1, 1), clean_real)  # noise pushed pixels outside [-1, 1]
    plain, smoothed = _trainer(steps=1), _trainer(steps=1, label_smoothing=0.2)
    plain.fit(), smoothed.fit()
    assert smoothed.history["d_loss"][0] != pytest.approx(plain.history["d_loss"][0])  # same batches, other target


def test_dragan_penalty_changes_the_discriminator_update():
    plain, penalised = _trainer(steps=1), _trainer(steps=1, dragan_lambda=10.0)
    plain.fit(), penalised.fit()
    assert _differ(_params(plain.discriminator), _params(penalised.discriminator))
    assert penalised.history["d_loss"][0] > plain.history["d_loss"][0]


def test_the_generator_step_leaves_the_discriminators_weights_without_gradients():
    """D is frozen in G's step: G gets the same gradient through it, D computes no weight gradients of its own (they
    would be thrown away), and every ``requires_grad`` is back afterwards, the ones switched off on purpose included."""
    from cocogoat_utils.runtime import frozen

    trainer = _trainer()
    next(trainer.discriminator.parameters()).requires_grad_(False)  # frozen on purpose: stays frozen
    real = trainer.batch(8)
    fake = trainer.g_train(trainer.noise(8))
    trainer.zero_grad("discriminator")
    g_before = _params(trainer.generator)
    trainer.generator_step(real, fake)
    assert all(p.grad is None for p in trainer.discriminator.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(g_before, _params(trainer.generator)))
    flags = [p.requires_grad for p in trainer.discriminator.parameters()]
    assert flags.count(False) == 1 and flags[0] is False
    # the gradient G gets through a frozen D is the one it gets through a live D
    g, d = _models()
    x = torch.randn(4, LATENT)
    grads = []
    for freeze in (False, True):
        g.zero_grad(set_to_none=True)
        with frozen(d) if freeze else torch.enable_grad():
            d(g(x)).sum().backward()
        grads.append([p.grad.clone() for p in g.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*grads))

"""Precision chosen per device, fp16 with a gradient scaler that trains (in the loop and in the plain trainers), and a
diffusion step that copies nothing."""

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from cocogoat_utils import runtime
from cocogoat_utils.device_dataset import DeviceImageDataset
from cocogoat_utils.models.dcgan import DCGANDiscriminator, DCGANGenerator
from cocogoat_utils.models.emboxer import Emboxer
from cocogoat_utils.models.lstm_gan import Inpainter
from cocogoat_utils.runtime import autocast, pick_precision
from cocogoat_utils.train import (GANTrainConfig, GANTrainer, PrecisionStep, Trainer, TrainConfig, train_emboxer,
                                  train_inpainter)


@pytest.mark.parametrize("capability, expected", [((7, 5), "fp16"), ((8, 0), "bf16"), ((9, 0), "bf16"), ((6, 1), "fp16")])
def test_auto_precision_on_cuda_gpus(monkeypatch, capability, expected):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert pick_precision("auto", torch.device("cuda", 0)) == expected  # a T4 is 7.5; an A100 8.0; an H100 9.0


@pytest.mark.parametrize("native, expected", [(True, "bf16"), (False, "fp32")])
def test_auto_precision_on_cpus(monkeypatch, native, expected):
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: native)
    assert pick_precision("auto", "cpu") == expected


def test_other_devices_and_explicit_choices():
    assert pick_precision("auto", "mps") == "fp32"
    for choice in ("bf16", "fp16", "fp32"):
        assert pick_precision(choice, "cpu") == choice
    with pytest.raises(ValueError, match="expected one of"):
        pick_precision("half", "cpu")
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="int8")


def test_the_cpu_check_reads_torchs_own_probes(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert runtime.cpu_has_native_bf16()
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert not runtime.cpu_has_native_bf16()


def test_autocast_contexts():
    x = torch.randn(4, 8)
    layer = nn.Linear(8, 8)
    with autocast("cpu", "bf16"):
        assert layer(x).dtype == torch.bfloat16
    with autocast("cpu", "fp32"):
        assert layer(x).dtype == torch.float32


class Regression(Trainer):
    """A least-squares fit through the loop's ``optimize``: the smallest trainer there is."""

    def __init__(self, config):
        data = DeviceImageDataset(torch.zeros(4, 1, 1, 1, dtype=torch.uint8))
        super().__init__(data, config=config, progress=False)
        torch.manual_seed(0)
        self.model = nn.Linear(16, 1)
        self.models = {"model": self.model}
        self.add_optimizer("model", torch.optim.Adam(self.model.parameters(), lr=1e-2))
        self.x = torch.randn(256, 16)
        self.y = self.x @ torch.linspace(-1, 1, 16)[:, None] * 1e-3  # small targets: fp16 gradients would underflow

    def train_step(self):
        self.optimizers["model"].zero_grad(set_to_none=True)
        with self.autocast():
            loss = (self.model(self.x).float() - self.y).pow(2).mean()
        self.optimize("model", loss, clip=1.0)
        return loss.detach().reshape(1)

    def sample(self):
        return torch.zeros(1, 3, 1, 1, dtype=torch.uint8)


def test_fp16_with_the_gradient_scaler_trains():
    trainer = Regression(TrainConfig(steps=300, log_every=50, sample_every=None, checkpoint_every=None,
                                     precision="fp16"))
    assert set(trainer.scalers) == {"model"} and trainer.scalers["model"].is_enabled()
    history = trainer.fit()
    assert history["loss"][-1] < history["loss"][0] / 10
    assert trainer.scalers["model"].get_scale() > 1  # gradients were scaled up, not down to nothing


def test_a_gan_with_r1_trains_under_fp16_without_skipping_every_step():
    torch.manual_seed(0)
    data = DeviceImageDataset(torch.randint(0, 256, (32, 3, 32, 32), dtype=torch.uint8))
    config = GANTrainConfig(steps=12, batch_size=8, log_every=4, sample_every=None, checkpoint_every=None,
                            precision="fp16", r1_gamma=1.0, gp_lambda=1.0, dragan_lambda=1.0)
    trainer = GANTrainer(DCGANGenerator(image_size=32, latent_dim=8, width=8), DCGANDiscriminator(image_size=32, width=8),
                         data, config=config, progress=False)
    before = [p.detach().clone() for p in trainer.discriminator.parameters()]
    history = trainer.fit()
    assert trainer.precision == "fp16" and set(trainer.scalers) == {"generator", "discriminator"}
    assert all(v == v and abs(v) < float("inf") for v in history["d_loss"])
    # the penalties' double backward runs in fp32: D's steps are taken, not all skipped for overflow
    assert trainer.scalers["discriminator"].get_scale() >= 2.0**10
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.discriminator.parameters()))


class CountFloat64Copies(TorchDispatchMode):
    """Counts conversions and copies of float64 tensors (the schedule's dtype) while active."""

    def __init__(self):
        super().__init__()
        self.copies = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func.__name__.split(".")[0] in ("_to_copy", "copy_", "to") and any(
                isinstance(a, torch.Tensor) and a.dtype == torch.float64 for a in args):
            self.copies += 1
        return func(*args, **kwargs)


def test_a_diffusion_step_does_not_copy_the_schedule():
    from cocogoat_utils.models.unet import UNet
    from cocogoat_utils.train import DiffusionTrainConfig, DiffusionTrainer

    torch.manual_seed(0)
    model = UNet(image_size=8, width=8, channel_mults=(1, 2), blocks_per_level=1, attention_at=())
    data = DeviceImageDataset(torch.randint(0, 256, (8, 3, 8, 8), dtype=torch.uint8))
    for prediction in ("eps", "v"):
        trainer = DiffusionTrainer(model, data, config=DiffusionTrainConfig(
            steps=2, batch_size=4, T=20, sample_steps=2, log_every=1, warmup=1, prediction=prediction,
            precision="fp32"), progress=False)
        with CountFloat64Copies() as counter:
            trainer.train_step()
            trainer.train_step()
        assert counter.copies == 0, f"{counter.copies} copies of the float64 schedule inside two {prediction} steps"
    tables = {key[0] for key in trainer.schedule._tables}
    assert tables == {"sqrt_alpha_bars", "sqrt_one_minus_alpha_bars"}


def test_the_schedule_tables_are_made_once_per_device_and_dtype():
    from cocogoat_utils.diffusion import NoiseSchedule

    schedule = NoiseSchedule.make("linear", 50).to("cpu")
    first = schedule.table("sqrt_alpha_bars", torch.device("cpu"), torch.float32)
    assert schedule.table("sqrt_alpha_bars", torch.device("cpu"), torch.float32) is first
    assert torch.allclose(first.double(), schedule.alpha_bars.sqrt(), atol=1e-7)
    assert schedule.table("sqrt_alpha_bars", torch.device("cpu"), torch.bfloat16) is not first


def test_the_plain_loops_precision_step_trains_under_fp16_with_its_scaler():
    torch.manual_seed(0)
    model, x = nn.Linear(16, 1), torch.randn(256, 16)
    y = x @ torch.linspace(-1, 1, 16)[:, None] * 1e-3
    precise = PrecisionStep(torch.optim.Adam(model.parameters(), lr=1e-2), device="cpu", precision="fp16")
    assert precise.precision == "fp16" and precise.scaler.is_enabled()
    losses = []
    for _ in range(300):
        with precise.autocast():
            out = model(x)
        loss = (out.float() - y).pow(2).mean()
        precise.step(loss)
        losses.append(loss.item())
    assert out.dtype == torch.float16 and losses[-1] < losses[0] / 10 and precise.scaler.get_scale() > 1
    assert not PrecisionStep(torch.optim.Adam(model.parameters()), device="cpu").scaler.is_enabled()  # fp32


@pytest.mark.parametrize("trainer", ["emboxer", "inpainter"])
def test_the_box_and_hole_trainers_run_their_forward_passes_in_the_precision_asked(trainer):
    """02's box regressor and 05's inpainters take ``precision`` like every other trainer."""
    images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    if trainer == "emboxer":
        model = Emboxer(image_size=32, width=8, hidden=16)
        run = lambda precision: train_emboxer(model, images, torch.tensor([[4, 4, 20, 20]] * 16), steps=3,  # noqa: E731
                                              batch_size=4, precision=precision, progress=False)
    else:
        model = Inpainter(image_size=32, features=4, hidden=8)
        run = lambda precision: train_inpainter(model, images, steps=3, batch_size=4, precision=precision,  # noqa: E731
                                                progress=False)
    seen = []  # the dtype of the last layers' outputs (the inpainter pastes its fill into the fp32 input)
    (model.decode if trainer == "inpainter" else model).register_forward_hook(lambda m, a, out: seen.append(out.dtype))
    for precision, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        seen.clear()
        history = run(precision)
        assert set(seen) == {dtype}, (precision, seen)
        assert all(v == v and abs(v) < float("inf") for v in history["loss"])

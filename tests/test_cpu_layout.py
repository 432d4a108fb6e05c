"""The trainers' CPU memory layout (issue 28): convolutional networks train in channels_last on a CPU, with the same
values as in NCHW; a checkpoint loads across layouts; the per-recipe CPU benchmark runs."""

import importlib.util
import json
import sys
from pathlib import Path

import torch
from torch import nn

from cocogoat_utils.device_dataset import DeviceImageDataset
from cocogoat_utils.models.dcgan import build_dcgan
from cocogoat_utils.train import GANTrainConfig, GANTrainer
from cocogoat_utils.train.optim import channels_last_on, fast_layout

CL = torch.channels_last


def test_convolutional_networks_go_channels_last_on_a_cpu_only():
    conv = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    assert channels_last_on(conv, "cpu") and fast_layout(conv, "cpu")[0].weight.is_contiguous(memory_format=CL)
    assert not channels_last_on(nn.Sequential(nn.LSTM(3, 4), nn.Linear(4, 2)), "cpu")  # no convolution: as it is
    assert not channels_last_on(nn.Conv2d(3, 4, 3), "meta")  # another device: unchanged


def test_a_channels_last_network_computes_what_the_nchw_one_does():
    torch.manual_seed(0)
    generator, _ = build_dcgan(image_size=32, arch="sprite", latent_dim=8, g_width=16, d_width=8)
    z = torch.randn(4, 8)
    with torch.no_grad():
        before = generator(z)
        after = fast_layout(generator, "cpu")(z)
    assert torch.allclose(before, after, atol=1e-5)


def test_the_gan_trainer_trains_in_channels_last_and_its_checkpoint_loads_in_nchw(tmp_path):
    torch.manual_seed(0)
    generator, discriminator = build_dcgan(image_size=32, arch="sprite", latent_dim=8, g_width=16, d_width=8)
    data = DeviceImageDataset(torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8))
    trainer = GANTrainer(generator, discriminator, data, config=GANTrainConfig(
        steps=2, batch_size=4, log_every=1, sample_every=None, checkpoint_every=None, precision="fp32"),
        out_dir=tmp_path, progress=False)
    first_conv = next(m for m in discriminator.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.weight.is_contiguous(memory_format=CL) and data.memory_format == CL
    trainer.fit()
    state = torch.load(trainer.last_checkpoint, weights_only=True)
    fresh, _ = build_dcgan(image_size=32, arch="sprite", latent_dim=8, g_width=16, d_width=8)
    fresh.load_state_dict(state["models"]["generator"])
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert torch.allclose(fresh.eval()(z), generator.eval()(z), atol=1e-5)


def test_the_cpu_steps_benchmark_runs(tmp_path):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "cpu_steps.py"
    spec = importlib.util.spec_from_file_location("cpu_steps", path)
    bench = importlib.util.module_from_spec(spec)
    sys.modules["cpu_steps"] = bench  # its dataclass looks its module up there
    spec.loader.exec_module(bench)
    out = tmp_path / "cpu_steps.json"
    assert bench.main(["--rows", "emboxer", "--rounds", "1", "--steps", "1", "--warmup", "0", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["latest"]["rows"]
    assert {r["variant"] for r in rows} == {"fp32", "trainer"} and all(r["ms_per_step"] > 0 for r in rows)


def test_networks_measured_slower_in_channels_last_keep_nchw():
    from cocogoat_utils.models.lstm_gan import LSTMGenerator
    from cocogoat_utils.models.unet import UNet
    assert not channels_last_on(UNet(image_size=32, width=8, channel_mults=(1, 2), blocks_per_level=1), "cpu")
    assert not channels_last_on(LSTMGenerator(image_size=32, latent_dim=8, width=8, hidden=8), "cpu")


def test_the_unet_attention_on_a_cpu_is_the_same_attention():
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from cocogoat_utils.models.unet import Attention
    torch.manual_seed(0)
    attention, x = Attention(16), torch.randn(2, 16, 8, 8)
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        flash = nn.functional.scaled_dot_product_attention  # the kernel the module used before, called by hand
        seq = attention.norm(x).flatten(2).transpose(1, 2)
        q, k, v = nn.functional.linear(seq, attention.attention.in_proj_weight,
                                       attention.attention.in_proj_bias).chunk(3, dim=-1)
        heads = lambda t: t.reshape(2, 64, 4, 4).transpose(1, 2)  # noqa: E731  (B, heads, L, 16 / 4)
        out = flash(heads(q), heads(k), heads(v)).transpose(1, 2).reshape(2, 64, 16)
        expected = x + attention.attention.out_proj(out).transpose(1, 2).reshape(2, 16, 8, 8)
    assert torch.allclose(attention(x), expected, atol=1e-5)

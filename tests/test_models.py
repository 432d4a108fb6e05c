"""cocogoat_utils.models.dcgan and cocogoat_utils.layers."""

import pytest
import torch
from torch import nn

from cocogoat_utils.layers import init_normal_
from cocogoat_utils.models.dcgan import DCGANDiscriminator, DCGANGenerator, build_dcgan


def _count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("arch", ["tutorial", "sprite"])
@pytest.mark.parametrize("size,width", [(32, 16), (64, 16), (128, 8)])
def test_shapes(arch, size, width):
    g_width = width if arch == "tutorial" else 4 * width  # the sprite generator starts wide and halves
    g = DCGANGenerator(image_size=size, latent_dim=16, width=g_width, arch=arch)
    d = DCGANDiscriminator(image_size=size, width=width, arch=arch)
    z = torch.randn(2, 16)
    images = g(z)
    assert images.shape == (2, 3, size, size)
    assert images.min() >= -1 and images.max() <= 1  # tanh
    logits = d(images)
    assert logits.shape == (2,)
    assert g.latent_dim == 16
    assert g.config["image_size"] == d.config["image_size"] == size


def test_generator_accepts_4d_noise():
    g = DCGANGenerator(image_size=32, latent_dim=8, width=8)
    g.eval()
    z = torch.randn(3, 8)
    assert torch.equal(g(z), g(z.view(3, 8, 1, 1)))


def test_other_channel_counts():
    g = DCGANGenerator(image_size=32, latent_dim=8, width=8, channels=1)
    d = DCGANDiscriminator(image_size=32, width=8, channels=4, arch="sprite")
    assert g(torch.randn(2, 8)).shape == (2, 1, 32, 32)
    assert d(torch.randn(2, 4, 32, 32)).shape == (2,)


def test_tutorial_parameter_counts():
    # the PyTorch DCGAN tutorial (64x64, nz=100, ngf=ndf=64) prints these totals
    g = DCGANGenerator(image_size=64, arch="tutorial")
    d = DCGANDiscriminator(image_size=64, arch="tutorial")
    assert _count(g) == 3_576_704
    assert _count(d) == 2_765_568


def test_build_dcgan_defaults():
    g, d = build_dcgan(image_size=32, arch="sprite", d_width=8)
    assert g.config["width"] == 512 and g.config["arch"] == "sprite"
    assert d.config["width"] == 8
    g, d = build_dcgan(image_size=32, g_width=8, d_width=8)
    assert g.config["arch"] == d.config["arch"] == "tutorial"


@pytest.mark.parametrize("cls", [DCGANGenerator, DCGANDiscriminator])
def test_bad_image_size(cls):
    with pytest.raises(ValueError) as info:
        cls(image_size=48, width=8)
    assert "48" in str(info.value)
    assert "(32, 64, 128)" in str(info.value)


@pytest.mark.parametrize("cls", [DCGANGenerator, DCGANDiscriminator])
def test_bad_arch(cls):
    with pytest.raises(ValueError, match="resnet"):
        cls(image_size=32, width=8, arch="resnet")


@pytest.mark.parametrize("arch", ["tutorial", "sprite"])
def test_init(arch):
    torch.manual_seed(0)
    for model in (DCGANGenerator(image_size=64, arch=arch), DCGANDiscriminator(image_size=64, arch=arch)):
        convs = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
        norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        assert convs and norms
        weights = torch.cat([m.weight.detach().flatten() for m in convs])
        assert abs(weights.std().item() - 0.02) < 0.005
        assert abs(weights.mean().item()) < 0.005
        for m in convs:
            if m.bias is not None:
                assert torch.equal(m.bias, torch.zeros_like(m.bias))
        scales = torch.cat([m.weight.detach() for m in norms])
        assert abs(scales.mean().item() - 1.0) < 0.01
        assert 0.005 < scales.std().item() < 0.04
        for m in norms:
            assert torch.equal(m.bias, torch.zeros_like(m.bias))


def test_init_normal_custom_std():
    layer = init_normal_(nn.Linear(200, 200), std=0.1)
    assert abs(layer.weight.std().item() - 0.1) < 0.01


@pytest.mark.parametrize("arch", ["tutorial", "sprite"])
def test_gradients_reach_every_generator_parameter(arch):
    torch.manual_seed(0)
    g = DCGANGenerator(image_size=32, latent_dim=8, width=16 if arch == "tutorial" else 32, arch=arch)
    d = DCGANDiscriminator(image_size=32, width=8, arch=arch)
    logits = d(g(torch.randn(4, 8)))
    nn.functional.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)).backward()
    for name, p in g.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    for name, p in d.named_parameters():
        assert p.grad is not None, name


def test_discriminator_dropout():
    d = DCGANDiscriminator(image_size=32, width=8, dropout=0.5)
    assert any(isinstance(m, nn.Dropout2d) for m in d.modules())
    d.eval()
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(d(x), d(x))


def test_a_narrow_sprite_generator_keeps_its_channels_consistent():
    """Below 16 channels the sprite generator's blocks start from its own width (they used to assume 16)."""
    g = DCGANGenerator(image_size=32, latent_dim=8, width=8, arch="sprite")
    assert g(torch.randn(2, 8)).shape == (2, 3, 32, 32)


@pytest.mark.parametrize("arch", ["tutorial", "sprite"])
def test_a_sigmoid_generator_draws_in_0_1_and_speaks_the_packages_minus1_1(arch):
    """``output="sigmoid"``: the last activation is a sigmoid, D gets the reals in [0, 1] like the fakes, and
    ``images`` maps the output back to [-1, 1]; the default stays tanh with the same weights, keys and signature."""
    torch.manual_seed(0)
    tanh = DCGANGenerator(image_size=32, latent_dim=8, width=32, arch=arch)
    torch.manual_seed(0)
    sigmoid = DCGANGenerator(image_size=32, latent_dim=8, width=32, arch=arch, output="sigmoid")
    assert isinstance(tanh.head[-1], nn.Tanh) and isinstance(sigmoid.head[-1], nn.Sigmoid)
    assert list(tanh.state_dict()) == list(sigmoid.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(tanh.state_dict().values(), sigmoid.state_dict().values()))
    assert "output" not in tanh.config and sigmoid.config["output"] == "sigmoid"
    z = torch.randn(4, 8)
    pre = tanh.head[:-1](tanh.body(tanh.stem(z)))  # the same logits before the last activation
    out = sigmoid(z)
    assert out.min() >= 0 and out.max() <= 1
    assert torch.allclose(out, torch.sigmoid(pre), atol=1e-6)
    assert torch.allclose(sigmoid.images(out), 2 * torch.sigmoid(pre) - 1, atol=1e-6)
    real = torch.tensor([-1.0, 0.0, 0.5, 1.0])
    assert torch.equal(sigmoid.match_real(real), torch.tensor([0.0, 0.5, 0.75, 1.0]))
    assert torch.equal(tanh.match_real(real), real) and torch.equal(tanh.images(real), real)
    again = DCGANGenerator(**sigmoid.config)  # a record's config rebuilds the same kind of network
    assert again.output == "sigmoid"
    with pytest.raises(ValueError, match="output='relu'"):
        DCGANGenerator(image_size=32, latent_dim=8, width=8, output="relu")

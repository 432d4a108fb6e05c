"""Multi-scale GANs: shapes at every scale, gradients from every discriminator, training with the shared trainer."""

import pytest
import torch

from cocogoat_utils.device_dataset import DeviceImageDataset
from cocogoat_utils.models.msggan import MSGGenerator, MultiScaleDiscriminator, PerScaleDiscriminators, image_pyramid
from cocogoat_utils.train import GANTrainConfig, GANTrainer, PerScaleLosses
from cocogoat_utils.train.callbacks import ScaleGridSaver


@pytest.mark.parametrize("size,levels", [(32, 4), (64, 5)])
@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_generator_draws_every_scale(size, levels, residual, batch_norm):
    g = MSGGenerator(image_size=size, latent_dim=16, width=32, residual=residual, batch_norm=batch_norm)
    images = g(torch.randn(3, 16))
    assert [tuple(x.shape) for x in images] == [(3, 3, 4 * 2**k, 4 * 2**k) for k in range(levels)]
    assert all(x.abs().max() <= 1 for x in images)


def test_image_pyramid_averages():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    small, full = image_pyramid(x, 2)
    assert torch.equal(full, x) and small.shape == (1, 1, 2, 2)
    assert small[0, 0, 0, 0].item() == (0 + 1 + 4 + 5) / 4


@pytest.mark.parametrize("kind", [MultiScaleDiscriminator, PerScaleDiscriminators])
def test_gradients_reach_every_generator_block_from_every_scale(kind):
    torch.manual_seed(0)
    g = MSGGenerator(image_size=32, latent_dim=16, width=32)
    d = kind(image_size=32, width=8, dropout=0.1)
    images = g(torch.randn(4, 16))
    logits = d(images)
    assert logits.shape == (4,)
    for k in range(len(images)):  # each scale alone carries a gradient back into D's input
        grads = torch.autograd.grad(d(images).sum(), images[k], retain_graph=True)[0]
        assert grads.abs().sum() > 0, f"scale {k} does not reach the discriminator"
    logits.sum().backward()
    for name, parameter in g.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_per_scale_discriminators_and_bad_scales():
    d = PerScaleDiscriminators(image_size=32, width=8)
    images = image_pyramid(torch.randn(2, 3, 32, 32), 4)
    per = d.per_scale(images)
    assert len(per) == 4 and torch.allclose(torch.stack(per).mean(0), d(images))
    with pytest.raises(ValueError, match="list of 4 images"):
        d(images[1:])
    with pytest.raises(ValueError, match="scale 1 should be 8×8"):
        MultiScaleDiscriminator(image_size=32, width=8)([images[0], images[0], images[2], images[3]])
    with pytest.raises(ValueError, match="list of 4"):
        d(torch.randn(2, 3, 32, 32))
    with pytest.raises(ValueError, match="supports"):
        MSGGenerator(image_size=48)


@pytest.mark.parametrize("loss", ["bce", "rasgan", "rahinge"])
def test_trains_with_the_shared_trainer_with_diffaugment_and_r1(tmp_path, loss):
    torch.manual_seed(0)
    g = MSGGenerator(image_size=32, latent_dim=16, width=32)
    d = PerScaleDiscriminators(image_size=32, width=8)
    data = DeviceImageDataset(torch.randint(0, 256, (32, 3, 32, 32), dtype=torch.uint8), seed=0)
    config = GANTrainConfig(steps=4, batch_size=8, log_every=2, sample_every=2, n_samples=8, loss=loss,
                            diffaugment="color,translation,cutout", r1_gamma=1.0, ema_decay=0.9)
    losses = PerScaleLosses(data.images[:8].float().div(127.5).sub(1))
    grids = ScaleGridSaver(tmp_path / "scales", n=4)
    trainer = GANTrainer(g, d, data, config=config, callbacks=[losses, grids], progress=False)
    trainer.fit()
    assert trainer.sample().shape == (8, 3, 32, 32)
    assert [x.shape[-1] for x in trainer.sampler(trainer.fixed_noise)] == [4, 8, 16, 32]
    assert losses.history["step"] == [2, 4] and set(losses.history) == {"step", "scale_4", "scale_8", "scale_16", "scale_32"}
    assert len(grids.frames()) == 3  # steps 0, 2, 4


def test_unet_discriminator_scores_every_pixel_and_uses_every_scale():
    from cocogoat_utils.models.msggan import UNetDiscriminator

    torch.manual_seed(0)
    d = UNetDiscriminator(image_size=32, width=8)
    scales = image_pyramid(torch.rand(2, 3, 32, 32) * 2 - 1, 4)
    for x in scales:
        x.requires_grad_(True)
    logits = d(scales)
    assert logits.shape == (2, 32, 32)
    logits.sum().backward()
    assert all(x.grad is not None and x.grad.abs().sum() > 0 for x in scales)  # every scale reaches the logits
    with pytest.raises(ValueError, match="list of 4 images"):
        d(scales[1:])
    assert any("parametrizations" in name for name, _ in d.named_modules())  # spectral norm on the convs

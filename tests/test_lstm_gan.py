"""The LSTM-in-the-generator prototype: shapes through the bridge, directions, and the masked loss."""

import pytest
import torch

from cocogoat_utils.device_dataset import DeviceImageDataset
from cocogoat_utils.models.dcgan import DCGANDiscriminator, DCGANGenerator
from cocogoat_utils.models.lstm_gan import (DIRECTIONS, Inpainter, LSTMBridge, LSTMGenerator, LSTMRefiner,
                                            TwoStageGenerator, as_sequence, from_sequence,
                                            match_parameters, parameter_count)
from cocogoat_utils.train import GANTrainConfig, GANTrainer, evaluate_inpainter, fill_holes, train_inpainter
from cocogoat_utils.train.inpaint import box_masks, masked_l1


def test_sequence_view_is_the_table_the_author_drew():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float).view(2, 3, 4, 5)  # (B, C, H, W)
    rows = as_sequence(x, "rows")
    assert rows.shape == (2, 4, 15)  # a step per row, the row's pixels of every channel as features
    assert torch.equal(rows[1, 2], torch.cat([x[1, c, 2] for c in range(3)]))
    cols = as_sequence(x, "columns")
    assert cols.shape == (2, 5, 12)
    assert torch.equal(cols[0, 4], torch.cat([x[0, c, :, 4] for c in range(3)]))
    for direction in ("rows", "columns"):
        assert torch.equal(from_sequence(as_sequence(x, direction), 3, direction), x)
    with pytest.raises(ValueError, match="direction"):
        as_sequence(x, "diagonal")
    with pytest.raises(ValueError, match="do not split"):
        from_sequence(rows, 4, "rows")


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_bridge_and_generator_shapes(size, direction, bidirectional):
    bridge = LSTMBridge(8, 5, size, hidden=16, direction=direction, bidirectional=bidirectional)
    assert bridge(torch.randn(2, 8, size, size)).shape == (2, 5, size, size)
    assert len(bridge.lstms) == len(direction.split("+"))
    assert all(lstm.bidirectional == bidirectional for lstm in bridge.lstms)
    generator = LSTMGenerator(image_size=size, latent_dim=12, width=32, lstm_channels=4, hidden=16,
                              direction=direction, bidirectional=bidirectional)
    images = generator(torch.randn(3, 12))
    assert images.shape == (3, 3, size, size) and images.abs().max() <= 1


def test_rows_lstm_reads_top_to_bottom():
    """A one-way LSTM over rows: a change in the bottom row cannot reach the rows above it."""
    torch.manual_seed(0)
    bridge = LSTMBridge(2, 2, 8, hidden=8, direction="rows").eval()
    x = torch.randn(1, 2, 8, 8)
    y = x.clone()
    y[:, :, -1] += 1.0
    before, after = bridge(x), bridge(y)
    assert torch.allclose(before[:, :, :-1], after[:, :, :-1])
    assert not torch.allclose(before[:, :, -1], after[:, :, -1])
    both = LSTMBridge(2, 2, 8, hidden=8, direction="rows", bidirectional=True).eval()
    assert not torch.allclose(both(x)[:, :, 0], both(y)[:, :, 0]), "the backward pass carries it upwards"


def test_two_stage_generator_and_refiner():
    first = DCGANGenerator(image_size=32, latent_dim=10, width=32, arch="sprite")
    refiner = LSTMRefiner(image_size=32, features=4, hidden=8)
    generator = TwoStageGenerator(first, refiner)
    assert generator.latent_dim == 10
    assert generator(torch.randn(2, 10)).shape == (2, 3, 32, 32)
    assert "refiner_hidden" in generator.config
    z = torch.randn(3, 10)
    first.eval(), generator.eval()
    assert torch.allclose(generator(z), first(z).clamp(-0.999, 0.999), atol=1e-5), "untrained, it passes the image through"


@pytest.mark.parametrize("generator", ["lstm", "two-stage"])
def test_generators_train_with_the_shared_trainer(generator):
    torch.manual_seed(0)
    if generator == "lstm":
        g = LSTMGenerator(image_size=32, latent_dim=8, width=32, lstm_channels=4, hidden=16)
    else:
        g = TwoStageGenerator(DCGANGenerator(image_size=32, latent_dim=8, width=32, arch="sprite"),
                              LSTMRefiner(image_size=32, features=4, hidden=8))
    d = DCGANDiscriminator(image_size=32, width=8)
    data = DeviceImageDataset(torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8), seed=0)
    before = [p.detach().clone() for p in g.parameters()]
    trainer = GANTrainer(g, d, data, config=GANTrainConfig(steps=2, batch_size=4, log_every=1, sample_every=2,
                                                           n_samples=4), progress=False)
    history = trainer.fit()
    assert len(history["g_loss"]) == 2
    assert all(not torch.equal(a, b) for a, b in zip(before, g.parameters()) if a.numel() > 1)


def test_box_masks_cover_the_asked_fraction_in_one_square():
    masks = box_masks(50, 32, fraction=0.25, generator=torch.Generator().manual_seed(0))
    assert masks.shape == (50, 1, 32, 32)
    assert set(masks.unique().tolist()) == {0.0, 1.0}
    assert (masks.sum(dim=(1, 2, 3)) == 16 * 16).all()
    rows, cols = masks[0, 0].any(1).nonzero().flatten(), masks[0, 0].any(0).nonzero().flatten()
    assert rows.max() - rows.min() + 1 == 16 and cols.max() - cols.min() + 1 == 16
    corners = {tuple(m[0].nonzero()[0].tolist()) for m in masks}
    assert len(corners) > 10, "holes land in many places"


def test_masked_l1_counts_only_the_masked_pixels():
    target = torch.zeros(2, 3, 4, 4)
    prediction = torch.zeros(2, 3, 4, 4)
    mask = torch.zeros(2, 1, 4, 4)
    mask[:, :, :2, :2] = 1
    prediction[:, :, 2:, 2:] = 5.0  # wrong only outside the hole
    assert masked_l1(prediction, target, mask).item() == 0.0
    prediction[0, :, 0, 0] = 0.8  # wrong by 0.8 in 1 of the 8 hole pixels, on every channel
    assert masked_l1(prediction, target, mask).item() == pytest.approx(0.8 / 8)
    assert masked_l1(prediction, target, torch.zeros_like(mask)).item() == 0.0


@pytest.mark.parametrize("middle", ["lstm", "attention", "conv"])
def test_inpainter_keeps_known_pixels_and_learns(middle):
    torch.manual_seed(0)
    model = Inpainter(image_size=32, features=8, middle=middle, hidden=16, conv_layers=2)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    mask = box_masks(2, 32, generator=torch.Generator().manual_seed(1))
    out = model(x * (1 - mask), mask)
    assert torch.equal(out * (1 - mask), x * (1 - mask))
    # flat colour images: the hole's colour is the border's, easy to learn
    colours = torch.randint(0, 256, (64, 3, 1, 1), dtype=torch.uint8).expand(64, 3, 32, 32).contiguous()
    before = evaluate_inpainter(model, colours)
    history = train_inpainter(model, colours, steps=60, batch_size=16, lr=3e-3, progress=False)
    after = evaluate_inpainter(model, colours)
    assert len(history["loss"]) == 60
    assert after["l1"] < 0.8 * before["l1"] and after["psnr"] > before["psnr"]
    masked, filled = fill_holes(model, colours[:4])
    assert masked.shape == filled.shape == (4, 3, 32, 32)


def test_inpainter_rejects_an_unknown_middle():
    with pytest.raises(ValueError, match="middle"):
        Inpainter(middle="transformer")


def test_train_inpainter_stops_at_the_time_budget():
    model = Inpainter(image_size=32, features=4, hidden=8)
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    history = train_inpainter(model, images, steps=1000, batch_size=4, seconds=0.0, progress=False)
    assert len(history["loss"]) == 1


def test_match_parameters_finds_the_closest_width():
    make = lambda w: DCGANGenerator(image_size=32, latent_dim=10, width=w, arch="sprite")  # noqa: E731
    target = parameter_count(make(200))
    assert match_parameters(make, target).config["width"] == 200
    chosen = match_parameters(make, target + 5000)
    others = [abs(parameter_count(make(w)) - target - 5000) for w in range(8, 400, 8)]
    assert abs(parameter_count(chosen) - target - 5000) == min(others)
    with_extra = match_parameters(make, target, extra=parameter_count(make(200)) - parameter_count(make(96)))
    assert with_extra.config["width"] == 96

"""The helpers notebooks 05 (LSTM prototype) and 06 (diffusion) call: pictures, trainer plumbing, small scores."""

import matplotlib

matplotlib.use("Agg")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from cocogoat_utils import experiment, viz  # noqa: E402
from cocogoat_utils.data import load_dataset, split_last  # noqa: E402
from cocogoat_utils.experiment import Run  # noqa: E402
from cocogoat_utils.metrics import saturated_pixels  # noqa: E402
from cocogoat_utils.models.lstm_gan import Inpainter, trace_shapes  # noqa: E402
from cocogoat_utils.train import ShadowEMA, inpainting_row, mean_colour_l1  # noqa: E402


def _run(tmp_path, **params) -> Run:
    return Run("99_Test", "smoke", params, tmp_path, torch.device("cpu"), "fp32", 0)


def _images(n: int, size: int = 8) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(n), dtype=torch.uint8)


# ------------------------------------------------------------------ data


def test_load_dataset_keeps_the_first_max_images():
    full = load_dataset(None, 32, categories=["animals"])
    few = load_dataset(None, 32, categories=["animals"], max_images=5)
    assert len(few) == 5 and torch.equal(few.images, full.images[:5]) and few.names == full.names[:5]
    assert len(load_dataset(None, 32, categories=["animals"], max_images=10**6)) == len(full)


def test_split_last_holds_out_the_last_tenth_and_at_least_one():
    images = torch.arange(25)
    first, last = split_last(images)
    assert last.tolist() == [23, 24] and first.tolist() == list(range(23))
    first, last = split_last(torch.arange(5))
    assert last.tolist() == [4] and len(first) == 4


# ------------------------------------------------------------------ viz


def test_show_grids_draws_one_titled_panel_each():
    fig = viz.show_grids({"a": _images(4), "b": _images(2), "c": _images(3)}, panel_size=(2, 3))
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]
    assert tuple(fig.get_size_inches()) == (6, 3)
    matplotlib.pyplot.close(fig)


def test_plot_lines_smoothed():
    ax = viz.plot_lines(None, {"one": [1.0, 2.0, 3.0], "two": [3.0, 2.0]}, window=2, ylabel="L1")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["one", "two"]
    assert ax.lines[0].get_ydata().tolist() == [1.0, 1.5, 2.5] and ax.get_ylabel() == "L1"
    assert ax.lines[1].get_xdata().tolist() == [0, 1]  # each curve over its own index
    assert viz.frame_step(Path("samples/step_0000420.png")) == 420
    matplotlib.pyplot.close("all")


# ------------------------------------------------------------------ metrics, models, training helpers


def test_saturated_pixels_counts_a_pixel_once_whatever_its_channels():
    images = torch.full((1, 3, 2, 2), 128, dtype=torch.uint8)
    images[0, :, 0, 0] = 255  # every channel saturated: one pixel
    images[0, 1, 1, 1] = 0  # one channel: also one pixel
    assert saturated_pixels(images) == 0.5


def test_trace_shapes_follows_the_stages_and_removes_its_hooks():
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    trace = trace_shapes(model, {"first": model[0], "last": model[2]}, torch.zeros(5, 4))
    assert trace == [("first", (5, 4), (5, 6)), ("last", (5, 6), (5, 2))]
    assert not model[0]._forward_hooks and not model[2]._forward_hooks


def test_shadow_ema_averages_without_warm_up_and_keeps_its_state():
    model = nn.Linear(1, 1, bias=False)
    nn.init.ones_(model.weight)
    shadow = ShadowEMA(model, 0.5)
    nn.init.zeros_(model.weight)

    class FakeTrainer:
        pass

    trainer = FakeTrainer()
    trainer.model = model
    shadow.on_step_end(trainer)
    shadow.on_step_end(trainer)
    assert shadow.ema.module.weight.item() == pytest.approx(0.25)  # 0.5², no warm-up
    other = ShadowEMA(model, 0.5)
    other.load_state_dict(shadow.state_dict())
    assert other.ema.module.weight.item() == pytest.approx(0.25)


def test_inpainting_row_and_the_mean_colour_baseline():
    torch.manual_seed(0)
    model = Inpainter(image_size=8, middle="conv", features=4)
    row = inpainting_row(model, {"loss": [0.5, 0.4, 0.3], "seconds": [1.234]}, _images(4), fraction=0.25)
    assert row["steps"] == 3 and row["seconds"] == 1.2 and row["parameters"] == sum(p.numel() for p in model.parameters())
    assert row["l1"] == round(row["l1"], 4) and 0 < row["l1"] < 2 and row["psnr"] > 0
    black, white = torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    assert mean_colour_l1(black, white) == pytest.approx(2.0)  # -1 against +1
    assert mean_colour_l1(torch.cat([black, white]), white) == pytest.approx(1.0)


# ------------------------------------------------------------------ experiment


class _Quality:
    feature_space = "fake"

    def evaluate(self, images):
        return {"fd": float(len(images)), "kid": 0.1, "precision": 0.5, "recall": 0.4, "diversity_ratio": 0.9,
                "collapsed": False}


def test_scored_timed_mean_last():
    row = experiment.scored(_images(3), _Quality(), ("fd", "collapsed"), run="a")
    assert row == {"run": "a", "fd": 3.0, "collapsed": False}
    assert experiment.scored(_images(3), None, run="b", images=3) == {"run": "b", "images": 3, "fd": None, "kid": None,
                                                                      "precision": None, "recall": None,
                                                                      "diversity_ratio": None, "collapsed": None}
    assert experiment.timed(sum, [1, 2, 3])[0] == 6 and experiment.timed(sum, [])[1] >= 0
    assert experiment.mean_last([9.0] + [1.0] * 10) == 1.0 and experiment.mean_last([2.0, 4.0]) == 3.0


def test_gan_trainer_plumbing(tmp_path):
    from cocogoat_utils.models.dcgan import DCGANDiscriminator, DCGANGenerator

    run = _run(tmp_path, batch_size=4, metric_samples=8, steps=2)
    row = experiment.train_gan("tiny", (DCGANGenerator(image_size=32, latent_dim=8, width=8, arch="sprite"),
                                        DCGANDiscriminator(image_size=32, width=8, arch="sprite")),
                               _images(6, 32), run, seconds=None, out_dir=tmp_path / "gan", extra={"size": 32},
                               steps=2, lr_g=1e-3, betas=(0.5, 0.9), checkpoint_seconds=20)
    trainer = row["trainer"]  # uint8 images became a DeviceImageDataset on the run's device
    assert row["size"] == 32 and row["steps"] == 2 and row["fd"] is None  # no quality: no scores
    assert trainer.config.batch_size == 4 and trainer.config.lr_g == 1e-3 and trainer.config.checkpoint_seconds == 20
    assert trainer.out_dir == tmp_path / "gan" and (tmp_path / "gan").is_dir()

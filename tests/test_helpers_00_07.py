"""The helpers 00_GAN_Conceptos and 07_Pokemon_DCGAN call: equal-time GAN rows, history summaries, weight checks,
loss-band shares, sharpness, map and history figures, saved grids."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from cocogoat_utils import experiment, metrics, viz  # noqa: E402
from cocogoat_utils.device_dataset import DeviceImageDataset  # noqa: E402
from cocogoat_utils.models.dcgan import build_dcgan  # noqa: E402

TABLE = {"smoke": dict(batch_size=8, metric_samples=70)}


def _real(n=80):
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def _networks():
    torch.manual_seed(0)
    return build_dcgan(image_size=32, arch="tutorial", latent_dim=8, g_width=8, d_width=8)


def test_train_gan_trains_scores_and_keeps_its_settings(tmp_path, capsys):
    run = experiment.start_run("99_Test", {"scale": "smoke", "precision": "fp32", "seed": 5}, table=TABLE,
                               out_dir=tmp_path)
    real = _real()
    row = experiment.train_gan("smoothed", _networks(), DeviceImageDataset(real), run, seconds=None,
                               out_dir=tmp_path / "a", quality=experiment.make_quality(real), steps=3,
                               label_smoothing=0.1)
    trainer = row["trainer"]
    assert row["run"] == "smoothed" and row["steps"] == 3 and row["images"] == 3 * 8  # the run's batch size
    assert row["fd"] is not None and row["metric_samples"] == 70  # scored on the run's metric_samples
    assert trainer.config.label_smoothing == 0.1 and trainer.config.seed == 5 and trainer.config.log_every == 10
    assert trainer.config.sample_every is None and not trainer.progress
    bare = experiment.train_gan("bare", _networks(), DeviceImageDataset(real), run, seconds=None,
                                out_dir=tmp_path / "b", steps=2)
    assert bare["steps"] == 2 and bare["fd"] is None  # no quality: no scores


def test_tail_means_averages_the_last_tenth():
    history = {"step": list(range(20)), "d_loss": [0.0] * 18 + [1.0, 3.0], "g_loss": [5.0] * 20}
    assert experiment.tail_means(history, ("d_loss", "g_loss")) == {"d_loss": 2.0, "g_loss": 5.0}
    assert experiment.tail_means({"step": [0], "d_loss": [4.0]}, ["d_loss"]) == {"d_loss": 4.0}  # at least one
    assert experiment.tail_means(history, ["d_loss"], share=0.5)["d_loss"] == pytest.approx(0.4)


def test_same_weights_sees_a_changed_buffer():
    a, b = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    assert experiment.same_weights(a, b)
    b.running_mean += 1e-6
    assert not experiment.same_weights(a, b)
    assert not experiment.same_weights(a, torch.nn.Linear(3, 3))


def test_run_grid_saves_every_image_and_shows(tmp_path):
    run = experiment.start_run("99_Test", {"scale": "smoke"}, table=TABLE, out_dir=tmp_path)
    run.grid("grid.png", _real(16), title="t", nrow=4, shown=8)
    from PIL import Image

    with Image.open(tmp_path / "grid.png") as saved:
        assert saved.size == (4 * 34 + 2, 4 * 34 + 2)  # all 16 images, 4 to a row, 2 px padding


def test_healthy_shares_counts_the_smoothed_second_half():
    history = {"step": list(range(10)), "d_loss": [9.0] * 5 + [1.2] * 4 + [9.0], "g_loss": [1.5] * 10}
    shares = metrics.healthy_shares(history, viz.HEALTHY_BCE, window=1)
    assert shares == {"d_loss": 0.8, "g_loss": 1.0}
    assert metrics.healthy_shares(history, viz.HEALTHY_BCE, start=0.0, window=1)["d_loss"] == 0.4


def test_sharpness_is_higher_for_edges_than_for_a_flat_image():
    flat = torch.full((2, 3, 16, 16), 128, dtype=torch.uint8)
    stripes = flat.clone()
    stripes[..., ::2] = 255
    assert metrics.sharpness(flat) == pytest.approx(0.0, abs=1e-6)
    assert metrics.sharpness(stripes) > 1.0


def test_show_maps_and_compare_histories_draw_one_panel_each():
    import matplotlib.pyplot as plt

    signed = torch.tensor([[-2.0, 1.0], [0.0, 0.5]])
    fig = viz.show_maps([("a", signed), ("b", signed.relu()), ("c", signed)], ncols=2, cmap=["RdBu_r", "magma", "gray"])
    assert len(fig.axes) == 4 and [ax.get_title() for ax in fig.axes[:3]] == ["a", "b", "c"]
    assert fig.axes[0].images[0].get_clim() == (-2.0, 2.0)  # signed: centred on zero
    assert fig.axes[1].images[0].get_clim() == (0.0, 1.0)
    history = {"step": [0, 1, 2], "d_loss": [1.0, 2.0, 3.0], "g_loss": [3.0, 2.0, 1.0]}
    fig = viz.compare_histories({"x": history, "y": history}, {"d_loss": "D", "g_loss": "G"})
    assert [ax.get_title() for ax in fig.axes] == ["D", "G"] and len(fig.axes[0].lines) == 2
    plt.close("all")


def test_sample_grid_saver_gif_has_a_frame_per_saved_grid(tmp_path):
    from PIL import Image

    from cocogoat_utils.train import SampleGridSaver

    saver = SampleGridSaver(tmp_path / "samples")
    (tmp_path / "samples").mkdir(exist_ok=True)
    for step in (0, 15, 30):
        viz.save_grid(_real(8), tmp_path / "samples" / f"step_{step:07d}.png")
    path = saver.gif(tmp_path / "training.gif")
    with Image.open(path) as gif:
        assert gif.n_frames == 3 and gif.size[1] == Image.open(saver.frames()[0]).size[1] + 14  # the step label row

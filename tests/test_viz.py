"""cocogoat_utils.viz: grids, GIFs, loss plots, truncation and latent walks."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from cocogoat_utils.models.dcgan import DCGANGenerator  # noqa: E402
from cocogoat_utils.latent import generate, interpolate_latents, truncated_noise, truncation_grid  # noqa: E402
from cocogoat_utils.train.callbacks import SampleGridSaver  # noqa: E402
from cocogoat_utils.viz import (  # noqa: E402
    image_grid,
    plot_discriminator_outputs,
    plot_losses,
    save_gif,
    save_grid,
    show_images,
    smooth,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_image_grid_float_input():
    images = torch.full((4, 3, 8, 8), -1.0)  # black
    grid = image_grid(images, nrow=2, padding=2)
    assert grid.dtype == torch.uint8
    assert grid.shape == (3, 2 * (8 + 2) + 2, 2 * (8 + 2) + 2)
    assert (grid[:, 2:10, 2:10] == 0).all()  # an image cell
    assert (grid[:, :2, :] == 255).all()  # white padding
    assert (grid[:, :, 10:12] == 255).all()


def test_image_grid_uint8_input_passes_values_through():
    images = torch.randint(0, 256, (3, 3, 8, 8), dtype=torch.uint8)
    grid = image_grid(images, nrow=8, padding=2)
    assert grid.dtype == torch.uint8
    assert grid.shape == (3, 8 + 4, 3 * 10 + 2)
    assert torch.equal(grid[:, 2:10, 2:10], images[0])
    assert torch.equal(grid[:, 2:10, 12:20], images[1])


def test_image_grid_rgba_composited_on_white():
    images = torch.zeros(2, 4, 8, 8, dtype=torch.uint8)  # black, fully transparent
    images[1, 3] = 255  # the second one opaque
    grid = image_grid(images, nrow=2, padding=0)
    assert grid.shape == (3, 8, 16)
    assert (grid[:, :, :8] == 255).all()
    assert (grid[:, :, 8:] == 0).all()


def test_save_grid_round_trip(tmp_path):
    images = torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8)
    path = save_grid(images, tmp_path / "sub" / "grid.png", nrow=4)
    assert path.exists()
    with Image.open(path) as opened:
        assert opened.format == "PNG"
        array = np.asarray(opened.convert("RGB"))
    assert np.array_equal(array, image_grid(images, nrow=4).permute(1, 2, 0).numpy())


def test_show_images_returns_axes():
    ax = show_images(torch.rand(4, 3, 8, 8) * 2 - 1, nrow=2, title="hello")
    assert ax.get_title() == "hello"
    assert len(ax.get_images()) == 1


def _distinct_frames(n):
    return [torch.full((2, 3, 8, 8), -1.0 + 2.0 * i / max(n - 1, 1)) for i in range(n)]


def test_save_gif_frames(tmp_path):
    path = save_gif(_distinct_frames(5), tmp_path / "train.gif", nrow=2, labels=[f"step {i}" for i in range(5)])
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == 5
        assert gif.info.get("loop") == 0
        assert gif.size == (2 * 10 + 2, 8 + 4 + 14)  # the grid plus a 14-pixel label strip


def test_save_gif_from_saved_grids(tmp_path):
    class FakeTrainer:
        step = 0

    saver = SampleGridSaver(tmp_path / "grids", nrow=2)
    trainer = FakeTrainer()
    for step, frame in zip((10, 2, 5), _distinct_frames(3)):
        trainer.step = step
        saver.on_sample(trainer, frame)
    frames = saver.frames()
    assert [p.name for p in frames] == ["step_0000002.png", "step_0000005.png", "step_0000010.png"]
    with Image.open(save_gif(frames, tmp_path / "from_files.gif")) as gif:
        assert gif.n_frames == 3


def test_save_gif_needs_frames(tmp_path):
    with pytest.raises(ValueError):
        save_gif([], tmp_path / "empty.gif")


def test_truncated_noise_within_threshold_and_reproducible():
    z = truncated_noise(64, 16, 0.5, seed=3)
    assert z.shape == (64, 16)
    assert z.abs().max() <= 0.5
    assert z.std() > 0.1  # not collapsed to zero
    assert torch.equal(truncated_noise(64, 16, 0.5, seed=3), z)
    assert not torch.equal(truncated_noise(64, 16, 0.5, seed=4), z)


def test_truncated_noise_none_is_plain_normal():
    z = truncated_noise(8, 4, None, seed=11)
    assert torch.equal(z, torch.randn(8, 4, generator=torch.Generator().manual_seed(11)))
    big = truncated_noise(2000, 8, None, seed=0)
    assert big.abs().max() > 3  # untruncated tails appear in 16,000 draws
    assert abs(big.std().item() - 1.0) < 0.05


@pytest.mark.parametrize("threshold", [0, -1.0])
def test_truncated_noise_rejects_non_positive(threshold):
    with pytest.raises(ValueError, match="threshold"):
        truncated_noise(2, 2, threshold)


def _generator():
    torch.manual_seed(0)
    return DCGANGenerator(image_size=32, latent_dim=8, width=8)


def test_generate_and_truncation_grid():
    g = _generator()
    g.train()
    images = generate(g, torch.randn(3, 8))
    assert images.shape == (3, 3, 32, 32) and images.dtype == torch.uint8
    assert g.training  # mode restored
    grid = truncation_grid(g, thresholds=(0.25, 1.0, None), n=4, seed=1)
    assert grid.shape == (12, 3, 32, 32) and grid.dtype == torch.uint8
    assert not torch.equal(grid[:4], grid[8:])  # each row its own threshold
    assert torch.equal(truncation_grid(g, thresholds=(0.25, 1.0, None), n=4, seed=1), grid)


def test_interpolate_latents_endpoints():
    gen = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(16, generator=gen), torch.randn(16, generator=gen)
    for spherical in (True, False):
        path = interpolate_latents(z0, z1, steps=7, spherical=spherical)
        assert path.shape == (7, 16)
        assert torch.allclose(path[0], z0, atol=1e-5)
        assert torch.allclose(path[-1], z1, atol=1e-5)


def test_slerp_keeps_norm():
    gen = torch.Generator().manual_seed(1)
    z0, z1 = torch.randn(32, generator=gen), torch.randn(32, generator=gen)
    z0, z1 = 4.0 * z0 / z0.norm(), 4.0 * z1 / z1.norm()
    slerp = interpolate_latents(z0, z1, steps=9)
    assert torch.allclose(slerp.norm(dim=1), torch.full((9,), 4.0), atol=1e-3)
    lerp = interpolate_latents(z0, z1, steps=9, spherical=False)
    assert lerp[4].norm() < 3.9  # the straight line cuts through the inside
    midpoint = (z0 + z1) / 2
    assert torch.allclose(lerp[4], midpoint, atol=1e-6)


def test_slerp_parallel_endpoints():
    z = torch.ones(4)
    path = interpolate_latents(z, 2 * z, steps=3)
    assert torch.isfinite(path).all()
    assert torch.allclose(path[1], 1.5 * z)


def test_smooth_by_hand():
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert np.allclose(smooth(values, 2), [1.0, 1.5, 2.5, 3.5, 4.5])
    assert np.allclose(smooth(values, 3), [1.0, 1.5, 2.0, 3.0, 4.0])
    assert np.allclose(smooth(values, 1), values)
    assert np.allclose(smooth([4.0, 0.0, 8.0], 10), [4.0, 2.0, 4.0])
    assert len(smooth([], 3)) == 0


def _history(n=30):
    steps = list(range(1, n + 1))
    return {"step": steps, "d_loss": [1 / s for s in steps], "g_loss": [math.log(s + 1) for s in steps],
            "d_real": [0.6] * n, "d_fake": [0.4] * n}


def test_plot_losses():
    ax = plot_losses(_history(), window=5)
    lines = ax.get_lines()
    assert len(lines) == 4
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["d_loss", "g_loss"]
    raw, smoothed = lines[0], lines[1]
    assert list(raw.get_xdata()) == list(range(1, 31))
    assert np.allclose(smoothed.get_ydata(), smooth(_history()["d_loss"], 5))
    assert raw.get_color() == smoothed.get_color()


def test_plot_discriminator_outputs_on_given_axes():
    fig, ax = plt.subplots()
    out = plot_discriminator_outputs(_history(), ax=ax)
    assert out is ax
    assert len(ax.get_lines()) == 4
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["d_real", "d_fake"]


def test_plot_quality_marks_the_best_step_and_the_collapse():
    from cocogoat_utils.viz import plot_quality

    metrics = [{"step": s, "fd": fd, "precision": 0.5, "recall": 0.4, "diversity_ratio": r, "collapsed": r < 0.5}
               for s, fd, r in ((100, 9.0, 0.2), (200, 4.0, 0.9), (300, 6.0, 0.3))]
    axes = plot_quality(metrics, collapse_step=300, collapse_threshold=0.25)
    assert len(axes) == 3
    best = axes[0].collections[0].get_offsets()[0]
    assert tuple(best) == (200.0, 4.0)
    labels = [line.get_label() for line in axes[2].get_lines()]
    assert "collapse at step 300" in labels and "partly collapsed above" in labels
    assert axes[2].get_lines()[0].get_ydata().tolist() == pytest.approx([0.8, 0.1, 0.7])  # older records: 1 − ratio
    assert "collapse at step" not in " ".join(line.get_label() for line in plot_quality(metrics)[2].get_lines())


def test_show_images_of_an_empty_batch_draws_an_empty_panel():
    from cocogoat_utils.viz import show_images

    ax = show_images(torch.zeros(0, 3, 8, 8, dtype=torch.uint8), title="kept")
    assert ax.get_title() == "kept" and ax.texts[0].get_text() == "(no images)"


def test_frame_slider_moves_between_frames(monkeypatch):
    from cocogoat_utils.runtime import HEADLESS_ENV
    from cocogoat_utils.widgets import frame_slider

    monkeypatch.delenv(HEADLESS_ENV, raising=False)  # someone at the screen: the widget itself

    frames = [torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.full((2, 3, 8, 8), 255, dtype=torch.uint8)]
    box = frame_slider(frames, ["t = 10", "t = 0"], description="t")
    slider = box.children[0]
    assert (slider.min, slider.max, slider.value) == (0, 1, 0)
    slider.value = 1  # redraws the second frame without error
    with pytest.raises(ValueError, match="as many"):
        frame_slider(frames, ["only one"])


def test_live_loss_plot_draws_a_single_loss_history():
    from types import SimpleNamespace

    from cocogoat_utils.train.callbacks import LiveLossPlot

    figure = LiveLossPlot()._figure(SimpleNamespace(history={"step": [1, 2, 3], "loss": [1.0, 0.5, 0.25]}, history_keys=("loss",)))
    assert len(figure.axes) == 1 and figure.axes[0].get_legend_handles_labels()[1] == ["loss"]


def test_with_boxes_draws_each_set_in_its_colour():
    from cocogoat_utils.viz import with_boxes

    images = torch.zeros(2, 3, 16, 16, dtype=torch.uint8)
    drawn = with_boxes(images, torch.tensor([[2.0, 2.0, 10.0, 10.0]] * 2), torch.tensor([[4.0, 4.0, 14.0, 14.0]] * 2),
                       colors=((0, 255, 0), (255, 0, 0)))
    assert drawn.shape == (2, 3, 16, 16)
    assert drawn[0, 1, 2, 5] == 255 and drawn[0, 0, 2, 5] == 0  # the first box's top edge is green
    assert drawn[0, 0, 13, 8] == 255 and drawn[0, 1, 13, 8] == 0  # the second box's bottom edge is red
    assert drawn[0, :, 7, 7].sum() == 0, "inside is untouched"


def test_plot_losses_shades_the_healthy_band():
    from cocogoat_utils.viz import HEALTHY_BCE

    history = {"step": [1, 2, 3, 4], "d_loss": [1.2, 1.3, 1.1, 1.4], "g_loss": [1.5, 1.4, 1.6, 1.3]}
    ax = plot_losses(history, healthy=HEALTHY_BCE)
    labels = ax.get_legend_handles_labels()[1]
    assert "healthy d_loss (1–1.5)" in labels and "healthy g_loss (1.2–1.8)" in labels
    spans = [p for p in ax.patches if p.get_y() in (1.0, 1.2)]
    assert len(spans) == 2


def test_show_grids_wraps_long_titles_to_the_panel():
    import matplotlib.pyplot as plt

    from cocogoat_utils.viz import show_grids

    images = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
    long = "FD 48.0 [46.6–49.1], findings: drops modes, covers almost none of the data"
    fig = show_grids({f"fade-in\n{long}": images, "short": images}, panel_size=(3.0, 3.0), nrow=2)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[1] == "short" and titles[0].startswith("fade-in\n")
    assert all(len(line) <= 26 for line in titles[0].split("\n")) and titles[0].replace("\n", " ").endswith("data")
    plt.close(fig)

"""The helpers notebooks 03 (ProGAN) and 04 (multi-scale GAN) call: verdicts, level tables, plots, the runs of 04."""

import contextlib

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from cocogoat_utils import viz  # noqa: E402
from cocogoat_utils.device_dataset import DeviceImageDataset  # noqa: E402
from cocogoat_utils.experiment import Run, level_rows, per_resolution_rows, shipped_beside  # noqa: E402
from cocogoat_utils.models.msggan import MSGGenerator, MultiScaleDiscriminator, PerScaleDiscriminators  # noqa: E402
from cocogoat_utils.models.progan import (ProDiscriminator, ProGenerator, fade_in_frames,  # noqa: E402
                                          level_parameters)
from cocogoat_utils.train.callbacks import DieAt  # noqa: E402
from cocogoat_utils.multiscale_runs import MultiScaleRuns  # noqa: E402
from cocogoat_utils.verdicts import (band_verdict, claim_count, collapsed_levels, race_to_fd,  # noqa: E402
                                     ranking_verdict, score_text, trend_verdict)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _run(tmp_path, **params):
    return Run("test", "smoke", {"metric_every": None, "metric_samples": 16, **params}, tmp_path,
               torch.device("cpu"), "fp32", 0)


class _Levels:
    """A stand-in for a finished ProgressiveTrainer: only its ``results``."""

    def __init__(self, fds, diversity=0.8):
        scores = {"precision": 0.5, "recall": 0.4, "diversity_ratio": diversity, "collapsed": diversity < 0.5}
        self.results = [{"level": k, "resolution": 4 * 2**k, "steps": 3, "images": 24, "seconds": 0.5 + k,
                         "metrics": None if fd is None else {"fd": fd, **scores}} for k, fd in enumerate(fds)]


def test_score_text_and_level_rows():
    assert score_text(None) == "no metric"
    assert score_text({"fd": 41.234, "diversity_ratio": 0.8}) == "FD 41.2, diversity 0.80"
    rows = level_rows({"a": _Levels([10.0, 20.0]), "b": _Levels([None, 5.0])})
    assert [(r["run"], r["resolution"]) for r in rows] == [("a", 4), ("a", 8), ("b", 4), ("b", 8)]
    assert rows[1]["fd"] == 20.0 and rows[2]["fd"] is None and rows[3]["steps"] == 3 and rows[3]["seconds"] == 1.5


def test_collapsed_levels_names_the_collapsed_resolutions(capsys):
    rows = level_rows({"fine": _Levels([1.0, 2.0]), "bad": _Levels([1.0, 2.0], diversity=0.3)})
    assert collapsed_levels(rows) == {"fine": [], "bad": [4, 8]}
    out = capsys.readouterr().out
    assert "the judge at the end of each level" in out and "collapsed at 4px, 8px" in out and "no collapse at any level" in out


def test_ranking_and_trend_verdicts():
    rows = [{"run": "x", "fd": 3.0, "batch_size": 4}, {"run": "y", "fd": 2.0, "batch_size": 8},
            {"run": "z", "fd": None, "batch_size": 16}]
    assert ranking_verdict(rows) == "by FD at equal time: y 2.0 < x 3.0 → y did best here"
    assert ranking_verdict([rows[2]]) == "no FD to compare"
    text = trend_verdict(rows, "batch_size", claim="bigger is better", prefix="at 64 images each")
    assert text.startswith("at 64 images each, FD by batch size: 4 → 3.0, 8 → 2.0; lowest at batch 8")
    assert text.endswith("'bigger is better' holds here")
    rows[1]["fd"] = 4.0
    assert "does not hold" in trend_verdict(rows, "batch_size", claim="c", prefix="p")


def test_race_to_fd_and_claim_count():
    curves = {"A": [(1.0, 10, 50.0), (2.0, 20, 30.0)], "B": [(0.5, 5, 40.0), (3.0, 30, 20.0)]}
    times, line = race_to_fd(curves, 32)
    assert times == {"fd": 30.0, "A": {"seconds": 2.0, "images": 20}, "B": {"seconds": 3.0, "images": 30}}
    assert line.endswith("→ A got there first") and "FD ≤ 30.0 at 32px" in line
    verdicts = ["x → MSG-GAN did better", "y → ProGAN did better", "no arrow", line.replace("A got", "MSG-GAN got")]
    assert claim_count(verdicts, "MSG-GAN", "the claim") == "the claim holds here on 2 of 3 counts"
    assert claim_count(["none"], "MSG-GAN", "c").startswith("no scores")


def test_band_verdict():
    bands = {"d_loss": (1.0, 1.5), "g_loss": (1.2, 1.8)}
    assert "stays in" in band_verdict("r", {"d_loss": 0.9, "g_loss": 0.8}, bands)
    text = band_verdict("r", {"d_loss": 0.9, "g_loss": 0.5}, bands)
    assert "does not stay" in text and "G loss inside (1.2, 1.8) at 50%" in text


def test_per_resolution_rows_scores_every_scale_of_the_multiscale_generator():
    class Sampler(torch.nn.Module):
        def forward(self, z):
            return [torch.zeros(len(z), 3, s, s) for s in (4, 8)]

    class Trainer:
        latent_dim, sampler = 4, Sampler()

        def autocast(self):
            return contextlib.nullcontext()

    run = Run("test", "smoke", {"metric_samples": 6}, None, torch.device("cpu"), "fp32", 0)
    rows = per_resolution_rows(_Levels([7.0, 9.0]), [0.5, 1.5], Trainer(), {"images": 40, "seconds": 2.0},
                               torch.zeros(4, 3, 8, 8, dtype=torch.uint8), run)
    assert [(r["run"], r["resolution"]) for r in rows] == [("ProGAN", 4), ("MSG-GAN", 4), ("ProGAN", 8), ("MSG-GAN", 8)]
    assert [r["images"] for r in rows] == [24, 40, 48, 40] and [r["seconds"] for r in rows[::2]] == [0.5, 2.0]
    assert rows[2]["fd"] == 9.0 and rows[3]["fd"] is None  # no quality metric: no scores for the multi-scale side


def test_shipped_beside_can_be_switched_off(tmp_path, capsys):
    assert shipped_beside(_run(tmp_path), "progan", None, pretrained=False) == (None, [])
    assert "pretrained=False" in capsys.readouterr().out
    # a lesson in another language words the line itself (00, 07), as make_quality's say=
    assert shipped_beside(_run(tmp_path), "progan", None, pretrained=False, say="omitida: {reason}") == (None, [])
    assert capsys.readouterr().out == "omitida: pretrained=False\n"


def test_viz_helpers_draw_what_they_are_given(tmp_path):
    images = torch.linspace(-1, 1, 2 * 3 * 8 * 8).reshape(2, 3, 8, 8)
    fig = viz.show_pooled(images, [2, 8], titles=["two", "eight"])
    assert [ax.get_title() for ax in fig.axes] == ["two", "eight"]
    rows = [{"run": "a", "resolution": 4, "fd": 3.0}, {"run": "a", "resolution": 8, "fd": None},
            {"run": "b", "resolution": 8, "fd": 1.0}]
    ax = viz.plot_by_resolution(rows)
    assert [len(line.get_xdata()) for line in ax.get_lines()] == [1, 1] and ax.get_legend() is not None
    frames = [viz.save_grid(images, tmp_path / f"step_{s:07d}.png") for s in (0, 5, 10, 20, 40)]
    fig = viz.show_frames(frames, n=3, label="run")
    assert [ax.get_title() for ax in fig.axes] == ["run: step 0", "run: step 10", "run: step 40"]
    history = {"step": [1, 2, 3], "d_loss": [1.0, 1.2, 1.1], "g_loss": [2.0, 1.5, 1.4]}
    fig = viz.plot_scale_losses(history, {"step": [1, 3], "scale_4": [0.1, 0.2], "scale_8": [0.3, 0.4]}, title="t")
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["4 px", "8 px"]
    ax = viz.plot_fd_curves({"A": [(1.0, 10, 5.0), (2.0, 20, 3.0)]}, target=3.0)
    assert len(ax.get_lines()) == 2 and ax.get_lines()[1].get_ydata()[0] == 3.0


def test_level_parameters_and_fade_in_frames():
    torch.manual_seed(0)
    g, d = ProGenerator(max_level=2, latent_dim=8, width=16), ProDiscriminator(max_level=2, width=16)
    rows = level_parameters(g, d)
    assert [r["resolution"] for r in rows] == [4, 8, 16]
    assert rows[-1]["G params used"] == sum(w.numel() for w in g.parameters()) - sum(
        w.numel() for m in g.to_rgb[:2] for w in m.parameters())
    assert rows[0]["G params used"] < rows[1]["G params used"] < rows[2]["G params used"]
    g.set_level(2)
    noise = torch.randn(3, 8)
    frames = fade_in_frames(g, noise, [0.0, 1.0])
    g.set_level(1)
    with torch.no_grad():
        small = torch.nn.functional.interpolate(g.eval()(noise), scale_factor=2).clamp(-1, 1)
    assert torch.allclose(frames[0], small, atol=1e-5) and g.level == 1
    g.set_level(2)
    with torch.no_grad():
        assert torch.allclose(frames[1], g(noise).clamp(-1, 1), atol=1e-5)


def test_die_at_raises_only_at_its_step_and_level():
    class Trainer:
        step, generator = 4, ProGenerator(max_level=1, latent_dim=4, width=8)

    Trainer.generator.set_level(0)
    DieAt(4, level=1).on_step_start(Trainer())  # another level: no death
    Trainer.generator.set_level(1)
    with pytest.raises(InterruptedError, match="at step 4 of level 1"):
        DieAt(4, level=1).on_step_start(Trainer())
    DieAt(5).on_step_start(Trainer())


def test_multiscale_runs_train_keep_and_show(tmp_path):
    run = _run(tmp_path)
    images = torch.randint(0, 256, (16, 3, 16, 16), dtype=torch.uint8)
    runs = MultiScaleRuns(run, DeviceImageDataset(images, "cpu"), probe=torch.rand(4, 3, 16, 16) * 2 - 1)
    for name, disc in (("per scale", PerScaleDiscriminators), ("multi", MultiScaleDiscriminator)):
        torch.manual_seed(0)
        row = runs.train(name, MSGGenerator(image_size=16, latent_dim=8, width=8), disc(image_size=16, width=8),
                         seconds=None, loss="rasgan", batch_size=4, steps=2, discriminator=name)
        assert row["steps"] == 2 and row["images"] == 8 and row["loss"] == "rasgan" and row["batch_size"] == 4
    assert list(runs.rows) == ["per scale", "multi"] and (tmp_path / "runs" / "per_scale").is_dir()
    assert runs.trained["per scale"]["scale_losses"] is not None and runs.trained["multi"]["scale_losses"] is None
    runs.show(["per scale", "multi"], "both.png")
    assert (tmp_path / "both.png").is_file()
    runs.plot_losses("per scale")
    runs.plot_quality("multi")  # no quality metric: nothing to draw, no error


def test_generate_scales_gives_every_scale_as_uint8_and_restores_the_mode():
    from cocogoat_utils.latent import generate_scales

    torch.manual_seed(0)
    g = MSGGenerator(image_size=16, latent_dim=8, width=8).train()
    scales = generate_scales(g, torch.randn(3, 8))
    assert [tuple(x.shape) for x in scales] == [(3, 3, 4, 4), (3, 3, 8, 8), (3, 3, 16, 16)]
    assert all(x.dtype == torch.uint8 for x in scales) and g.training

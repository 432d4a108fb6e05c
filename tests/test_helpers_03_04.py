"""The package helpers notebooks 03 (ProGAN) and 04 (multi-scale GAN) call: plots, fade-in frames, the shipped model.

Their lesson code (level tables, verdict sentences, the runs of 04) lives in the notebooks and is tested by running them
(tests/test_notebooks.py)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from cocogoat_utils import viz  # noqa: E402
from cocogoat_utils.experiment import Run  # noqa: E402
from cocogoat_utils.models.msggan import MSGGenerator  # noqa: E402
from cocogoat_utils.models.progan import (ProDiscriminator, ProGenerator, fade_in_frames,  # noqa: E402
                                          level_parameters)
from cocogoat_utils.train.callbacks import DieAt  # noqa: E402
from cocogoat_utils.shipped_beside import record_line, shipped_beside, targets_met  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _run(tmp_path, **params):
    return Run("test", "smoke", {"metric_every": None, "metric_samples": 16, **params}, tmp_path,
               torch.device("cpu"), "fp32", 0)


def test_shipped_beside_can_be_switched_off(tmp_path, capsys):
    assert shipped_beside(_run(tmp_path), "progan", None, pretrained=False) == (None, [])
    assert "pretrained=False" in capsys.readouterr().out
    # a lesson in another language words the line itself (00, 07), as make_quality's say=
    assert shipped_beside(_run(tmp_path), "progan", None, pretrained=False, say="omitida: {reason}") == (None, [])
    assert capsys.readouterr().out == "omitida: pretrained=False\n"


def test_viz_helpers_draw_what_they_are_given(tmp_path):
    images = torch.linspace(-1, 1, 2 * 3 * 8 * 8).reshape(2, 3, 8, 8)
    frames = [viz.save_grid(images, tmp_path / f"step_{s:07d}.png") for s in (0, 5, 10, 20, 40)]
    fig = viz.show_frames(frames, n=3, label="run")
    assert [ax.get_title() for ax in fig.axes] == ["run: step 0", "run: step 10", "run: step 40"]
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


def test_generate_scales_gives_every_scale_as_uint8_and_restores_the_mode():
    from cocogoat_utils.latent import generate_scales

    torch.manual_seed(0)
    g = MSGGenerator(image_size=16, latent_dim=8, width=8).train()
    scales = generate_scales(g, torch.randn(3, 8))
    assert [tuple(x.shape) for x in scales] == [(3, 3, 4, 4), (3, 3, 8, 8), (3, 3, 16, 16)]
    assert all(x.dtype == torch.uint8 for x in scales) and g.training


def test_record_line_says_which_step_the_weights_are_from_and_the_targets():
    record = {"model": "MSGGenerator", "image_size": 32, "steps": 3860, "best_step": 2000, "images_seen": 247040,
              "wall_minutes": 45.2, "hardware": "a CPU", "precision": "bf16",
              "metrics": {"fd": 33.1, "fd_low": 32.8, "fd_high": 34.2, "recall": 0.01, "findings": ["drops modes"],
                          "n_samples": 2000, "feature_space": "glyph"},
              "targets": {"no findings": False, "recall >= 0.3": False, "FD <= 40": True, "summary": "missed: …"}}
    assert targets_met(record) == (["FD <= 40"], ["no findings", "recall >= 0.3"])
    text = record_line("msggan", record)
    assert "weights from step 2,000 (its best FD) of a 3,860-step run" in text
    assert "FD 33.1 [32.8–34.2]" in text and "findings: drops modes" in text
    assert text.endswith("targets met: FD <= 40; missed: no findings, recall >= 0.3")
    last = record_line("x", {**record, "best_step": 3860, "targets": {}, "metrics": {}})
    assert "weights from its last step, 3,860" in last and "targets" not in last and "FD" not in last

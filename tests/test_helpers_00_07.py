"""The helpers 00_GAN_Conceptos and 07_Pokemon_DCGAN call: equal-time GAN rows, history summaries, weight checks,
loss-band shares, sharpness, saved grids; the options that let a lesson word its lines, plots and tables; and the
lessons' own helpers (maps, histories, lines and verdicts in Spanish or Russian), read from the notebooks."""

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


# ---- the lessons' own helpers, read from the notebooks (they live there, in the lesson's language)

import ast  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _cells(name: str) -> list[dict]:
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())["cells"]


def _lesson_functions(name: str, *functions: str, **namespace):
    """The functions ``functions`` as the notebook ``name`` defines them (only their ``def``s are run)."""
    found = {}
    for cell in _cells(name):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        try:
            tree = ast.parse(source)
        except SyntaxError:  # a cell with IPython magics
            continue
        for node in tree.body:  # every def (the asked ones call the lesson's other helpers), and the asked names
            if isinstance(node, ast.FunctionDef) or isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id in functions for t in node.targets):
                try:
                    exec(compile(ast.Module([node], []), name, "exec"), namespace)
                except NameError:  # a def whose defaults read the run (make_networks, variant): not needed here
                    assert getattr(node, "name", None) not in functions
    missing = [f for f in functions if f not in namespace]
    assert not missing, f"{name} defines no {missing}"
    return [namespace[f] for f in functions]


def test_00_draws_its_own_feature_maps_and_histories():
    import matplotlib.pyplot as plt

    show_maps, compare_histories = _lesson_functions("00_GAN_Conceptos", "show_maps", "compare_histories",
                                                     plt=plt, torch=torch, viz=viz)
    signed = torch.tensor([[-2.0, 1.0], [0.0, 0.5]])
    fig = show_maps([("a", signed), ("b", signed.relu()), ("c", signed)], ncols=2, cmap=["RdBu_r", "magma", "gray"])
    assert len(fig.axes) == 4 and [ax.get_title() for ax in fig.axes[:3]] == ["a", "b", "c"]
    assert fig.axes[0].images[0].get_clim() == (-2.0, 2.0)  # signed: centred on zero
    assert fig.axes[1].images[0].get_clim() == (0.0, 1.0)
    history = {"step": [0, 1, 2], "d_loss": [1.0, 2.0, 3.0], "g_loss": [3.0, 2.0, 1.0]}
    fig = compare_histories({"x": history, "y": history}, {"d_loss": "D", "g_loss": "G"})
    assert [ax.get_title() for ax in fig.axes] == ["D", "G"] and len(fig.axes[0].lines) == 2
    assert fig.axes[0].get_xlabel() == "paso"
    plt.close("all")


@pytest.mark.parametrize("name", ["00_GAN_Conceptos", "07_Pokemon_DCGAN"])
def test_the_lesson_words_runs_and_verdicts_in_its_language(name):
    namespace = {"collapse_threshold": 0.5, "dataset": [0] * 24}
    run_line, verdict_line, quality_off = _lesson_functions(name, "run_line", "verdict_line", "quality_off",
                                                            **namespace)
    words = {"00_GAN_Conceptos": ("pasos", "ganó", "colapsó", "cargada"),
             "07_Pokemon_DCGAN": ("шагов", "лучше", "коллапс", "загружен")}[name]
    row = {"run": "a", "steps": 1200, "images": 76800, "seconds": 57.5, "fd": 46.49, "collapsed": True,
           "diversity_ratio": 0.31, "collapse_step": 400}
    line = run_line(row, None)
    assert words[0] in line and "FD 46.49" in line and words[2] in line and "steps" not in line
    assert words[3] in run_line(row, 1200)  # a finished run loaded from its checkpoint
    text = experiment.verdict({"run": "a", "fd": 40.0}, {"run": "b", "fd": 50.0}, say=verdict_line)
    assert words[1] in text and "a" in text and "did better" not in text
    assert "did better" not in experiment.verdict({"run": "a", "fd": None}, {"run": "b", "fd": 50.0}, say=verdict_line)
    assert "24" in quality_off(ValueError("need at least 65")) and "need" not in quality_off(ValueError("need"))


def _parameter_names(name: str) -> set[str]:
    cell = next(c for c in _cells(name) if "parameters" in c["metadata"].get("tags", []))
    return {t.id for node in ast.parse("".join(cell["source"])).body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name)}


@pytest.mark.parametrize("name", ["00_GAN_Conceptos", "06_Diffusion", "07_Pokemon_DCGAN"])
def test_the_parameters_cell_names_every_knob_the_notebook_reads(name):
    from cocogoat_utils import scales

    named = _parameter_names(name)
    table = {key for row in scales.table(name).values() for key in row}
    assert table <= named, f"scale-table keys the parameters cell does not name: {sorted(table - named)}"
    code = "".join("".join(c["source"]) for c in _cells(name) if c["cell_type"] == "code")
    read = set(re.findall(r"run\[[\"'](\w+)[\"']\]", code)) | set(re.findall(r"run\.params\.get\([\"'](\w+)", code))
    assert read <= named, f"{name} reads {sorted(read - named)} without naming them in its parameters cell"


# ---- the package's options that let a lesson word its lines

def test_verdict_say_gets_the_outcome_as_data():
    seen = []
    experiment.verdict({"run": "a", "fd": 40.0}, {"run": "b", "fd": 50.0}, say=seen.append)
    experiment.verdict({"run": "a", "acc": 0.9}, {"run": "b", "acc": 0.8}, key="acc", lower_is_better=False,
                       what="accuracy", say=seen.append)
    experiment.verdict({"run": "a", "fd": 3.0}, {"run": "b", "fd": 3.0}, say=seen.append)
    experiment.verdict({"run": "a", "fd": None}, {"run": "b", "fd": 3.0}, say=seen.append)
    judged = seen[0].pop("judged")
    assert seen[0] == {"a": "a", "b": "b", "x": 40.0, "y": 50.0, "what": "FD", "winner": "a", "outcome": "better",
                       "apart": 0.2}
    assert judged["outcome"] == "better" and judged["a"]["values"] == [40.0]
    assert seen[1]["winner"] == "a" and seen[1]["what"] == "accuracy"
    assert seen[2]["winner"] is None and seen[2]["outcome"] == "no clear difference"
    assert seen[3]["winner"] is None and seen[3]["x"] is None and seen[3]["outcome"] is None
    assert "a did better" in experiment.verdict({"run": "a", "fd": 4.0}, {"run": "b", "fd": 5.0})  # the default
    dead = experiment.verdict({"run": "a", "fd": 4.0, "collapsed": True}, {"run": "b", "fd": 5.0}, say=seen.append)
    assert dead is None and seen[-1]["outcome"] == "inconclusive" and seen[-1]["winner"] is None


def test_print_table_in_another_language(capsys):
    experiment.print_table([{"run": "a", "fd": 1.5, "images": 76800, "collapsed": True},
                            {"run": "b", "fd": 2.0, "images": 12, "collapsed": False}],
                           ["run", "fd", "images", "collapsed"], titles={"run": "прогон", "collapsed": "коллапс"},
                           booleans=("да", "нет"), thousands=" ")
    header, first, second = capsys.readouterr().out.splitlines()
    assert header.split() == ["прогон", "fd", "images", "коллапс"]
    assert first.split()[-3:] == ["76", "800", "да"] and second.split()[-1] == "нет"


def test_train_gan_lets_the_lesson_word_its_line(tmp_path, capsys):
    run = experiment.start_run("99_Test", {"scale": "smoke", "precision": "fp32"}, table=TABLE, out_dir=tmp_path,
                               say="escala={scale} → {out_dir}")
    assert capsys.readouterr().out.startswith("escala=smoke → ")
    seen = []
    row = experiment.train_gan("uno", _networks(), DeviceImageDataset(_real()), run, seconds=None, out_dir=tmp_path / "a",
                               steps=2, say=lambda row, resumed: seen.append((row["steps"], resumed)) or "línea")
    assert row["steps"] == 2 and seen == [(2, None)] and capsys.readouterr().out.strip() == "línea"
    experiment.train_gan("uno", _networks(), DeviceImageDataset(_real()), run, seconds=None, out_dir=tmp_path / "a",
                         steps=2, say=lambda row, resumed: seen.append((row["steps"], resumed)) or "otra")
    assert seen[-1] == (2, 2)  # finished before: loaded, and the lesson is told from which step


def test_plots_take_the_lessons_words(tmp_path):
    import matplotlib.pyplot as plt

    history = {"step": [1, 2, 3, 4], "d_loss": [1.2, 1.3, 1.1, 1.4], "g_loss": [1.5, 1.4, 1.6, 1.3],
               "d_real": [0.6] * 4, "d_fake": [0.4] * 4}
    ax = viz.plot_losses(history, healthy=viz.HEALTHY_BCE, labels={"d_loss": "L_D", "g_loss": "L_G"},
                         healthy_label="полоса {label} ({low:g}–{high:g})", xlabel="шаг", ylabel="потеря")
    assert ax.get_legend_handles_labels()[1] == ["L_D", "полоса L_D (1–1.5)", "L_G", "полоса L_G (1.2–1.8)"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("шаг", "потеря")
    ax = viz.plot_discriminator_outputs(history, labels={"d_real": "σ(D(x))"}, xlabel="шаг")
    assert ax.get_legend_handles_labels()[1] == ["σ(D(x))", "d_fake"] and ax.get_xlabel() == "шаг"
    metrics = [{"step": s, "fd": 5.0 - s / 100, "precision": 0.5, "recall": 0.4, "diversity_ratio": 0.3}
               for s in (100, 200)]
    axes = viz.plot_quality(metrics, collapse_step=100, words={"collapse_at": "коллапс на шаге {step}", "step": "шаг"})
    assert "коллапс на шаге 100" in [line.get_label() for line in axes[2].get_lines()]
    assert axes[0].get_xlabel() == "шаг" and axes[0].get_ylabel() == "Fréchet distance"  # the rest: the defaults
    for step in (0, 15):
        viz.save_grid(_real(8), tmp_path / f"step_{step:07d}.png")
    fig = viz.progress_figure(sorted(tmp_path.glob("step_*.png")), rows=2, title="шаг {step}")
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["шаг 0", "шаг 15"]
    plt.close("all")

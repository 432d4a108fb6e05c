"""cocogoat_utils.runtime: seeds and the notebook scale table."""

import os
import random

import numpy as np
import pytest
import torch

from cocogoat_utils.runtime import SCALES, default_scale, pick_device, resolve_params, set_seed

TABLE = {
    "smoke": {"steps": 10, "batch_size": 8, "lr": 1e-3},
    "cpu": {"steps": 500, "batch_size": 32, "lr": 2e-4},
    "gpu": {"steps": 20000, "batch_size": 128, "lr": 2e-4},
}


def _draws(gen):
    return (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist(),
            torch.rand(3, generator=gen).tolist())


def test_set_seed_reproducible():
    first = _draws(set_seed(123))
    second = _draws(set_seed(123))
    assert first == second
    other = _draws(set_seed(124))
    for a, b in zip(first, other):
        assert a != b


def test_set_seed_returns_generator_seeded_the_same():
    gen = set_seed(7)
    assert isinstance(gen, torch.Generator)
    assert gen.initial_seed() == 7


def test_set_seed_accepts_large_seed():
    set_seed(2**40 + 5)  # numpy only takes 32 bits; must not raise
    assert torch.initial_seed() == 2**40 + 5


def test_resolve_params_explicit_wins_and_none_filled():
    out = resolve_params("cpu", TABLE, steps=3, batch_size=None, lr=None)
    assert out == {"steps": 3, "batch_size": 32, "lr": 2e-4, "scale": "cpu"}


def test_resolve_params_explicit_falsy_value_wins():
    out = resolve_params("gpu", TABLE, steps=0, batch_size=None)
    assert out["steps"] == 0
    assert out["batch_size"] == 128


def test_resolve_params_parameter_not_in_table_kept_when_given():
    out = resolve_params("smoke", TABLE, steps=None, out_dir="runs/x")
    assert out["out_dir"] == "runs/x"
    assert out["steps"] == 10


def test_resolve_params_missing_value_raises():
    with pytest.raises(ValueError, match="width"):
        resolve_params("smoke", TABLE, width=None)


def test_resolve_params_unknown_scale():
    with pytest.raises(ValueError, match="huge") as info:
        resolve_params("huge", TABLE, steps=None)
    assert "smoke" in str(info.value)


def test_resolve_params_default_scale_from_env(monkeypatch):
    monkeypatch.setenv("COCOGOAT_SCALE", "smoke")
    out = resolve_params(None, TABLE, steps=None)
    assert out == {"steps": 10, "scale": "smoke"}


@pytest.mark.parametrize("scale", SCALES)
def test_default_scale_honours_env(monkeypatch, scale):
    monkeypatch.setenv("COCOGOAT_SCALE", scale)
    assert default_scale() == scale


def test_default_scale_rejects_bad_env(monkeypatch):
    monkeypatch.setenv("COCOGOAT_SCALE", "turbo")
    with pytest.raises(ValueError, match="turbo"):
        default_scale()


def test_default_scale_without_env(monkeypatch):
    monkeypatch.delenv("COCOGOAT_SCALE", raising=False)
    assert default_scale() == ("gpu" if torch.cuda.is_available() else "cpu")


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        assert pick_device("auto").type != "cuda"


def test_report_collects_every_summary_at_one_scale(tmp_path):
    import json

    from cocogoat_utils.report import main, results_table

    for name, loss in (("07_Pokemon_DCGAN", 0.75), ("03_Cocogoat_ProGAN", 1.5)):
        folder = tmp_path / name / "cpu"
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps({"notebook": name, "final_d_loss": loss, "artifacts": ["x.png"]}))
    (tmp_path / "07_Pokemon_DCGAN" / "gpu").mkdir()
    table = results_table(tmp_path, "cpu")
    assert "## 07_Pokemon_DCGAN" in table and "## 03_Cocogoat_ProGAN" in table
    assert "| final_d_loss | 0.75 |" in table and "| final_d_loss | 1.5 |" in table
    assert "x.png" not in table
    assert "No summary.json" in results_table(tmp_path, "gpu")
    assert main([str(tmp_path), "cpu"]) == 0
    assert (tmp_path / "RESULTS_cpu.md").read_text().strip() == table.strip()


def test_short_path_is_relative_inside_the_repo_only(tmp_path):
    from cocogoat_utils.runtime import repo_root, short_path

    assert short_path(repo_root() / "runs" / "x" / "summary.json") == "runs/x/summary.json"
    assert short_path(tmp_path / "a.png") == str((tmp_path / "a.png").resolve())


def test_device_name_and_synchronize_on_the_cpu():
    from cocogoat_utils.runtime import device_name, synchronize

    assert device_name("cpu") == "cpu"
    synchronize("cpu")  # nothing queued: returns at once


def test_progress_bars_and_sliders_stay_off_in_a_headless_run(monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    from cocogoat_utils import runtime, widgets

    monkeypatch.delenv(runtime.HEADLESS_ENV, raising=False)
    assert not runtime.headless() and not runtime.progress_bar(range(3)).disable
    monkeypatch.setenv(runtime.HEADLESS_ENV, "1")
    assert runtime.headless() and runtime.progress_bar(range(3)).disable
    assert list(runtime.progress_bar(range(3))) == [0, 1, 2]  # a disabled bar still iterates
    frames = [torch.zeros(2, 3, 8, 8), torch.ones(2, 3, 8, 8)]
    assert widgets.frame_slider(frames, ["first", "last"], nrow=2) is None  # still pictures, no widget


def test_execute_marks_its_kernels_headless(monkeypatch, tmp_path):
    from cocogoat_utils import execute, runtime

    monkeypatch.delenv(runtime.HEADLESS_ENV, raising=False)
    calls = []
    monkeypatch.setattr("papermill.execute_notebook", lambda *a, **k: calls.append(os.environ.get(runtime.HEADLESS_ENV)))
    execute.execute_notebook("in.ipynb", str(tmp_path / "out.ipynb"))
    assert calls == ["1"]  # the kernel it starts sees it …
    assert runtime.HEADLESS_ENV not in os.environ  # … and this process is as it was (a test worker runs on)


def test_the_reproduce_command_names_the_hardware_options_and_the_pinned_core(monkeypatch):
    import argparse

    from cocogoat_utils.runtime import add_hardware_arguments, reproduce_command

    p = argparse.ArgumentParser()
    add_hardware_arguments(p)
    plain, pinned_bf16 = p.parse_args([]), p.parse_args(["--threads", "1", "--precision", "bf16"])
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert reproduce_command(["python", "-m", "x", "a b"], plain, "cpu") == "python -m x 'a b' --device cpu"
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {1}, raising=False)
    assert reproduce_command(["python", "-m", "x"], pinned_bf16, "cpu") == (
        "taskset -c 1 python -m x --device cpu --threads 1 --precision bf16")
    # several processes (torchrun) or a GPU: no taskset, whatever this process's affinity
    assert not reproduce_command(["torchrun"], plain, "cpu", processes=2).startswith("taskset")
    assert reproduce_command(["python"], plain, "cuda") == "python --device cuda"

"""The shipped models: `python -m cocogoat_utils.pretrain` end to end (killed and resumed), the exported files and
their records, `load_pretrained` and its errors, and every shipped model drawing a batch."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cocogoat_utils import bundled
from cocogoat_utils.pretrain import RECIPES, list_recipes
from cocogoat_utils.pretrain import main as pretrain_main
from cocogoat_utils.shipped import PretrainedMismatch, load_pretrained, load_record

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "checkpoints"
RECORD_KEYS = {"name", "notebook", "recipe", "model", "model_config", "dataset", "image_size", "steps", "images_seen",
               "wall_minutes", "hardware", "precision", "metrics", "command", "train_config"}


def _pretrain(*args, work, export, wait=True):
    command = [sys.executable, "-m", "cocogoat_utils.pretrain", "dcgan", "--device", "cpu", "--threads", "1",
               "--no-progress", "--work-dir", str(work), "--export-dir", str(export), *map(str, args)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if not wait:
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


def test_pretrain_end_to_end_killed_and_resumed(tmp_path, monkeypatch):
    work, export = tmp_path / "work", tmp_path / "export"
    # a short budget and few scored samples keep the test short; the record says how many were scored
    options = ("--minutes", 0.2, "--checkpoint-minutes", 0.03, "--metric-samples", 300)
    child = _pretrain(*options, work=work, export=export, wait=False)
    deadline = time.time() + 300
    while not list(work.glob("step_*.pt")):
        assert child.poll() is None, child.stdout.read()[-3000:]
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.5)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    first = max(int(p.stem.split("_")[1]) for p in work.glob("step_*.pt"))
    assert not (export / "dcgan.pt").exists()  # killed before the end: nothing exported
    log = _pretrain(*options, work=work, export=export)
    assert "exported" in log
    record = json.loads((export / "dcgan.json").read_text())
    assert RECORD_KEYS <= record.keys()
    assert record["steps"] > first and record["wall_minutes"] >= 0.15  # the killed run's minutes counted once
    assert record["metrics"]["n_samples"] == 300 and record["metrics"]["fd"] > 0
    assert "--minutes 0.2" in record["command"] and "cocogoat_utils.pretrain dcgan" in record["command"]
    assert record["hardware"] and record["precision"] in ("bf16", "fp32")
    state = torch.load(export / "dcgan.pt", weights_only=True)
    assert all(v.dtype == torch.float16 for v in state["weights"].values() if v.is_floating_point())
    monkeypatch.setattr(bundled, "bundle_dirs", lambda: [export])
    shipped = load_pretrained("dcgan", model="DCGANGenerator", image_size=32)
    images = shipped.generate(8, seed=1)
    assert images.shape == (8, 3, 32, 32) and images.dtype == torch.uint8
    assert torch.equal(images, shipped.generate(8, seed=1))  # a fixed seed draws the same grid
    # the errors: another architecture, another size, a missing file — each names the file
    with pytest.raises(PretrainedMismatch, match=r"dcgan\.pt holds a DCGANGenerator; this notebook expects a ProGenerator"):
        load_pretrained("dcgan", model="ProGenerator")
    with pytest.raises(PretrainedMismatch, match=r"dcgan\.pt was trained at 32 px; this notebook runs at 64 px"):
        load_pretrained("dcgan", image_size=64)
    with pytest.raises(FileNotFoundError, match=r"progan\.pt is missing"):
        load_pretrained("progan")


def test_the_recipes_are_listed_with_what_they_train(capsys):
    listing = list_recipes()
    for name, recipe in RECIPES.items():
        assert name in listing and recipe.notebook in listing and recipe.model in listing
    assert {"dcgan", "progan", "msggan", "lstm", "lstm-baseline", "ddpm"} <= RECIPES.keys()
    assert pretrain_main(["--list"]) == 0 and "ddpm" in capsys.readouterr().out  # the command line, in this process
    with pytest.raises(SystemExit) as bad:
        pretrain_main(["stylegan"])
    assert bad.value.code != 0 and "unknown recipe" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(n for n, r in RECIPES.items() if r.shipped))
def test_every_shipped_model_loads_and_draws_a_batch(name):
    assert (SHIPPED / f"{name}.pt").is_file(), f"checkpoints/{name}.pt is not shipped yet: make pretrained"
    record = load_record(name)
    assert RECORD_KEYS <= record.keys() and record["name"] == name
    shipped = load_pretrained(name, model=RECIPES[name].model, image_size=record["image_size"])
    images = shipped.generate(4, seed=0, steps=5)
    assert images.shape == (4, 3, record["image_size"], record["image_size"]) and images.dtype == torch.uint8
    assert images.float().std() > 5  # not a blank grid


def test_the_shipped_weights_fit_the_budget_and_the_readme_lists_them():
    files = list(SHIPPED.glob("*.pt"))
    assert sum(p.stat().st_size for p in files) <= 40 * 2**20  # every shipped file, the judge's networks included
    readme = (SHIPPED / "README.md").read_text()
    for path in files:
        if path.stem in ("openmoji_classifier", "glyph_features"):  # the judge's networks: described, not in the table
            assert f"`{path.name}`" in readme
            continue
        assert f"`{path.stem}`" in readme, f"checkpoints/README.md has no row for {path.name}"


def test_fewer_metric_samples_reach_the_trackers_the_export_and_the_command(tmp_path):
    """``--metric-samples`` (for a slow machine, as the GPU run's dry run on a CPU uses it): the evaluations during
    training take at most that many, the record is scored on that many, and the command says so."""
    import argparse

    from cocogoat_utils.pretrain import EXPORT_SAMPLES, Context, command_line, parse_args

    def context(*flags):
        args = parse_args(["dcgan", "--device", "cpu", *flags])
        args = argparse.Namespace(**{**vars(args), "minutes": 1.0, "image_size": 32})
        return Context("dcgan", args, torch.device("cpu"), 0, 1, tmp_path)

    real = torch.randint(0, 256, (80, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    few, default = context("--metric-samples", "100"), context()
    assert few.metric_samples == 100 and default.metric_samples == EXPORT_SAMPLES == 2000
    assert few.quality(real, every=10, samples=500).samples == 100
    assert default.quality(real, every=10, samples=500).samples == 500
    assert "--metric-samples 100" in command_line(few) and "--metric-samples" not in command_line(default)

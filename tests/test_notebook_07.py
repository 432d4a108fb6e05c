"""07_Pokemon_DCGAN on a folder of your own images."""

from __future__ import annotations

import json
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
from notebook_runs import ROOT, execute, outputs_text, own_images  # noqa: E402


def test_pokemon_notebook_trains_on_a_folder_of_own_images(tmp_path: Path):
    notebook = ROOT / "notebooks" / "07_Pokemon_DCGAN.ipynb"
    images = tmp_path / "my images"
    expected = own_images(images)
    out_dir = tmp_path / "out"
    execute(notebook, tmp_path / "executed.ipynb", scale="smoke", out_dir=str(out_dir), data_dir=str(images), steps=6)
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["dataset"] == str(images)
    assert summary["dataset_size"] == expected
    assert summary["train_images"] == 3 * expected  # augmentation ×3
    assert summary["steps"] == 6
    text = outputs_text(tmp_path / "executed.ipynb")
    # the unreadable file is named in Russian by the lesson, not by the package's English warning
    assert "пропущено нечитаемых файлов: 1" in text and "broken.png" in text and "unreadable" not in text
    assert summary["fd"] is None and "слишком мало реальных картинок (24)" in text  # too few for the quality metrics
    # without quality metrics every comparison still trains and reports a row, and says (in Russian) there is no FD to compare
    assert summary["tricks"]["label_smoothing"]["steps"] >= 1 and summary["tricks"]["label_smoothing"]["fd"] is None
    assert "FD нет, сравнивать нечего" in text
    assert summary["hand_step_matches"] is True
    assert summary["tutorial_runs"]["lr_0028_100ep"]["images"] == 2 * summary["tutorial_runs"]["lr_00275_50ep"]["images"]

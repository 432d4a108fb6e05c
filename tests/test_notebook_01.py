"""01_DataSelector on your own folder and hand labels."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import papermill
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from notebook_runs import ROOT, execute, outputs_text  # noqa: E402


def _labelled_folder(root: Path, per_class: int = 16) -> dict[str, str]:
    """Three kinds of picture a classifier can tell apart, in nested folders; returns name → class."""
    import numpy as np
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(1)
    truth = {}
    for k in range(per_class):
        for cls, folder in (("keep", "good"), ("low_quality", "blurry"), ("off_target", "other/misc")):
            canvas = np.full((40, 40, 3), 255, np.uint8)
            x, y = rng.integers(4, 16, 2)
            if cls == "off_target":
                canvas[y:y + 20, x:x + 20] = (30, 60, 220)
            else:
                canvas[y:y + 20, x:x + 20] = (220, 40, 30)
            image = Image.fromarray(canvas)
            if cls == "low_quality":
                image = image.filter(ImageFilter.GaussianBlur(4))
            name = f"{folder}/img_{k:02d}.png"
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            image.save(root / name)
            truth[name] = cls
    return truth


def test_data_selector_on_a_folder_of_own_images_with_hand_labels(tmp_path: Path):
    notebook = ROOT / "notebooks" / "01_DataSelector.ipynb"
    images = tmp_path / "scraped"
    truth = _labelled_folder(images)
    names = sorted(truth)
    labels = tmp_path / "my labels.csv"
    rows = ["name,label"] + [f"{n},{truth[n]}" for n in names[:36]] + ["gone/deleted.png,keep"]
    labels.write_text("\n".join(rows) + "\n")
    out_dir = tmp_path / "out"
    executed = tmp_path / "executed.ipynb"
    execute(notebook, executed, scale="smoke", out_dir=str(out_dir), data_dir=str(images), labels_file=str(labels),
            held_out=9, label_budgets=[12, 27], epochs=2, min_steps=2)

    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["images"] == 48
    assert summary["held_out"] == 9 and summary["hand_labels"] == 27 and summary["unlabelled"] == 12
    assert 0.0 <= summary["held_out_accuracy"] <= 1.0  # scored against the hand labels: no truth needed
    assert summary["pseudo_label_accuracy"] is None and summary["kept_precision"] is None
    assert [point["labels"] for point in summary["labels_vs_accuracy"]] == [12, 27]
    kept = sorted(p.relative_to(out_dir / "filtered").as_posix() for p in (out_dir / "filtered").rglob("*.png"))
    assert len(kept) == summary["kept"]
    labelled_keep = {n for n in names[:36] if truth[n] == "keep"}
    assert labelled_keep <= set(kept), "a hand label 'keep' is always kept"
    assert not {n for n in names[:36] if truth[n] != "keep"} & set(kept), "a hand label 'drop' is never kept"
    text = outputs_text(executed)
    assert "1 labelled name(s) no longer exist" in text and "gone/deleted.png" in text


def test_data_selector_says_when_a_folder_is_too_small(tmp_path: Path):
    notebook = ROOT / "notebooks" / "01_DataSelector.ipynb"
    images = tmp_path / "few"
    _labelled_folder(images, per_class=3)
    with pytest.raises(papermill.PapermillExecutionError, match="9 images, but held_out=45 .* lower held_out"):
        execute(notebook, tmp_path / "executed.ipynb", scale="smoke", out_dir=str(tmp_path / "out"),
                data_dir=str(images))

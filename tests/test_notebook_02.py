"""02_DataAugmentator_Emboxer with boxes drawn on your own images."""

from __future__ import annotations

import json
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
from notebook_runs import ROOT, execute, outputs_text, own_images  # noqa: E402


def test_augmentator_learns_from_boxes_drawn_onown_images(tmp_path: Path):
    """A folder with a box file as the widget writes it: the boxed images train the Emboxer and are scored."""
    from cocogoat_utils.labels import BoxStore

    notebook = ROOT / "notebooks" / "02_DataAugmentator_Emboxer.ipynb"
    images = tmp_path / "my images"
    expected = own_images(images)
    names = sorted(str(p.relative_to(images)) for p in images.rglob("image_*"))
    store = BoxStore(tmp_path / "boxes.csv")
    for k, name in enumerate(names[:10]):
        store.add(name, (0.1 + 0.02 * k, 0.2, 0.6 + 0.02 * k, 0.9))
    store.add("deleted since.png", (0.1, 0.1, 0.5, 0.5))
    out_dir = tmp_path / "out"
    executed = tmp_path / "executed.ipynb"
    execute(notebook, executed, scale="smoke", out_dir=str(out_dir), data_dir=str(images),
            box_file=str(store.path), own_held_out=0.3)
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["own_boxes"] == 10
    assert 0.0 <= summary["own_scores"]["iou75"] <= summary["own_scores"]["iou50"] <= 1.0
    assert 0.0 <= summary["own_scores"]["mean_iou"] <= 1.0
    assert summary["crops_written"] == expected  # every own image is cropped, boxed or not
    text = outputs_text(executed)
    assert "10 with a box" in text and "7 of them join the training canvases, 3 are held out" in text
    assert "deleted since.png" in text  # the stale box is named

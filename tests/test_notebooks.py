"""Every notebook runs headless with papermill at ``smoke`` scale and reports through ``summary.json``."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

#: what each notebook's summary.json must report, beyond the common keys
EXPECTED_KEYS = {
    "00_GAN_Conceptos": {"dataset_size", "image_size", "steps", "hand_convolution_matches", "g1_d_loss", "g1_g_loss",
                         "g2_d_loss", "g2_g_loss", "g1_fd", "g2_fd", "metric_samples", "feature_space"},
    "01_DataSelector": {"images", "hand_labels", "held_out", "held_out_accuracy", "pseudo_label_accuracy", "threshold",
                        "kept", "kept_precision", "labels_vs_accuracy"},
    "07_Pokemon_DCGAN": {"dataset_size", "train_images", "image_size", "steps", "final_d_loss", "final_g_loss",
                         "final_d_real", "final_d_fake", "samples_png", "training_gif", "truncation_png",
                         "fd", "kid", "kid_std", "precision", "recall", "diversity_ratio", "metric_samples",
                         "feature_space", "best_fd", "best_step", "fd_floor_real_halves", "collapse_step"},
}
COMMON_KEYS = {"notebook", "scale", "device", "seconds", "artifacts"}


def test_every_notebook_is_listed():
    assert NOTEBOOKS, "no notebooks found"
    for path in NOTEBOOKS:
        assert path.stem in EXPECTED_KEYS, f"{path.stem}: add its summary keys to EXPECTED_KEYS"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_at_smoke_scale(notebook: Path, tmp_path: Path):
    out_dir = tmp_path / notebook.stem
    executed = tmp_path / notebook.name
    papermill.execute_notebook(
        str(notebook), str(executed), parameters={"scale": "smoke", "out_dir": str(out_dir)},
        cwd=str(notebook.parent), progress_bar=False, kernel_name="python3",
    )
    nb = nbformat.read(executed, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors

    summary = json.loads((out_dir / "summary.json").read_text())
    missing = (COMMON_KEYS | EXPECTED_KEYS[notebook.stem]) - summary.keys()
    assert not missing, f"summary.json lacks {sorted(missing)}"
    assert summary["notebook"] == notebook.stem
    assert summary["scale"] == "smoke"
    for artifact in summary["artifacts"]:
        path = out_dir / artifact
        assert path.is_file() and path.stat().st_size > 0, f"artifact {artifact} missing or empty"
    for key in ("held_out_accuracy", "pseudo_label_accuracy"):
        if key in summary:
            assert 0.0 <= summary[key] <= 1.0
    if "labels_vs_accuracy" in summary:
        assert summary["labels_vs_accuracy"], "no point on the labels-vs-accuracy curve"
    if "hand_convolution_matches" in summary:
        assert summary["hand_convolution_matches"] is True
    for key, value in summary.items():
        if key.startswith("final_") or key.endswith(("_d_loss", "_g_loss", "_fd")) or key in (
                "fd", "kid", "precision", "recall", "diversity_ratio"):
            assert isinstance(value, float) and value == value, f"{key}={value!r} is not a finite number"


def _own_images(root: Path) -> int:
    """A folder as a user would bring: nested, mixed formats and modes, odd sizes, two broken files."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    formats = [("png", "RGBA"), ("jpg", "RGB"), ("webp", "RGB"), ("gif", "P"), ("png", "L"), ("bmp", "RGB")]
    count = 0
    for i in range(24):
        ext, mode = formats[i % len(formats)]
        w, h = int(rng.integers(20, 90)), int(rng.integers(20, 90))
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        image = Image.fromarray(pixels).convert(mode)
        folder = root / ("sprites" if i % 2 else "fan art/nested")
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / f"image_{i}.{ext}")
        count += 1
    (root / "notes.txt").write_text("not an image")
    (root / "sprites" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return count


def test_pokemon_notebook_trains_on_a_folder_of_own_images(tmp_path: Path):
    notebook = ROOT / "notebooks" / "07_Pokemon_DCGAN.ipynb"
    images = tmp_path / "my images"
    expected = _own_images(images)
    out_dir = tmp_path / "out"
    papermill.execute_notebook(
        str(notebook), str(tmp_path / "executed.ipynb"),
        parameters={"scale": "smoke", "out_dir": str(out_dir), "data_dir": str(images), "steps": 6},
        cwd=str(notebook.parent), progress_bar=False, kernel_name="python3",
    )
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["dataset"] == str(images)
    assert summary["dataset_size"] == expected
    assert summary["train_images"] == 3 * expected  # augmentation ×3
    assert summary["steps"] == 6
    text = "".join(o.get("text", "") for c in nbformat.read(tmp_path / "executed.ipynb", as_version=4).cells
                   for o in c.get("outputs", []))
    assert "skipped 1 unreadable file" in text and "broken.png" in text
    assert summary["fd"] is None and "need at least" in text  # 24 images: too few for the quality metrics

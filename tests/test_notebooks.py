"""Every notebook runs headless with papermill at ``smoke`` scale and reports through ``summary.json``."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill
import pytest

from cocogoat_utils.execute import execute_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

#: what each notebook's summary.json must report, beyond the common keys
EXPECTED_KEYS = {
    "00_GAN_Conceptos": {"dataset_size", "image_size", "steps", "hand_convolution_matches", "g1_d_loss", "g1_g_loss",
                         "g2_d_loss", "g2_g_loss", "g1_fd", "g2_fd", "metric_samples", "feature_space"},
    "01_DataSelector": {"images", "hand_labels", "held_out", "unlabelled", "held_out_accuracy", "pseudo_label_accuracy",
                        "threshold", "kept", "dropped", "kept_precision", "kept_precision_pseudo", "labels_vs_accuracy"},
    "02_DataAugmentator_Emboxer": {"canvas_size", "target_size", "canvases", "held_out", "mean_iou", "iou50", "iou75",
                                   "crops_written", "augmented_written", "payoff", "metric_samples", "feature_space"},
    "03_Cocogoat_ProGAN": {"dataset_size", "image_size", "max_level", "loss", "gp_lambda", "pixel_norm", "plan", "levels",
                           "compared", "verdicts", "block_artifact", "collapsed_levels", "metric_samples",
                           "feature_space"},
    "04_Optimized_Cocogoat": {"dataset_size", "image_size", "scales", "seconds_per_run", "options", "runs",
                              "metric_samples", "feature_space"},
    "05_Prototype_LSTM": {"dataset_size", "sizes", "seconds_per_model", "comparison", "metric_samples", "feature_space",
                          "inpainting", "verdict"},
    "06_Diffusion": {"dataset_size", "image_size", "schedule", "T", "steps", "final_loss", "samplers", "ddim_speedup",
                     "metric_samples", "feature_space", "fd_floor_real_halves", "saturated_pixels"},
    "07_Pokemon_DCGAN": {"dataset_size", "train_images", "image_size", "steps", "final_d_loss", "final_g_loss",
                         "final_d_real", "final_d_fake", "samples_png", "training_gif", "truncation_png",
                         "fd", "kid", "kid_std", "precision", "recall", "diversity_ratio", "metric_samples",
                         "feature_space", "best_fd", "best_step", "fd_floor_real_halves", "collapse_step"},
}
COMMON_KEYS = {"notebook", "scale", "device", "seconds", "artifacts"}
#: seconds one cell may run at smoke scale before the test fails instead of hanging the suite
CELL_TIMEOUT = 600


def execute(notebook: Path, executed: Path, **parameters) -> None:
    """Run ``notebook`` headless with papermill into ``executed`` (cwd: the notebook's folder)."""
    execute_notebook(
        str(notebook), str(executed), parameters=parameters, cwd=str(notebook.parent), progress_bar=False,
        kernel_name="python3", execution_timeout=CELL_TIMEOUT, start_timeout=180,
    )


def outputs_text(executed: Path) -> str:
    """Every stream and text output of an executed notebook, joined."""
    return "".join(o.get("text", "") for c in nbformat.read(executed, as_version=4).cells
                   for o in c.get("outputs", []))


def test_every_notebook_is_listed():
    assert NOTEBOOKS, "no notebooks found"
    for path in NOTEBOOKS:
        assert path.stem in EXPECTED_KEYS, f"{path.stem}: add its summary keys to EXPECTED_KEYS"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_at_smoke_scale(notebook: Path, tmp_path: Path):
    out_dir = tmp_path / notebook.stem
    executed = tmp_path / notebook.name
    execute(notebook, executed, scale="smoke", out_dir=str(out_dir))
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
    for row in summary.get("comparison", []):  # 05: every generator trained and was scored
        assert row["steps"] >= 1 and row["samples_per_second"] > 0
        assert isinstance(row["fd"], float) and row["fd"] == row["fd"], row
    if "comparison" in summary:
        assert {row["model"] for row in summary["comparison"]} == {"dcgan", "lstm", "two-stage"}
        sizes = {row["model"]: row["parameters"] for row in summary["comparison"]}
        assert all(abs(n - sizes["lstm"]) < 0.05 * sizes["lstm"] for n in sizes.values()), sizes
        assert set(summary["inpainting"]) == {"lstm", "conv", "conv-small"}
        lstm, conv = summary["inpainting"]["lstm"], summary["inpainting"]["conv"]
        assert abs(lstm["parameters"] - conv["parameters"]) < 0.1 * lstm["parameters"], "equal-size inpainters"
        assert len(summary["verdict"]) == len(summary["sizes"]) * 2 + 1
    if "mean_iou" in summary:  # 02: boxes scored, every held-out canvas cropped, the ×3 set written, both runs scored
        assert 0.0 <= summary["iou75"] <= summary["iou50"] <= 1.0 and 0.0 <= summary["mean_iou"] <= 1.0
        assert summary["crops_written"] == summary["held_out"]
        assert summary["augmented_written"] % 3 == 0 and summary["augmented_written"] > 0
        assert set(summary["payoff"]) == {"plain", "augmented ×3"}
        assert summary["payoff"]["augmented ×3"]["images"] == 3 * summary["payoff"]["plain"]["images"]
        assert all(isinstance(run["fd"], float) for run in summary["payoff"].values())
    if "runs" in summary:  # 04: every loss with one discriminator per scale, then the multi-scale one
        kinds = [(row["loss"], row["discriminator"]) for row in summary["runs"]]
        assert kinds == [("bce", "per-scale"), ("rasgan", "per-scale"), ("rahinge", "per-scale"),
                         ("rasgan", "multi-scale"), ("rasgan", "per-scale")], kinds
        tipped = summary["runs"][-1]["options"]
        assert tipped == {"residual": True, "batch_norm": False, "d_dropout": 0.2}, tipped
        assert summary["scales"] == [4, 8, 16, summary["image_size"]]
        for row in summary["runs"]:
            assert row["steps"] >= 1 and isinstance(row["fd"], float) and row["fd"] == row["fd"], row
    if "levels" in summary:  # 03: every level trained and scored, and the three runs saw the same images per level
        assert [row["resolution"] for row in summary["levels"]] == [4 * 2**k for k in range(summary["max_level"] + 1)]
        assert [row["level"] for row in summary["plan"]] == list(range(summary["max_level"] + 1))
        runs = {}
        for row in summary["compared"]:
            assert isinstance(row["fd"], float) and row["fd"] == row["fd"], row
            runs.setdefault(row["run"], []).append((row["resolution"], row["images"]))
        assert len(runs) == 3 and len({tuple(v) for v in runs.values()}) == 1, runs
        assert len(summary["verdicts"]) == 2
        assert set(summary["block_artifact"]) == {"real", *runs}
    if "samplers" in summary:  # 06: DDPM over the whole chain first, then each DDIM, all scored
        names = [row["sampler"] for row in summary["samplers"]]
        assert names[0] == f"DDPM-{summary['T']}" and all(n.startswith("DDIM-") for n in names[1:]), names
        for row in summary["samplers"]:
            assert row["images"] == summary["metric_samples"] and row["images_per_second"] > 0
            assert isinstance(row["fd"], float) and row["fd"] == row["fd"], row
        assert summary["ddim_speedup"] > 1.5, "DDIM with a tenth of the steps must be clearly faster"
        assert all(0.0 <= v <= 1.0 for v in summary["saturated_pixels"].values())
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
    execute(notebook, tmp_path / "executed.ipynb", scale="smoke", out_dir=str(out_dir), data_dir=str(images), steps=6)
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["dataset"] == str(images)
    assert summary["dataset_size"] == expected
    assert summary["train_images"] == 3 * expected  # augmentation ×3
    assert summary["steps"] == 6
    text = outputs_text(tmp_path / "executed.ipynb")
    assert "skipped 1 unreadable file" in text and "broken.png" in text
    assert summary["fd"] is None and "need at least" in text  # 24 images: too few for the quality metrics


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


def test_augmentator_learns_from_boxes_drawn_on_own_images(tmp_path: Path):
    """A folder with a box file as the widget writes it: the boxed images train the Emboxer and are scored."""
    from cocogoat_utils.labels import BoxStore

    notebook = ROOT / "notebooks" / "02_DataAugmentator_Emboxer.ipynb"
    images = tmp_path / "my images"
    expected = _own_images(images)
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

"""Every notebook runs headless with papermill, reports through ``summary.json``, and is checked by its own module.

Each notebook NN has ``tests/expect_NN.py`` (the keys its summary holds and its own checks), so that work on
one notebook touches one module. Two runs per notebook:

- ``smoke``: the tiny run (well under a minute on two cores), every check, and the cells tagged
  ``nbval-check-output`` print what the committed notebook shows (``make nbval`` makes the same comparison in a
  Jupyter kernel);
- ``gpu-shapes``: the ``gpu`` scale's shapes (64 px, every ProGAN level, 128 px canvases, …) with smoke's widths
  and budgets, so that a shape or configuration error at the real sizes fails here, not on the first GPU.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from notebook_runs import COMMON_KEYS, NOTEBOOKS, checked_outputs, execute  # noqa: E402


#: what a tqdm bar leaves in a saved notebook: "  0%|", "100%|", "44step [00:00, ?step/s]"
PROGRESS_BAR = re.compile(r"\d%\||\d(step|it|epoch) \[\d")


def expectations(notebook: Path):
    return importlib.import_module(f"expect_{notebook.stem[:2]}")


def test_every_notebook_has_its_expectations():
    assert NOTEBOOKS, "no notebooks found"
    for path in NOTEBOOKS:
        assert (Path(__file__).parent / f"expect_{path.stem[:2]}.py").is_file(), f"{path.stem}: add tests/expect_NN.py"


def _run(notebook: Path, tmp_path: Path, scale: str) -> dict:
    out_dir = tmp_path / notebook.stem
    executed = tmp_path / notebook.name
    execute(notebook, executed, scale=scale, out_dir=str(out_dir))
    nb = nbformat.read(executed, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    texts = [o.get("text", "") + o.get("data", {}).get("text/plain", "") for c in nb.cells for o in c.get("outputs", [])]
    bars = [t[:120] for t in texts if PROGRESS_BAR.search(t)]
    assert not bars, f"a progress bar's frame was saved in the headless run: {bars}"
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["notebook"] == notebook.stem and summary["scale"] == scale
    for artifact in summary["artifacts"]:
        path = out_dir / artifact
        assert path.is_file() and path.stat().st_size > 0, f"artifact {artifact} missing or empty"
    return summary


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_at_smoke_scale(notebook: Path, tmp_path: Path):
    summary = _run(notebook, tmp_path, "smoke")
    expected = expectations(notebook)
    missing = (COMMON_KEYS | expected.KEYS) - summary.keys()
    assert not missing, f"summary.json lacks {sorted(missing)}"
    expected.check(summary)
    committed, executed = checked_outputs(notebook), checked_outputs(tmp_path / notebook.name)
    assert committed, f"{notebook.stem}: no cell is tagged nbval-check-output"
    for cell_id, shown in committed.items():
        assert executed.get(cell_id) == shown, (f"{notebook.stem}, cell {cell_id}: the committed notebook shows "
                                                f"{shown}, the smoke run {executed.get(cell_id)}")
    for key, value in summary.items():
        if key.startswith("final_") or key.endswith(("_d_loss", "_g_loss", "_fd")) or key in (
                "fd", "kid", "precision", "recall", "diversity_ratio"):
            assert value is None or (isinstance(value, float) and value == value), f"{key}={value!r} is not a number"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_with_the_gpu_scales_shapes(notebook: Path, tmp_path: Path):
    summary = _run(notebook, tmp_path, "gpu-shapes")
    check = getattr(expectations(notebook), "check_gpu_shapes", None)
    if check is not None:
        check(summary)

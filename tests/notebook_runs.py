"""Running notebooks headless for the tests: papermill through cocogoat_utils.execute, and a folder of own images."""

from __future__ import annotations

from pathlib import Path

import nbformat

from cocogoat_utils.execute import execute_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

COMMON_KEYS = {"notebook", "scale", "device", "numeric_precision", "params", "seconds", "artifacts"}
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


#: what a tagged cell's comparison ignores: progress bars and warnings (stderr), pictures, rich and widget views
UNCOMPARED = ("image/png", "image/jpeg", "image/gif", "text/html", "application/javascript",
              "application/vnd.jupyter.widget-view+json")


def checked_outputs(notebook: Path) -> dict[str, list[str]]:
    """The outputs of the cells tagged ``nbval-check-output`` (shapes, parameter counts, hand-vs-library checks:
    the same at every scale), by cell id: stdout joined into one text (``\\r`` overwrites applied), then each
    result's and display's text forms in order."""
    checked = {}
    for cell in nbformat.read(notebook, as_version=4).cells:
        if "nbval-check-output" not in cell.get("metadata", {}).get("tags", []):
            continue
        stdout, shown = "", []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                stdout += output.get("text", "") if output.get("name") == "stdout" else ""
            else:
                shown += [f"{kind}: {value}" for kind, value in output.get("data", {}).items() if kind not in UNCOMPARED]
        stdout = "\n".join(line.rsplit("\r", 1)[-1] for line in stdout.split("\n"))
        checked[cell["id"]] = ([stdout] if stdout else []) + shown
    return checked


def own_images(root: Path) -> int:
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


def shipped_fits(name: str, model: str, image_size: int) -> bool:
    """Whether the shipped model ``name`` for ``image_size`` loads (``<name>.pt``, or ``<name>-<size>px.pt`` from a
    GPU run): then a notebook must show it; otherwise it must say why not."""
    from cocogoat_utils.shipped import PretrainedMismatch, load_pretrained

    try:
        load_pretrained(name, model=model, image_size=image_size)
        return True
    except (FileNotFoundError, PretrainedMismatch):
        return False

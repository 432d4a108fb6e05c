#!/usr/bin/env bash
# Put a GPU run's packed results where they belong in the checkout:
#   bash scripts/gpu_unpack.sh FOLDER     # FOLDER: where the device tool left gpu_results.tar.gz(.partNN)
# - the executed notebooks that finished (status ok) replace notebooks/NN_*.ipynb,
# - their summaries and pictures go to runs/<notebook>/gpu/, the results table to runs/RESULTS_gpu.md,
# - benchmark JSON and grids to benchmarks/results/, benchmarks/README.md with the quality table, the 64 px models and records to checkpoints/ (<name>-64px.pt/.json).
set -euo pipefail
cd "$(dirname "$0")/.."
FOLDER="${1:?usage: gpu_unpack.sh FOLDER}"
stage=$(mktemp -d)
cat "$FOLDER"/gpu_results.tar.gz* | tar xzf - -C "$stage"
python3 - "$stage" <<'PY'
import json, shutil, sys
from pathlib import Path
stage, root = Path(sys.argv[1]), Path(".")
status = json.loads((stage / "runs/gpu/status.json").read_text())
for notebook in sorted((stage / "runs/gpu").glob("*.ipynb")):
    state = status.get("jobs", {}).get(notebook.stem, {}).get("status")
    if state == "ok" and not status.get("dry"):
        shutil.copy(notebook, root / "notebooks" / notebook.name)
    print(f"{notebook.stem}: {state}{'' if state == 'ok' and not status.get('dry') else ' (notebook not replaced)'}")
for path in stage.glob("runs/*/gpu/*"):
    target = root / path.relative_to(stage)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, target)
for name in ("runs/RESULTS_gpu.md", "runs/gpu/status.json"):
    if (stage / name).is_file():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(stage / name, root / name)
for path in [*(stage / "runs/gpu/bench").glob("*.json"), *(stage / "runs/gpu/bench").glob("*.png")]:
    if not status.get("dry"):  # benchmark JSON and quality.py's grids; a dry run's smoke figures stay in runs/
        (root / "benchmarks/results").mkdir(parents=True, exist_ok=True)
        shutil.copy(path, root / "benchmarks/results" / path.name)
if (stage / "benchmarks/README.md").is_file() and not status.get("dry"):  # with quality.py's table
    shutil.copy(stage / "benchmarks/README.md", root / "benchmarks/README.md")
for path in (stage / "runs/gpu/checkpoints").glob("*"):
    if not status.get("dry"):
        shutil.copy(path, root / "checkpoints" / path.name)
print(json.dumps(status, indent=1)[:2000])
PY
rm -rf "$stage"

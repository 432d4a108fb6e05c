#!/usr/bin/env bash
# The one command for the GPU machine (the device tool runs it in the repository root with $OUT set):
#   bash scripts/gpu_call.sh "$OUT"          # the GPU run: notebooks, 64 px models, benchmarks, packed results
#   bash scripts/gpu_call.sh "$OUT" --dry    # the same on a CPU at tiny budgets (proves the pipeline here)
# It installs the notebook stack from .whl/ (scripts/fetch_wheels.sh; the machine has torch but no network),
# prints nvidia-smi, runs scripts/gpu_run.py under a hard limit of 9 minutes, and always leaves in $OUT the
# packed results (at most 8 files of at most 16 MiB) and a short log. Unpack with scripts/gpu_unpack.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: gpu_call.sh OUT [--dry]}"; shift
mkdir -p "$OUT"
exec > >(tee "$OUT/call.log") 2>&1
export PYTHONUNBUFFERED=1
DRY=""; [ "${1:-}" = "--dry" ] && DRY=1
if [ -z "$DRY" ] && [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then  # (the dry run uses this machine's .venv)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="/tmp/site:$(pwd)${PYTHONPATH:+:$PYTHONPATH}" || { echo "wheel install failed"; exit 1; }
  python3 -m ipykernel install --user --name python3 >/dev/null 2>&1 || true
fi
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] && [ -n "$DRY" ] && PY=.venv/bin/python
nvidia-smi 2>/dev/null || echo "no nvidia-smi (a CPU machine)"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
LIMIT=540; [ -n "$DRY" ] && LIMIT=2500   # the GPU call must end within 9 minutes; the dry run on a CPU may not
timeout --kill-after=10 "$LIMIT" "$PY" scripts/gpu_run.py --out "$OUT" "$@"
status=$?
if ! ls "$OUT"/gpu_results.tar.gz* >/dev/null 2>&1; then  # killed before it could pack: pack what is there
  tar czf "$OUT/gpu_results.tar.gz" runs/gpu runs/*/gpu/summary.json runs/RESULTS_gpu.md 2>/dev/null || true
fi
ls -la "$OUT"
exit $status

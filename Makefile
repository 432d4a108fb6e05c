# Cocogoat: `make run` executes every notebook at CPU scale, `make test` runs the test suite.
# Each target creates the virtual environment first, so either works on a fresh clone.

PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.ipynb))
RUNS     ?= runs
export PYTHONUNBUFFERED := 1

.PHONY: venv run test nbval unit notebook-test gpu-run gpu-all gpu-dry pretrained bench clean

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip setuptools
	$(PY) -m pip install -q --disable-pip-version-check --no-build-isolation -r requirements.txt
	touch $@

venv: $(VENV)/.installed

## run: every notebook headless at `cpu` scale on the embedded dataset (papermill through cocogoat_utils.execute,
##      which avoids a rare lost-reply hang after widget cells)
##      → runs/cpu/<notebook>.ipynb, artifacts in runs/<notebook>/cpu/, figures in runs/RESULTS_cpu.md
run: venv
	@mkdir -p $(RUNS)/cpu
	@for nb in $(NOTEBOOKS); do \
	  name=$$(basename $$nb .ipynb); echo "== $$name (cpu scale)"; \
	  COCOGOAT_SCALE=cpu $(PY) -m cocogoat_utils.execute --cwd notebooks $$nb $(RUNS)/cpu/$$name.ipynb || exit 1; \
	done
	@$(PY) -m cocogoat_utils.report $(RUNS) cpu

## test: unit tests and every notebook through papermill at `smoke` scale (where the cells tagged
##       `nbval-check-output` must print what the committed notebook shows) and at `gpu-shapes` scale, on both cores
##       (pytest-xdist; one torch thread per process). A cell that runs past 10 minutes fails its test instead of
##       hanging the suite; the slowest tests are listed.
test: venv
	COCOGOAT_SCALE=smoke TQDM_MININTERVAL=5 OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2 --dist loadgroup tests \
	  -p no:cacheprovider --durations=40

## nbval: the committed notebooks cell by cell in a Jupyter kernel at `smoke` scale (nbval, lax: only the tagged
##        cells' outputs are compared), as a learner steps through them in JupyterLab
nbval: venv
	COCOGOAT_SCALE=smoke TQDM_MININTERVAL=5 OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2 --dist loadgroup notebooks \
	  --nbval-lax --nbval-cell-timeout=600 -p no:cacheprovider

unit: venv
	$(PY) -m pytest -q tests --ignore=tests/test_notebooks.py

## gpu-run: the eight notebooks at `gpu` scale at once on one GPU, each under a hard limit, then the results table;
##          the executed notebooks that finished replace the committed ones (scripts/gpu_unpack.sh)
gpu-run: venv
	$(PY) scripts/gpu_run.py --out $(RUNS)/gpu_out --no-pretrain --no-bench
	bash scripts/gpu_unpack.sh $(RUNS)/gpu_out

## gpu-all: gpu-run, the 64 px trained models and the benchmarks in one call (what scripts/gpu_call.sh runs
##          on the lent GPU machine); gpu-dry: the same pipeline on a CPU at tiny budgets
gpu-all: venv
	$(PY) scripts/gpu_run.py --out $(RUNS)/gpu_out
	bash scripts/gpu_unpack.sh $(RUNS)/gpu_out

gpu-dry: venv
	bash scripts/gpu_call.sh $(RUNS)/gpu_dry --dry

## pretrained: train every shipped model from scratch with its notebook's recipe and export it to checkpoints/
##             (about 12 hours on one CPU core; `python -m cocogoat_utils.pretrain --list` shows each recipe's budget)
pretrained: venv
	$(PY) -m cocogoat_utils.pretrain all

## bench: images per second, tutorial loop vs this package's trainer (meant for a GPU; on a CPU use BENCH_ARGS=--smoke)
BENCH_ARGS ?= --channels-last --cuda-graphs --batch-sizes 128,1024,4096
bench: venv
	$(PY) benchmarks/dcgan_throughput.py $(BENCH_ARGS)

clean:
	rm -rf $(RUNS) .pytest_cache

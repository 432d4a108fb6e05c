"""The whole GPU run in one command, under one deadline, always leaving a packed result.

    python scripts/gpu_run.py --out OUT                 # on a GPU (scripts/gpu_call.sh wraps it for the device box)
    python scripts/gpu_run.py --out OUT --dry           # the same pipeline on a CPU, at tiny budgets

Phase 1 (about 5.5 minutes): the eight notebooks at ``gpu`` scale, each in its own kernel and process, all at
once on the one GPU, each under a hard time limit; beside them, the shipped models' recipes at 64 px
(``python -m cocogoat_utils.pretrain NAME --image-size 64``), each under its budget, and
``benchmarks/quality.py`` (three generators, 80 s each, its table written into ``benchmarks/README.md``).
A notebook that fails or runs out of time is reported and its partial output kept; the others go on.
Phase 2 (the GPU to itself): ``benchmarks/dcgan_throughput.py`` at batch 128, 1024 and 4096 (eager and with CUDA
graphs), ``benchmarks/diffusion_sampling.py`` (DDPM-1000 against DDIM-50/100/250, timed and, with the shipped
DDPM, scored), then the results table ``runs/RESULTS_gpu.md``.
Phase 3: everything that finished — executed notebooks, summaries, benchmark JSON, the results table, the 64 px
models and their records, the logs — in ``OUT/gpu_results.tar.gz`` (split into parts of at most 15 MiB, at most
seven) and ``OUT/gpu_run.log``. ``scripts/gpu_unpack.sh OUT`` puts them where they belong in the checkout.

``--dry`` runs every phase on the CPU: the notebooks at ``gpu-shapes`` scale, the recipes for a few seconds,
the benchmarks with ``--smoke``; so the pipeline is proven end to end before a GPU is at hand.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
RECIPES = ["dcgan", "progan", "msggan", "lstm", "lstm-baseline", "ddpm"]
PART_BYTES = 15 * 2**20
MAX_PARTS = 7


class Clock:
    def __init__(self, budget: float) -> None:
        self.start, self.budget = time.monotonic(), budget

    def left(self) -> float:
        return self.budget - (time.monotonic() - self.start)

    def now(self) -> float:
        return time.monotonic() - self.start


def log(message: str, handle) -> None:
    line = f"[{time.strftime('%H:%M:%S')}] {message}"
    print(line, flush=True)
    handle.write(line + "\n")
    handle.flush()


def start(command: list[str], logfile: Path, env: dict) -> subprocess.Popen:
    logfile.parent.mkdir(parents=True, exist_ok=True)
    handle = open(logfile, "w")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_all(jobs: dict, deadline: float, clock: Clock, handle) -> dict:
    """Wait for every job until ``deadline`` (seconds on the clock) or its own limit; kill what is left."""
    status = {}
    while jobs:
        for name, (process, limit, began) in list(jobs.items()):
            code = process.poll()
            over = clock.now() >= min(deadline, began + limit)
            if code is None and not over:
                continue
            if code is None:
                os.killpg(process.pid, 9)
                process.wait()
                status[name] = {"status": "timed out", "seconds": round(clock.now() - began, 1)}
            else:
                status[name] = {"status": "ok" if code == 0 else f"failed (exit {code})",
                                "seconds": round(clock.now() - began, 1)}
            log(f"{name}: {status[name]['status']} after {status[name]['seconds']} s", handle)
            del jobs[name]
        time.sleep(1)
    return status


def pack(out: Path, handle) -> list[Path]:
    """Everything the run left, in one tar.gz split into parts of at most 15 MiB."""
    members = [*(ROOT / "runs" / "gpu").glob("*.ipynb"), *(ROOT / "runs").glob("*/gpu/summary.json"),
               *(ROOT / "runs").glob("*/gpu/*.png"), ROOT / "runs" / "RESULTS_gpu.md", ROOT / "runs" / "gpu" / "status.json",
               *(ROOT / "runs" / "gpu" / "bench").glob("*"), *(ROOT / "runs" / "gpu" / "checkpoints").glob("*"),
               *(ROOT / "runs" / "gpu" / "logs").glob("*.log"),
               ROOT / "benchmarks" / "README.md"]  # its quality table, written by benchmarks/quality.py
    archive = out / "gpu_results.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted({p for p in members if p.is_file()}):
            tar.add(path, arcname=str(path.relative_to(ROOT)))
    size = archive.stat().st_size
    if size <= PART_BYTES:
        log(f"packed {archive.name}: {size / 2**20:.1f} MiB", handle)
        return [archive]
    parts = []
    with open(archive, "rb") as whole:
        while chunk := whole.read(PART_BYTES):
            part = out / f"gpu_results.tar.gz.part{len(parts):02d}"
            part.write_bytes(chunk)
            parts.append(part)
    archive.unlink()
    if len(parts) > MAX_PARTS:
        log(f"WARNING: {len(parts)} parts, more than {MAX_PARTS} come back; the last ones will be left out", handle)
    log(f"packed {len(parts)} parts, {size / 2**20:.1f} MiB", handle)
    return parts


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="where the packed results and the log go")
    p.add_argument("--dry", action="store_true", help="the whole pipeline on a CPU at tiny budgets")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds for the whole run, packing included (default 510; 2400 with --dry: two CPU cores "
                        "run eight kernels at once)")
    p.add_argument("--notebook-limit", type=float, default=None,
                   help="hard limit of each notebook, seconds (default 330; 1800 with --dry)")
    p.add_argument("--no-pretrain", action="store_true", help="skip the 64 px recipes")
    p.add_argument("--no-bench", action="store_true", help="skip the benchmarks")
    args = p.parse_args(argv)
    args.budget = args.budget or (2400 if args.dry else 510)
    args.notebook_limit = args.notebook_limit or (1800 if args.dry else 330)
    args.out.mkdir(parents=True, exist_ok=True)
    clock = Clock(args.budget)
    handle = open(args.out / "gpu_run.log", "w")
    gpu = ROOT / "runs" / "gpu"
    shutil.rmtree(gpu, ignore_errors=True)
    (gpu / "logs").mkdir(parents=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TQDM_MININTERVAL": "10",
           "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    scale = "gpu-shapes" if args.dry else "gpu"
    env["COCOGOAT_SCALE"] = scale
    python = sys.executable
    log(f"gpu run: {'DRY (CPU, gpu-shapes)' if args.dry else 'GPU'}; budget {args.budget:.0f} s; python {python}", handle)
    status: dict = {"dry": args.dry, "scale": scale}
    try:
        # ---- phase 0: render the embedded dataset once, before eight kernels want it at the same moment
        subprocess.run([python, "-c", "from cocogoat_utils.openmoji import load_openmoji\n"
                        "for size in (32, 64, 128): load_openmoji(size)"], cwd=ROOT, env=env, timeout=300, check=False)
        log(f"dataset rendered ({clock.now():.0f} s)", handle)
        # ---- phase 1: notebooks and 64 px recipes side by side
        jobs = {}
        for nb in NOTEBOOKS:
            command = [python, "-m", "cocogoat_utils.execute", "--cwd", "notebooks", "-p", "scale", scale,
                       "-p", "out_dir", str(ROOT / "runs" / nb.stem / "gpu"), str(nb), str(gpu / nb.name)]
            jobs[nb.stem] = (start(command, gpu / "logs" / f"{nb.stem}.log", env), args.notebook_limit, clock.now())
        if not args.no_bench:  # the quality table: three generators × 80 s each, beside the notebooks
            quality = [python, "benchmarks/quality.py", "--out-dir", str(gpu / "bench")] + (
                ["--smoke"] if args.dry else ["--seconds", "80", "--metric-samples", "2000", "--write-readme"])
            jobs["quality"] = (start(quality, gpu / "logs" / "quality.log", env), args.notebook_limit, clock.now())
        if not args.no_pretrain:
            minutes = 0.1 if args.dry else 4.0  # + set-up and export, inside phase 1's 360 s
            for name in RECIPES:
                command = [python, "-m", "cocogoat_utils.pretrain", name, "--minutes", str(minutes), "--no-progress",
                           "--image-size", "32" if args.dry else "64", "--export-dir", str(gpu / "checkpoints"),
                           "--work-dir", str(gpu / "pretrain" / name), "--checkpoint-minutes", "1"]
                if args.dry:  # scoring 2,000 DDIM-50 samples on a shared CPU core would outlast the slack
                    command += ["--device", "cpu", "--threads", "1", "--metric-samples", "100"]
                slack = 600 if args.dry else 120  # set-up, evaluations and export; dry: 15 processes share 2 cores
                jobs[f"pretrain {name}"] = (start(command, gpu / "logs" / f"pretrain_{name}.log", env),
                                            minutes * 60 + slack, clock.now())
        status["jobs"] = wait_all(jobs, clock.budget - 150, clock, handle)
        # ---- phase 2: benchmarks, the GPU to themselves
        if not args.no_bench and clock.left() > 90:
            bench = gpu / "bench"
            bench.mkdir(exist_ok=True)
            smoke = ["--smoke"] if args.dry else []
            runs = {"dcgan_throughput": [python, "benchmarks/dcgan_throughput.py", *smoke, "--out", str(bench / "dcgan_throughput.json")]
                    + ([] if args.dry else ["--channels-last", "--batch-sizes", "128,1024,4096", "--cuda-graphs"]),
                    "diffusion_sampling": [python, "benchmarks/diffusion_sampling.py", *smoke,
                                           "--out", str(bench / "diffusion_sampling.json")]
                    + ([] if args.dry else ["--ddim-steps", "50,100,250", "--shipped"])}
            for name, command in runs.items():
                limit = max(10.0, min(120.0, clock.left() - 60))
                job = {name: (start(command, gpu / "logs" / f"{name}.log", env), limit, clock.now())}
                status.setdefault("bench", {}).update(wait_all(job, clock.budget - 45, clock, handle))
        subprocess.run([python, "-m", "cocogoat_utils.report", "runs", "gpu"], cwd=ROOT, env=env,
                       stdout=subprocess.DEVNULL, timeout=60)
    finally:
        status["seconds"] = round(clock.now(), 1)
        (gpu / "status.json").write_text(json.dumps(status, indent=2))
        log(json.dumps(status), handle)
        pack(args.out, handle)
        handle.close()
    failed = [k for k, v in status.get("jobs", {}).items() if v["status"] != "ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""scripts/gpu_run.py's parts that need no GPU: a job past its limit is killed and reported, the others are kept;
everything is packed into parts the device tool brings back (at most 15 MiB each)."""

import importlib.util
import io
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _module():
    spec = importlib.util.spec_from_file_location("gpu_run", ROOT / "scripts" / "gpu_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_job_past_its_limit_is_killed_and_the_others_are_kept(tmp_path):
    gpu_run = _module()
    clock = gpu_run.Clock(60)
    log = io.StringIO()
    quick = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    slow = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    failing = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"], start_new_session=True)
    began = time.monotonic()
    status = gpu_run.wait_all({"quick": (quick, 30, 0.0), "slow": (slow, 2, 0.0), "failing": (failing, 30, 0.0)},
                              deadline=50, clock=clock, handle=log)
    assert time.monotonic() - began < 20
    assert status["quick"]["status"] == "ok" and status["failing"]["status"] == "failed (exit 3)"
    assert status["slow"]["status"] == "timed out" and slow.poll() is not None
    assert "slow: timed out" in log.getvalue()


def test_everything_is_packed_into_parts_of_at_most_15_mib(tmp_path, monkeypatch):
    gpu_run = _module()
    root = tmp_path / "repo"
    (root / "runs" / "gpu" / "logs").mkdir(parents=True)
    (root / "runs" / "07_Pokemon_DCGAN" / "gpu").mkdir(parents=True)
    (root / "runs" / "07_Pokemon_DCGAN" / "gpu" / "summary.json").write_text('{"fd": 1.0}')
    (root / "runs" / "gpu" / "07_Pokemon_DCGAN.ipynb").write_text("{}")
    (root / "runs" / "gpu" / "status.json").write_text('{"jobs": {}}')
    (root / "runs" / "gpu" / "logs" / "big.log").write_bytes(__import__("os").urandom(20 * 2**20))  # incompressible
    monkeypatch.setattr(gpu_run, "ROOT", root)
    out = tmp_path / "out"
    out.mkdir()
    parts = gpu_run.pack(out, io.StringIO())
    assert len(parts) == 2 and all(p.stat().st_size <= 15 * 2**20 for p in parts)
    joined = b"".join(p.read_bytes() for p in parts)
    with tarfile.open(fileobj=io.BytesIO(joined), mode="r:gz") as tar:
        names = set(tar.getnames())
    assert {"runs/gpu/07_Pokemon_DCGAN.ipynb", "runs/07_Pokemon_DCGAN/gpu/summary.json", "runs/gpu/status.json",
            "runs/gpu/logs/big.log"} <= names

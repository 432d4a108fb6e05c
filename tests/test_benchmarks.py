"""The throughput benchmark still runs (on the CPU, at its smallest), and reports what it timed."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_throughput_benchmark_smoke(tmp_path):
    spec = importlib.util.spec_from_file_location("dcgan_throughput", ROOT / "benchmarks" / "dcgan_throughput.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "bench.json"
    assert bench.main(["--smoke", "--steps", "1", "--warmup", "0", "--subset", "64", "--device", "cpu",
                       "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    variants = [row["variant"] for row in report["rows"]]
    assert any("tutorial" in v for v in variants) and any("cocogoat" in v for v in variants)
    for row in report["rows"]:
        assert row["images_per_s"] > 0 and row["batch"] == 16

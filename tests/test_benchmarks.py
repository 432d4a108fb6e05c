"""The throughput benchmark still runs (on the CPU, at its smallest), and reports what it timed."""

import importlib.util
import json
import math
import re
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


def test_quality_benchmark_smoke(tmp_path):
    """Every registered model trains, gets scored and drawn; the baseline comes first; the floor is there."""
    spec = importlib.util.spec_from_file_location("quality", ROOT / "benchmarks" / "quality.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--smoke", "--seconds", "1", "--device", "cpu", "--out-dir", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "quality_cpu_smoke.json").read_text())
    rows = report["rows"]
    assert [row["model"] for row in rows] == list(bench.MODELS)  # one row per registered model, in order
    assert rows[0]["baseline"] and rows[0]["model"] == bench.BASELINE and not any(r["baseline"] for r in rows[1:])
    for row in rows:
        metrics = row["metrics"]
        assert math.isfinite(metrics["fd"]) and math.isfinite(metrics["kid"]) and math.isfinite(metrics["kid_std"])
        assert row["steps"] > 0 and row["images_per_s"] > 0 and row["g_params"] > 0 and row["d_params"] > 0
        assert metrics["n_samples"] > 64 and row["feature_space"] == "glyph"  # more samples than the 64 feature dims
        assert (tmp_path / f"quality_{row['model']}_cpu_smoke.png").is_file()
        line = next(line for line in report["table"].splitlines() if line.startswith(f"| {row['label']} |"))
        assert f"| {', '.join(metrics['findings']) or 'none'} |" in line  # the judge's findings, in the table
    floor = report["floor"]
    assert math.isfinite(floor["fd"]) and math.isfinite(floor["kid"]) and floor["n_per_half"] > 0


def test_diffusion_sampling_benchmark_smoke(tmp_path):
    spec = importlib.util.spec_from_file_location("diffusion_sampling", ROOT / "benchmarks" / "diffusion_sampling.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "sampling.json"
    assert bench.main(["--smoke", "--device", "cpu", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [row["sampler"] for row in report["rows"]] == ["DDPM-20", "DDIM-2"]
    assert all(row["images_per_s"] > 0 for row in report["rows"])
    assert report["rows"][1]["speedup_vs_ddpm"] > 2, "a tenth of the steps must be clearly faster"
    assert report["target"] is None  # the target applies to DDPM-1000 against DDIM-50 only


def test_study_pilots_write_their_history(tmp_path, monkeypatch):
    """A GAN study's pilot scores its arm every few steps; a progressive one scores every level's end and the top."""
    spec = importlib.util.spec_from_file_location("study_pilot", ROOT / "benchmarks" / "study_pilot.py")
    pilot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pilot)
    assert pilot.main(["gan-concepts", "g1", "--steps", "4", "--every", "2", "--samples", "80",
                       "--out-dir", str(tmp_path)]) == 0
    gan = json.loads((tmp_path / "pilot_gan-concepts_g1.json").read_text())
    assert [m["step"] for m in gan["history"]] == [2, 4] and all(m["fd_low"] <= m["fd"] <= m["fd_high"]
                                                                for m in gan["history"])
    assert pilot.main(["msggan-losses", "bce", "--steps", "2", "--every", "2", "--samples", "80", "--image-size", "16",
                       "--categories", "faces", "--tag", "_16px", "--out-dir", str(tmp_path)]) == 0
    small = json.loads((tmp_path / "pilot_msggan-losses_bce_16px.json").read_text())
    assert small["settings"]["image_size"] == 16 and small["settings"]["categories"] == ["faces"]
    assert [m["step"] for m in small["history"]] == [2]
    seen = {}

    def grown_seed(ctx, settings):  # the study's own seed function is tested in test_study; here, what the pilot keeps
        seen.update(settings)
        levels = [{"resolution": 4 * 2**k, "seconds": 1.0, "fd": 9.0 - k, "findings": []} for k in range(4)]
        return {"rows": [{"arm": "recipe", "fd": 5.0, "fd_low": 4.0, "fd_high": 6.0, "precision": 0.5, "recall": 0.4,
                          "findings": [], "steps": 7, "images_seen": 32 * 7, "seconds": 4.0, "levels": levels}]}

    monkeypatch.setattr(pilot, "progan_tricks_seed", grown_seed)
    assert pilot.main(["progan-tricks", "recipe", "--images-per-phase", "32", "--samples", "80",
                       "--out-dir", str(tmp_path)]) == 0
    assert seen == {"arms": ["recipe"], "images_per_phase": 32, "samples": 80}
    grown = json.loads((tmp_path / "pilot_progan-tricks_recipe_32.json").read_text())
    assert [m["resolution"] for m in grown["history"]] == [4, 8, 16, 32, "final"]
    assert grown["settings"]["images_per_phase"] == 32 and grown["history"][-1]["images_seen"] == 32 * 7
    assert grown["command"].startswith("python benchmarks/study_pilot.py progan-tricks")

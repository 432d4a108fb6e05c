"""What 06_Diffusion's ``summary.json`` must hold at smoke scale (tests/test_notebooks.py runs the notebook)."""

#: the keys it reports beyond the common ones
KEYS = {'dataset_size', 'ddim_speedup', 'ema_study', 'ema_verdict', 'ema_warmup', 'fd_floor_real_halves',
        'feature_space', 'final_loss', 'hand_steps_match', 'images_seen', 'params', 'pictures_from', 'resolutions',
        'samplers', 'saturated_pixels', 'schedule', 'shipped', 'shipped_samplers', 'shipped_targets',
        'stability_verdict', 'steps', 'toy', 'toy_floor'}


def _check_training(summary: dict) -> None:
    params = summary["params"]
    for row in summary["resolutions"]:  # each resolution trained for its seconds and was scored, collapse included
        assert row["steps"] >= 1 and row["images"] >= row["steps"], row
        assert row["seconds"] >= params["seconds"] or row["steps"] == params["steps"], row  # time or ceiling
        assert isinstance(row["fd"], float) and row["fd"] == row["fd"] and isinstance(row["collapsed"], bool), row
        assert row["evaluations"] and row["evaluations"][-1]["step"] == row["steps"], row
    assert summary["resolutions"][0]["image_size"] == params["image_size"]
    assert summary["steps"] == summary["resolutions"][0]["steps"] and summary["final_loss"] == summary["final_loss"]


def check(summary: dict) -> None:
    """The notebook's own checks of its smoke-scale summary."""
    _check_training(summary)
    assert summary["hand_steps_match"] is True  # the written-out losses and reverse steps equal the package's
    toy = summary["toy"]  # the two-dimensional models: both trained, each scored against the floor
    assert [row["model"] for row in toy] == ["ε-DDPM, cosine", "flow matching"], toy
    assert all(row["steps"] == summary["params"]["toy_steps"] and row["distance"] > 0 for row in toy), toy
    assert 0 < summary["toy_floor"] < min(row["distance"] for row in toy) + 1.0
    names = [row["sampler"] for row in summary["samplers"]]  # DDPM over the whole chain first, then each DDIM
    assert names[0] == f"DDPM-{summary['params']['T']}", names
    assert len(names) > 1 and all(n.startswith("DDIM-") for n in names[1:]), names
    for row in summary["samplers"]:  # every sampler scored, its diversity and collapse flag beside FD and time
        assert row["images"] == summary["params"]["metric_samples"] and row["images_per_second"] > 0
        assert isinstance(row["fd"], float) and row["fd"] == row["fd"], row
        assert isinstance(row["diversity_ratio"], float) and isinstance(row["collapsed"], bool), row
        assert isinstance(row["findings"], list) and row["fd_low"] <= row["fd_high"], row  # what the verdict rule reads
    assert summary["ddim_speedup"] > 1.5, "DDIM with a fraction of the steps must be clearly faster"
    assert all(0.0 <= v <= 1.0 for v in summary["saturated_pixels"].values())
    assert summary["saturated_pixels"]["real images"] > 0.3  # the white background: the reference for the others
    runs = [row["run"] for row in summary["ema_warmup"]]  # undertrained, raw, and both averages, after the same training
    assert runs[-3:] == [f"raw (step {summary['steps']})", "average with warm-up", "average without warm-up"], runs
    assert all(isinstance(row["fd"], float) for row in summary["ema_warmup"])
    verdict = summary["ema_verdict"]  # the share left of the untrained network, the comparisons, then one conclusion
    assert verdict[0].startswith(f"after {summary['steps']:,} steps")
    assert sum(line.startswith("→") for line in verdict) == 1, verdict
    assert any(line.startswith("→ inconclusive") for line in verdict), verdict  # a smoke run learns nothing
    study = summary["ema_study"]  # the recorded study: three seeds, each length judged on its own
    assert study["seeds"] >= 3 and [v["condition"] for v in study["verdicts"]] == [1000, 3000], study
    assert all(v["outcome"] in ("better", "no clear difference", "collapse", "inconclusive") for v in study["verdicts"])
    assert len(summary["resolutions"]) == 1 and summary["stability_verdict"].startswith("skipped at smoke scale")
    shipped = any(r["model"].startswith("shipped") for r in summary["shipped"])
    assert summary["pictures_from"] == ("shipped" if shipped else "live")  # a short run shows the shipped model
    if shipped:  # the shipped model's targets, read from its record, and its deterministic sampler against another
        assert summary["shipped_targets"] and all(isinstance(v, bool) for v in summary["shipped_targets"].values())
        assert len(summary["shipped_samplers"]) == 2 and all(isinstance(r["fd"], float)
                                                            for r in summary["shipped_samplers"])


def check_gpu_shapes(summary: dict) -> None:
    """The gpu row's shapes: the 32 px run and the 64 px one beside it, both trained and scored."""
    _check_training(summary)
    assert [row["image_size"] for row in summary["resolutions"]] == [32, 64]
    assert "64 px vs 32 px" in summary["stability_verdict"] or "no quality metrics" in summary["stability_verdict"]

"""What 00_GAN_Conceptos's ``summary.json`` must hold at smoke scale (tests/test_notebooks.py runs the notebook)."""

from notebook_runs import shipped_fits


#: the keys it reports beyond the common ones
RUNS = ("g1", "g2", "dragan")
KEYS = {'dataset', 'dataset_size', 'feature_space', 'hand_convolution_matches',
        'hand_step_matches', 'metric_samples', 'numeric_precision', 'params', 'shipped_fd', 'shipped_shown', 'study',
        *{f"{run}_{key}" for run in RUNS for key in ("steps", "images", "seconds", "d_loss", "min_d_loss", "g_loss",
                                                      "fd", "diversity_ratio", "collapsed")}}


def check(summary: dict) -> None:
    """The notebook's own checks of its smoke-scale summary."""
    assert summary["hand_convolution_matches"] is True
    assert summary["hand_step_matches"] is True  # the D and G steps written out == GANTrainer.train_step
    budget = summary["params"]["compare_seconds"]
    for run in RUNS:
        assert summary[f"{run}_steps"] >= 1
        assert summary[f"{run}_images"] == summary[f"{run}_steps"] * summary["params"]["batch_size"]
        assert summary[f"{run}_seconds"] >= budget  # each trained for (at least) the same time
        assert isinstance(summary[f"{run}_collapsed"], bool)
        assert summary[f"{run}_fd"] is not None  # 2,400+ real images: the quality metrics are on
    seconds = [summary[f"{run}_seconds"] for run in RUNS]
    assert max(seconds) - min(seconds) < max(2.0, 0.5 * budget)  # equal time, not equal steps
    assert summary["numeric_precision"] in ("bf16", "fp16", "fp32")  # finish_run's common key
    assert summary["shipped_shown"] == shipped_fits("dcgan", "DCGANGenerator", summary["params"]["image_size"])
    # the recorded study: three seeds per arm, a verdict for G 2× and for DRAGAN against G 1×
    assert summary["study"]["name"] == "gan-concepts" and summary["study"]["seeds"] >= 3
    assert [v["arm"] for v in summary["study"]["verdicts"]] == ["g2", "dragan"]
    assert all(v["outcome"] in ("better", "no clear difference", "collapse", "inconclusive")
               for v in summary["study"]["verdicts"])


def check_gpu_shapes(summary: dict) -> None:
    assert summary["params"]["image_size"] == 64
    assert summary["hand_step_matches"] is True
    assert summary["shipped_shown"] == shipped_fits("dcgan", "DCGANGenerator", 64)  # a 32 px shipped DCGAN is not shown at 64 px (it says why)

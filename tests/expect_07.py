"""What 07_Pokemon_DCGAN's ``summary.json`` must hold at smoke scale (tests/test_notebooks.py runs the notebook)."""

from notebook_runs import shipped_fits


#: the keys it reports beyond the common ones
KEYS = {'arch', 'best_fd', 'best_step', 'collapse', 'collapse_step', 'collapsed',
        'dataset', 'dataset_size', 'diversity_ratio', 'fd', 'fd_floor_real_halves', 'feature_space',
        'final_d_fake', 'final_d_loss', 'final_d_real', 'final_g_loss', 'hand_step_matches', 'healthy_share_d',
        'healthy_share_g', 'hires', 'settings_study', 'images_seen', 'kid', 'kid_std', 'metric_samples', 'normalisation',
        'params', 'precision', 'recall', 'sharpness_ratio', 'shipped_fd', 'shipped_shown', 'steps',
        'train_images', 'train_seconds', 'tricks', 'tutorial_runs'}


def _check_common(summary: dict) -> None:
    assert summary["hand_step_matches"] is True  # the D and G steps written out == GANTrainer.train_step
    assert summary["train_images"] == 3 * summary["dataset_size"]  # augmentation ×3
    assert summary["images_seen"] == summary["steps"] * summary["params"]["batch_size"]
    assert 0 <= summary["healthy_share_d"] <= 1 and 0 <= summary["healthy_share_g"] <= 1
    assert isinstance(summary["collapsed"], bool) and summary["collapse"]
    tricks = summary["tricks"]
    assert set(tricks) == {"plain", "label_smoothing", "instance_noise"}
    budget = min(row["seconds"] for row in tricks.values())
    for row in (*tricks.values(), summary["normalisation"]["sigmoid"]):
        assert row["steps"] >= 1 and isinstance(row["collapsed"], bool)
        assert abs(row["seconds"] - budget) < max(2.0, 0.5 * budget), tricks  # equal time, not equal steps
    assert summary["normalisation"]["tanh"] == tricks["plain"]
    runs = summary["tutorial_runs"]
    assert runs["lr_0028_100ep"]["images"] == 2 * runs["lr_00275_50ep"]["images"]  # 100 vs 50 epochs, same fraction
    assert runs["own_50ep"]["images"] == runs["lr_00275_50ep"]["images"]
    assert abs(runs["lr_00275_50ep"]["epochs"] - 50 * summary["params"]["epoch_scale"]) < 0.1
    assert summary["shipped_shown"] == shipped_fits("dcgan", "DCGANGenerator", summary["params"]["image_size"])
    assert summary["sharpness_ratio"] > 0
    study = summary["settings_study"]  # the recorded study of [0, 1] and the tutorial's learning rate, 3 seeds
    assert study["name"] == "sprite-dcgan-settings" and study["seeds"] >= 3
    assert [(v["condition"], v["arm"]) for v in study["verdicts"]] == [(k, a) for k in (1500, 3000)
                                                                       for a in ("unit_range", "tutorial_lr")]


def check(summary: dict) -> None:
    """The notebook's own checks of its smoke-scale summary."""
    _check_common(summary)
    assert summary["numeric_precision"] in ("bf16", "fp16", "fp32")  # finish_run's common key
    assert summary["params"]["image_size"] == 32 and summary["steps"] == 30
    assert summary["hires"] is None  # the 128 px section trains at gpu scale only
    assert summary["fd"] is not None and summary["fd_floor_real_halves"] is not None
    assert summary["fd"] > summary["fd_floor_real_halves"]


def check_gpu_shapes(summary: dict) -> None:
    """At the gpu scale's shapes: 64 px, and the 128 px section runs (a few steps)."""
    _check_common(summary)
    assert summary["params"]["image_size"] == 64
    assert summary["hires"] is not None and summary["hires"]["steps"] == 3
    assert "samples_hires.png" in summary["artifacts"]
    assert {"samples.png", "training.gif", "truncation.png", "losses.png"} <= set(summary["artifacts"])

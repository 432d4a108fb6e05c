"""What 02_DataAugmentator_Emboxer's ``summary.json`` must hold at smoke scale (tests/test_notebooks.py runs the notebook)."""

#: the keys it reports beyond the common ones
KEYS = {'augmented_written', 'canvas_size', 'canvases', 'crops_written', 'feature_space', 'held_out', 'iou50', 'iou75', 'mean_iou', 'metric_samples', 'payoff', 'target_size'}


def check(summary: dict) -> None:
    """The notebook's own checks of its smoke-scale summary."""
    if "mean_iou" in summary:  # 02: boxes scored, every held-out canvas cropped, the ×3 set written, both runs scored
        assert 0.0 <= summary["iou75"] <= summary["iou50"] <= 1.0 and 0.0 <= summary["mean_iou"] <= 1.0
        assert summary["crops_written"] == summary["held_out"]
        assert summary["augmented_written"] % 3 == 0 and summary["augmented_written"] > 0
        assert set(summary["payoff"]) == {"plain", "augmented ×3"}
        assert summary["payoff"]["augmented ×3"]["images"] == 3 * summary["payoff"]["plain"]["images"]
        assert all(isinstance(run["fd"], float) for run in summary["payoff"].values())

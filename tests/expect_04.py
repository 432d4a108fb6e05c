"""What 04_Optimized_Cocogoat's ``summary.json`` must hold at smoke scale (tests/test_notebooks.py runs the notebook)."""

#: the keys it reports beyond the common ones
KEYS = {'dataset_size', 'feature_space', 'image_size', 'metric_samples', 'options', 'runs', 'scales', 'seconds_per_run'}


def check(summary: dict) -> None:
    """The notebook's own checks of its smoke-scale summary."""
    if "runs" in summary:  # 04: every loss with one discriminator per scale, then the multi-scale one
        kinds = [(row["loss"], row["discriminator"]) for row in summary["runs"]]
        assert kinds == [("bce", "per-scale"), ("rasgan", "per-scale"), ("rahinge", "per-scale"),
                         ("rasgan", "multi-scale"), ("rasgan", "per-scale")], kinds
        tipped = summary["runs"][-1]["options"]
        assert tipped == {"residual": True, "batch_norm": False, "d_dropout": 0.2}, tipped
        assert summary["scales"] == [4, 8, 16, summary["image_size"]]
        for row in summary["runs"]:
            assert row["steps"] >= 1 and isinstance(row["fd"], float) and row["fd"] == row["fd"], row

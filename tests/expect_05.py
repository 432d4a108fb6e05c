"""What 05_Prototype_LSTM's ``summary.json`` must hold at smoke scale (tests/test_notebooks.py runs the notebook)."""

#: the keys it reports beyond the common ones
KEYS = {'comparison', 'dataset_size', 'feature_space', 'inpainting', 'metric_samples', 'seconds_per_model', 'sizes', 'verdict'}


def check(summary: dict) -> None:
    """The notebook's own checks of its smoke-scale summary."""
    for row in summary.get("comparison", []):  # 05: every generator trained and was scored
        assert row["steps"] >= 1 and row["samples_per_second"] > 0
        assert isinstance(row["fd"], float) and row["fd"] == row["fd"], row
    if "comparison" in summary:
        assert {row["model"] for row in summary["comparison"]} == {"dcgan", "lstm", "two-stage"}
        sizes = {row["model"]: row["parameters"] for row in summary["comparison"]}
        assert all(abs(n - sizes["lstm"]) < 0.05 * sizes["lstm"] for n in sizes.values()), sizes
        assert set(summary["inpainting"]) == {"lstm", "conv", "conv-small"}
        lstm, conv = summary["inpainting"]["lstm"], summary["inpainting"]["conv"]
        assert abs(lstm["parameters"] - conv["parameters"]) < 0.1 * lstm["parameters"], "equal-size inpainters"
        assert len(summary["verdict"]) == len(summary["sizes"]) * 2 + 1

"""What 03_Cocogoat_ProGAN's ``summary.json`` must hold at smoke scale (tests/test_notebooks.py runs the notebook)."""

#: the keys it reports beyond the common ones
KEYS = {'block_artifact', 'collapsed_levels', 'compared', 'dataset_size', 'feature_space', 'gp_lambda', 'image_size', 'levels', 'loss', 'max_level', 'metric_samples', 'pixel_norm', 'plan', 'verdicts'}


def check(summary: dict) -> None:
    """The notebook's own checks of its smoke-scale summary."""
    if "levels" in summary:  # 03: every level trained and scored, and the three runs saw the same images per level
        assert [row["resolution"] for row in summary["levels"]] == [4 * 2**k for k in range(summary["max_level"] + 1)]
        assert [row["level"] for row in summary["plan"]] == list(range(summary["max_level"] + 1))
        runs = {}
        for row in summary["compared"]:
            assert isinstance(row["fd"], float) and row["fd"] == row["fd"], row
            runs.setdefault(row["run"], []).append((row["resolution"], row["images"]))
        assert len(runs) == 3 and len({tuple(v) for v in runs.values()}) == 1, runs
        assert len(summary["verdicts"]) == 2
        assert set(summary["block_artifact"]) == {"real", *runs}

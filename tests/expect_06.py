"""What 06_Diffusion's ``summary.json`` must hold at smoke scale (tests/test_notebooks.py runs the notebook)."""

#: the keys it reports beyond the common ones
KEYS = {'T', 'dataset_size', 'ddim_speedup', 'fd_floor_real_halves', 'feature_space', 'final_loss', 'image_size', 'metric_samples', 'samplers', 'saturated_pixels', 'schedule', 'steps'}


def check(summary: dict) -> None:
    """The notebook's own checks of its smoke-scale summary."""
    if "samplers" in summary:  # 06: DDPM over the whole chain first, then each DDIM, all scored
        names = [row["sampler"] for row in summary["samplers"]]
        assert names[0] == f"DDPM-{summary['T']}" and all(n.startswith("DDIM-") for n in names[1:]), names
        for row in summary["samplers"]:
            assert row["images"] == summary["metric_samples"] and row["images_per_second"] > 0
            assert isinstance(row["fd"], float) and row["fd"] == row["fd"], row
        assert summary["ddim_speedup"] > 1.5, "DDIM with a tenth of the steps must be clearly faster"
        assert all(0.0 <= v <= 1.0 for v in summary["saturated_pixels"].values())

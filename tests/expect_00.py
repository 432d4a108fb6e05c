"""What 00_GAN_Conceptos's ``summary.json`` must hold at smoke scale (tests/test_notebooks.py runs the notebook)."""

#: the keys it reports beyond the common ones
KEYS = {'dataset_size', 'feature_space', 'g1_d_loss', 'g1_fd', 'g1_g_loss', 'g2_d_loss', 'g2_fd', 'g2_g_loss', 'hand_convolution_matches', 'image_size', 'metric_samples', 'steps'}


def check(summary: dict) -> None:
    """The notebook's own checks of its smoke-scale summary."""
    if "hand_convolution_matches" in summary:
        assert summary["hand_convolution_matches"] is True

"""What 07_Pokemon_DCGAN's ``summary.json`` must hold at smoke scale (tests/test_notebooks.py runs the notebook)."""

#: the keys it reports beyond the common ones
KEYS = {'best_fd', 'best_step', 'collapse_step', 'dataset_size', 'diversity_ratio', 'fd', 'fd_floor_real_halves', 'feature_space', 'final_d_fake', 'final_d_loss', 'final_d_real', 'final_g_loss', 'image_size', 'kid', 'kid_std', 'metric_samples', 'precision', 'recall', 'samples_png', 'steps', 'train_images', 'training_gif', 'truncation_png'}


def check(summary: dict) -> None:
    """The notebook's own checks of its smoke-scale summary."""
    pass

"""What 01_DataSelector's ``summary.json`` must hold at smoke scale (tests/test_notebooks.py runs the notebook)."""

#: the keys it reports beyond the common ones
KEYS = {'dropped', 'hand_labels', 'held_out', 'held_out_accuracy', 'images', 'kept', 'kept_precision', 'kept_precision_pseudo', 'labels_vs_accuracy', 'pseudo_label_accuracy', 'threshold', 'unlabelled'}


def check(summary: dict) -> None:
    """The notebook's own checks of its smoke-scale summary."""
    for key in ("held_out_accuracy", "pseudo_label_accuracy"):
        if key in summary:
            assert 0.0 <= summary[key] <= 1.0
    if "labels_vs_accuracy" in summary:
        assert summary["labels_vs_accuracy"], "no point on the labels-vs-accuracy curve"

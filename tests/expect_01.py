"""What 01_DataSelector's ``summary.json`` must hold at smoke scale (tests/test_notebooks.py runs the notebook)."""

from cocogoat_utils.study import judge, load_record

#: the keys it reports beyond the common ones
KEYS = {'classifier_steps', 'dropped', 'goal_met', 'hand_labels', 'held_out', 'held_out_accuracy', 'images', 'kept',
        'kept_precision', 'kept_precision_pseudo', 'labels_vs_accuracy', 'pretraining', 'pseudo_label_accuracy',
        'study', 'threshold', 'unlabelled', 'verdicts'}

METHODS = ("supervised", "entropy_self_training", "minent_fine_tuned", "minent_self_learned")


def _check_curve(summary: dict, budgets: list[int]) -> None:
    """Every method scored at every budget on the held-out set; the verdicts follow from the numbers."""
    curve = summary["labels_vs_accuracy"]
    assert [row["labels"] for row in curve] == budgets
    for row in curve:
        assert all(0.0 <= row[key] <= 1.0 for key in METHODS), row
        assert abs(row["self_learning_change"] - (row["minent_self_learned"] - row["minent_fine_tuned"])) < 1e-9
        assert 0 <= row["pseudo_right"] <= row["pseudo_labels"] <= summary["unlabelled"]
        assert row["collapse"], "the collapse column is empty"
    met = all(r["minent_self_learned"] >= r["supervised"] for r in curve) and all(
        r["minent_self_learned"] > r["supervised"] for r in curve if r["labels"] <= 100)
    assert summary["goal_met"] is met
    assert any(("is met" if met else "is not met") in v for v in summary["verdicts"])
    lowered = sum(r["self_learning_change"] < 0 for r in curve)
    assert any(f"lowered it at {lowered}" in v for v in summary["verdicts"])


def check(summary: dict) -> None:
    """The notebook's own checks of its smoke-scale summary."""
    for key in ("held_out_accuracy", "pseudo_label_accuracy", "kept_precision"):
        assert 0.0 <= summary[key] <= 1.0
    assert summary["classifier_steps"] >= 1
    pretraining = summary["pretraining"]
    assert pretraining["steps"] >= 1 and 1 <= pretraining["classes_used"] <= pretraining["clusters"]
    assert pretraining["collapsed"] == (pretraining["classes_used"] == 1)
    _check_curve(summary, [30, 60])
    _check_study(summary)


def _check_study(summary: dict) -> None:
    """The verdicts about MinEnt vs supervised come from the shipped record by the judge's rule."""
    record = load_record(summary["study"]["name"])
    assert summary["study"]["seeds"] == len(record["seeds_done"]) >= 5
    arms = {"minent_fine_tuned": "MinEnt fine-tuned", "minent": "MinEnt +self-learning"}
    for budget in record["conditions"]:
        for arm, name in arms.items():
            v = judge(record, arm, condition=budget)
            assert summary["study"]["verdicts"][f"{name} at {budget}"] == (v["winner"] or v["outcome"])


def check_gpu_shapes(summary: dict) -> None:
    """The gpu scale's 64 px images through every training, pretraining included."""
    assert summary["pretraining"]["steps"] >= 1
    _check_curve(summary, [30, 60])

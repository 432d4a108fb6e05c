"""What 02_DataAugmentator_Emboxer's ``summary.json`` must hold at smoke scale (tests/test_notebooks.py runs the notebook)."""

#: the keys it reports beyond the common ones
KEYS = {'augmented_written', 'canvases', 'crops_written', 'emboxer_steps', 'feature_space', 'held_out', 'iou50',
        'iou75', 'mean_iou', 'own_boxes', 'own_scores', 'params', 'payoff', 'payoff_verdict', 'study_verdicts',
        'diffaugment_verdicts'}
#: the run parameters the checks read from summary["params"]
PARAMS = {'canvas_size', 'emboxer_seconds', 'gan_seconds', 'metric_samples', 'target_size'}


def _check_payoff(summary: dict) -> None:
    """Both payoff runs trained for the same budget through train_for, scored, with their collapse status."""
    assert PARAMS <= summary["params"].keys()
    assert set(summary["payoff"]) == {"plain", "augmented ×3"}
    plain, augmented = summary["payoff"]["plain"], summary["payoff"]["augmented ×3"]
    assert augmented["dataset"] == 3 * plain["dataset"]
    for row in (plain, augmented):
        assert row["steps"] >= 1 and row["images"] == 64 * row["steps"]
        assert row["seconds"] >= summary["params"]["gan_seconds"] - 0.05, "a run stopped before its time budget"
        assert isinstance(row["fd"], float) and row["fd"] > 0
        assert isinstance(row["collapsed"], bool) and row["collapse"], "the collapse status is missing"
    verdict = summary["payoff_verdict"]  # the judge's rule: one outcome, and never a ranking of dead runs
    assert sum(o in verdict for o in ("did better (the intervals part", "no clear difference", "did not learn", "inconclusive")) == 1, verdict
    if plain["collapsed"]:
        assert "inconclusive" in verdict, verdict
    elif augmented["collapsed"]:
        assert "did not learn" in verdict, verdict


def _study(summary: dict) -> None:
    """The recorded emboxer-crops studies, without and with DiffAugment: their verdicts at each budget (two arms
    against the baseline) where they are recorded, none where not."""
    from cocogoat_utils.study import record_dirs

    for name, key in (("emboxer-crops", "study_verdicts"), ("emboxer-crops-diffaugment", "diffaugment_verdicts")):
        recorded = any((folder / f"{name}.json").is_file() for folder in record_dirs())
        lines = summary[key]
        assert len(lines) == (2 * 2 if recorded else 0), (name, lines)
        assert all(line.startswith("at ") and " steps: " in line and " vs " in line and "seeds" in line
                   for line in lines)


def check(summary: dict) -> None:
    """The notebook's own checks of its smoke-scale summary."""
    assert 0.0 <= summary["iou75"] <= summary["iou50"] <= 1.0 and 0.0 <= summary["mean_iou"] <= 1.0
    assert summary["crops_written"] == summary["held_out"]
    assert summary["augmented_written"] % 3 == 0 and summary["augmented_written"] > 0
    assert summary["emboxer_steps"] == 20 and summary["own_boxes"] == 0 and summary["own_scores"] is None
    _check_payoff(summary)
    _study(summary)


def check_gpu_shapes(summary: dict) -> None:
    """The gpu scale's shapes: 128 px canvases, 64 px crops and payoff DCGAN; everything still scored."""
    assert summary["params"]["canvas_size"] == 128 and summary["params"]["target_size"] == 64
    assert summary["crops_written"] == summary["held_out"] > 0
    _check_payoff(summary)

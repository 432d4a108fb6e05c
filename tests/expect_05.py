"""What 05_Prototype_LSTM's ``summary.json`` must hold at smoke scale (tests/test_notebooks.py runs the notebook)."""

#: the keys it reports beyond the common ones
KEYS = {'comparison', 'dataset_size', 'feature_space', 'inpainting', 'mean_colour_l1', 'params', 'shipped', 'verdict'}


def _check_comparison(summary: dict) -> None:
    rows, params = summary["comparison"], summary["params"]
    assert [(r["size"], r["model"]) for r in rows] == [(s, k) for s in params["sizes"] for k in params["kinds"]], rows
    assert params["kinds"][0] == "dcgan" and "lstm" in params["kinds"]  # the baseline first
    for row in rows:  # every generator trained for its budget and was scored, collapse included
        assert row["steps"] >= 1 and row["images"] >= row["steps"] and row["samples_per_second"] > 0, row
        if params["seconds_per_model"] is not None:
            assert row["seconds"] >= params["seconds_per_model"], row
        else:
            assert row["steps"] == params["steps_per_model"], row
        assert isinstance(row["fd"], float) and row["fd"] == row["fd"] and row["fd"] > 0, row
        assert isinstance(row["collapsed"], bool) and row["collapse"], row
        assert row["metric_samples"] == params["metric_samples"], row
    for size in params["sizes"]:  # equal parameters within 5 %
        counts = {r["model"]: r["parameters"] for r in rows if r["size"] == size}
        assert all(abs(n - counts["lstm"]) < 0.05 * counts["lstm"] for n in counts.values()), counts


def _check_inpainting(summary: dict) -> None:
    inpainting = summary["inpainting"]
    assert set(inpainting) == {"lstm", "attention", "conv"}
    lstm = inpainting["lstm"]["parameters"]
    for middle, row in inpainting.items():  # equal size (within 5 %) and equal time, each scored in the hole
        assert abs(row["parameters"] - lstm) < 0.05 * lstm, (middle, row)
        assert row["steps"] >= 1 and row["seconds"] >= summary["params"]["inpaint_seconds"], (middle, row)
        assert 0 < row["l1"] < 2 and row["psnr"] > 0, (middle, row)


def check(summary: dict) -> None:
    """The notebook's own checks of its smoke-scale summary."""
    _check_comparison(summary)
    _check_inpainting(summary)
    # per size: each other generator against the DCGAN; then recomposition live and recorded, the shipped pair, the
    # study, the overall line
    params = summary["params"]
    assert len(summary["verdict"]) == len(params["sizes"]) * (len(params["kinds"]) - 1) + 5, summary["verdict"]
    assert summary["verdict"][-4].startswith("Recomposition, the recorded study (3 seeds")
    assert summary["verdict"][-1].startswith("Overall:")
    assert summary["verdict"][-2].startswith("study, three seeds") and summary["pair_study"]["seeds"] >= 3
    assert summary["pair_study"]["outcome"] in ("better", "no clear difference", "collapse", "inconclusive")
    shipped = {r["model"] for r in summary["shipped"]}
    assert not shipped or shipped <= {"this run: lstm", "shipped lstm", "this run: dcgan", "shipped lstm-baseline"}
    if "shipped lstm" not in shipped:  # the models are not there yet: the notebook says so instead of a verdict
        assert summary["verdict"][-3].startswith("no verdict on the shipped pair")


def check_gpu_shapes(summary: dict) -> None:
    """The gpu row's shapes: both sizes trained and scored, the inpainters at the smallest size."""
    assert summary["params"]["sizes"] == [32, 64]
    _check_comparison(summary)
    _check_inpainting(summary)

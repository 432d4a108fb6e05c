"""What 03_Cocogoat_ProGAN's ``summary.json`` must hold at smoke scale (tests/test_notebooks.py runs the notebook)."""

#: the keys it reports beyond the common ones
KEYS = {'block_artifact', 'collapsed_levels', 'compared', 'dataset_size', 'fade_in_shows', 'feature_space', 'gp_lambda',
        'image_size', 'levels', 'loss', 'params', 'pixel_norm', 'plan', 'numeric_precision', 'resume_demo', 'shipped',
        'study', 'verdicts'}


def _levels(summary: dict) -> None:
    """Every level trained, timed and scored, in the order of the plan, with the plan's images."""
    params = summary["params"]
    sizes = [4 * 2**k for k in range(params["max_level"] + 1)]
    assert [row["resolution"] for row in summary["levels"]] == sizes
    assert [row["level"] for row in summary["plan"]] == list(range(params["max_level"] + 1))
    assert summary["image_size"] == sizes[-1]
    for row, plan in zip(summary["levels"], summary["plan"]):
        assert row["images"] == row["steps"] * plan["batch_size"] >= plan["fade_images"] + plan["stable_images"], row
        assert plan["stable_images"] >= params["images_per_phase"], plan
        assert isinstance(row["seconds"], float) and row["seconds"] > 0, row
        assert isinstance(row["fd"], float) and row["fd"] == row["fd"], row
    assert [p["fade_images"] for p in summary["plan"]] == [0] + [params["images_per_phase"]] * params["max_level"]


def _shipped(summary: dict) -> None:
    """The shipped model: scored beside the live run when it loaded, and the fade-in says which model it shows."""
    assert summary["fade_in_shows"] in ("shipped", "this run")
    if summary["shipped"]:
        assert [r["model"] for r in summary["shipped"]] == ["this run", "shipped progan"]
        assert all(isinstance(r["fd"], float) and isinstance(r["collapsed"], bool) for r in summary["shipped"])
        assert summary["fade_in_shows"] == "shipped"
    else:
        assert summary["fade_in_shows"] == "this run"


def check(summary: dict) -> None:
    """The notebook's own checks of its smoke-scale summary."""
    _levels(summary)
    runs = {}
    for row in summary["compared"]:  # three runs, each level scored, with the collapse flag, at the same images
        assert isinstance(row["fd"], float) and row["fd"] == row["fd"], row
        assert isinstance(row["collapsed"], bool), row
        runs.setdefault(row["run"], []).append((row["resolution"], row["images"]))
    assert len(runs) == 3 and len({tuple(v) for v in runs.values()}) == 1, runs
    assert len(summary["verdicts"]) == 2 and all(sum(o in v for o in ("did better (the intervals part", "no clear difference", "did not learn", "inconclusive")) == 1
                                                 for v in summary["verdicts"]), summary["verdicts"]
    assert set(summary["block_artifact"]) == {"real", *runs} and set(summary["collapsed_levels"]) == set(runs)
    # a kernel killed mid-fade resumes at its step and ends as the uninterrupted run does
    demo = summary["resume_demo"]
    assert demo["died_at"] == {"level": 1, "alpha": 0.375} and demo["resumed_step"] == 4 and demo["bit_identical"] is True
    _shipped(summary)
    # the recorded study: three seeds per arm, a verdict for each part against the recipe
    assert summary["study"]["name"] == "progan-tricks" and summary["study"]["seeds"] >= 3
    assert [v.split(" vs ")[0] for v in summary["study"]["verdicts"]] == ["no fade-in", "pixel norm", "no minibatch std"]


def check_gpu_shapes(summary: dict) -> None:
    """At the gpu row's shapes: five levels to 64×64, the gpu batch sizes, every level scored."""
    assert summary["params"]["max_level"] == 4 and summary["image_size"] == 64
    assert [p["batch_size"] for p in summary["plan"]] == [128, 128, 64, 64, 32]
    _levels(summary)
    _shipped(summary)

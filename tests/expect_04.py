"""What 04_Optimized_Cocogoat's ``summary.json`` must hold at smoke scale (tests/test_notebooks.py runs the notebook)."""

#: the keys it reports beyond the common ones
KEYS = {'chosen_loss', 'dataset_size', 'every_scale_shows', 'feature_space', 'healthy_bce', 'numeric_precision',
        'options', 'params', 'progressive_vs_multiscale', 'runs', 'scales', 'shipped', 'verdicts'}

TIPS = {"residual G": ("residual", True), "no BN in G": ("batch_norm", False), "dropout 0.2 in D": ("dropout", 0.2)}


def _number(value) -> bool:
    return isinstance(value, float) and value == value


def _runs(summary: dict) -> dict:
    """Every run scored with its collapse status; the equal-time ones trained for the budget, the batch ones on equal images."""
    runs = {row["run"]: row for row in summary["runs"]}
    chosen, budget = summary["chosen_loss"], summary["params"]["seconds_per_run"]
    timed = [f"{loss}, per-scale D" for loss in ("bce", "rasgan", "rahinge")] + \
            [f"{chosen}, {d} D" for d in ("multi-scale", "U-Net")] + [f"{chosen}, {tip}" for tip in TIPS]
    batches = [f"{chosen}, batch {b}" for b in (4, 8, 16)]
    assert list(runs) == timed + batches + [f"MSG-GAN ({chosen}, multi-scale D)"], list(runs)
    for row in summary["runs"]:
        assert row["steps"] >= 1 and row["images"] == row["steps"] * row["batch_size"] and _number(row["fd"]), row
        assert isinstance(row["collapsed"], bool) and row["collapse"].startswith(("collapsed", "no collapse")), row
    for name in timed:
        assert runs[name]["seconds"] >= budget, runs[name]
    return runs


def check(summary: dict) -> None:
    """The notebook's own checks of its smoke-scale summary."""
    assert summary["scales"] == [4, 8, 16, summary["params"]["image_size"]] and summary["chosen_loss"] == "rasgan"
    runs = _runs(summary)
    chosen = summary["chosen_loss"]
    base = runs[f"{chosen}, per-scale D"]
    options = ("loss", "discriminator", "residual", "batch_norm", "dropout", "batch_size")
    for tip, (option, value) in TIPS.items():  # each tip changes exactly one thing against the baseline
        row = runs[f"{chosen}, {tip}"]
        assert [o for o in options if row[o] != base[o]] == [option] and row[option] == value, (tip, row)
        assert tip in summary["verdicts"]["tips"] and "FD" in summary["verdicts"]["tips"][tip]
    assert [runs[f"{chosen}, {d} D"]["discriminator"] for d in ("per-scale", "multi-scale", "U-Net")] == \
        ["per-scale", "multi-scale", "U-Net"] and len(summary["verdicts"]["discriminators"]) == 3
    batch = [runs[f"{chosen}, batch {b}"] for b in (4, 8, 16)]  # equal images, steps = images / batch
    assert [r["steps"] for r in batch] == [summary["params"]["batch_images"] // b for b in (4, 8, 16)]
    assert {r["images"] for r in batch} == {summary["params"]["batch_images"]}
    assert "batch size" in summary["verdicts"]["batch"]
    healthy = summary["healthy_bce"]
    assert set(healthy) == {"d_loss", "g_loss"} and all(0 <= v <= 1 for v in healthy.values())
    _progressive(summary)
    assert summary["every_scale_shows"] == ("shipped" if summary["shipped"] else "this run")
    _studies(summary)


def _studies(summary: dict) -> None:
    """Each section's recorded study: its verdicts by the rule across seeds where it is recorded, none where not."""
    from cocogoat_utils.study import record_dirs

    recorded = {p.stem for folder in record_dirs() for p in folder.glob("*.json")}
    for key, name in (("losses_study", "msggan-losses"), ("discriminators_study", "msggan-discriminators"),
                      ("tips_study", "msggan-tips"), ("batch_study", "msggan-batch"),
                      ("progressive_study", "progressive-vs-multiscale")):
        lines = summary["verdicts"][key]
        assert bool(lines) == (name in recorded), (key, lines)
        assert all(" vs " in line and "seeds" in line for line in lines), lines


def _progressive(summary: dict) -> None:
    """ProGAN vs MSG-GAN: the same images, every resolution scored for both, verdicts from the numbers."""
    versus = summary["progressive_vs_multiscale"]
    assert versus["equal_compute"] == "images"
    sizes = [4 * 2**k for k in range(len(summary["scales"]))]
    rows = versus["per_resolution"]
    assert [(r["run"], r["resolution"]) for r in rows] == [(m, s) for s in sizes for m in ("ProGAN", "MSG-GAN")]
    assert all(_number(r["fd"]) and isinstance(r["collapsed"], bool) for r in rows)
    assert rows[-2]["images"] == rows[-1]["images"] == versus["images"]  # the same images seen at the end
    assert [r["images"] for r in rows[::2]] == sorted(r["images"] for r in rows[::2])  # ProGAN's count grows per level
    time = versus["time_to_fd"]  # only when both runs learned
    learned = [not r["collapsed"] for r in rows[-2:]]
    assert (time is not None) == all(learned), (time, learned)
    if time is not None:
        assert time["ProGAN"]["images"] <= versus["images"] and time["MSG-GAN"]["images"] <= versus["images"]
    assert len(versus["verdicts"]) == 3 and versus["verdicts"][0].startswith("ProGAN: FD")
    assert sum(o in versus["verdicts"][0] for o in ("did better (the intervals part", "no clear difference",
                                                   "did not learn", "inconclusive")) == 1, versus["verdicts"][0]


def check_gpu_shapes(summary: dict) -> None:
    """At the gpu row's 64 px: five scales, every run and both sides of section 6 trained and scored."""
    assert summary["params"]["image_size"] == 64 and summary["scales"] == [4, 8, 16, 32, 64]
    _runs(summary)
    _progressive(summary)

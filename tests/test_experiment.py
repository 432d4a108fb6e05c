"""cocogoat_utils.experiment (a notebook's run: set-up, quality metrics, summary) and what it imports from beside it:
comparison (equal-time rows, tables, the verdict line) and shipped_beside."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from cocogoat_utils import bundled, experiment  # noqa: E402
from cocogoat_utils import shipped_beside as shipped_beside_module  # noqa: E402
from cocogoat_utils.device_dataset import DeviceImageDataset  # noqa: E402
from cocogoat_utils.models.dcgan import DCGANDiscriminator, DCGANGenerator  # noqa: E402
from cocogoat_utils.train import GANTrainConfig, GANTrainer, QualityTracker  # noqa: E402

TABLE = {"smoke": dict(steps=3, width=8), "cpu": dict(steps=300, width=64), "gpu": dict(steps=None, width=256)}


def test_start_run_resolves_prints_and_makes_the_folder(tmp_path, capsys):
    notebook_globals = {"scale": "smoke", "steps": None, "width": 16, "precision": "fp32", "seed": 3, "torch": torch}
    run = experiment.start_run("99_Test", notebook_globals, table=TABLE, out_dir=tmp_path / "out")
    assert run.scale == "smoke" and run["steps"] == 3 and run["width"] == 16  # explicit values win
    assert run.params == {"steps": 3, "width": 16}  # only the table's keys are parameters
    assert run.out_dir == (tmp_path / "out").resolve() and run.out_dir.is_dir()
    assert run.precision == "fp32" and run.device.type == "cpu" and run.seed == 3
    printed = capsys.readouterr().out
    assert "scale=smoke" in printed and "precision=fp32" in printed and "outputs →" in printed
    assert torch.initial_seed() == 3
    assert experiment.start_run("99_Test", {}, table=TABLE, scale="cpu", out_dir=tmp_path)["steps"] == 300  # absent: table
    with pytest.raises(ValueError, match="expected one of"):
        experiment.start_run("99_Test", {"scale": "huge"}, table=TABLE, out_dir=tmp_path)


def test_every_notebook_reads_its_own_scale_table():
    from cocogoat_utils import scales

    notebooks = sorted(p.stem for p in (Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
    assert sorted(scales.TABLES) == notebooks
    for name in notebooks:
        table = scales.table(name)
        assert set(table) == {"smoke", "gpu-shapes", "cpu", "gpu"}, name
        assert set(table["cpu"]) == set(table["gpu"]) == set(table["smoke"]), name  # a key in one row is in all
        cells = json.loads((Path(__file__).parents[1] / "notebooks" / f"{name}.ipynb").read_text())["cells"]
        assert any(f'start_run("{name}", globals()' in "".join(c["source"]) for c in cells), name
    with pytest.raises(KeyError, match="no scale table"):
        scales.table("99_Test")


def test_run_lists_the_pictures_it_wrote_and_figure_saves_them(tmp_path):
    import matplotlib.pyplot as plt

    (tmp_path / "old.png").write_bytes(b"")
    import os
    os.utime(tmp_path / "old.png", (0, 0))  # written long before this run
    run = experiment.start_run("99_Test", {"scale": "smoke"}, table=TABLE, out_dir=tmp_path)
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    run.figure("curve.png", fig)
    (tmp_path / "notes.txt").write_text("not a picture")
    assert run.artifacts == ["curve.png"]
    assert experiment.finish_run(run, {})["artifacts"] == ["curve.png"]


def test_make_quality_says_why_it_is_off(capsys):
    few = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8)
    assert experiment.make_quality(few) is None
    assert "quality metrics are off" in capsys.readouterr().out
    enough = torch.randint(0, 256, (80, 3, 32, 32), dtype=torch.uint8)
    assert experiment.make_quality(enough).min_samples == 65


def _trainer(out_dir, real, tracker):
    torch.manual_seed(0)
    config = GANTrainConfig(steps=None, batch_size=8, log_every=1, sample_every=None, checkpoint_every=1, n_samples=4)
    return GANTrainer(DCGANGenerator(image_size=32, latent_dim=8, width=8), DCGANDiscriminator(image_size=32, width=8),
                      DeviceImageDataset(real), config=config, out_dir=out_dir, callbacks=[tracker], progress=False)


def test_train_for_gives_a_row_and_a_finished_run_is_loaded_not_retrained(tmp_path, capsys):
    real = torch.randint(0, 256, (80, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    quality = experiment.make_quality(real)
    tracker = QualityTracker(quality, samples=70)
    row = experiment.train_for("plain", _trainer(tmp_path, real, tracker), 0.5, tracker=tracker, extra_column=7)
    assert row["run"] == "plain" and row["steps"] >= 1 and row["images"] == row["steps"] * 8
    assert row["seconds"] >= 0.5 and row["extra_column"] == 7 and row["fd"] > 0 and row["collapse"]
    again = QualityTracker(quality, samples=70)
    same = experiment.train_for("plain", _trainer(tmp_path, real, again), 0.5, tracker=again)
    assert same["steps"] == row["steps"] and same["fd"] == row["fd"]  # the tracker's record came back too
    assert "finished before: loaded from its checkpoint" in capsys.readouterr().out


def test_print_table_and_verdict(capsys):
    rows = [{"run": "bce", "steps": 1200, "fd": 55.25, "collapsed": False},
            {"run": "rahinge", "steps": 1100, "fd": 41.0, "collapsed": True}]
    experiment.print_table(rows, ["run", "steps", "fd", "collapsed"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "steps", "fd", "collapsed"]
    assert lines[1].split() == ["bce", "1,200", "55.250", "no"] and lines[2].split()[-1] == "yes"
    text = experiment.verdict(rows[0], rows[1])  # a collapsed arm is not "better" whatever its FD
    assert text.endswith("bce ahead: rahinge did not learn (collapsed)")
    assert "inconclusive" in experiment.verdict(rows[1], rows[0])  # the baseline did not learn
    learned = {**rows[1], "collapsed": False, "fd_low": 39.0, "fd_high": 43.0}
    text = experiment.verdict({**rows[0], "fd_low": 52.0, "fd_high": 58.0}, learned)
    assert "rahinge did better (the intervals part; 26% apart)" in text and "[39.00–43.00]" in text
    assert "no clear difference" in experiment.verdict({**rows[0], "fd_low": 40.0, "fd_high": 58.0}, learned)
    assert "no FD" in experiment.verdict(rows[0], {"run": "x", "fd": None})


def test_finish_run_writes_the_summary_with_the_common_keys(tmp_path, capsys):
    run = experiment.start_run("99_Test", {"scale": "smoke"}, table=TABLE, out_dir=tmp_path)
    summary = experiment.finish_run(run, {"fd": 1.5, "artifacts": []})
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved == summary
    capsys.readouterr()
    assert experiment.finish_run(run, {"fd": 1.5, "artifacts": []}, echo=False)["fd"] == 1.5  # the lesson prints its table
    assert capsys.readouterr().out == "" and (tmp_path / "summary.json").is_file()
    assert {"notebook", "scale", "device", "numeric_precision", "seconds", "fd"} <= saved.keys()


def test_shipped_beside_says_what_is_missing_and_scores_both(tmp_path, monkeypatch, capsys):
    run = experiment.start_run("99_Test", {"scale": "smoke"}, table=TABLE, out_dir=tmp_path)
    real = torch.randint(0, 256, (80, 3, 32, 32), dtype=torch.uint8)
    quality = experiment.make_quality(real)  # before the bundle is hidden: the metrics' classifier is bundled too
    monkeypatch.setattr(bundled, "bundle_dirs", lambda: [tmp_path / "nothing"])
    shipped, rows = experiment.shipped_beside(run, "dcgan", None)
    assert shipped is None and rows == [] and "dcgan.pt is missing" in capsys.readouterr().out
    # a shipped model made the way pretrain exports one
    generator = DCGANGenerator(image_size=32, latent_dim=8, width=8, arch="sprite")
    record = {"name": "tiny", "model": "DCGANGenerator", "model_config": generator.config, "image_size": 32,
              "steps": 10, "images_seen": 80, "wall_minutes": 0.1, "hardware": "test", "precision": "fp32"}
    (tmp_path / "nothing").mkdir()
    torch.save({"version": 1, "record": record, "weights": {k: v.half() for k, v in generator.state_dict().items()
                                                             if v.is_floating_point()} |
                {k: v for k, v in generator.state_dict().items() if not v.is_floating_point()}},
               tmp_path / "nothing" / "tiny.pt")
    live = torch.randint(0, 256, (70, 3, 32, 32), dtype=torch.uint8)
    shipped, rows = experiment.shipped_beside(run, "tiny", live, quality=quality, samples=70, model="DCGANGenerator")
    assert shipped is not None and [r["model"] for r in rows] == ["this run", "shipped tiny"]
    assert all(r["fd"] > 0 for r in rows) and (tmp_path / "shipped_tiny.png").is_file()
    assert all(isinstance(r["collapsed"], bool) for r in rows) and "collapsed" in capsys.readouterr().out
    # the grid's title: a template over the record, or a function of it (a lesson writes its numbers its own way)
    titles = []
    monkeypatch.setattr(shipped_beside_module, "show_images", lambda images, ax, title: titles.append(title))
    experiment.shipped_beside(run, "tiny", live, quality=quality, samples=70, panel="{name}: {steps} steps")
    experiment.shipped_beside(run, "tiny", live, quality=quality, samples=70,
                              panel=lambda r: f"модель {r['name']}: {r['images_seen'] * 1000:,}".replace(",", " "))
    assert titles == ["this run", "tiny: 10 steps", "this run", "модель tiny: 80 000"]
    capsys.readouterr()
    shipped, rows = experiment.shipped_beside(run, "tiny", live, image_size=64, say="пропущено: {reason}")
    out = capsys.readouterr().out
    assert shipped is None and out.startswith("пропущено: ") and "trained at 32 px" in out
    # a function of the error words the line wholly in the lesson's language
    def russian(error):
        return {type(None): "выключено", FileNotFoundError: "файла нет"}.get(type(error), "другой размер")

    for kwargs, said in (({"image_size": 64}, "другой размер"), ({"pretrained": False}, "выключено")):
        assert experiment.shipped_beside(run, "tiny", live, say=russian, **kwargs) == (None, [])
        assert capsys.readouterr().out == said + "\n"
    assert experiment.shipped_beside(run, "absent", live, say=russian) == (None, [])
    assert capsys.readouterr().out == "файла нет\n"


def test_show_study_prints_a_record_per_condition_and_names_a_missing_one(tmp_path, monkeypatch, capsys):
    from cocogoat_utils import study

    rows = [{"seed": s, "arm": a, "steps": k, "fd": 10.0 + s + (20.0 if a == "crops" else 0.0), "fd_low": 9.0 + s,
             "fd_high": 11.0 + s, "recall": 0.4, "findings": [], "collapsed": False}
            for s in (0, 1, 2) for a in ("plain", "crops") for k in (1500, 3000)]
    record = {"name": "toy", "notebook": "00_test", "question": "?", "arms": {"plain": "", "crops": ""},
              "baseline": "plain", "metric": "fd", "metric_name": "FD (glyph space, 80 samples)",
              "higher_is_better": False, "condition": "steps", "conditions": [1500, 3000], "runs": rows, "budget": "",
              "seeds_done": [0, 1, 2], "wall_minutes": 1.0, "hardware": "cpu", "precision": "fp32", "torch": "x",
              "command": "python -m cocogoat_utils.study toy"}
    record["spread"], record["verdicts"] = study.spread(record), study.verdicts(record)
    study.write_record(record, tmp_path / "records")
    monkeypatch.setattr(study, "record_dirs", lambda: [tmp_path / "records"])
    run = experiment.start_run("99_Test", {"scale": "smoke"}, table=TABLE, out_dir=tmp_path / "run")
    capsys.readouterr()
    lines = experiment.show_study(run, "toy", {"plain": "the small set", "crops": "with crops"})
    shown = capsys.readouterr().out
    assert "3 seeds per arm" in shown and "reproduce: python -m cocogoat_utils.study toy" in shown
    assert "mean FD" in shown and "seed 2, with crops, 3,000 steps: FD 32.0 [11.0–13.0], recall 0.40" in shown
    assert lines == [f"at {k:,} steps: with crops vs the small set: the small set ahead (the seeds' ranges part: "
                     f"the small set 10.0–12.0, with crops 30.0–32.0 over 3 seeds)" for k in (1500, 3000)]
    assert (tmp_path / "run" / "study_toy.png").stat().st_size > 0
    # a study at equal time: the arms' steps differ, and are a column; a lesson's detail ends each seed's line
    timed = {**record, "name": "timed", "condition": None, "conditions": [], "metric": "l1",
             "metric_name": "L1 in the hole on held-out images (lower is better)",
             "runs": [{**r, "l1": r["fd"] / 100, "l1_low": None, "l1_high": None,
                       "steps": 100 + 50 * (r["arm"] == "crops")}
                      for r in rows if r["steps"] == 1500]}
    timed["spread"], timed["verdicts"] = study.spread(timed), study.verdicts(timed)
    study.write_record(timed, tmp_path / "records")
    experiment.show_study(run, "timed", digits=3, detail=lambda r: f"{r['steps']} steps")
    shown = capsys.readouterr().out
    assert "mean L1 " in shown and " steps " in shown.splitlines()[2] and "  seed 0, crops: L1 0.300, recall 0.40; findings: none (150 steps)" in shown
    monkeypatch.setattr(study, "record_dirs", lambda: [tmp_path / "nowhere"])
    assert experiment.show_study(run, "emboxer-crops") == []
    assert "emboxer-crops: not recorded yet — `python -m cocogoat_utils.study emboxer-crops` records it" \
        in capsys.readouterr().out

"""Resume that loses nothing: a run killed with SIGKILL and resumed ends bit-identical to the run uninterrupted;
a changed configuration is refused by name; a damaged newest checkpoint is skipped; a failed write keeps the last."""

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch

from cocogoat_utils.checkpoint import CheckpointMismatch, list_checkpoints, save_checkpoint
from cocogoat_utils.device_dataset import DeviceImageDataset
from cocogoat_utils.models.dcgan import DCGANDiscriminator, DCGANGenerator
from cocogoat_utils.train import ConfigMismatch, GANTrainConfig, GANTrainer

WORKER = Path(__file__).parent / "resume_worker.py"


def _worker(kind, out, *extra):
    return [sys.executable, str(WORKER), kind, str(out), *map(str, extra)]


def _same(a, b, where="") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), f"{where} differs by {(a.float() - b.float()).abs().max().item():.3g}"
    else:
        assert a == b, where


@pytest.mark.parametrize("kind, pause, level, saved", [("gan", 6, None, 4),            # checkpoints every 4 steps
                                                        ("diffusion", 7, None, 4),
                                                        ("progressive", 4, 2, 3)])     # mid-fade in level 2
def test_a_run_killed_between_checkpoints_resumes_bit_identical(tmp_path, kind, pause, level, saved):
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    whole.mkdir(), broken.mkdir()
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(_worker(kind, whole), check=True, env=env, timeout=300)
    extra = ["--pause-at", pause] + (["--pause-level", level] if level is not None else [])
    child = subprocess.Popen(_worker(kind, broken, *extra), env=env)
    deadline = time.time() + 300
    while not (broken / "paused").exists():
        assert child.poll() is None, "the worker ended before reaching the pause"
        assert time.time() < deadline, "the worker did not reach the pause"
        time.sleep(0.2)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert not (broken / "final.pt").exists()
    folder = broken / "run" / (f"level_{level}_{4 * 2 ** level}px" if level is not None else "")
    assert int(list_checkpoints(folder)[-1].stem.split("_")[1]) == saved  # the kill came after this checkpoint
    subprocess.run(_worker(kind, broken), check=True, env=env, timeout=300)
    _same(torch.load(whole / "final.pt", weights_only=True), torch.load(broken / "final.pt", weights_only=True))


SIZE = 32


def _trainer(out, **overrides):
    torch.manual_seed(0)
    g = DCGANGenerator(image_size=SIZE, latent_dim=8, width=8)
    d = DCGANDiscriminator(image_size=SIZE, width=8)
    data = DeviceImageDataset(torch.randint(0, 256, (32, 3, SIZE, SIZE), dtype=torch.uint8))
    config = GANTrainConfig(**{**dict(steps=4, batch_size=4, log_every=2, sample_every=None, checkpoint_every=2,
                                      n_samples=2), **overrides})
    return GANTrainer(g, d, data, config=config, out_dir=out, progress=False)


def test_a_changed_configuration_is_refused_naming_every_difference(tmp_path):
    _trainer(tmp_path).fit()
    changed = _trainer(tmp_path, steps=8, lr_g=1e-3, loss="rahinge")
    with pytest.raises(ConfigMismatch) as info:
        changed.fit()
    message = str(info.value)
    assert "lr_g 0.0002 → 0.001" in message and "loss bce → rahinge" in message
    assert "steps" not in message.split("(")[1]  # a longer run of the same configuration is a resume, not a change
    assert "resume=False" in message and "out_dir" in message
    assert changed.step == 0
    longer = _trainer(tmp_path, steps=8, log_every=1)  # steps and logging may change
    longer.fit()
    assert longer.resumed_step == 4 and longer.step == 8
    fresh = _trainer(tmp_path, lr_g=1e-3)
    fresh.fit(resume=False)
    assert fresh.resumed_step is None and fresh.step == 4


def _damage(path: Path, how: str) -> None:
    if how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "not a checkpoint":
        torch.save({"weights": torch.zeros(3)}, path)
    elif how == "another model's":
        other = DCGANGenerator(image_size=SIZE, latent_dim=8, width=16)
        save_checkpoint(path.parent, step=int(path.stem.split("_")[1]), models={"generator": other})


@pytest.mark.parametrize("how", ["truncated", "empty", "not a checkpoint", "another model's"])
def test_a_damaged_newest_checkpoint_is_skipped_with_one_warning(tmp_path, how):
    _trainer(tmp_path).fit()  # checkpoints at steps 2 and 4
    newest = list_checkpoints(tmp_path)[-1]
    _damage(newest, how)
    resumed = _trainer(tmp_path, steps=6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert resumed.resume()
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and newest.name in messages[0] and "step_00000002.pt" in messages[0]
    assert resumed.step == 2


def test_no_usable_checkpoint_refuses_instead_of_starting_over(tmp_path):
    _trainer(tmp_path).fit()
    for path in list_checkpoints(tmp_path):
        path.write_bytes(b"")
    with pytest.raises(CheckpointMismatch, match="no checkpoint .* can be resumed.*resume=False"):
        _trainer(tmp_path).resume()


def test_a_failed_write_says_so_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    trainer = _trainer(tmp_path, steps=2)
    trainer.fit()
    before = list_checkpoints(tmp_path)
    kept = before[-1].read_bytes()
    import cocogoat_utils.checkpoint as checkpoint

    def full_disk(obj, handle, *args, **kwargs):
        handle.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    trainer.step = 3
    with pytest.raises(OSError, match=r"could not write checkpoint .*step_00000003\.pt \(No space left on device\); "
                                      r"the previous checkpoint .*step_00000002\.pt is intact"):
        trainer.save()
    assert list_checkpoints(tmp_path) == before and before[-1].read_bytes() == kept
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary file left


def test_time_spent_counts_against_the_budget_after_a_resume(tmp_path):
    first = _trainer(tmp_path, steps=None, checkpoint_every=1)
    first.fit(seconds=0.0)  # one step, then the budget is spent
    spent = first.elapsed
    assert first.step == 1 and spent > 0
    info = json.loads((tmp_path / "config.json").read_text())
    assert info["train"]["steps"] is None
    again = _trainer(tmp_path, steps=None, checkpoint_every=1)
    again.fit(seconds=spent)  # the same budget: already spent, nothing more to train
    assert again.step == 1 and again.resumed_step == 1
    more = _trainer(tmp_path, steps=3, checkpoint_every=1)
    more.fit(seconds=spent + 600)  # a larger budget: it goes on where it stopped
    assert more.step == 3 and more.elapsed > spent

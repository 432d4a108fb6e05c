"""cocogoat_utils.checkpoint: atomic save, round trips, pruning, mismatch detection."""

import pytest
import torch
from torch import nn

from cocogoat_utils.checkpoint import (
    CheckpointMismatch,
    atomic_save,
    cached,
    checkpoint_dir,
    content_digest,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    model_signature,
    save_checkpoint,
)
from cocogoat_utils.models.dcgan import DCGANDiscriminator, DCGANGenerator


def _gen(size=32, arch="tutorial", seed=0):
    torch.manual_seed(seed)
    return DCGANGenerator(image_size=size, latent_dim=8, width=8 if arch == "tutorial" else 16, arch=arch)


def _snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _train_a_little(model, optimizer, steps=2):
    for _ in range(steps):
        optimizer.zero_grad()
        model(torch.randn(4, model.latent_dim)).square().mean().backward()
        optimizer.step()


def test_atomic_save_leaves_no_temp_files(tmp_path):
    target = tmp_path / "sub" / "thing.pt"
    path = atomic_save({"a": torch.arange(3)}, target)
    assert path == target
    assert sorted(p.name for p in target.parent.iterdir()) == ["thing.pt"]
    assert torch.equal(torch.load(target, weights_only=True)["a"], torch.arange(3))
    atomic_save({"a": torch.arange(4)}, target)  # overwrite in place
    assert sorted(p.name for p in target.parent.iterdir()) == ["thing.pt"]
    assert torch.equal(torch.load(target, weights_only=True)["a"], torch.arange(4))


def test_content_digest_sees_every_byte_dtype_and_shape():
    x = torch.arange(12, dtype=torch.uint8).reshape(3, 4)
    assert content_digest(x, 3) == content_digest(x.clone(), 3)
    changed = x.clone()
    changed[2, 3] += 1
    others = [changed, x.reshape(4, 3), x.to(torch.int16), x.t()]
    assert len({content_digest(x, 3), content_digest(x, 4), *(content_digest(o, 3) for o in others)}) == 6
    model = _gen()
    state = _snapshot(model)
    assert content_digest(model.state_dict()) == content_digest(state)  # 0-d buffers (BN's counters) included
    with torch.no_grad():
        next(model.parameters())[0].add_(1e-3)
    assert content_digest(model.state_dict()) != content_digest(state)


def test_cached_computes_once_per_key_and_recovers_from_a_damaged_file(tmp_path):
    path, calls = tmp_path / "cache" / "value.pt", []

    def compute(value):
        def run():
            calls.append(value)
            return {"x": torch.full((3,), float(value))}
        return run

    assert torch.equal(cached(path, "a", compute(1))["x"], torch.ones(3))
    assert torch.equal(cached(path, "a", compute(2))["x"], torch.ones(3)) and calls == [1]  # read back
    assert torch.equal(cached(path, "b", compute(2))["x"], torch.full((3,), 2.0)) and calls == [1, 2]  # another key
    path.write_bytes(b"not a torch file")
    assert torch.equal(cached(path, "b", compute(3))["x"], torch.full((3,), 3.0)) and calls == [1, 2, 3]
    assert torch.equal(cached(path, "b", compute(4))["x"], torch.full((3,), 3.0)) and calls == [1, 2, 3]
    assert [p.name for p in path.parent.iterdir()] == ["value.pt"]  # no temporary files left


def test_atomic_save_failure_keeps_old_file_and_cleans_up(tmp_path):
    target = tmp_path / "thing.pt"
    atomic_save({"a": 1}, target)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot pickle me")

    with pytest.raises(RuntimeError, match="cannot pickle"):
        atomic_save({"a": Unpicklable()}, target)
    assert [p.name for p in tmp_path.iterdir()] == ["thing.pt"]
    assert torch.load(target, weights_only=True) == {"a": 1}


def test_round_trip_restores_weights_optimizer_and_step(tmp_path):
    g = _gen(seed=0)
    opt = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.5, 0.999))
    _train_a_little(g, opt)
    weights = _snapshot(g)
    path = save_checkpoint(tmp_path, step=7, models={"generator": g}, optimizers={"generator": opt},
                           config={"lr": 1e-3}, history={"d_loss": [1.0, 0.5]})
    assert path.name == "step_00000007.pt"

    g2 = _gen(seed=1)
    assert not _same(_snapshot(g2), weights)
    opt2 = torch.optim.Adam(g2.parameters(), lr=0.5)
    state = load_checkpoint(path, models={"generator": g2}, optimizers={"generator": opt2})
    assert state["step"] == 7
    assert state["config"] == {"lr": 1e-3}
    assert state["history"] == {"d_loss": [1.0, 0.5]}
    assert _same(_snapshot(g2), weights)
    assert opt2.param_groups[0]["lr"] == 1e-3
    assert opt2.param_groups[0]["betas"] == (0.5, 0.999)
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert s1.keys() == s2.keys() and len(s1) > 0
    for k in s1:
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(s1[k][name], s2[k][name])


def test_round_trip_with_ema(tmp_path):
    g = _gen(seed=0)
    ema = torch.optim.swa_utils.AveragedModel(g)
    ema.update_parameters(g)
    path = save_checkpoint(tmp_path, step=1, models={"generator": g}, ema=ema)
    g2 = _gen(seed=3)
    ema2 = torch.optim.swa_utils.AveragedModel(g2)
    load_checkpoint(path, models={"generator": g2}, ema=ema2)
    assert _same(ema2.state_dict(), ema.state_dict())


def test_keep_prunes_older_checkpoints(tmp_path):
    g = _gen()
    for step in (1, 2, 3, 10):
        save_checkpoint(tmp_path, step=step, models={"generator": g}, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_00000003.pt", "step_00000010.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step_00000003.pt", "step_00000010.pt"]


def test_keep_zero_keeps_all(tmp_path):
    g = _gen()
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step=step, models={"generator": g}, keep=0)
    assert len(list_checkpoints(tmp_path)) == 3


def test_latest_checkpoint_by_step_number(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    assert latest_checkpoint(tmp_path / "missing") is None
    g = _gen()
    for step in (100, 9, 20):  # written out of order; 100 > 20 > 9 numerically
        save_checkpoint(tmp_path, step=step, models={"generator": g}, keep=0)
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    assert latest_checkpoint(tmp_path).name == "step_00000100.pt"
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_00000009.pt", "step_00000020.pt", "step_00000100.pt"]


@pytest.mark.parametrize("other", [dict(size=64), dict(arch="sprite")])
def test_mismatch_names_both_and_changes_nothing(tmp_path, other):
    source = _gen(size=32, arch="tutorial", seed=0)
    path = save_checkpoint(tmp_path, step=1, models={"generator": source})
    target = _gen(seed=5, **{"size": 32, "arch": "tutorial", **other})
    before = _snapshot(target)
    with pytest.raises(CheckpointMismatch) as info:
        load_checkpoint(path, models={"generator": target})
    message = str(info.value)
    assert model_signature(source) in message
    assert model_signature(target) in message
    assert model_signature(source) != model_signature(target)
    assert _same(_snapshot(target), before)


def test_mismatch_in_second_model_loads_nothing(tmp_path):
    g, d = _gen(seed=0), DCGANDiscriminator(image_size=32, width=8)
    path = save_checkpoint(tmp_path, step=1, models={"generator": g, "discriminator": d})
    g2 = _gen(seed=9)
    d2 = DCGANDiscriminator(image_size=64, width=8)
    before = _snapshot(g2)
    with pytest.raises(CheckpointMismatch):
        load_checkpoint(path, models={"generator": g2, "discriminator": d2})
    assert _same(_snapshot(g2), before)


def test_missing_model_name(tmp_path):
    path = save_checkpoint(tmp_path, step=1, models={"generator": _gen()})
    with pytest.raises(CheckpointMismatch, match="critic"):
        load_checkpoint(path, models={"critic": _gen()})


def test_garbage_file_is_an_error_not_a_half_load(tmp_path):
    target = _gen(seed=2)
    before = _snapshot(target)
    garbage = tmp_path / "step_00000005.pt"
    garbage.write_bytes(b"\x00\x01 this is not a checkpoint " * 50)
    with pytest.raises(Exception):
        load_checkpoint(garbage, models={"generator": target})
    assert _same(_snapshot(target), before)
    # a real checkpoint cut short, as a killed copy would leave it
    good = save_checkpoint(tmp_path / "good", step=3, models={"generator": _gen(seed=4)})
    data = good.read_bytes()
    cut = tmp_path / "step_00000006.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(Exception):
        load_checkpoint(cut, models={"generator": target})
    assert _same(_snapshot(target), before)
    # a valid torch file that is not a cocogoat checkpoint
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(CheckpointMismatch, match="not a cocogoat checkpoint"):
        load_checkpoint(other, models={"generator": target})
    assert _same(_snapshot(target), before)


def test_checkpoint_dir_name(tmp_path):
    path = checkpoint_dir(tmp_path, dataset="openmoji animals", batch_size=128, image_size=64, model="dcgan")
    assert path.parent == tmp_path
    assert "openmoji" in path.name and "animals" in path.name
    assert "b128" in path.name and "64px" in path.name and "dcgan" in path.name
    assert "/" not in path.name and " " not in path.name
    plain = checkpoint_dir(tmp_path, dataset="/home/me/pics", batch_size=8, image_size=32)
    assert plain.parent == tmp_path
    assert plain.name.endswith("_b8_32px")
    assert "pics" in plain.name


def test_model_signature():
    g = _gen(size=32)
    sig = model_signature(g)
    assert sig.startswith("DCGANGenerator(")
    assert "image_size=32" in sig and "arch='tutorial'" in sig
    assert model_signature(nn.Linear(2, 2)) == "Linear"

"""Training across processes with torchrun and DistributedDataParallel: two gloo processes on the CPU."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).parent / "ddp_worker.py"
TIMEOUT = 240  # a hang fails the test instead of the suite


def _run(task, out, *extra, processes=2, check=True):
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    if processes == 1:
        command = [sys.executable, str(WORKER), task, str(out), *map(str, extra)]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
                   str(WORKER), task, str(out), *map(str, extra)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    if check and done.returncode != 0:
        raise AssertionError(f"{task} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def _load(out, rank):
    return torch.load(out / f"rank{rank}.pt", weights_only=True)


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a if torch.is_tensor(a[k]))


def _params(state: dict) -> dict:
    return {k: v for k, v in state.items() if "running" not in k and "num_batches" not in k}


def test_ranks_hold_the_same_weights_and_each_draws_its_own_data(tmp_path):
    _run("dcgan", tmp_path / "sharded", "--no-resume")
    _run("dcgan", tmp_path / "same", "--no-resume", "--same-data")
    a, b = _load(tmp_path / "sharded", 0), _load(tmp_path / "sharded", 1)
    assert a["world_size"] == 2 and a["step"] == b["step"] == 6
    assert a["images_seen"] == 6 * 4 * 2  # the global batch is batch × processes
    for key in ("generator", "discriminator", "ema"):
        assert _equal(_params(a[key]), _params(b[key])), f"{key} differs between the ranks"
    same = _load(tmp_path / "same", 0)
    assert not _equal(_params(a["generator"]), _params(same["generator"])), \
        "the ranks trained as if they had drawn the same data"
    assert (tmp_path / "sharded" / "run" / "step_00000006.pt").is_file()


def test_checkpoints_move_between_two_processes_and_one(tmp_path):
    two = tmp_path / "two"
    _run("dcgan", two, "--steps", 4, "--no-resume")
    _run("dcgan", two, "--steps", 8, processes=1)  # a 2-process checkpoint, continued in one process
    alone = _load(two, 0)
    assert alone["world_size"] == 1 and alone["resumed_step"] == 4 and alone["step"] == 8
    assert alone["history"]["step"] == list(range(1, 9))
    one = tmp_path / "one"
    _run("dcgan", one, "--steps", 4, "--no-resume", processes=1)
    _run("dcgan", one, "--steps", 8)  # a 1-process checkpoint, continued in two
    a, b = _load(one, 0), _load(one, 1)
    assert a["resumed_step"] == b["resumed_step"] == 4 and a["step"] == b["step"] == 8
    assert _equal(_params(a["generator"]), _params(b["generator"]))


def test_a_time_budget_stops_every_rank_at_the_same_step(tmp_path):
    _run("budget", tmp_path, "--steps", 10**6)
    a, b = _load(tmp_path, 0), _load(tmp_path, 1)
    assert a["step"] == b["step"] and 2 <= a["step"] < 10**6
    assert a["step"] % 2 == 0  # the ranks agree at log steps (log_every=2)


def test_a_rank_that_raises_stops_the_job_with_its_error(tmp_path):
    done = _run("raise", tmp_path, "--steps", 50, "--no-resume", check=False)
    assert done.returncode != 0
    assert "rank 1 failed on purpose at step 3" in done.stdout + done.stderr
    assert not (tmp_path / "rank0.pt").exists() and not (tmp_path / "rank1.pt").exists()


@pytest.mark.parametrize("task", ["progan", "msggan"])
def test_penalties_train_under_ddp_with_equal_gradients(tmp_path, task):
    _run(task, tmp_path)
    a, b = _load(tmp_path, 0), _load(tmp_path, 1)
    assert a["checked"] == b["checked"] >= 3  # steps whose gradients and weights were compared across ranks


def test_the_selector_classifier_trains_data_parallel(tmp_path):
    _run("selector", tmp_path / "two")
    a, b = _load(tmp_path / "two", 0), _load(tmp_path / "two", 1)
    assert a["history"]["steps"] == b["history"]["steps"] == 3 * 8
    assert _equal(_params(a["model"]), _params(b["model"])), "the ranks' classifiers differ"
    assert a["history"]["train_loss"] != b["history"]["train_loss"], "the ranks trained on the same batches"
    _run("selector", tmp_path / "one", processes=1)
    assert not _equal(_params(a["model"]), _params(_load(tmp_path / "one", 0)["model"]))  # twice the data per step
    _run("selector", tmp_path / "budget", "--seconds", 1.0)  # rank 1 is slower; rank 0's clock stops both
    a, b = _load(tmp_path / "budget", 0), _load(tmp_path / "budget", 1)
    assert a["history"]["steps"] == b["history"]["steps"] and a["history"]["epoch"] == b["history"]["epoch"]
    assert 8 <= a["history"]["steps"] < 10**6 * 8
    assert _equal(_params(a["model"]), _params(b["model"]))

"""Training across processes with torchrun and DistributedDataParallel: two gloo processes on the CPU."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).parent / "ddp_worker.py"
TIMEOUT = 300  # a hang fails the test instead of the suite

pytestmark = pytest.mark.xdist_group("ddp")  # one worker runs the module, so its launches run once


def _run(*jobs, processes=2, check=True):
    """The jobs (each ``(task, out, *options)``) one after the other in one launch of ``processes`` processes."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    words = [str(w) for i, job in enumerate(jobs) for w in ((["+"] if i else []) + list(job))]
    if processes == 1:
        command = [sys.executable, str(WORKER), *words]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
                   str(WORKER), *words]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    if check and done.returncode != 0:
        raise AssertionError(f"{words} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Every job of the module in three launches (torch starts in each process once per launch, not once per job):
    the two-process jobs, then the one-process ones (one of them continues a two-process checkpoint and one writes
    a checkpoint for two processes to continue), then that continuation."""
    root = tmp_path_factory.mktemp("ddp")
    _run(("dcgan", root / "sharded", "--no-resume"), ("dcgan", root / "same", "--no-resume", "--same-data"),
         ("dcgan", root / "two", "--steps", 4, "--no-resume"), ("budget", root / "budget", "--steps", 10**6),
         ("progan", root / "progan"), ("msggan", root / "msggan"), ("selector", root / "selector_two"),
         ("selector", root / "selector_budget", "--seconds", 1.0))  # rank 1 is slower; rank 0's clock stops both
    _run(("dcgan", root / "two", "--steps", 8),  # a 2-process checkpoint, continued in one process
         ("dcgan", root / "one", "--steps", 4, "--no-resume"), ("selector", root / "selector_one"), processes=1)
    _run(("dcgan", root / "one", "--steps", 8))  # a 1-process checkpoint, continued in two
    return root


def _load(out, rank):
    return torch.load(out / f"rank{rank}.pt", weights_only=True)


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a if torch.is_tensor(a[k]))


def _params(state: dict) -> dict:
    return {k: v for k, v in state.items() if "running" not in k and "num_batches" not in k}


def test_ranks_hold_the_same_weights_and_each_draws_its_own_data(runs):
    a, b = _load(runs / "sharded", 0), _load(runs / "sharded", 1)
    assert a["world_size"] == 2 and a["step"] == b["step"] == 6
    assert a["images_seen"] == 6 * 4 * 2  # the global batch is batch × processes
    for key in ("generator", "discriminator", "ema"):
        assert _equal(_params(a[key]), _params(b[key])), f"{key} differs between the ranks"
    same = _load(runs / "same", 0)
    assert not _equal(_params(a["generator"]), _params(same["generator"])), \
        "the ranks trained as if they had drawn the same data"
    assert (runs / "sharded" / "run" / "step_00000006.pt").is_file()


def test_checkpoints_move_between_two_processes_and_one(runs):
    alone = _load(runs / "two", 0)  # trained 4 steps in two processes, continued to 8 in one
    assert alone["world_size"] == 1 and alone["resumed_step"] == 4 and alone["step"] == 8
    assert alone["history"]["step"] == list(range(1, 9))
    a, b = _load(runs / "one", 0), _load(runs / "one", 1)  # trained 4 steps in one process, continued in two
    assert a["resumed_step"] == b["resumed_step"] == 4 and a["step"] == b["step"] == 8
    assert _equal(_params(a["generator"]), _params(b["generator"]))


def test_a_time_budget_stops_every_rank_at_the_same_step(runs):
    a, b = _load(runs / "budget", 0), _load(runs / "budget", 1)
    assert a["step"] == b["step"] and 2 <= a["step"] < 10**6
    assert a["step"] % 2 == 0  # the ranks agree at log steps (log_every=2)


def test_a_rank_that_raises_stops_the_job_with_its_error(tmp_path):
    done = _run(("raise", tmp_path, "--steps", 50, "--no-resume"), check=False)
    assert done.returncode != 0
    assert "rank 1 failed on purpose at step 3" in done.stdout + done.stderr
    assert not (tmp_path / "rank0.pt").exists() and not (tmp_path / "rank1.pt").exists()


@pytest.mark.parametrize("task", ["progan", "msggan"])
def test_penalties_train_under_ddp_with_equal_gradients(runs, task):
    a, b = _load(runs / task, 0), _load(runs / task, 1)
    assert a["checked"] == b["checked"] >= 3  # steps whose gradients and weights were compared across ranks


def test_the_selector_classifier_trains_data_parallel(runs):
    a, b = _load(runs / "selector_two", 0), _load(runs / "selector_two", 1)
    assert a["history"]["steps"] == b["history"]["steps"] == 3 * 8
    assert _equal(_params(a["model"]), _params(b["model"])), "the ranks' classifiers differ"
    assert a["history"]["train_loss"] != b["history"]["train_loss"], "the ranks trained on the same batches"
    assert not _equal(_params(a["model"]), _params(_load(runs / "selector_one", 0)["model"]))  # twice the data per step
    a, b = _load(runs / "selector_budget", 0), _load(runs / "selector_budget", 1)  # rank 1 slower, rank 0's clock
    assert a["history"]["steps"] == b["history"]["steps"] and a["history"]["epoch"] == b["history"]["epoch"]
    assert 8 <= a["history"]["steps"] < 10**6 * 8
    assert _equal(_params(a["model"]), _params(b["model"]))

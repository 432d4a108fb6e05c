"""pytest set-up shared by the unit tests and the nbval notebook runs."""

import os

import matplotlib

os.environ.setdefault("COCOGOAT_SCALE", "smoke")
matplotlib.use("Agg")  # this process only: notebook kernels keep their inline backend


def pytest_collectstart(collector):
    """nbval compares tagged cells' outputs; stderr (progress bars, warnings) is never compared."""
    if getattr(collector, "path", None) is not None and collector.path.suffix == ".ipynb":
        collector.skip_compare += ("stderr", "text/html", "application/javascript", "image/gif")


def pytest_configure(config):
    """nbval's kernels, like papermill's (cocogoat_utils.execute), listen on Unix sockets: two workers starting
    kernels at once cannot race for the same TCP port."""
    if os.name == "posix":
        import nbval.kernel
        from jupyter_client.manager import KernelManager

        from cocogoat_utils.execute import unix_socket_kernels

        nbval.kernel.KernelManager = unix_socket_kernels(KernelManager)


def pytest_sessionstart(session):
    """Smoke-scale artifacts are throwaway: start every session without old ones to resume from."""
    import shutil
    from pathlib import Path

    for old in (Path(__file__).parent / "runs").glob("*/smoke"):
        shutil.rmtree(old, ignore_errors=True)


import pytest


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Unit tests use tiny tensors: one thread is faster, and does not stall when the other core is busy."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups into the node ids
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``--dist loadgroup``), each notebook's nbval cells stay together on one worker, in order;
    every other test is handed out on its own."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.xdist_group(name=item.path.stem))



def pytest_xdist_node_collection_finished(node, ids):
    """A notebook's cells share one kernel: if xdist could not group them (it writes the group into the node id), stop
    with that reason instead of a hundred NameErrors from cells run on the other worker."""
    split = [i for i in ids if ".ipynb::" in i and "@" not in i]
    if split and node.config.getvalue("dist") == "loadgroup":
        raise pytest.UsageError(f"pytest-xdist did not group the notebook cells (e.g. {split[0]}): this pytest and "
                                f"pytest-xdist do not work together; install the versions pyproject.toml allows")

"""The papermill wrapper: every wait for a kernel message becomes a series of short polls."""

import asyncio
import os
import queue
import time
from pathlib import Path

import pytest
from jupyter_client.channels import AsyncZMQSocketChannel

from cocogoat_utils import execute


@pytest.fixture
def fake_poll(monkeypatch):
    """A single poll that finds nothing the first two times, then a message; records its timeouts."""
    calls = []

    async def single_poll(self, timeout=None):
        calls.append(timeout)
        if len(calls) < 3 or getattr(self, "empty", False):
            await asyncio.sleep(timeout or 0)
            raise queue.Empty
        return {"msg": "reply"}

    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", single_poll)
    monkeypatch.setattr(execute, "_PATCHED", False)
    execute.patch_reply_polling(interval=0.01)
    return calls


def test_an_open_ended_wait_polls_again_until_the_message_is_there(fake_poll):
    channel = AsyncZMQSocketChannel.__new__(AsyncZMQSocketChannel)
    assert asyncio.run(channel.get_msg()) == {"msg": "reply"}  # no timeout: it would have waited forever
    assert fake_poll == [0.01, 0.01, 0.01]


def test_a_wait_with_a_timeout_still_times_out(fake_poll):
    channel = AsyncZMQSocketChannel.__new__(AsyncZMQSocketChannel)
    channel.empty = True
    began = time.monotonic()
    with pytest.raises(queue.Empty):
        asyncio.run(channel.get_msg(timeout=0.05))
    assert 0.04 <= time.monotonic() - began < 1.0
    assert all(t <= 0.01 for t in fake_poll) and len(fake_poll) >= 4


def test_patching_twice_wraps_once(fake_poll):
    patched = AsyncZMQSocketChannel.get_msg
    execute.patch_reply_polling()
    assert AsyncZMQSocketChannel.get_msg is patched


@pytest.mark.skipif(os.name != "posix", reason="Unix sockets")
def test_notebook_kernels_listen_on_unix_sockets_of_their_own(tmp_path):
    """Papermill's kernels (and nbval's, through conftest) talk over socket files, not TCP ports that a kernel
    starting at the same moment could take; the kernel runs in another folder and still meets its client."""
    import nbformat
    import nbval.kernel

    source = tmp_path / "where.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import json, os\nfrom ipykernel.connect import get_connection_info\n"
        "info = json.loads(get_connection_info())\nprint(info['transport'], info['ip'], os.getcwd())")]), source)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ran = execute.execute_notebook(str(source), str(tmp_path / "out.ipynb"), cwd=str(elsewhere), progress_bar=False,
                                   kernel_name="python3", start_timeout=60)
    transport, ip, cwd = ran.cells[0].outputs[0]["text"].split()
    assert transport == "ipc" and os.path.isabs(ip) and cwd == str(elsewhere)
    assert not list(Path(ip).parent.glob(Path(ip).name + "-*")), "the kernel's socket files outlive it"
    assert nbval.kernel.KernelManager(kernel_name="python3").transport == "ipc"


def test_a_version_without_the_replaced_attribute_is_named_not_silently_unpatched(monkeypatch):
    import papermill.engines

    monkeypatch.delattr(papermill.engines, "PapermillNotebookClient")
    monkeypatch.setattr(execute, "_TRANSPORT_PATCHED", False)
    with pytest.raises(execute.PatchOutOfDate, match=r"papermill .* has no papermill.engines.PapermillNotebookClient"):
        execute.patch_kernel_transport()
    with pytest.raises(execute.PatchOutOfDate, match=r"jupyter_client [\d.]+ has no AsyncZMQSocketChannel.gone"):
        execute.require(AsyncZMQSocketChannel, "gone", "to test the message")

"""The papermill wrapper: every wait for a kernel message becomes a series of short polls."""

import asyncio
import queue
import time

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

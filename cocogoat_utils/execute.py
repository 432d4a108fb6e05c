"""Run the notebooks headless with papermill, without the rare hang after a widget cell.

nbclient (under papermill) waits for each kernel reply with one open-ended asynchronous
poll of the ZeroMQ socket. Now and then that poll misses its wake-up: the kernel has
answered and sits idle, and the run waits forever. Here it struck about one run in ten
of ``07_Pokemon_DCGAN`` at smoke scale, always right after a cell that displays
ipywidgets, with ipykernel 6 and 7 alike (the same symptom as nbclient issue #312).
A poll with a timeout looks at the socket again when it expires, so
:func:`patch_reply_polling` makes every wait a series of polls of at most
``interval`` seconds: a missed wake-up then costs at most that long.

``python -m cocogoat_utils.execute`` takes papermill's command-line arguments (``make run``
and ``make gpu-run`` use it); :func:`execute_notebook` is ``papermill.execute_notebook``
with the patch applied (the test suite uses it).
"""

from __future__ import annotations

import queue
import time

_PATCHED = False


def patch_reply_polling(interval: float = 1.0) -> None:
    """Make jupyter_client's asynchronous ``get_msg`` poll in slices of ``interval`` seconds (idempotent)."""
    global _PATCHED
    if _PATCHED:
        return
    from jupyter_client.channels import AsyncZMQSocketChannel

    single_poll = AsyncZMQSocketChannel.get_msg

    async def get_msg(self, timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = interval if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await single_poll(self, min(interval, remaining))
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    get_msg.__doc__ = single_poll.__doc__
    AsyncZMQSocketChannel.get_msg = get_msg
    _PATCHED = True


def execute_notebook(*args, **kwargs):
    """``papermill.execute_notebook`` with :func:`patch_reply_polling` applied first."""
    import papermill

    patch_reply_polling()
    return papermill.execute_notebook(*args, **kwargs)


def main() -> None:
    """papermill's command line, patched."""
    from papermill.cli import papermill

    patch_reply_polling()
    papermill()


if __name__ == "__main__":
    main()

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

Both also start their kernels on Unix sockets (:func:`patch_kernel_transport`) where the system
has them. Over TCP, jupyter_client picks five free ports, closes them, and the kernel binds them
a moment later; a process starting at the same moment can take one in between (CI saw
``Address already in use`` and a kernel that never answered, with two test workers starting
kernels side by side, as the GPU run starts eight). A socket file of its own has no such race.

Both patches replace what these libraries do not promise to keep: ``AsyncZMQSocketChannel.get_msg``
(jupyter_client), the private ``AsyncKernelManager._ip_default`` (jupyter_client) and the module attribute
``papermill.engines.PapermillNotebookClient`` that papermill's engine looks up when it runs. Each is checked
before it is replaced (:func:`require`): a version without it raises :class:`PatchOutOfDate`, naming the
attribute and the versions this was written for, instead of a run that silently goes unpatched.
``pyproject.toml`` bounds the versions (jupyter-client 7–8, papermill 2.x).

Both mark the kernels they start as headless (``COCOGOAT_HEADLESS=1``, :func:`cocogoat_utils.runtime.headless`):
progress bars stay off there and sliders leave a still picture, so a saved notebook holds no frozen bar and no
widget's text.
"""

from __future__ import annotations

import os
import queue
import tempfile
import time
import uuid

from .runtime import HEADLESS_ENV

_PATCHED = False
_TRANSPORT_PATCHED = False
WRITTEN_FOR = "jupyter-client 7–8 and papermill 2.5–2.7"


class PatchOutOfDate(RuntimeError):
    """An installed jupyter_client or papermill lacks an attribute this module replaces."""


def require(owner, name: str, what: str) -> None:
    """Raise :class:`PatchOutOfDate` unless ``owner`` (a class or module) has ``name``; ``what`` says which patch
    needs it."""
    if not hasattr(owner, name):
        module = getattr(owner, "__module__", None) or getattr(owner, "__name__", "?")
        package = module.split(".")[0]
        version = getattr(__import__(package), "__version__", "?")
        raise PatchOutOfDate(f"{package} {version} has no {getattr(owner, '__name__', owner)}.{name}, which "
                             f"cocogoat_utils.execute replaces {what} (written for {WRITTEN_FOR}): install a version "
                             f"in pyproject.toml's range, or update the patch")


def patch_reply_polling(interval: float = 1.0) -> None:
    """Make jupyter_client's asynchronous ``get_msg`` poll in slices of ``interval`` seconds (idempotent)."""
    global _PATCHED
    if _PATCHED:
        return
    from jupyter_client.channels import AsyncZMQSocketChannel

    require(AsyncZMQSocketChannel, "get_msg", "to poll for kernel replies in slices")
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


def unix_socket_kernels(manager_class: type) -> type:
    """A subclass of the jupyter_client kernel manager ``manager_class`` whose kernels listen on Unix sockets.

    Each kernel gets its own absolute socket path in the temporary folder (jupyter_client's default, a relative
    ``kernel-ipc``, would be looked up in the kernel's working folder and in its client's, which differ here).
    """
    def __init__(self, **kwargs):
        kwargs.setdefault("transport", "ipc")
        manager_class.__init__(self, **kwargs)

    def _ip_default(self) -> str:
        if self.transport != "ipc":
            return manager_class._ip_default(self)
        return os.path.join(tempfile.gettempdir(), f"kernel-{uuid.uuid4().hex[:12]}-ipc")

    return type(f"UnixSocket{manager_class.__name__}", (manager_class,), {
        "__doc__": f"{manager_class.__name__} on Unix sockets (cocogoat_utils.execute).",
        "__init__": __init__,
        "_ip_default": _ip_default,
    })


def patch_kernel_transport() -> bool:
    """Make the notebooks papermill runs in this process start their kernels on Unix sockets (idempotent).

    Returns whether it applies: not where Unix sockets are missing (Windows keeps TCP).
    """
    global _TRANSPORT_PATCHED
    if os.name != "posix":
        return False
    if _TRANSPORT_PATCHED:
        return True
    import papermill.engines
    from jupyter_client import AsyncKernelManager

    require(AsyncKernelManager, "_ip_default", "to start kernels on Unix sockets")
    require(papermill.engines, "PapermillNotebookClient", "to start kernels on Unix sockets")
    manager = unix_socket_kernels(AsyncKernelManager)

    class UnixSocketNotebookClient(papermill.engines.PapermillNotebookClient):
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("kernel_manager_class", manager)
            super().__init__(*args, **kwargs)

    papermill.engines.PapermillNotebookClient = UnixSocketNotebookClient
    _TRANSPORT_PATCHED = True
    return True


def execute_notebook(*args, **kwargs):
    """``papermill.execute_notebook`` with :func:`patch_reply_polling` and :func:`patch_kernel_transport` applied."""
    import papermill

    patch_reply_polling()
    patch_kernel_transport()
    before = os.environ.get(HEADLESS_ENV)
    os.environ[HEADLESS_ENV] = "1"  # the kernel inherits this process's environment; this process gets its own back
    try:
        return papermill.execute_notebook(*args, **kwargs)
    finally:
        if before is None:
            os.environ.pop(HEADLESS_ENV, None)
        else:
            os.environ[HEADLESS_ENV] = before


def main() -> None:
    """papermill's command line, patched."""
    from papermill.cli import papermill

    patch_reply_polling()
    patch_kernel_transport()
    os.environ[HEADLESS_ENV] = "1"
    papermill()


if __name__ == "__main__":
    main()

"""Run-time set-up every notebook and trainer shares: seeds, devices, precision, processes, and where outputs go.

- :func:`set_seed`, :func:`pick_device`, :func:`pick_precision` (bf16 where the hardware has it,
  fp16 with a gradient scaler on older GPUs, fp32 elsewhere) and :func:`autocast`.
- :func:`distributed`: this process's rank and the number of processes (``torchrun``).
- The ``scale`` table: a notebook's ``parameters`` cell holds plain values (``None`` meaning
  "from the scale table"); :func:`resolve_params` fills them, so papermill's overrides win.
- :func:`home`: where runs, the render cache, labels and checkpoints are written —
  ``$COCOGOAT_HOME``, else the repository when running from a checkout, else the current
  folder (``/content`` in Colab); never the installed package's folder.
"""

from __future__ import annotations

import contextlib
import os
import random
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

SCALES = ("smoke", "gpu-shapes", "cpu", "gpu")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
PACKAGE_DIR = Path(__file__).resolve().parent
#: set (to "1") by :mod:`cocogoat_utils.execute` for the kernels of notebooks it runs headless
HEADLESS_ENV = "COCOGOAT_HEADLESS"


def headless() -> bool:
    """True inside a notebook that :mod:`cocogoat_utils.execute` runs headless (papermill): nobody watches there."""
    return os.environ.get(HEADLESS_ENV, "") not in ("", "0")


def progress_bar(iterable=None, *, disable: bool = False, **kwargs) -> tqdm:
    """A tqdm progress bar: a widget in Jupyter, a line in a terminal. None in a headless notebook run, where a bar
    would only leave its first frame in the saved notebook (a frozen ``0%|`` or a widget's text); the cells print
    what a run did when it ends."""
    return tqdm(iterable, disable=disable or headless(), **kwargs)


def set_seed(seed: int) -> torch.Generator:
    """Seed ``random``, NumPy and torch (CPU and CUDA); return a torch generator seeded the same."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def stream_seed(seed: int, rank: int = 0, stream: int = 0) -> int:
    """A seed for random stream number ``stream`` of process ``rank``: distinct for every (seed, rank, stream)."""
    return (seed * 1_000_003 + rank * 10_007 + stream) % 2**63


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` is CUDA when available, else Apple's MPS, else the CPU; anything else is taken as given."""
    if str(device) != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX-512 BF16 or AMX), where bf16 autocast is faster than fp32."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def pick_precision(precision: str = "auto", device: str | torch.device = "cpu") -> str:
    """``"bf16"``, ``"fp16"`` or ``"fp32"``: what ``precision`` means on ``device``.

    ``"auto"``: bf16 on CUDA GPUs of compute capability ≥ 8.0 (Ampere and newer) and on CPUs with
    native bf16; fp16 (with a gradient scaler) on older CUDA GPUs such as Colab's T4, which
    emulate bf16 more slowly than fp32; fp32 anywhere else. Other values are taken as given.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}: expected one of {PRECISIONS}")
    if precision != "auto":
        return precision
    device = torch.device(device)
    if device.type == "cuda":
        return "bf16" if torch.cuda.get_device_capability(device) >= (8, 0) else "fp16"
    if device.type == "cpu" and cpu_has_native_bf16():
        return "bf16"
    return "fp32"


def autocast(device: str | torch.device, precision: str):
    """The autocast context for a resolved ``precision`` (``"fp32"``: a no-op)."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    return torch.autocast(torch.device(device).type, dtype=dtype or torch.float32, enabled=dtype is not None)


def distributed() -> tuple[int, int]:
    """``(rank, world_size)`` of this process: ``(0, 1)`` unless ``torch.distributed`` was initialised."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


@contextlib.contextmanager
def eval_mode(*modules: nn.Module):
    """Put ``modules`` in eval mode for the block, then restore each one's mode."""
    modes = [m.training for m in modules]
    try:
        for m in modules:
            m.eval()
        yield
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)


@contextlib.contextmanager
def frozen(*modules: nn.Module):
    """No weight gradients for ``modules`` in the block (gradients still flow through them to their inputs); each
    parameter's ``requires_grad`` is restored after."""
    params = [p for m in modules for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


def default_scale() -> str:
    """``$COCOGOAT_SCALE`` if set, else ``gpu`` when CUDA is available, else ``cpu``.

    ``smoke`` finishes a notebook in well under a minute on two CPU cores (the tests); ``gpu-shapes`` is
    ``smoke`` at the ``gpu`` scale's sizes (the tests' guard for the GPU run); ``cpu`` takes a few minutes
    with a model that visibly learns; ``gpu`` is the real run, its training sized in seconds.
    """
    scale = os.environ.get("COCOGOAT_SCALE") or ("gpu" if torch.cuda.is_available() else "cpu")
    if scale not in SCALES:
        raise ValueError(f"COCOGOAT_SCALE={scale!r}: expected one of {SCALES}")
    return scale


def gpu_shapes(table: Mapping[str, Mapping[str, Any]], shape_keys: tuple[str, ...]) -> dict[str, Any]:
    """The ``gpu-shapes`` row of a scale table: the ``gpu`` row's shapes (``shape_keys``: image sizes, levels,
    scales…) with the ``smoke`` row's widths and budgets, so that a test on two CPU cores meets every
    shape the real GPU run will, in seconds."""
    return {**table["smoke"], **{key: table["gpu"][key] for key in shape_keys}}


def resolve_params(
    scale: str | None, table: Mapping[str, Mapping[str, Any]], **explicit: Any
) -> dict[str, Any]:
    """Fill every parameter that is ``None`` from ``table[scale]``; explicit values win.

    >>> resolve_params("smoke", {"smoke": {"steps": 10}, "cpu": {"steps": 500}}, steps=None)
    {'steps': 10, 'scale': 'smoke'}
    """
    scale = scale or default_scale()
    if scale not in table:
        raise ValueError(f"scale={scale!r}: expected one of {tuple(table)}")
    row = table[scale]
    resolved = {name: (row.get(name) if value is None else value) for name, value in explicit.items()}
    missing = [name for name, value in resolved.items() if value is None and name not in row]
    if missing:
        raise ValueError(f"no value for {missing}: set them or add them to the scale table")
    resolved["scale"] = scale
    return resolved


def is_checkout(folder: Path = PACKAGE_DIR.parent) -> bool:
    """Whether ``folder`` is this project's repository (a source checkout, not site-packages)."""
    return (folder / "pyproject.toml").is_file() and (folder / "notebooks").is_dir()


def home() -> Path:
    """Where ``runs/``, ``data/``, label files and trained checkpoints go.

    ``$COCOGOAT_HOME`` when set; else the repository when the package runs from a checkout
    (``pip install -e .``, ``make``); else the current folder (Colab: ``/content``).
    """
    if os.environ.get("COCOGOAT_HOME"):
        return Path(os.environ["COCOGOAT_HOME"]).expanduser().resolve()
    return PACKAGE_DIR.parent if is_checkout() else Path.cwd().resolve()


def repo_root() -> Path:
    """The folder outputs go under (see :func:`home`); kept under its old name."""
    return home()


def short_path(path: str | Path) -> str:
    """``path`` relative to :func:`home` when it lies inside it (for printing), else as given."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(home()))
    except ValueError:
        return str(path)


def device_name(device: str | torch.device) -> str:
    """The accelerator's model name (``"NVIDIA H100 80GB HBM3"``), else the device type (``"cpu"``)."""
    device = torch.device(device)
    return torch.cuda.get_device_name(device) if device.type == "cuda" else device.type


def hardware(device: str | torch.device) -> str:
    """What ran the work, for records: the GPU's name, or the CPU's model and the threads torch used."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {torch.get_num_threads()} thread(s)" + (f" ({device.type})" if device.type != "cpu" else "")


def add_hardware_arguments(parser) -> None:
    """The command-line options every long command shares (``pretrain``, ``study``): ``--device``, ``--precision``,
    ``--threads``; :func:`apply_threads` and :func:`reproduce_command` use them."""
    parser.add_argument("--device", default="auto", help="auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:1 …")
    parser.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp16", "fp32"))
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")


def apply_threads(args) -> None:
    """Set torch's CPU threads when the command names them (``--threads N``, N > 0)."""
    if args.threads:
        torch.set_num_threads(args.threads)


def reproduce_command(parts: list[str], args, device_type: str, *, processes: int = 1) -> str:
    """The shell command that reproduces a run: ``parts`` (program and its own options) with the hardware options
    the run used; prefixed with ``taskset -c N`` when one CPU process ran pinned to one core (a record says which)."""
    parts = [*parts, "--device", device_type]
    if args.threads:
        parts += ["--threads", str(args.threads)]
    if args.precision != "auto":
        parts += ["--precision", args.precision]
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if device_type == "cpu" and processes == 1 and len(cores) == 1:
        parts = ["taskset", "-c", str(cores[0]), *parts]
    return shlex.join(parts)


def synchronize(device: str | torch.device) -> None:
    """Wait for the device's queued work (before reading a clock); nothing to wait for on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()

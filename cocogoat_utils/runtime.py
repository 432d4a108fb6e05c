"""Run-time set-up every notebook does first: seeds, the device, and the ``scale`` table.

A notebook's ``parameters`` cell holds plain values (``None`` meaning "from the scale
table"); the next cell calls :func:`resolve_params` so that papermill's injected
overrides win over the table.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

SCALES = ("smoke", "cpu", "gpu")


def set_seed(seed: int) -> torch.Generator:
    """Seed ``random``, NumPy and torch (CPU and CUDA); return a torch generator seeded the same."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` is CUDA when available, else Apple's MPS, else the CPU; anything else is taken as given."""
    if str(device) != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def default_scale() -> str:
    """``$COCOGOAT_SCALE`` if set, else ``gpu`` when CUDA is available, else ``cpu``."""
    scale = os.environ.get("COCOGOAT_SCALE") or ("gpu" if torch.cuda.is_available() else "cpu")
    if scale not in SCALES:
        raise ValueError(f"COCOGOAT_SCALE={scale!r}: expected one of {SCALES}")
    return scale


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


def repo_root() -> Path:
    """The repository (or installed package's parent) folder: where ``runs/``, ``data/`` and ``checkpoints/`` live."""
    return Path(__file__).resolve().parent.parent


def short_path(path: str | Path) -> str:
    """``path`` relative to the repository when it lies inside it (for printing), else as given."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(repo_root()))
    except ValueError:
        return str(path)


def device_name(device: str | torch.device) -> str:
    """The accelerator's model name (``"NVIDIA H100 80GB HBM3"``), else the device type (``"cpu"``)."""
    device = torch.device(device)
    return torch.cuda.get_device_name(device) if device.type == "cuda" else device.type


def synchronize(device: str | torch.device) -> None:
    """Wait for the device's queued work (before reading a clock); nothing to wait for on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()

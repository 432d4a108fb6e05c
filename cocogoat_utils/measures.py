"""Small measurements a lesson takes of its runs: the end of a training history without one step's noise
(:func:`tail_means`, :func:`mean_last`), a step written out by hand against the library's, weight for weight
(:func:`same_weights`), and how long a call took (:func:`timed`)."""

from __future__ import annotations

import time
from typing import Any

import torch


def tail_means(history: dict, keys, share: float = 0.1) -> dict[str, float]:
    """The mean of each of ``keys`` over the last ``share`` of a trainer's ``history`` (at least one entry)."""
    tail = max(1, int(len(history["step"]) * share + 1e-9))
    return {key: sum(history[key][-tail:]) / tail for key in keys}


def mean_last(values: list[float], n: int = 10) -> float:
    """The mean of the last ``n`` values (all of them when there are fewer): a final loss without one step's noise."""
    tail = list(values)[-n:]
    return sum(tail) / len(tail)


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    """Whether two modules hold exactly the same state — every parameter and buffer equal (``torch.equal``)."""
    mine, theirs = a.state_dict(), b.state_dict()
    return mine.keys() == theirs.keys() and all(torch.equal(mine[key], theirs[key]) for key in mine)


def timed(fn, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``(fn(*args, **kwargs), the seconds it took)``."""
    begin = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - begin

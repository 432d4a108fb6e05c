"""One checkpoint format for every model: atomic writes, ``weights_only`` loading, resume.

A checkpoint is one dict::

    {"version": 1, "step": int, "models": {name: state_dict}, "optimizers": {name: state_dict},
     "ema": state_dict | None, "scaler": state_dict | None, "signatures": {name: str},
     "config": dict, "history": dict, **extra}

``extra`` holds what a trainer needs to continue exactly where it stopped (random-number
streams, learning-rate schedules, gradient scalers, wall time spent, callbacks' state).
``signatures`` records each model's class and constructor arguments, so loading a
checkpoint into a model of another kind or size fails with both named, before a single
weight is copied. Files are written to a temporary name in the same folder and renamed,
so a killed kernel never leaves a half-written checkpoint behind, and a failed write (a
full disk) leaves the previous checkpoint as it was. :func:`load_newest` skips a damaged
newest checkpoint, with a warning naming it, and loads the newest good one.

A training run (:class:`~cocogoat_utils.train.loop.Trainer`) keeps beside its checkpoints a
``config.json`` (:func:`write_run_config`), which :func:`check_run_config` reads to refuse resuming
a run of other models or settings; :func:`save_training` and :func:`restore_training` add and put
back what exact resume needs beyond the weights: every process's random streams, gradient
scalers, schedules, seconds spent, and the state of each stateful helper under its own key.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pickle
import re
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from .runtime import stream_seed

FORMAT_VERSION = 1
CHECKPOINT_PATTERN = re.compile(r"step_(\d+)\.pt$")


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the permissions open() would
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def content_digest(*parts: Any) -> str:
    """A SHA-1 hex digest of ``parts``: tensors by their dtype, shape and bytes; mappings (``state_dict`` s) by their
    keys and values, in order; anything else by its ``repr``."""
    digest = hashlib.sha1()

    def add(part: Any) -> None:
        if torch.is_tensor(part):
            part = part.detach().cpu().contiguous()
            digest.update(f"{part.dtype}{tuple(part.shape)}".encode())
            digest.update(part.reshape(-1).view(torch.uint8).numpy().tobytes() if part.numel() else b"")
        elif isinstance(part, Mapping):
            for key, value in part.items():
                add(key)
                add(value)
        else:
            digest.update(repr(part).encode())

    for part in parts:
        add(part)
    return digest.hexdigest()


def cached(path: str | Path, key: str, compute: Callable[[], Any]) -> Any:
    """What ``compute()`` returns, kept in ``path`` under ``key`` (a :func:`content_digest` of everything it depends
    on): read back while the key matches, computed again and rewritten (atomically) when the key differs or the file
    is missing or damaged. Tensors, lists and dicts of them only (read with ``weights_only=True``)."""
    path = Path(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(blob, dict) and blob.get("key") == key:
            return blob["value"]
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError):
        pass  # missing or damaged: computed again
    value = compute()
    try:
        atomic_save({"key": key, "value": value}, path)
    except OSError as error:  # a read-only or full disk costs the time, not the result
        warnings.warn(f"could not keep {path.name} ({error}); it is computed again next time", stacklevel=2)
    return value


def model_signature(model: nn.Module) -> str:
    """``ClassName(arg=value, …)`` from the model's ``config`` attribute when it has one."""
    config = getattr(model, "config", None)
    if config is None:
        return type(model).__name__
    items = config.items() if isinstance(config, Mapping) else vars(config).items()
    return f"{type(model).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in sorted(items)) + ")"


def checkpoint_dir(root: str | Path, *, dataset: str, batch_size: int, image_size: int, model: str = "") -> Path:
    """A folder named from what the run trains on: ``root/<model>_<dataset>_b<batch>_<size>px``."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{model + '_' if model else ''}{dataset}").strip("-")
    return Path(root) / f"{safe}_b{batch_size}_{image_size}px"


def save_checkpoint(
    directory: str | Path,
    *,
    step: int,
    models: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
    ema: nn.Module | None = None,
    scaler: Any | None = None,
    config: Mapping[str, Any] | None = None,
    history: Mapping[str, Any] | None = None,
    keep: int = 2,
    filename: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``directory/step_<step>.pt`` atomically; keep only the newest ``keep`` such files.

    ``filename`` (e.g. ``"best.pt"``) writes that file instead and prunes nothing. ``extra``
    adds entries to the checkpoint (tensors, numbers, strings, lists and dicts of them).
    A write that fails (a full disk) raises an ``OSError`` that names the file and the
    previous checkpoint, which is left intact.
    """
    directory = Path(directory)
    state = {
        "version": FORMAT_VERSION,
        "step": int(step),
        "models": {name: m.state_dict() for name, m in models.items()},
        "signatures": {name: model_signature(m) for name, m in models.items()},
        "optimizers": {name: o.state_dict() for name, o in (optimizers or {}).items()},
        "ema": ema.state_dict() if ema is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "config": dict(config or {}),
        "history": dict(history or {}),
        **dict(extra or {}),
    }
    target = directory / (filename or f"step_{int(step):08d}.pt")
    try:
        path = atomic_save(state, target)
    except OSError as error:
        previous = latest_checkpoint(directory)
        kept = f"the previous checkpoint {previous} is intact" if previous else "no earlier checkpoint exists"
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise OSError(error.errno or errno.EIO, f"could not write checkpoint {target} ({reason}); {kept}. "
                      "Free some space (or choose another out_dir) and save again") from error
    if keep and filename is None:
        for old in list_checkpoints(directory)[:-keep]:
            old.unlink(missing_ok=True)
    return path


def list_checkpoints(directory: str | Path) -> list[Path]:
    """Checkpoint files in ``directory``, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if CHECKPOINT_PATTERN.search(p.name)]
    return sorted(found, key=lambda p: int(CHECKPOINT_PATTERN.search(p.name).group(1)))


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The newest checkpoint in ``directory``, or ``None``."""
    found = list_checkpoints(directory)
    return found[-1] if found else None


class CheckpointMismatch(ValueError):
    """The checkpoint was written by another model, or by the same model at another size."""


def load_checkpoint(
    path: str | Path,
    *,
    models: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
    ema: nn.Module | None = None,
    scaler: Any | None = None,
    map_location: str | torch.device | None = "cpu",
) -> dict[str, Any]:
    """Load ``path`` into ``models`` (and optimisers, EMA, scaler); return the checkpoint dict.

    Every model's signature and every tensor's shape is checked first; on any mismatch
    :class:`CheckpointMismatch` names both sides and nothing has been modified.
    """
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as error:  # torn, truncated, not torch
        raise CheckpointMismatch(f"{path} cannot be read as a checkpoint ({type(error).__name__}); "
                                 "nothing was loaded") from error
    if not isinstance(state, dict) or state.get("version") != FORMAT_VERSION:
        raise CheckpointMismatch(f"{path} is not a cocogoat checkpoint (format {FORMAT_VERSION})")
    for name, model in models.items():
        if name not in state["models"]:
            raise CheckpointMismatch(f"{path} holds no model {name!r} (it has {sorted(state['models'])})")
        expected, found = model_signature(model), state["signatures"].get(name, "?")
        if expected != found:
            raise CheckpointMismatch(f"checkpoint {path} was written by {found}; this model is {expected}")
        own = model.state_dict()
        saved = state["models"][name]
        if own.keys() != saved.keys() or any(getattr(own[k], "shape", None) != getattr(saved[k], "shape", None)
                                             for k in own):  # extra state (a growing model's level) has no shape
            raise CheckpointMismatch(f"checkpoint {path}: the tensors of {name!r} do not match {expected}")
    for name, optimizer in (optimizers or {}).items():
        saved = state["optimizers"].get(name)
        if saved is not None and [len(g["params"]) for g in saved["param_groups"]] != \
                [len(g["params"]) for g in optimizer.state_dict()["param_groups"]]:
            raise CheckpointMismatch(f"checkpoint {path}: the optimiser state of {name!r} does not fit this model")
    if ema is not None and state.get("ema") is not None:
        own, saved = ema.state_dict(), state["ema"]
        if own.keys() != saved.keys() or any(getattr(own[k], "shape", None) != getattr(saved[k], "shape", None)
                                             for k in own):
            raise CheckpointMismatch(f"checkpoint {path}: its weight average does not match this model")
    for name, model in models.items():
        model.load_state_dict(state["models"][name])
    for name, optimizer in (optimizers or {}).items():
        if name in state["optimizers"]:
            optimizer.load_state_dict(state["optimizers"][name])
    if ema is not None and state.get("ema") is not None:
        ema.load_state_dict(state["ema"])
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    return state


def load_newest(
    directory: str | Path,
    *,
    models: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
    ema: nn.Module | None = None,
    map_location: str | torch.device | None = "cpu",
) -> tuple[Path, dict[str, Any]] | None:
    """Load the newest checkpoint in ``directory`` that loads cleanly; ``None`` when there is none at all.

    A newer one that cannot be used (truncated, empty, not a checkpoint, written by another
    model) is skipped with one warning naming it and why. When checkpoints exist but none
    loads, :class:`CheckpointMismatch` names the newest one's problem: nothing was loaded,
    and the way out is ``resume=False`` or another ``out_dir``.
    """
    found = list_checkpoints(directory)
    problems = []
    for path in reversed(found):
        try:
            state = load_checkpoint(path, models=models, optimizers=optimizers, ema=ema, map_location=map_location)
        except CheckpointMismatch as error:
            problems.append((path, error))
            continue
        if problems:
            skipped = "; ".join(f"{p.name}: {e}" for p, e in problems)
            warnings.warn(f"resuming from {path.name}, the newest good checkpoint in {directory}; skipped {skipped}",
                          stacklevel=2)
        return path, state
    if problems:
        raise CheckpointMismatch(f"no checkpoint in {directory} can be resumed ({problems[0][1]}); "
                                 "start afresh with resume=False, or choose another out_dir")
    return None


# --------------------------------------------------------------------------- a training run's checkpoints

class ConfigMismatch(CheckpointMismatch):
    """The checkpoint to resume was written with another training configuration."""


def write_run_config(folder: str | Path, info: Mapping[str, Any]) -> None:
    """Write ``folder/config.json``: the run's settings (``info["train"]``) and its models' signatures."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(info, indent=2))


def config_changes(config: Mapping[str, Any], saved: Mapping[str, Any], resumable=frozenset()) -> list[str]:
    """``"lr_g 0.0002 → 0.001"`` for every setting in both ``config`` and ``saved`` that differs, except ``resumable``."""
    changed = []
    for name, mine in config.items():
        if name in resumable or name not in saved:
            continue
        mine = list(mine) if isinstance(mine, tuple) else mine
        if mine != saved[name]:
            changed.append(f"{name} {saved[name]} → {mine}")
    return changed


def check_run_config(folder: str | Path, *, models: Mapping[str, nn.Module], config: Mapping[str, Any],
                     resumable=frozenset()) -> None:
    """Refuse to resume ``folder`` when its ``config.json`` names other models (:class:`CheckpointMismatch`) or other
    settings than ``config`` outside ``resumable`` (:class:`ConfigMismatch`, naming each difference)."""
    info = Path(folder) / "config.json"
    if not info.is_file():
        return
    written = json.loads(info.read_text())
    for name, model in models.items():
        if name in written and written[name] != model_signature(model):
            raise CheckpointMismatch(f"{folder} holds a run of {written[name]}; this {name} is "
                                     f"{model_signature(model)}: choose another out_dir, or resume=False")
    changed = config_changes(config, written.get("train", {}), resumable)
    if changed:
        raise ConfigMismatch(f"{folder} holds a run trained with other settings ({', '.join(changed)}): "
                             "fit(resume=False) starts this configuration afresh there, or choose another out_dir")


def by_key(*objects) -> dict[str, Any]:
    """The ``objects`` that name a ``key`` (``None``s and objects without one are left out), by that key; two
    different objects under one key raise ``ValueError``."""
    found: dict[str, Any] = {}
    for obj in objects:
        key = getattr(obj, "key", None)
        if key is not None and found.setdefault(key, obj) is not obj:
            raise ValueError(f"two objects keep their state under the key {key!r}: give one of them another key")
    return found


def random_state(streams: Mapping[str, torch.Generator], device: torch.device) -> dict:
    """Every random stream that shapes training: the named ``streams``, torch's global CPU state (and CUDA's)."""
    state = {name: g.get_state() for name, g in streams.items()}
    state["torch"] = torch.get_rng_state()
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_random_state(streams: Mapping[str, torch.Generator], state: Mapping[str, Any], device: torch.device) -> None:
    """Put back what :func:`random_state` took."""
    for name, generator in streams.items():
        generator.set_state(state[name])
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def save_training(directory: str | Path, *, step: int, models, optimizers, ema, config: Mapping[str, Any],
                  history: Mapping[str, Any], elapsed: float, random: list, world_size: int, scalers, schedulers,
                  stateful: Mapping[str, Any], filename: str | None = None) -> Path:
    """:func:`save_checkpoint` with what exact resume needs: the seconds spent, every process's random streams
    (``random``, one per rank), the gradient scalers and schedules by name, and ``stateful[key].state_dict()``
    under ``key`` (the callbacks and the quality record; ``None`` states are left out)."""
    states = {key: obj.state_dict() for key, obj in stateful.items()}
    return save_checkpoint(
        directory, step=step, models=models, optimizers=optimizers, ema=ema, config=config, history=history,
        filename=filename,
        extra={"elapsed": elapsed, "random": random, "world_size": world_size,
               "scalers": {n: s.state_dict() for n, s in scalers.items()},
               "schedulers": {n: s.state_dict() for n, s in schedulers.items()},
               "callbacks": {k: v for k, v in states.items() if v is not None}})


def restore_training(state: Mapping[str, Any], *, rank: int, seed: int, streams: Mapping[str, torch.Generator],
                     device: torch.device, scalers, schedulers, stateful: Mapping[str, Any]) -> None:
    """Put back what :func:`save_training` added: scalers, schedules, the states by key, and rank ``rank``'s random
    streams — fresh ones from ``(seed + step, rank)`` when the checkpoint was written by fewer processes."""
    for name, scaler in scalers.items():
        if name in state.get("scalers", {}):
            scaler.load_state_dict(state["scalers"][name])
    for name, scheduler in schedulers.items():
        if name in state.get("schedulers", {}):
            scheduler.load_state_dict(state["schedulers"][name])
    randomness = state.get("random") or []
    if rank < len(randomness):
        set_random_state(streams, randomness[rank], device)
    else:
        for i, generator in enumerate(streams.values()):
            generator.manual_seed(stream_seed(seed + state["step"], rank, i))
    saved = state.get("callbacks", {})
    for key, obj in stateful.items():
        if key in saved:
            obj.load_state_dict(saved[key])

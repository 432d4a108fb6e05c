"""The DataSelector's bookkeeping: an honest held-out split, the label plan, and the filter.

- :func:`name_group` maps near-duplicate names to one group: OpenMoji's skin-tone
  variants (``"waving hand: medium skin tone"``), degraded copies
  (``"cat face [blur]"``) and repeats (``"cat face #2"``) all belong to the glyph
  they came from. :func:`split_held_out` keeps whole groups on one side, so the
  held-out score is not inflated by near-copies of training images.
- :func:`check_label_plan` says clearly when a folder is too small for the labels asked for.
- :func:`filter_dataset` keeps what the classifier calls ``keep`` with enough
  confidence, writes it to a folder the later notebooks take as ``data_dir``, and
  reports what was kept and dropped (and, when the truth is known, the precision of
  what was kept).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import torch

from .data import ImageSet, save_image_folder

_VARIANT = re.compile(r"( \[[^\]]*\]| #\d+)+$")  # " [blur]", " #2" at the end of a name


def name_group(name: str) -> str:
    """The group a name belongs to: the name without a degradation tag, a repeat counter or a ``": …"`` qualifier."""
    base = _VARIANT.sub("", name)
    return base.split(": ", 1)[0].strip() or name


def check_label_plan(n_images: int, held_out: int, budgets: Sequence[int]) -> None:
    """Raise a clear ``ValueError`` when ``n_images`` cannot hold ``held_out`` plus the largest label budget."""
    if held_out < 1 or not budgets or min(budgets) < 1:
        raise ValueError(f"held_out={held_out} and label_budgets={list(budgets)} must be positive")
    needed = held_out + max(budgets)
    if n_images < needed:
        raise ValueError(f"{n_images} images, but held_out={held_out} plus the largest label budget "
                         f"{max(budgets)} need {needed} labelled images: lower held_out or label_budgets "
                         f"(or bring more images)")


def split_held_out(names: Sequence[str], held_out: int, *, seed: int = 0) -> tuple[list[str], list[str]]:
    """(training names, held-out names): whole :func:`name_group` groups, shuffled by ``seed``.

    Groups are drawn in a shuffled order into the held-out side while they fit in
    ``held_out`` names (a group that would overflow it is passed over), so at most
    ``held_out`` names are held out and the rest stay for training, in their order in
    ``names`` (the order they were labelled in).
    """
    names = list(names)
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(name_group(name), []).append(name)
    if held_out < 1:
        raise ValueError(f"held_out={held_out}: must be at least 1")
    keys = list(groups)
    order = torch.randperm(len(keys), generator=torch.Generator().manual_seed(seed)).tolist()
    test: set[str] = set()
    for k in order:
        group = groups[keys[k]]
        if len(test) + len(group) <= held_out:
            test.update(group)
        if len(test) == held_out:
            break
    train = [n for n in names if n not in test]
    if not test or not train:
        raise ValueError(f"{len(names)} labelled names in {len(groups)} group(s): cannot hold out up to {held_out} "
                         "and still train; label more images or change held_out")
    return train, [n for n in names if n in test]


def filter_dataset(images: ImageSet, predicted: torch.Tensor, confidence: torch.Tensor, classes: Sequence[str], *,
                   threshold: float, folder: str | Path | None = None, keep_class: str = "keep",
                   truth: torch.Tensor | None = None) -> dict:
    """Keep the images predicted ``keep_class`` with ``confidence ≥ threshold``; write them to ``folder``.

    Returns a report: ``keep`` (the boolean mask), ``kept``, ``dropped`` per predicted
    class (plus ``"<keep_class>, below threshold"``), ``kept_precision`` (the share
    of kept images whose ``truth`` is ``keep_class``; ``None`` without truth or when
    nothing is kept) and ``files`` (the written paths, when ``folder`` is given).
    """
    classes = list(classes)
    if keep_class not in classes:
        raise ValueError(f"keep_class={keep_class!r} is not one of the classes {classes}")
    if not len(predicted) == len(confidence) == len(images):
        raise ValueError(f"{len(images)} images, {len(predicted)} predictions, {len(confidence)} confidences")
    k = classes.index(keep_class)
    predicted, confidence = predicted.cpu(), confidence.cpu()
    keep = (predicted == k) & (confidence >= threshold)
    dropped = {c: int((predicted == j).sum()) for j, c in enumerate(classes) if j != k}
    dropped[f"{keep_class}, below threshold"] = int(((predicted == k) & ~keep).sum())
    precision = None
    if truth is not None and keep.any():
        precision = (truth.cpu()[keep] == k).float().mean().item()
    report = {"keep": keep, "kept": int(keep.sum()), "dropped": dropped, "kept_precision": precision, "files": []}
    if folder is not None:
        report["files"] = save_image_folder(images.subset(keep), folder)
    return report

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
  what was kept); a hand label beats the network's guess.
- :func:`labels_from_truth` stands in for the hand in headless runs; :func:`label_split` turns the
  labelled names and the held-out split into the index sets every training of the notebook uses.
- :func:`curve_scores` and :func:`label_curve_verdicts` are the bookkeeping of the label-budget curve
  (supervised vs entropy + self-training vs the MinEnt pipeline); :data:`CURVE_TITLES` its table's columns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
                   truth: torch.Tensor | None = None, hand_labels: Mapping[str, str] | None = None) -> dict:
    """Keep the images predicted ``keep_class`` with ``confidence ≥ threshold``; write them to ``folder``.

    Returns a report: ``keep`` (the boolean mask), ``kept``, ``dropped`` per predicted
    class (plus ``"<keep_class>, below threshold"``), ``kept_precision`` (the share
    of kept images whose ``truth`` is ``keep_class``; ``None`` without truth or when
    nothing is kept) and ``files`` (the written paths, when ``folder`` is given).

    ``hand_labels`` (image name → class) beat the network: those images take their hand label with confidence 1
    (``predicted`` and ``confidence`` are not changed in place); the report then adds ``kept_by_hand`` and
    ``kept_precision_pseudo`` (the precision among the kept images only the network labelled).
    """
    classes = list(classes)
    if keep_class not in classes:
        raise ValueError(f"keep_class={keep_class!r} is not one of the classes {classes}")
    if not len(predicted) == len(confidence) == len(images):
        raise ValueError(f"{len(images)} images, {len(predicted)} predictions, {len(confidence)} confidences")
    k = classes.index(keep_class)
    predicted, confidence = predicted.cpu().clone(), confidence.cpu().clone()
    by_hand = torch.zeros(len(images), dtype=torch.bool)
    for i, name in enumerate(images.names):
        if hand_labels is not None and name in hand_labels:
            predicted[i], confidence[i], by_hand[i] = classes.index(hand_labels[name]), 1.0, True
    keep = (predicted == k) & (confidence >= threshold)
    dropped = {c: int((predicted == j).sum()) for j, c in enumerate(classes) if j != k}
    dropped[f"{keep_class}, below threshold"] = int(((predicted == k) & ~keep).sum())
    precision = None
    if truth is not None and keep.any():
        precision = (truth.cpu()[keep] == k).float().mean().item()
    report = {"keep": keep, "kept": int(keep.sum()), "dropped": dropped, "kept_precision": precision, "files": []}
    if hand_labels is not None:
        pseudo = keep & ~by_hand
        report["kept_by_hand"] = int((keep & by_hand).sum())
        report["kept_precision_pseudo"] = ((truth.cpu()[pseudo] == k).float().mean().item()
                                           if truth is not None and pseudo.any() else None)
    if folder is not None:
        report["files"] = save_image_folder(images.subset(keep), folder)
    return report


def labels_from_truth(store, names: Sequence[str], labels: Sequence[str], count: int, *, seed: int = 0) -> int:
    """Headless runs: the known truth stands in for the hand. While ``store`` (a ``LabelStore``) holds fewer than
    ``count`` labels, the first ``count`` names of a shuffle by ``seed`` that it lacks get their ``labels``;
    returns how many were added."""
    if len(store) >= count:
        return 0
    order = torch.randperm(len(names), generator=torch.Generator().manual_seed(seed)).tolist()
    added = 0
    for i in order[:count]:
        if names[i] not in store:
            store.add(names[i], labels[i])
            added += 1
    return added


@dataclass
class LabelSplit:
    """Index sets into the image set: ``hand`` (the training labels, in labelling order) with ``labels``, ``test``
    (held out) with ``test_labels`` (class indices), ``pool`` (every image outside the held-out groups: what
    unlabelled training may see), ``unlabelled`` (the pool without a hand label) and ``groups`` (held-out groups)."""

    hand: torch.Tensor
    labels: torch.Tensor
    test: torch.Tensor
    test_labels: torch.Tensor
    pool: torch.Tensor
    unlabelled: torch.Tensor
    groups: int

    def describe(self, classes: Sequence[str], largest: int) -> str:
        """What the split holds, per class, and a warning when there are fewer training labels than ``largest``."""
        counts = {c: int((self.labels == k).sum()) for k, c in enumerate(classes)}
        text = (f"{len(self.hand) + len(self.test)} labelled: {len(self.hand)} to train on ({counts}), "
                f"{len(self.test)} held out ({self.groups} groups); {len(self.unlabelled)} unlabelled")
        if len(self.hand) < largest:
            text += (f"\nonly {len(self.hand)} hand labels to train on, fewer than the largest budget {largest}: "
                     "label more above, or lower label_budgets (larger budgets are skipped)")
        return text


def label_split(names: Sequence[str], labelled: Mapping[str, str], classes: Sequence[str], train_names: Sequence[str],
                test_names: Sequence[str]) -> LabelSplit:
    """The :class:`LabelSplit` of the image names ``names``, given the hand labels (``labelled``: name → class) and
    their :func:`split_held_out`: near-copies of held-out images (:func:`name_group`) stay out of the pool."""
    classes = list(classes)
    index_of = {n: i for i, n in enumerate(names)}
    held_groups = {name_group(n) for n in test_names}
    pool = torch.tensor([i for i, n in enumerate(names) if name_group(n) not in held_groups], dtype=torch.long)
    return LabelSplit(hand=torch.tensor([index_of[n] for n in train_names]),
                      labels=torch.tensor([classes.index(labelled[n]) for n in train_names]),
                      test=torch.tensor([index_of[n] for n in test_names]),
                      test_labels=torch.tensor([classes.index(labelled[n]) for n in test_names]),
                      pool=pool, unlabelled=pool[[names[i] not in labelled for i in pool.tolist()]],
                      groups=len(held_groups))


#: the label-budget table's columns and their titles
CURVE_TITLES = {"labels": "labels", "supervised": "supervised", "entropy_self_training": "entropy+self-train",
                "minent_fine_tuned": "MinEnt fine-tuned", "minent_self_learned": "MinEnt +self-learning",
                "self_learning_change": "Δ self-learning", "pseudo_labels": "pseudo-labels",
                "pseudo_right": "of them right", "collapse": "collapse"}


def curve_scores(today: list[dict], minent: list[dict]) -> dict:
    """One label budget's semi-supervised scores from ``self_train``'s reports: entropy + self-training's final
    accuracy, the MinEnt pipeline's after fine-tuning (round 0) and after self-learning (its last round), the change
    self-learning made, and how many pseudo-labels the last round took and how many were right."""
    return {"entropy_self_training": today[-1]["val_acc"], "minent_fine_tuned": minent[0]["val_acc"],
            "minent_self_learned": minent[-1]["val_acc"],
            "self_learning_change": minent[-1]["val_acc"] - minent[0]["val_acc"],
            "pseudo_labels": minent[-1]["pseudo_labels"], "pseudo_right": minent[-1]["pseudo_correct"]}


def label_curve_verdicts(curve: list[dict]) -> tuple[list[str], bool]:
    """(the verdict lines, whether the goal is met) of a label-budget curve (rows of ``labels``, ``supervised`` and
    :func:`curve_scores`): where each semi-supervised method is above or below supervised; the goal — the MinEnt
    pipeline never below supervised and above it at ≤ 100 labels; and whether self-learning after fine-tuning
    helped or conflicted."""
    scored = [r for r in curve if r.get("minent_self_learned") is not None]
    verdicts = [f"{name}: above supervised at {[r['labels'] for r in scored if r[key] > r['supervised']] or 'no'} label "
                f"budget(s), below at {[r['labels'] for r in scored if r[key] < r['supervised']] or 'no'}"
                for key, name in (("entropy_self_training", "entropy + self-training"),
                                  ("minent_self_learned", "the MinEnt pipeline"))]
    goal_met = bool(scored) and all(r["minent_self_learned"] >= r["supervised"] for r in scored) and all(
        r["minent_self_learned"] > r["supervised"] for r in scored if r["labels"] <= 100)
    verdicts.append("the goal (MinEnt pipeline never below supervised, above it at ≤ 100 labels) is "
                    + ("met" if goal_met else "not met"))
    if changes := [r["self_learning_change"] for r in scored]:
        mean = sum(changes) / len(changes)
        verdicts.append(f"self-learning after fine-tuning raised the accuracy at {sum(c > 0 for c in changes)} of "
                        f"{len(changes)} budgets and lowered it at {sum(c < 0 for c in changes)} (mean change "
                        f"{mean:+.3f}): " + ("the two stages conflict here, as the author noted" if mean < 0 else
                                             "self-learning added to fine-tuning here" if mean > 0 else
                                             "no change on average"))
    return verdicts, goal_met

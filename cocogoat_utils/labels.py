"""Hand labels and subject boxes that survive a dead kernel (the widgets that make them are in ``label_widgets``).

The seed author sorted scraped fan art by hand into good / low quality / wrong subject.
Hand labelling in a notebook loses work when the kernel dies, so :class:`LabelStore`
appends one ``name,label`` row per click to a CSV and ``fsync``\\ s it: a crash loses at
most the click in flight. Labelling again appends a new row and the last one wins, so
undo is "go back and label again"; a restart resumes where the file left off.


:class:`BoxStore` keeps one subject box per image the same way (``name,x0,y0,x1,y1``, as
fractions of the image).
"""

from __future__ import annotations

import csv
import io
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch


_HEADER = ["name", "label"]


def _lines(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:10])) + (", …" if len(numbers) > 10 else "")
    return f"line{'s' if len(numbers) > 1 else ''} {shown}"


def _check_name(name) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"name={name!r}: need a non-empty string")


def append_row(path: Path, header: list[str], row: list) -> None:
    """Append one CSV row to ``path`` (the header first in a new file), flushed and fsync'd before returning.

    A row cut short by a crash is left as it is and the new row starts on a fresh line, so at
    most the row in flight is lost; readers skip the broken one with a warning.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.stat().st_size == 0:
        writer.writerow(header)
    else:
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                buffer.write("\n")
    writer.writerow(row)
    with open(path, "a", newline="", encoding="utf-8") as f:
        f.write(buffer.getvalue())
        f.flush()
        os.fsync(f.fileno())


def read_rows(path: Path, header: list[str]):
    """``(line number, row)`` for every non-empty row of a CSV written by :func:`append_row`, header skipped."""
    if not path.exists():
        return
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        for row in reader:
            if row and not (reader.line_num == 1 and row == header):
                yield reader.line_num, row


class LabelStore:
    """Labels in an append-only CSV (``name,label``), one row per label, flushed and fsync'd.

    ``classes`` are the allowed labels. An existing file is read on construction
    (:meth:`load`), so a new store on the same path resumes the old labels.
    """

    def __init__(self, path: str | Path, classes: Sequence[str]) -> None:
        self.path = Path(path).expanduser()
        self.classes = tuple(classes)
        if not self.classes or len(set(self.classes)) != len(self.classes) or not all(self.classes):
            raise ValueError(f"classes={classes!r}: need distinct, non-empty class names")
        self._labels: dict[str, str] = {}
        self.load()

    def _check_label(self, label: str) -> None:
        if label not in self.classes:
            raise ValueError(f"label {label!r} is not one of the classes {self.classes}")

    def load(self) -> dict[str, str]:
        """Read the file again (the last label for a name wins); warns about and skips bad lines."""
        self._labels = {}
        corrupt, unknown = [], []
        for line, row in read_rows(self.path, _HEADER):
            if len(row) != 2 or not row[0]:
                corrupt.append(line)
            elif row[1] not in self.classes:
                unknown.append(line)
            else:
                self._labels[row[0]] = row[1]
        if corrupt:
            warnings.warn(f"{self.path}: skipped {len(corrupt)} corrupt {_lines(corrupt)} "
                          "(expected 'name,label' with a non-empty name)", stacklevel=2)
        if unknown:
            warnings.warn(f"{self.path}: skipped {_lines(unknown)} with a label that is not one of "
                          f"the classes {self.classes}", stacklevel=2)
        return self.labels

    def add(self, name: str, label: str) -> None:
        """Label ``name`` (again): one row appended, flushed and fsync'd before returning."""
        self._check_label(label)
        _check_name(name)
        append_row(self.path, _HEADER, [name, label])
        self._labels[name] = label

    @property
    def labels(self) -> dict[str, str]:
        """name → label (a copy)."""
        return dict(self._labels)

    def counts(self) -> dict[str, int]:
        """How many names carry each class, in the order of ``classes``."""
        counts = dict.fromkeys(self.classes, 0)
        for label in self._labels.values():
            counts[label] += 1
        return counts

    def resolve(self, available_names: Iterable[str]) -> tuple[dict[str, str], list[str]]:
        """(labels of the names in ``available_names``, names in the file that are not there: warned about)."""
        available = set(available_names)
        found = {n: c for n, c in self._labels.items() if n in available}
        missing = [n for n in self._labels if n not in available]
        if missing:
            shown = ", ".join(map(repr, missing[:5])) + (", …" if len(missing) > 5 else "")
            warnings.warn(f"{self.path}: {len(missing)} labelled name(s) no longer exist, skipped: {shown}",
                          stacklevel=2)
        return found, missing

    def get(self, name: str) -> str | None:
        """The label of ``name``, or ``None``."""
        return self._labels.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._labels

    def __len__(self) -> int:
        return len(self._labels)

    def __repr__(self) -> str:
        return f"LabelStore({str(self.path)!r}, {len(self)} labels, {self.counts()})"


# --------------------------------------------------------------------------- subject boxes

_BOX_HEADER = ["name", "x0", "y0", "x1", "y1"]


class BoxStore:
    """One subject box per image in an append-only CSV, flushed and fsync'd like :class:`LabelStore`.

    Rows are ``name,x0,y0,x1,y1`` with the corners as fractions of the image's width and height,
    so that the boxes hold at any size the images are loaded at. The last row for a name wins;
    an existing file is read on construction, so a restarted kernel resumes the boxes drawn.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self._boxes: dict[str, tuple[float, float, float, float]] = {}
        self.load()

    @staticmethod
    def check_box(name: str, box) -> tuple[float, float, float, float]:
        """``box`` (fractions) clipped to the image; ``ValueError`` naming the image when nothing is left."""
        x0, y0, x1, y1 = (float(v) for v in box)
        if not all(map(math.isfinite, (x0, y0, x1, y1))):
            raise ValueError(f"{name}: box {box} is not finite")
        clipped = (min(max(x0, 0.0), 1.0), min(max(y0, 0.0), 1.0), min(max(x1, 0.0), 1.0), min(max(y1, 0.0), 1.0))
        if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
            raise ValueError(f"{name}: box {tuple(round(v, 3) for v in (x0, y0, x1, y1))} has no area inside the "
                             "image (corners are fractions of width and height, x0 < x1, y0 < y1)")
        if clipped != (x0, y0, x1, y1):
            warnings.warn(f"{name}: box {tuple(round(v, 3) for v in (x0, y0, x1, y1))} reaches outside the image, "
                          f"clipped to {tuple(round(v, 3) for v in clipped)}", stacklevel=3)
        return clipped

    def load(self) -> dict[str, tuple[float, float, float, float]]:
        """Read the file again (the last box for a name wins); warns about and skips bad lines."""
        self._boxes = {}
        bad: list[int] = []
        for line, row in read_rows(self.path, _BOX_HEADER):
            try:
                if len(row) != 5 or not row[0]:
                    raise ValueError
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self._boxes[row[0]] = self.check_box(row[0], row[1:])
            except ValueError:
                bad.append(line)
        if bad:
            warnings.warn(f"{self.path}: skipped {len(bad)} corrupt {_lines(bad)} (expected 'name,x0,y0,x1,y1' "
                          "with fractions and a positive area)", stacklevel=2)
        return self.boxes

    def add(self, name: str, box) -> tuple[float, float, float, float]:
        """Store ``box`` (x0, y0, x1, y1 as fractions) for ``name``, clipped to the image; returns what was stored."""
        _check_name(name)
        box = self.check_box(name, box)
        append_row(self.path, _BOX_HEADER, [name, *(f"{v:.5f}" for v in box)])
        self._boxes[name] = box
        return box

    @property
    def boxes(self) -> dict[str, tuple[float, float, float, float]]:
        """name → (x0, y0, x1, y1) as fractions (a copy)."""
        return dict(self._boxes)

    def pixel_boxes(self, names: Sequence[str], size: int) -> tuple[list[int], torch.Tensor]:
        """(positions in ``names`` that have a box, their boxes in pixels of a ``size × size`` image as ``(K, 4)``)."""
        found = [i for i, n in enumerate(names) if n in self._boxes]
        boxes = torch.tensor([self._boxes[names[i]] for i in found], dtype=torch.float32).reshape(-1, 4) * size
        return found, boxes

    def get(self, name: str) -> tuple[float, float, float, float] | None:
        """The box of ``name`` (fractions), or ``None``."""
        return self._boxes.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._boxes

    def __len__(self) -> int:
        return len(self._boxes)

    def __repr__(self) -> str:
        return f"BoxStore({str(self.path)!r}, {len(self)} boxes)"

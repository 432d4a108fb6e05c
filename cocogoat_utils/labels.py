"""Hand labels that survive a dead kernel, and a small labeller widget to make them.

The seed author sorted scraped fan art by hand into good / low quality / wrong subject.
Hand labelling in a notebook loses work when the kernel dies, so :class:`LabelStore`
appends one ``name,label`` row per click to a CSV and ``fsync``\\ s it: a crash loses at
most the click in flight. Labelling again appends a new row and the last one wins, so
undo is "go back and label again"; a restart resumes where the file left off.

:class:`Labeller` shows one image at a time with a button per class, Back and Skip,
and a text box for the keyboard. It is built on core ipywidgets only: no maintained
labelling library fits JupyterLab 4 and numpy 2 (see the design notes), and core
ipywidgets also runs on Colab's 7.x.
"""

from __future__ import annotations

import csv
import html
import io
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from .data import ImageSet

_HEADER = ["name", "label"]


def _lines(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:10])) + (", …" if len(numbers) > 10 else "")
    return f"line{'s' if len(numbers) > 1 else ''} {shown}"


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
        if not self.path.exists():
            return self.labels
        corrupt, unknown = [], []
        with open(self.path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            for row in reader:
                line = reader.line_num
                if line == 1 and row == _HEADER or not row:
                    continue
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
        if not isinstance(name, str) or not name:
            raise ValueError(f"name={name!r}: need a non-empty string")
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        size = self.path.stat().st_size if self.path.exists() else 0
        if size == 0:
            writer.writerow(_HEADER)
        else:
            with open(self.path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":  # a row cut short by a crash: start on a fresh line
                    buffer.write("\n")
        writer.writerow([name, label])
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            f.write(buffer.getvalue())
            f.flush()
            os.fsync(f.fileno())
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

    def __len__(self) -> int:
        return len(self._labels)

    def __repr__(self) -> str:
        return f"LabelStore({str(self.path)!r}, {len(self)} labels, {self.counts()})"


# --------------------------------------------------------------------------- the widget

def png_bytes(image: torch.Tensor, scale: int = 1) -> bytes:
    """One ``(C, H, W)`` uint8 image (C = 1, 3 or 4) as PNG bytes, enlarged ``scale`` times with nearest."""
    from PIL import Image

    array = image.detach().cpu().permute(1, 2, 0).numpy()
    pil = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    if scale != 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG")
    return buffer.getvalue()


class Labeller:
    """Label images one at a time into a :class:`LabelStore`: a button per class, Back, Skip, keyboard.

    Core ipywidgets only (no maintained labelling library fits JupyterLab 4 and numpy 2).
    ``images`` is an :class:`~cocogoat_utils.data.ImageSet` or a uint8 ``(N, C, H, W)``
    tensor with ``names``; names must be distinct (labels are keyed by name).
    ``order`` (positions) sets the order shown; the labeller starts at the first image
    without a label and shows ``scale`` × enlarged pixels.

    Keyboard: type in the text box and press Enter: the class number (``1``, ``2``…),
    its first letter or its name labels; ``b`` goes back, ``s`` skips. The same actions
    without a browser: :meth:`label`, :meth:`back`, :meth:`skip`, :meth:`press`.
    Display it by leaving it last in a cell, or ``display(labeller.widget)``.
    """

    def __init__(self, images: ImageSet | torch.Tensor, store: LabelStore, *, names: Sequence[str] | None = None,
                 order: Sequence[int] | None = None, scale: int = 4) -> None:
        import ipywidgets as widgets

        if isinstance(images, ImageSet):
            names, images = images.names, images.images
        if names is None or len(names) != len(images):
            raise ValueError("give one name per image (or an ImageSet)")
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"expected a (N, C, H, W) uint8 tensor, got {tuple(images.shape)} {images.dtype}")
        repeated = sorted(n for n, k in Counter(names).items() if k > 1)
        if repeated:
            raise ValueError(f"names must be distinct (labels are keyed by name); repeated: {repeated[:5]}")
        self.images, self.names, self.store, self.scale = images, list(names), store, scale
        self.order = list(range(len(images))) if order is None else [int(i) for i in order]
        if not self.order or not all(0 <= i < len(images) for i in self.order):
            raise ValueError(f"order must hold positions between 0 and {len(images) - 1}")
        self._history: list[int] = []  # positions in order visited before the current one
        self._pos: int | None = self._next_unlabelled(-1)

        self.caption = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.buttons = [widgets.Button(description=f"{k + 1} {c}") for k, c in enumerate(store.classes)]
        for button, cls in zip(self.buttons, store.classes):
            button.on_click(lambda _, cls=cls: self.label(cls))
        self.back_button, self.skip_button = widgets.Button(description="Back (b)"), widgets.Button(description="Skip (s)")
        self.back_button.on_click(lambda _: self.back())
        self.skip_button.on_click(lambda _: self.skip())
        self.keys = widgets.Text(placeholder=f"1–{len(store.classes)} or first letter, b back, s skip; Enter",
                                 description="key:")
        # ipywidgets 8 deprecates on_submit: there a Text with continuous_update=False sends its value on Enter
        self._submit_on_enter = int(widgets.__version__.split(".")[0]) < 8
        if self._submit_on_enter:
            self.keys.on_submit(lambda box: self._on_keys(box.value))
        else:
            self.keys.continuous_update = False
            self.keys.observe(lambda change: self._on_keys(change["new"]), "value")
        self.progress, self.status = widgets.Label(), widgets.Label()
        self.widget = widgets.VBox([self.caption, self.image, widgets.HBox(self.buttons),
                                    widgets.HBox([self.back_button, self.skip_button, self.keys]),
                                    widgets.HBox([self.progress, self.status])])
        self._show()

    # ---------------------------------------------------------------- navigation
    def _is_labelled(self, pos: int) -> bool:
        return self.names[self.order[pos]] in self.store._labels

    def _next_unlabelled(self, pos: int) -> int | None:
        """The first unlabelled position after ``pos``, wrapping round to earlier skipped ones; ``None`` when done."""
        n = len(self.order)
        for step in range(1, n + 1):
            candidate = (pos + step) % n
            if not self._is_labelled(candidate) and (candidate != pos or step == n):
                return candidate
        return None

    def _move_on(self) -> None:
        if self._pos is not None:
            self._history.append(self._pos)
        self._pos = self._next_unlabelled(self._pos if self._pos is not None else -1)
        self._show()

    @property
    def current(self) -> str | None:
        """The name of the image shown, ``None`` when every image is labelled."""
        return None if self._pos is None else self.names[self.order[self._pos]]

    def label(self, cls: str) -> None:
        """Label the current image ``cls`` (written to disk at once), then show the next unlabelled one."""
        if self._pos is None:
            self.status.value = "all labelled: Back to change one"
            return
        self.store.add(self.current, cls)
        self.status.value = f"{self.current} → {cls}"
        self._move_on()

    def skip(self) -> None:
        """Leave the current image unlabelled for now; it comes round again after the others."""
        if self._pos is not None:
            self.status.value = f"skipped {self.current}"
            self._move_on()

    def back(self) -> None:
        """Show the image before (the one last shown, else the previous in order) to label it again."""
        if self._history:
            self._pos = self._history.pop()
        elif self._pos is not None and self._pos > 0:
            self._pos -= 1
        else:
            self.status.value = "nothing to go back to"
            return
        self.status.value = ""
        self._show()

    def press(self, key: str) -> None:
        """Act on a key as typed in the text box: a class number, initial or name; ``b`` back; ``s`` skip."""
        key = key.strip().lower()
        classes = self.store.classes
        initials = {}
        for cls in classes:
            initials.setdefault(cls[:1].lower(), []).append(cls)
        if key == "b":
            self.back()
        elif key == "s":
            self.skip()
        elif key.isdigit() and 1 <= int(key) <= len(classes):
            self.label(classes[int(key) - 1])
        elif key in (c.lower() for c in classes):
            self.label(next(c for c in classes if c.lower() == key))
        elif len(initials.get(key, [])) == 1:
            self.label(initials[key][0])
        else:
            self.status.value = f"key {key!r}: type 1–{len(classes)}, a class initial, b or s"

    def _on_keys(self, value: str) -> None:
        if value.strip():
            self.keys.value = ""  # ready for the next key (this call sees "" and does nothing)
            self.press(value)

    # ---------------------------------------------------------------- display
    def _show(self) -> None:
        labels = self.store._labels
        done = sum(self.names[i] in labels for i in self.order)
        self.progress.value = f"{done} / {len(self.order)} labelled"
        if self._pos is None:
            self.caption.value = "<b>all images labelled</b>"
            return
        index = self.order[self._pos]
        self.image.value = png_bytes(self.images[index], self.scale)
        now = labels.get(self.current)
        self.caption.value = (f"<b>{html.escape(self.current)}</b> ({self._pos + 1} of {len(self.order)})"
                              + (f" — labelled <i>{html.escape(now)}</i>" if now else ""))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

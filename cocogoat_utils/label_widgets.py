"""The labelling widgets: one image at a time, every click saved to a store in ``labels`` at once.

:class:`Labeller` shows one image at a time with a button per class, Back and Skip, and a
text box for the keyboard. It is built on core ipywidgets only: no maintained labelling
library fits JupyterLab 4 and numpy 2, and core ipywidgets also runs on Colab's 7.x.
:class:`BoxLabeller` draws the subject's box with ``jupyter-bbox-widget`` (a maintained,
anywidget-based box annotator). Both share their navigation (:class:`_ImageQueue`) and read
the stores through their public methods only.
"""

from __future__ import annotations

import html
import io
import warnings
from collections import Counter
from collections.abc import Sequence

import torch
from IPython.display import display
from PIL import Image

from .data import ImageSet
from .labels import BoxStore, LabelStore


def png_bytes(image: torch.Tensor, scale: int = 1) -> bytes:
    """One ``(C, H, W)`` uint8 image (C = 1, 3 or 4) as PNG bytes, enlarged ``scale`` times with nearest."""
    array = image.detach().cpu().permute(1, 2, 0).numpy()
    pil = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    if scale != 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG")
    return buffer.getvalue()


class _ImageQueue:
    """Walks through images one at a time, starting at the first not yet done, with Skip and Back.

    Subclasses say when an image is done (:meth:`_is_done`) and draw it (:meth:`_show`);
    ``self.status`` is a widget with a ``value`` for one-line messages.
    """

    def __init__(self, images: ImageSet | torch.Tensor, names: Sequence[str] | None, order: Sequence[int] | None) -> None:
        if isinstance(images, ImageSet):
            names, images = images.names, images.images
        if names is None or len(names) != len(images):
            raise ValueError("give one name per image (or an ImageSet)")
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"expected a (N, C, H, W) uint8 tensor, got {tuple(images.shape)} {images.dtype}")
        repeated = sorted(n for n, k in Counter(names).items() if k > 1)
        if repeated:
            raise ValueError(f"names must be distinct (labels are keyed by name); repeated: {repeated[:5]}")
        self.images, self.names = images, list(names)
        self.order = list(range(len(images))) if order is None else [int(i) for i in order]
        if not self.order or not all(0 <= i < len(images) for i in self.order):
            raise ValueError(f"order must hold positions between 0 and {len(images) - 1}")
        self._history: list[int] = []  # positions in order visited before the current one
        self._pos: int | None = self._next_unlabelled(-1)

    def _is_done(self, name: str) -> bool:
        raise NotImplementedError

    def _show(self) -> None:
        raise NotImplementedError

    def _is_labelled(self, pos: int) -> bool:
        return self._is_done(self.names[self.order[pos]])

    @property
    def done(self) -> int:
        """How many of the images in ``order`` are done."""
        return sum(self._is_done(self.names[i]) for i in self.order)

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
        """The name of the image shown, ``None`` when every image is done."""
        return None if self._pos is None else self.names[self.order[self._pos]]

    def skip(self) -> None:
        """Leave the current image for now; it comes round again after the others."""
        if self._pos is not None:
            self.status.value = f"skipped {self.current}"
            self._move_on()

    def back(self) -> None:
        """Show the image before (the one last shown, else the previous in order) to do it again."""
        if self._history:
            self._pos = self._history.pop()
        elif self._pos is not None and self._pos > 0:
            self._pos -= 1
        else:
            self.status.value = "nothing to go back to"
            return
        self.status.value = ""
        self._show()

    def _ipython_display_(self) -> None:
        display(self.widget)


class Labeller(_ImageQueue):
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

        self.store, self.scale = store, scale
        super().__init__(images, names, order)

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

    def _is_done(self, name: str) -> bool:
        return name in self.store

    def label(self, cls: str) -> None:
        """Label the current image ``cls`` (written to disk at once), then show the next unlabelled one."""
        if self._pos is None:
            self.status.value = "all labelled: Back to change one"
            return
        self.store.add(self.current, cls)
        self.status.value = f"{self.current} → {cls}"
        self._move_on()

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
        self.progress.value = f"{self.done} / {len(self.order)} labelled"
        if self._pos is None:
            self.caption.value = "<b>all images labelled</b>"
            return
        index = self.order[self._pos]
        self.image.value = png_bytes(self.images[index], self.scale)
        now = self.store.get(self.current)
        self.caption.value = (f"<b>{html.escape(self.current)}</b> ({self._pos + 1} of {len(self.order)})"
                              + (f" — labelled <i>{html.escape(now)}</i>" if now else ""))


class BoxLabeller(_ImageQueue):
    """Draw the subject's box on images one at a time into a :class:`BoxStore`.

    The drawing is ``jupyter-bbox-widget`` (BSD-3, on anywidget; works in JupyterLab, Notebook 7,
    VS Code and Colab): drag a box over the subject, then Submit (or Enter); Skip leaves the image
    for later. Each submit is on disk before the next image shows. Without a browser,
    :meth:`submit_box` does what drawing and Submit do.
    """

    def __init__(self, images: ImageSet | torch.Tensor, store: BoxStore, *, names: Sequence[str] | None = None,
                 order: Sequence[int] | None = None, scale: int = 4, label: str = "subject") -> None:
        import ipywidgets as widgets

        try:
            from jupyter_bbox_widget import BBoxWidget
        except ImportError as error:
            raise ImportError("drawing boxes needs jupyter-bbox-widget: pip install jupyter-bbox-widget "
                              "(it is in requirements.txt)") from error
        self.store, self.scale = store, scale
        self.status, self.progress = widgets.Label(), widgets.Label()
        self.caption = widgets.HTML()
        self.drawing = BBoxWidget(classes=[label], label=label)
        self.drawing.on_submit(self._on_submit)
        self.drawing.on_skip(self.skip)
        self.back_button = widgets.Button(description="Back")
        self.back_button.on_click(lambda _: self.back())
        self.widget = widgets.VBox([self.caption, self.drawing, widgets.HBox([self.back_button, self.progress,
                                                                               self.status])])
        super().__init__(images, names, order)
        self._show()

    def _is_done(self, name: str) -> bool:
        return name in self.store

    @property
    def _shown_size(self) -> tuple[int, int]:
        """(height, width) of the image as the widget shows it, in which the drawn boxes are given."""
        return self.images.shape[-2] * self.scale, self.images.shape[-1] * self.scale

    def _on_submit(self) -> None:
        drawn = self.drawing.bboxes
        if not drawn:
            self.status.value = "draw a box around the subject first (or Skip)"
            return
        last = drawn[-1]  # one subject per image: the box drawn last counts
        self.submit_box((last["x"], last["y"], last["x"] + last["width"], last["y"] + last["height"]))

    def submit_box(self, box_pixels) -> None:
        """Store a box given in pixels of the image as shown (``scale`` × enlarged), then show the next image."""
        if self._pos is None:
            self.status.value = "all boxed: Back to change one"
            return
        side_h, side_w = self._shown_size
        x0, y0, x1, y1 = (float(v) for v in box_pixels)
        fractions = (min(x0, x1) / side_w, min(y0, y1) / side_h, max(x0, x1) / side_w, max(y0, y1) / side_h)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self.store.add(self.current, fractions)
        except ValueError as error:
            self.status.value = str(error)
            return
        self.status.value = f"{self.current}: box saved" + (f" ({caught[0].message})" if caught else "")
        self._move_on()

    def _show(self) -> None:
        self.progress.value = f"{self.done} / {len(self.order)} boxed"
        if self._pos is None:
            self.caption.value = "<b>every image has a box</b>"
            self.drawing.bboxes = []
            return
        index = self.order[self._pos]
        self.drawing.image_bytes = png_bytes(self.images[index][:3], self.scale)
        side_h, side_w = self._shown_size
        now = self.store.get(self.current)
        self.drawing.bboxes = [] if now is None else [{
            "x": now[0] * side_w, "y": now[1] * side_h, "width": (now[2] - now[0]) * side_w,
            "height": (now[3] - now[1]) * side_h, "label": self.drawing.label}]
        self.caption.value = (f"<b>{html.escape(self.current)}</b> ({self._pos + 1} of {len(self.order)})"
                              + (" — has a box: draw again to replace it" if now else ""))

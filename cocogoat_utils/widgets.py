"""Notebook sliders: stepping through frames (07 draws its truncation slider in the lesson itself).

Core ipywidgets only (7.x, as Colab ships it, and 8.x); each function displays its widget and returns it.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from IPython.display import display

from .runtime import headless
from .viz import show_images


def frame_slider(frames: list[torch.Tensor], titles: list[str], *, nrow: int = 8, description: str = "frame"):
    """An ipywidgets slider that shows one of ``frames`` (image batches) at a time, titled by ``titles``.

    In a headless run (:func:`~cocogoat_utils.runtime.headless`) the first and the last frame are drawn as still
    pictures instead (returns None): a saved notebook keeps what a reader can see, not the widget's text."""
    import ipywidgets as widgets

    if not frames or len(frames) != len(titles):
        raise ValueError(f"{len(frames)} frames and {len(titles)} titles: need as many of each, at least one")
    if headless():
        for index in sorted({0, len(frames) - 1}):
            show_images(frames[index], nrow=nrow, title=titles[index])
            plt.show()
        return None
    output = widgets.Output()
    slider = widgets.IntSlider(value=0, min=0, max=len(frames) - 1, description=description, continuous_update=False)

    def redraw(_=None):
        with output:
            output.clear_output(wait=True)
            show_images(frames[slider.value], nrow=nrow, title=titles[slider.value])
            plt.show()

    slider.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([slider, output])
    display(box)
    return box

"""Notebook sliders: the truncation threshold on a trained generator, and stepping through frames.

Core ipywidgets only (7.x, as Colab ships it, and 8.x); each function displays its widget and returns it.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from IPython.display import display

from .latent import generate, truncated_noise
from .viz import show_images


def truncation_slider(generator: torch.nn.Module, *, n: int = 16, seed: int = 0):
    """An ipywidgets slider over the truncation threshold that redraws ``n`` samples as it moves."""
    import ipywidgets as widgets

    output = widgets.Output()
    slider = widgets.FloatSlider(value=1.0, min=0.05, max=3.0, step=0.05, description="threshold",
                                 continuous_update=False)
    seed_box = widgets.IntText(value=seed, description="seed")

    def redraw(_=None):
        with output:
            output.clear_output(wait=True)
            images = generate(generator, truncated_noise(n, generator.latent_dim, slider.value, seed=seed_box.value))
            show_images(images, nrow=min(n, 8), title=f"|z| ≤ {slider.value:.2f}", figsize=(8, 2.2 * -(-n // 8)))
            plt.show()

    slider.observe(redraw, names="value")
    seed_box.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([widgets.HBox([slider, seed_box]), output])
    display(box)
    return box


def frame_slider(frames: list[torch.Tensor], titles: list[str], *, nrow: int = 8, description: str = "frame"):
    """An ipywidgets slider that shows one of ``frames`` (image batches) at a time, titled by ``titles``."""
    import ipywidgets as widgets

    if not frames or len(frames) != len(titles):
        raise ValueError(f"{len(frames)} frames and {len(titles)} titles: need as many of each, at least one")
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

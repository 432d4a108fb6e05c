"""The trained models shipped with the package, and where bundled files are found.

``checkpoints/`` in the repository holds the metrics' feature classifier and one trained
model per generative notebook, each ``<name>.pt`` (weights only, fp16) beside ``<name>.json``
(its record: recipe, data, steps, images seen, time, hardware, precision, metrics and the
command that reproduces it). The wheel carries the same folder as the package data
``cocogoat_utils.checkpoints``, so :func:`bundled_path` finds the files after
``pip install git+…`` as well as in a checkout, and nothing is ever downloaded.

:func:`load_pretrained` rebuilds the network a record names and loads its weights with
``weights_only=True``; it fails with the file named when the file is missing, or when the
caller expects another architecture or size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .bundled import bundle_dirs, bundled_path  # noqa: F401  (re-exported: older imports)
from .data import to_uint8
from .diffusion import sample as diffusion_sample
from .models import build_network


class PretrainedMismatch(ValueError):
    """A shipped model is not the architecture or size the caller expects."""


@dataclass
class Pretrained:
    """A shipped model: the network (eval mode, float32) and its record."""

    name: str
    model: nn.Module
    record: dict
    path: Path

    @property
    def image_size(self) -> int:
        return int(self.record["image_size"])

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def generate(self, n: int = 64, *, seed: int = 0, steps: int = 50, labels: torch.Tensor | None = None,
                 guidance: float = 1.0, sampler: str | None = None) -> torch.Tensor:
        """``n`` images as uint8 on the CPU from noise drawn with ``seed``: the generator's, or for a diffusion
        model its record's deterministic sampler (DDIM at eta 0 with the record's spacing, or Euler/Heun for a flow
        model; ``sampler`` names another one its schedule allows) in ``steps`` steps (the classes in turn, unless
        ``labels`` are given)."""
        if self.record["model"] != "UNet":
            z = torch.randn(n, self.model.latent_dim, generator=torch.Generator().manual_seed(seed)).to(self.device)
            return to_uint8(self.model.images(self.model(z))).cpu()
        r = self.record
        classes = len(r.get("classes", [])) or None
        if labels is None and classes:
            labels = torch.arange(n) % classes
        images = diffusion_sample(self.model, (n, self.model.config["channels"], self.image_size, self.image_size),
                                  schedule=r["schedule"], T=r["T"], prediction=r.get("prediction", "eps"),
                                  zero_terminal_snr=r.get("zero_terminal_snr", False), sampler=sampler or r.get("sampler", "ddim"),
                                  spacing=r.get("sample_spacing", "linspace"), steps=steps,
                                  labels=None if labels is None else labels.to(self.device), null_label=classes,
                                  guidance=guidance, generator=torch.Generator().manual_seed(seed), device=self.device)
        return to_uint8(images).cpu()

    def describe(self) -> str:
        """One line: what it is, how long it trained, and its scores."""
        r = self.record
        scores = r.get("metrics", {})
        fd = f", FD {scores['fd']:.1f} ({scores.get('feature_space', 'classifier')} space)" if "fd" in scores else ""
        return (f"{self.name}: {r['model']} at {r['image_size']} px, {r['steps']:,} steps ({r['images_seen']:,} images) "
                f"in {r['wall_minutes']:.0f} min on {r['hardware']} ({r['precision']}){fd}")


def shipped_name(recipe: str, image_size: int, default_size: int = 32) -> str:
    """The file stem a model ships under: ``dcgan`` at its recipe's size (32 px), ``dcgan-64px`` at another."""
    return recipe if image_size == default_size else f"{recipe}-{image_size}px"


def load_record(name: str) -> dict:
    """The record ``<name>.json`` of a shipped model."""
    return json.loads(bundled_path(f"{name}.json").read_text())


def load_pretrained(name: str, *, device: str | torch.device = "cpu", model: str | None = None,
                    image_size: int | None = None) -> Pretrained:
    """The shipped model ``name`` (see ``python -m cocogoat_utils.pretrain --list``) on ``device``, in eval mode.

    ``model`` (a class name such as ``"DCGANGenerator"``) and ``image_size`` say what the caller
    expects; with ``image_size``, a model trained at that size (``<name>-<size>px.pt``, e.g. ``dcgan-64px``)
    is preferred over ``<name>.pt``. A shipped file of another architecture or size raises
    :class:`PretrainedMismatch` naming the file and both sides. A missing file raises
    ``FileNotFoundError`` naming it.
    """
    path = bundled_path(f"{name}.pt")
    if image_size is not None:  # a model trained at another size ships as <name>-<size>px.pt beside it
        try:
            path = bundled_path(shipped_name(name, image_size) + ".pt")
        except FileNotFoundError:
            pass
    state = torch.load(path, map_location="cpu", weights_only=True)
    record = state["record"]
    if model is not None and record["model"] != model:
        raise PretrainedMismatch(f"{path} holds a {record['model']}; this notebook expects a {model}")
    if image_size is not None and int(record["image_size"]) != image_size:
        raise PretrainedMismatch(f"{path} was trained at {record['image_size']} px; this notebook runs at "
                                 f"{image_size} px (set image_size={record['image_size']}, or pretrained=False)")
    network = build_network(record["model"], record["model_config"])
    weights = {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in state["weights"].items()}
    network.load_state_dict(weights)
    return Pretrained(name, network.to(device).eval(), record, path)

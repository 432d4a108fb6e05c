"""One file per model family, and :func:`build_network`, which rebuilds a shipped network from its record."""

from __future__ import annotations

from torch import nn

from .dcgan import DCGANGenerator
from .lstm_gan import LSTMGenerator
from .msggan import MSGGenerator
from .progan import ProGenerator
from .unet import UNet

SHIPPED_NETWORKS = {c.__name__: c for c in (DCGANGenerator, LSTMGenerator, MSGGenerator, ProGenerator, UNet)}


def build_network(model: str, config: dict) -> nn.Module:
    """The shipped network ``model`` (a class name) built from its recorded constructor arguments."""
    if model not in SHIPPED_NETWORKS:
        raise ValueError(f"no shipped network is a {model!r}; known: {sorted(SHIPPED_NETWORKS)}")
    return SHIPPED_NETWORKS[model](**config)

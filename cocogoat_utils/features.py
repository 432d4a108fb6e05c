"""The feature spaces the judge (:mod:`cocogoat_utils.metrics`) compares images in.

A sample-quality score is only as good as the space it is computed in. Heusel et al. (2017,
https://arxiv.org/abs/1706.08500) validated FID by disturbing real images and checking that the
distance grows with the disturbance; Kynkäänniemi et al. (ICLR 2023, https://arxiv.org/abs/2203.06026)
show that FID follows the class information of its feature network, and Stein et al. (NeurIPS 2023,
https://arxiv.org/abs/2306.04675) find self-supervised features closer to human judgement than a
classifier's. Naeem et al. (ICML 2020, https://arxiv.org/abs/2002.09797) suggest randomly
initialised networks' features where no trained network fits the domain.

The spaces, each a module ``uint8 (N, 3, H, W) → (N, D)``:

- ``"glyph"`` (the default, :class:`LayerFeatures` from ``checkpoints/glyph_features.pt``): a small
  convolutional encoder trained without labels on the embedded glyphs (SimCLR, Chen et al. 2020,
  https://arxiv.org/abs/2002.05709: two augmented views of one glyph pulled together, other glyphs
  pushed apart), its four blocks' channel means read together with those of a randomly initialised
  twin (low-level colour, noise and texture statistics), each block scaled to equal variance and the
  whole projected onto its 64 principal directions on the glyphs, whitened. Chosen by the
  disturbance battery (``benchmarks/metrics_battery.py``), whose table shows why.
  Trained by ``checkpoints/train_feature_network.py``.
- ``"classifier"``: the previous space, a classifier of the glyphs' Unicode categories (64-d).
- ``"inception"``: Inception-v3's pool features (2048-d), the standard FID, for people's own photos;
  needs torch-fidelity's weights already on the machine (Colab downloads them; nothing is downloaded
  here). Install with ``pip install "cocogoat_utils[inception]"``.

Every image is resized to the space's size (32 px) first, so one space scores every resolution.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .bundled import bundled_path
from .checkpoint import atomic_save
from .models.classifier import ImageClassifier

FEATURE_IMAGE_SIZE = 32
GLYPH_FILE = "glyph_features.pt"
CLASSIFIER_FILE = "openmoji_classifier.pt"
INCEPTION_WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's file name
SPACES = ("glyph", "classifier", "inception")


def to_unit_range(images: torch.Tensor, image_size: int) -> torch.Tensor:
    """uint8 images → floats in ``[-1, 1]`` at ``image_size`` (antialiased bilinear resize when they differ)."""
    x = images.float().div(127.5).sub(1.0)
    if x.shape[-2:] != (image_size, image_size):
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", antialias=True, align_corners=False)
    return x


def block_outputs(encoder: ImageClassifier, x: torch.Tensor, *, blocks: int | None = None) -> list[torch.Tensor]:
    """The output of each of the encoder's strided blocks (after its second ReLU): ``[(B, C_i, H/2^i, W/2^i)]``; the
    first ``blocks`` only, when given (the rest of the encoder is not run)."""
    outputs = []
    for i, layer in enumerate(encoder.body):
        x = layer(x)
        if (i + 1) % 6 == 0:  # a block is conv, BN, ReLU, strided conv, BN, ReLU
            outputs.append(x)
            if len(outputs) == blocks:
                break
    return outputs


#: what the glyph space reads (encoder 0: the SimCLR encoder, 1: its random twin): the SimCLR encoder's two deepest
#: blocks and its embedding (shape), the random twin's two first blocks (colour, noise, texture); chosen by the battery
GLYPH_PARTS = ((0, "block2"), (0, "block3"), (0, "embedding"), (1, "block0"), (1, "block1"))


def read_parts(encoders: list[ImageClassifier], parts, x: torch.Tensor) -> list[torch.Tensor]:
    """``(B, C)`` for each ``(encoder, output)`` of ``parts``: a block's channel means (``"block0"`` … ``"block3"``), or
    the encoder's embedding (``"embedding"``). Each encoder runs only as deep as its parts reach, on channels-last
    inputs (the CPU's convolutions run about twice as fast so)."""
    x = x.contiguous(memory_format=torch.channels_last)
    outputs = {}
    for e in sorted({e for e, _ in parts}):
        names = {name for i, name in parts if i == e}
        deepest = None if "embedding" in names else 1 + max(int(name.removeprefix("block")) for name in names)
        blocks = block_outputs(encoders[e], x, blocks=deepest)
        outputs[e] = {f"block{i}": b.mean(dim=(2, 3)) for i, b in enumerate(blocks)}
        if "embedding" in names:
            outputs[e]["embedding"] = encoders[e].embed(blocks[-1])
    return [outputs[e][name] for e, name in parts]


class LayerFeatures(nn.Module):
    """Several encoders' outputs (``parts``), each scaled to unit total variance, then projected onto fixed principal
    directions (``(x − mean) @ projection``; whitened when the projection was).

    The scales, mean and projection are fitted once on the glyphs (:func:`fit_projection`) and stored with the
    weights, so the space is the same on every machine.
    """

    def __init__(self, encoders: list[ImageClassifier], *, parts, block_scale: torch.Tensor, mean: torch.Tensor,
                 projection: torch.Tensor, image_size: int = FEATURE_IMAGE_SIZE) -> None:
        super().__init__()
        self.encoders = nn.ModuleList(e.eval().requires_grad_(False) for e in encoders)
        self.parts = tuple((int(e), str(name)) for e, name in parts)
        self.register_buffer("block_scale", block_scale)  # (number of parts,)
        self.register_buffer("mean", mean)  # (sum of widths,)
        self.register_buffer("projection", projection)  # (sum of widths, D)
        self.image_size = image_size
        self.num_features = projection.shape[1]

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, sum of widths)``: every part, divided by its scale."""
        return torch.cat([b / s for b, s in zip(read_parts(list(self.encoders), self.parts, x), self.block_scale)], 1)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (self.raw(to_unit_range(images, self.image_size)) - self.mean) @ self.projection


@torch.no_grad()
def fit_projection(encoders: list[ImageClassifier], images: torch.Tensor, *, parts=None, dims: int = 64,
                   whiten: bool = True, image_size: int = FEATURE_IMAGE_SIZE, batch_size: int = 256) -> LayerFeatures:
    """A :class:`LayerFeatures` whose scales, mean and principal directions are fitted on ``images`` (uint8).

    ``parts`` defaults to every block of every encoder. Each part is scaled so that its values have unit total
    variance (no part outweighs another by its width); PCA keeps the ``dims`` directions of largest variance;
    ``whiten`` divides each by its standard deviation, so that FD weighs every kept direction alike.
    """
    for e in encoders:
        e.eval()
    parts = tuple(parts or [(e, f"block{i}") for e in range(len(encoders)) for i in range(encoders[e].config["depth"])])
    read = [read_parts(encoders, parts, to_unit_range(images[i:i + batch_size], image_size))
            for i in range(0, len(images), batch_size)]
    blocks = [torch.cat(column).double() for column in zip(*read)]
    scale = torch.stack([b.var(dim=0).sum().sqrt() for b in blocks]).clamp_min(1e-8)
    x = torch.cat([b / s for b, s in zip(blocks, scale)], dim=1)
    mean = x.mean(0)
    _, singular, vectors = torch.linalg.svd(x - mean, full_matrices=False)
    projection = vectors[:dims].T  # (widths, dims)
    if whiten:
        projection = projection / (singular[:dims] / (len(x) - 1) ** 0.5).clamp_min(1e-8)
    return LayerFeatures(encoders, parts=parts, block_scale=scale.float(), mean=mean.float(),
                         projection=projection.float(), image_size=image_size)


class ClassifierFeatures(nn.Module):
    """uint8 images ``(N, 3, H, W)`` → the category classifier's ``(N, 64)`` embedding, at ``image_size`` first."""

    def __init__(self, classifier: ImageClassifier, image_size: int = FEATURE_IMAGE_SIZE) -> None:
        super().__init__()
        self.classifier = classifier.eval().requires_grad_(False)
        self.image_size = image_size
        self.num_features = classifier.feature_dim

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier.features(to_unit_range(images, self.image_size))


class InceptionFeatures(nn.Module):
    """torchmetrics' Inception-v3 pool features (2048-d), for the standard FID; uint8 images of any size."""

    def __init__(self) -> None:
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3  # needs torch-fidelity: the optional extra

        self.net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"])
        self.num_features = 2048

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


def inception_available() -> bool:
    """Whether torch-fidelity and its Inception weights are already on this machine (never downloads)."""
    if find_spec("torch_fidelity") is None:
        return False
    return (Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS).is_file()


def save_layer_features(features: LayerFeatures, path: str | Path, **record) -> None:
    """Write a :class:`LayerFeatures` (its encoders' configs and weights, scales, mean, projection) to ``path``."""
    atomic_save({"version": 1, "kind": "layer-features", "image_size": features.image_size,
                 "encoders": [{"config": dict(e.config),  # fp16 on disk (the size limit), fp32 when loaded
                               "state_dict": {k: v.half() if v.is_floating_point() else v
                                              for k, v in e.state_dict().items()}} for e in features.encoders],
                 "parts": [list(p) for p in features.parts], "block_scale": features.block_scale, "mean": features.mean, "projection": features.projection,
                 "record": record}, path)


def load_layer_features(path: str | Path) -> LayerFeatures:
    """A :class:`LayerFeatures` written by :func:`save_layer_features` (read with ``weights_only=True``)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    encoders = []
    for blob in state["encoders"]:
        encoder = ImageClassifier(**blob["config"])
        encoder.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()})
        encoders.append(encoder)
    return LayerFeatures(encoders, parts=state["parts"], block_scale=state["block_scale"], mean=state["mean"],
                         projection=state["projection"], image_size=state["image_size"])


def load_feature_extractor(feature_space: str = "auto", *, device: str | torch.device = "cpu",
                           download: bool = False) -> tuple[nn.Module, str]:
    """The feature network and its name, for ``"glyph"`` (``"auto"``), ``"classifier"`` or ``"inception"``.

    ``"auto"`` is the glyph space everywhere, so that numbers compare across machines;
    ``"inception"`` raises ``FileNotFoundError`` when its weights are not already here, unless ``download`` lets
    torch-fidelity fetch them (once, into torch's hub folder: on Colab, or any machine online).
    """
    if feature_space not in ("auto", *SPACES):
        raise ValueError(f"feature_space={feature_space!r}: expected 'auto' or one of {SPACES}")
    if feature_space == "inception":
        if not inception_available() and not (download and find_spec("torch_fidelity") is not None):
            raise FileNotFoundError(
                f"the standard FID needs torch-fidelity (pip install 'cocogoat_utils[inception]') and "
                f"{INCEPTION_WEIGHTS} in {torch.hub.get_dir()}/checkpoints; nothing is downloaded here (Colab "
                "fetches it the first time with download=True) — or use feature_space='glyph'")
        return InceptionFeatures().to(device), "inception"
    if feature_space == "classifier":
        state = torch.load(bundled_path(CLASSIFIER_FILE), map_location="cpu", weights_only=True)
        classifier = ImageClassifier(**state["config"])
        classifier.load_state_dict(state["state_dict"])
        return ClassifierFeatures(classifier, state["image_size"]).to(device), "classifier"
    return load_layer_features(bundled_path(GLYPH_FILE)).to(device), "glyph"

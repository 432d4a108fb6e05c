"""Sample quality in one fixed feature space: Fréchet distance, KID, precision/recall, diversity.

- **Fréchet distance** (Heusel et al. 2017, https://arxiv.org/abs/1706.08500): fit a
  Gaussian to the features of each set; ``FD = ‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2 (Σ_r Σ_g)^½)``.
  Computed by ``torchmetrics``' ``FrechetInceptionDistance``.
- **KID** (Bińkowski et al. 2018, https://arxiv.org/abs/1801.01401): the squared MMD with
  the cubic polynomial kernel, averaged over random subsets, with its standard
  deviation; unbiased, so usable with few samples. ``torchmetrics``' ``KernelInceptionDistance``.
- **Precision and recall** (Kynkäänniemi et al. 2019, https://arxiv.org/abs/1904.06991):
  each set's manifold is the union of balls reaching each point's k-th nearest
  neighbour; precision is the share of generated samples inside the real manifold
  (fidelity), recall the share of real samples inside the generated one (coverage).
- **Diversity**: the mean pairwise feature distance within a set. A generator whose
  diversity falls far below the real data's is collapsing.
- **Block artefact** (:func:`block_artifact`): how much more images change across the lines
  of a coarse pixel grid than inside its cells; a progressive generator's tell-tale.
- **Sharpness** (:func:`sharpness`): the mean absolute Laplacian, fine detail; :func:`healthy_shares`: how
  much of a run's loss curves stayed inside a band (the Cocogoat author's healthy BCE losses).
- **Saturated pixels** (:func:`saturated_pixels`): the share of pixels at 0 or 255, an undertrained
  diffusion model's black and white squares.

The feature space is a small classifier trained offline on the embedded dataset's
Unicode categories (``checkpoints/openmoji_classifier.pt``, trained by
``checkpoints/train_feature_classifier.py``), the same for every model and resolution:
images are resized to 32×32 first. When torch-fidelity's Inception-v3 weights are
already on the machine, ``feature_space="inception"`` gives the standard FID instead;
nothing is ever downloaded. Numbers from different feature spaces are not comparable:
every result names its space.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .bundled import bundled_path

FEATURE_IMAGE_SIZE = 32
CLASSIFIER_FILE = "openmoji_classifier.pt"
INCEPTION_WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's file name


class ClassifierFeatures(nn.Module):
    """uint8 images ``(N, 3, H, W)`` → the classifier's ``(N, D)`` embedding, resized to ``image_size`` first."""

    def __init__(self, classifier: nn.Module, image_size: int = FEATURE_IMAGE_SIZE) -> None:
        super().__init__()
        self.classifier = classifier.eval().requires_grad_(False)
        self.image_size = image_size
        self.num_features = classifier.feature_dim

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float().div(127.5).sub(1.0)
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", antialias=True,
                              align_corners=False)
        return self.classifier.features(x)


class InceptionFeatures(nn.Module):
    """torchmetrics' Inception-v3 pool features (2048-d), for the standard FID; uint8 images of any size."""

    def __init__(self) -> None:
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3

        self.net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"])
        self.num_features = 2048

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


class _GivenFeatures(nn.Module):
    """Lets torchmetrics take features computed once, instead of recomputing them from images."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def inception_available() -> bool:
    """Whether torch-fidelity and its Inception weights are already on this machine (never downloads)."""
    from importlib.util import find_spec

    if find_spec("torch_fidelity") is None:
        return False
    return (Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS).is_file()


def load_feature_extractor(feature_space: str = "auto", *, device: str | torch.device = "cpu") -> tuple[nn.Module, str]:
    """The feature network and its name: ``"classifier"``, ``"inception"``, or ``"auto"`` (the classifier).

    ``"auto"`` stays with the classifier so that numbers compare across machines;
    ``"inception"`` raises ``FileNotFoundError`` when its weights are not already here.
    """
    if feature_space not in ("auto", "classifier", "inception"):
        raise ValueError(f"feature_space={feature_space!r}: expected 'auto', 'classifier' or 'inception'")
    if feature_space == "inception":
        if not inception_available():
            raise FileNotFoundError(
                f"the standard FID needs torch-fidelity and {INCEPTION_WEIGHTS} in {torch.hub.get_dir()}/checkpoints; "
                "nothing is downloaded — use feature_space='classifier'")
        return InceptionFeatures().to(device), "inception-v3 pool3 (2048-d)"
    from .models.selector import ImageClassifier

    state = torch.load(bundled_path(CLASSIFIER_FILE), map_location="cpu", weights_only=True)
    classifier = ImageClassifier(**state["config"])
    classifier.load_state_dict(state["state_dict"])
    name = f"openmoji-classifier ({classifier.feature_dim}-d, {state['image_size']}px)"
    return ClassifierFeatures(classifier, state["image_size"]).to(device), name


def _check_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, 3, H, W)`` pass; float images must be in ``[-1, 1]`` and are converted; anything else fails."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images shaped (N, 3, H, W), got {tuple(images.shape)}")
    if images.dtype != torch.uint8:
        if not images.is_floating_point():
            raise ValueError(f"expected uint8 or float images, got {images.dtype}")
        low, high = images.min().item(), images.max().item()
        if low < -1.001 or high > 1.001:
            raise ValueError(f"float images must be in [-1, 1] (a generator's tanh range); got [{low:.3g}, {high:.3g}]")
        images = images.add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8)
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    return images


@torch.no_grad()
def extract_features(extractor: nn.Module, images: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """``(N, D)`` float64 features on the CPU, computed batch by batch on the extractor's device."""
    images = _check_images(images)
    device = next(extractor.parameters()).device
    return torch.cat([extractor(images[i:i + batch_size].to(device)).double().cpu()
                      for i in range(0, len(images), batch_size)])


def frechet_distance(real_features: torch.Tensor, fake_features: torch.Tensor) -> float:
    """FD between two feature sets (torchmetrics); each needs more samples than dimensions."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    dims = real_features.shape[1]
    for name, feats in (("real", real_features), ("generated", fake_features)):
        if len(feats) <= dims:
            raise ValueError(f"the Fréchet distance needs at least {dims + 1} {name} samples for a full-rank "
                             f"covariance of {dims}-d features; got {len(feats)}")
    fid = FrechetInceptionDistance(feature=_GivenFeatures(dims), normalize=False)
    fid.set_dtype(torch.float64)
    fid.update(real_features, real=True)
    fid.update(fake_features, real=False)
    return max(0.0, float(fid.compute()))


def kernel_distance(real_features: torch.Tensor, fake_features: torch.Tensor, *, subset_size: int = 1000,
                    subsets: int = 50, seed: int = 0) -> tuple[float, float]:
    """KID (mean, std over ``subsets`` random subsets of ``subset_size``, at most half of each set) (torchmetrics)."""
    from torchmetrics.image.kid import KernelInceptionDistance

    # at most half of each set, so that the subsets differ and their spread is a real standard deviation
    size = min(subset_size, len(real_features) // 2, len(fake_features) // 2)
    if size < 2:
        raise ValueError(f"KID needs at least 4 samples per set; got {len(real_features)} and {len(fake_features)}")
    with warnings.catch_warnings():  # "will save all extracted features": these are small feature vectors
        warnings.simplefilter("ignore", UserWarning)
        kid = KernelInceptionDistance(feature=_GivenFeatures(real_features.shape[1]), subsets=subsets,
                                      subset_size=size, normalize=False)
    kid.update(real_features, real=True)
    kid.update(fake_features, real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = kid.compute()
    return float(mean), float(std)


def _kth_neighbour_radius(features: torch.Tensor, k: int) -> torch.Tensor:
    distances = torch.cdist(features, features)
    return distances.kthvalue(k + 1, dim=1).values  # the 0th neighbour is the point itself


def precision_recall(real_features: torch.Tensor, fake_features: torch.Tensor, *, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall with k-nearest-neighbour manifolds (Kynkäänniemi et al. 2019)."""
    if min(len(real_features), len(fake_features)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples per set")
    cross = torch.cdist(fake_features, real_features)  # (n_fake, n_real)
    precision = (cross <= _kth_neighbour_radius(real_features, k).unsqueeze(0)).any(dim=1).double().mean()
    recall = (cross.T <= _kth_neighbour_radius(fake_features, k).unsqueeze(0)).any(dim=1).double().mean()
    return float(precision), float(recall)


def diversity(features: torch.Tensor) -> float:
    """Mean pairwise Euclidean distance between distinct samples."""
    n = len(features)
    if n < 2:
        raise ValueError("diversity needs at least 2 samples")
    return float(torch.pdist(features).mean())


def collapse_status(metrics: list[dict], *, threshold: float = 0.5) -> dict:
    """Whether and how a run collapsed, from its quality evaluations in step order.

    Every evaluation whose diversity ratio is under ``threshold`` counts as collapsed, whether
    the run was ever diverse or not. Returns ``{"collapsed": …, "kind": …, "step": …,
    "collapsed_steps": […], "text": …}``: ``collapsed`` is the last evaluation's flag; ``kind`` is
    ``"from the start"`` (no diverse evaluation before the first collapsed one),
    ``"after being diverse"``, or ``None`` (never); ``step`` is the first collapsed evaluation's.
    """
    flagged = [m for m in metrics if m["diversity_ratio"] < threshold]
    if not metrics:
        return {"collapsed": False, "kind": None, "step": None, "collapsed_steps": [], "text": "not measured"}
    if not flagged:
        low = min(m["diversity_ratio"] for m in metrics)
        return {"collapsed": False, "kind": None, "step": None, "collapsed_steps": [],
                "text": f"no collapse (diversity ratio ≥ {threshold:g} at all {len(metrics)} evaluations; lowest {low:.2f})"}
    first = flagged[0]
    diverse_before = [m for m in metrics if m["step"] < first["step"]]
    kind = "after being diverse" if diverse_before else "from the start"
    last = metrics[-1]
    if kind == "from the start":
        text = f"collapsed from the start (diversity ratio {first['diversity_ratio']:.2f} at step {first['step']})"
    else:
        text = (f"collapsed at step {first['step']} after being diverse (diversity ratio "
                f"{diverse_before[-1]['diversity_ratio']:.2f} → {first['diversity_ratio']:.2f})")
    if last["diversity_ratio"] >= threshold:
        text += f"; diverse again by step {last['step']} ({last['diversity_ratio']:.2f})"
    return {"collapsed": last["diversity_ratio"] < threshold, "kind": kind, "step": first["step"],
            "collapsed_steps": [m["step"] for m in flagged], "text": text}


def block_artifact(images: torch.Tensor, block: int = 2) -> float:
    """How much more the images change across the lines of a ``block × block`` grid than inside its cells.

    The mean absolute difference between neighbouring pixels that straddle a grid line, divided by
    the mean between neighbours inside a cell, over rows and columns. Natural images score about 1;
    an image enlarged from ``block``-times fewer pixels by nearest-neighbour scales it up without
    bound (its cells are flat). A grown generator whose new block adds little to the enlarged
    coarse image — or a grid pattern in its output — shows up as a ratio above the real data's.
    """
    if images.ndim != 4 or images.shape[-1] < 2 * block or images.shape[-2] < 2 * block:
        raise ValueError(f"block_artifact needs (N, C, H, W) images of at least {2 * block} pixels, got {tuple(images.shape)}")
    x = images.float()
    across, inside = [], []
    for diff in (x.diff(dim=-1), x.diff(dim=-2).transpose(-1, -2)):  # diff[..., i] is pixel i+1 minus pixel i
        on_line = (torch.arange(diff.shape[-1], device=x.device) + 1) % block == 0
        across.append(diff[..., on_line].abs().mean())
        inside.append(diff[..., ~on_line].abs().mean())
    return float(sum(across) / (sum(inside) + 1e-6))


class QualityMetrics:
    """Compares generated images with one real set in one feature space; the real features are computed once.

    >>> quality = QualityMetrics(real_images)          # uint8 (N, 3, H, W)
    >>> quality.evaluate(generated_images)             # {"fd": …, "kid": …, "precision": …, …}
    """

    def __init__(self, real_images: torch.Tensor, *, feature_space: str = "auto", device: str | torch.device = "cpu",
                 k: int = 3, kid_subsets: int = 50, collapse_threshold: float = 0.5) -> None:
        self.extractor, self.feature_space = load_feature_extractor(feature_space, device=device)
        dims = self.extractor.num_features
        if len(real_images) <= dims:
            raise ValueError(f"quality metrics in {self.feature_space} need at least {dims + 1} real images "
                             f"(more than the {dims} feature dimensions); got {len(real_images)}")
        self.real_features = extract_features(self.extractor, real_images)
        self.real_diversity = diversity(self.real_features)
        self.k, self.kid_subsets, self.collapse_threshold = k, kid_subsets, collapse_threshold

    @property
    def min_samples(self) -> int:
        """The fewest generated samples :meth:`evaluate` accepts (more than the feature dimensions)."""
        return self.real_features.shape[1] + 1

    def evaluate(self, images: torch.Tensor) -> dict[str, float | int | str | bool]:
        """FD, KID ± std, precision, recall, diversity and its ratio to the real data's, for ``images``."""
        fake = extract_features(self.extractor, images)
        fd = frechet_distance(self.real_features, fake)
        kid, kid_std = kernel_distance(self.real_features, fake, subsets=self.kid_subsets)
        precision, recall = precision_recall(self.real_features, fake, k=self.k)
        spread = diversity(fake)
        ratio = spread / self.real_diversity
        return {"fd": fd, "kid": kid, "kid_std": kid_std, "precision": precision, "recall": recall,
                "diversity": spread, "diversity_ratio": ratio, "collapsed": ratio < self.collapse_threshold,
                "n_samples": len(fake), "feature_space": self.feature_space}


def real_data_floor(images: torch.Tensor, *, feature_space: str = "auto", seed: int = 0,
                    device: str | torch.device = "cpu") -> dict[str, float | int | str]:
    """FD and KID between two disjoint random halves of ``images``: the best a generator can hope to score.

    Both estimates are biased upwards at small sample sizes, so the floor compares only with runs
    scored on a similar number of samples.
    """
    extractor, name = load_feature_extractor(feature_space, device=device)
    features = extract_features(extractor, images)
    order = torch.randperm(len(features), generator=torch.Generator().manual_seed(seed))
    half = len(features) // 2
    a, b = features[order[:half]], features[order[half:2 * half]]
    kid, kid_std = kernel_distance(a, b)
    return {"fd": frechet_distance(a, b), "kid": kid, "kid_std": kid_std, "n_per_half": half, "feature_space": name}


def saturated_pixels(images: torch.Tensor) -> float:
    """The share of pixels at 0 or 255 in any channel of uint8 ``images`` ``(N, C, H, W)``: an undertrained
    diffusion model's black and white squares (and the glyphs' white background: compare with the real images)."""
    return ((images == 0) | (images == 255)).any(dim=1).float().mean().item()


def healthy_shares(history: dict, bands: dict[str, tuple[float, float]], *, start: float = 0.5,
                   window: int | None = None) -> dict[str, float]:
    """For each key of ``bands`` (key → (low, high), e.g. ``viz.HEALTHY_BCE``), the share of a trainer's ``history``
    from ``start`` (a fraction of it; 0.5: the second half) on whose moving average over ``window`` entries
    (default: a fiftieth of the history) lies inside ``[low, high]``."""
    from .viz import smooth

    steps = len(history["step"])
    window = window or max(1, steps // 50)
    shares = {}
    for key, (low, high) in bands.items():
        smoothed = smooth(history[key], window)[int(steps * start):]
        shares[key] = float(((smoothed >= low) & (smoothed <= high)).mean())
    return shares


def sharpness(images: torch.Tensor) -> float:
    """The mean absolute Laplacian of the images' grey levels in ``[-1, 1]``: how much edge and fine detail they
    hold (divide by the real images' value: under 1, smoother than the real data)."""
    from .data import to_float

    laplacian = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]], device=images.device)[None, None]
    return F.conv2d(to_float(images).mean(1, keepdim=True), laplacian).abs().mean().item()

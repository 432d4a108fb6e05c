"""The judge: sample quality in one fixed feature space, with intervals, and findings a learner can trust.

Scores (generated images against one real set, in a space of :mod:`cocogoat_utils.features`):

- **Fréchet distance** (Heusel et al. 2017, https://arxiv.org/abs/1706.08500): fit a Gaussian to the
  features of each set; ``FD = ‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2 (Σ_r Σ_g)^½)`` (checked against
  torchmetrics' ``FrechetInceptionDistance`` in the tests), with a bootstrap interval over the
  generated samples (Efron 1979): the 2.5th and 97.5th percentiles of the FD of 50 resamples.
- **KID** (Bińkowski et al. 2018, https://arxiv.org/abs/1801.01401), torchmetrics' ``KernelInceptionDistance``.
- **Precision and recall** (Kynkäänniemi et al. 2019, https://arxiv.org/abs/1904.06991) and
  **density and coverage** (Naeem et al. 2020, https://arxiv.org/abs/2002.09797), from k-nearest-neighbour balls.

Findings (each separate, thresholds chosen by the disturbance battery, ``benchmarks/metrics_battery.py``):

- **near-duplicate share**: the share of generated samples nearer to another generated sample than 95 %
  of real images are to theirs (the real images subsampled to as many), in pixel space at 32 px: a
  repeated image is a repeated image whatever a network makes of it (in the glyph space, the shipped
  ``lstm``'s repeats in several skin tones look apart). A generator that repeats a few images has
  most of its samples there; the real data has 4–11 % (the battery's 20 splits; OpenMoji holds exact
  duplicates, which are left out of the threshold but count as near-duplicates when sampled).
  ``partly collapsed (N % near-duplicates)`` over :data:`PARTLY_COLLAPSED`, ``collapsed`` over :data:`COLLAPSED`.
- **drops modes**: the real features are split into :data:`MODES` clusters (k-means); a cluster that holds
  a real share ``p`` and receives under a quarter of it among the generated samples is dropped; the
  finding fires when the dropped clusters hold over :data:`DROPPED_MASS` of the real images.
- **copies training images**: the share of generated samples nearer to a training image than 99 % of
  the real images are to their nearest other real image (leave one out, exact duplicates in the data set aside) —
  over :data:`COPIES`.
- **unlike the data**: precision under :data:`UNLIKE` — samples that lie off the real manifold altogether
  (noise, blobs): a run that did not learn.

:func:`compare` is the verdict rule: a winner only when the intervals part (bootstrap intervals for
one seed each, the seeds' range when there are several), "no clear difference" otherwise, the collapse
when one arm collapsed and the other learned, and "inconclusive" when every arm collapsed or the
baseline did not learn. Lessons word its result in their own language.

Also here: block artefacts (progressive growing's tell-tale), sharpness, the share of saturated
pixels, how long a run's losses stayed inside a band, and the real-vs-real floor.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.image.kid import KernelInceptionDistance

from .checkpoint import cached, content_digest
from .data import to_float
from .imageset import data_dir
from .features import FEATURE_IMAGE_SIZE, inception_available, load_feature_extractor  # noqa: F401  (older imports)
from .viz import smooth

NEAR_QUANTILE = 0.05  # a generated sample is a near-duplicate when nearer to another than 95 % of real images are
PARTLY_COLLAPSED = 0.25  # near-duplicate share from which a run is "partly collapsed" (the battery's real data: ≤ 0.08)
COLLAPSED = 0.6  # … and "collapsed"
MODES = 16  # k-means clusters of the real features
DROPPED_MASS = 0.2  # real share in clusters the samples left (almost) empty, from which a run "drops modes"
COPY_QUANTILE = 0.01  # a sample copies when nearer to a training image than 99 % of real images are to another one
COPIES = 0.2  # copy share from which a run "copies training images"
UNLIKE = 0.1  # precision under which samples are "unlike the data" (the run did not learn)
RECALL_FLOOR = 0.05  # recall under which samples "cover almost none of the data" (the run did not learn): the
# battery's few real images repeated (k ≤ 256) score ≤ 0.01, the shipped lstm's six-odd repeated glyphs and the first
# msggan's four blob shapes 0.01–0.03; every mildest disturbance ≥ 0.46, real halves ≥ 0.93, two categories of three 0.30
NO_COVER = "covers almost none of the data"
NOT_LEARNED = ("collapsed", "unlike the data", NO_COVER)  # the findings of a run that has not learned
MEASURE_OF = {"collapsed": "near_duplicates", "partly collapsed": "near_duplicates", "drops modes": "dropped_mass",
              "copies training images": "copies", "unlike the data": "precision", NO_COVER: "recall"}
BOOTSTRAP = 50  # resamples for an interval


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


FEATURE_CACHE_VERSION = 1  # raise when a space's reading changes without its weights changing


def real_features(extractor: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """:func:`extract_features` of a real set, kept under ``data/features/`` (:func:`~cocogoat_utils.imageset.data_dir`)
    keyed by the network's weights and what it reads (its parts and input size, where it has them), the images and
    the torch version, so that the next notebook run, study seed or resumed training that scores against the same set
    reads them back instead of recomputing them."""
    key = content_digest(type(extractor).__name__, extractor.state_dict(), getattr(extractor, "parts", None),
                         getattr(extractor, "image_size", None), images, torch.__version__, FEATURE_CACHE_VERSION)
    return cached(data_dir() / "features" / f"{key[:24]}.pt", key, lambda: extract_features(extractor, images))


class _GivenFeatures(nn.Module):
    """Lets torchmetrics take features computed once, instead of recomputing them from images."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def _gaussian(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (unbiased) covariance of ``(N, D)`` features, in float64."""
    x = features.double()
    return x.mean(0), torch.cov(x.T)


def _frechet(mu_a, sigma_a, mu_b, sigma_b) -> float:
    """``‖μ_a − μ_b‖² + Tr(Σ_a) + Tr(Σ_b) − 2 Tr((Σ_a Σ_b)^½)``; the last trace is the sum of the square roots of
    the eigenvalues of ``Σ_a Σ_b`` (real and non-negative for two covariance matrices, up to rounding)."""
    root = torch.linalg.eigvals(sigma_a @ sigma_b).real.clamp_min(0).sqrt().sum()
    return max(0.0, float((mu_a - mu_b).square().sum() + sigma_a.trace() + sigma_b.trace() - 2 * root))


def _need_rank(features: torch.Tensor, name: str) -> None:
    dims = features.shape[1]
    if len(features) <= dims:
        raise ValueError(f"the Fréchet distance needs at least {dims + 1} {name} samples for a full-rank "
                         f"covariance of {dims}-d features; got {len(features)}")


def frechet_distance(real_features: torch.Tensor, fake_features: torch.Tensor) -> float:
    """FD between two feature sets; each needs more samples than dimensions."""
    _need_rank(real_features, "real")
    _need_rank(fake_features, "generated")
    return _frechet(*_gaussian(real_features), *_gaussian(fake_features))


def bootstrap_interval(statistic, n: int, *, resamples: int = BOOTSTRAP, seed: int = 0, level: float = 0.95,
                       estimate: float | None = None) -> tuple[float, float]:
    """The percentile bootstrap interval (Efron 1979) of ``statistic(index)`` over ``resamples`` index vectors drawn
    with replacement from ``range(n)``.

    With ``estimate`` (the statistic on all ``n``), the interval is first moved by the bootstrap's bias, the median
    of the resampled values minus ``estimate``, so it always holds the estimate. A Fréchet distance needs this: a
    resample repeats about a third of its points, its covariance is estimated from fewer distinct samples, and its
    FD comes out higher than the full sample's, so the plain percentile interval can lie wholly above the FD."""
    generator = torch.Generator().manual_seed(seed)
    values = torch.tensor([statistic(torch.randint(n, (n,), generator=generator)) for _ in range(resamples)])
    tail = (1 - level) / 2
    shift = 0.0 if estimate is None else float(values.median()) - estimate
    return float(values.quantile(tail)) - shift, float(values.quantile(1 - tail)) - shift


def frechet_interval(real_features: torch.Tensor, fake_features: torch.Tensor, *, resamples: int = BOOTSTRAP,
                     seed: int = 0) -> tuple[float, float]:
    """A 95 % bootstrap interval of the FD over the generated samples (the real reference stays fixed, as it is for
    every run compared against it), corrected for the bootstrap's upward bias: it holds the FD itself."""
    _need_rank(fake_features, "generated")
    mu_r, sigma_r = _gaussian(real_features)
    estimate = _frechet(mu_r, sigma_r, *_gaussian(fake_features))
    return bootstrap_interval(lambda i: _frechet(mu_r, sigma_r, *_gaussian(fake_features[i])), len(fake_features),
                              resamples=resamples, seed=seed, estimate=estimate)


def kernel_distance(real_features: torch.Tensor, fake_features: torch.Tensor, *, subset_size: int = 1000,
                    subsets: int = 50, seed: int = 0) -> tuple[float, float]:
    """KID (mean, std over ``subsets`` random subsets of ``subset_size``, at most half of each set) (torchmetrics)."""
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


def density_coverage(real_features: torch.Tensor, fake_features: torch.Tensor, *, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020): with ``r_i`` the distance from real sample ``i`` to its k-th nearest
    real neighbour, density is the mean number of real balls each generated sample falls into, divided by k (about 1
    for samples distributed like the data, above 1 where they crowd into dense regions); coverage is the share of real
    samples whose ball holds at least one generated sample (a dropped mode leaves its balls empty)."""
    if min(len(real_features), len(fake_features)) <= k:
        raise ValueError(f"density/coverage with k={k} needs more than {k} samples per set")
    radius = _kth_neighbour_radius(real_features, k)  # (n_real,)
    inside = torch.cdist(fake_features, real_features) < radius.unsqueeze(0)  # (n_fake, n_real)
    return float(inside.sum(1).double().mean() / k), float(inside.any(0).double().mean())


def _nearest_other(features: torch.Tensor) -> torch.Tensor:
    """Each sample's distance to its nearest other sample of the same set."""
    distances = torch.cdist(features, features)
    distances.fill_diagonal_(math.inf)
    return distances.min(1).values


NEAR_PIXELS = 32  # near-duplicates are measured between images resized to this size (pixel space)


def pixel_vectors(images: torch.Tensor, size: int = NEAR_PIXELS) -> torch.Tensor:
    """uint8 (or ``[-1, 1]`` float) images as ``(N, 3·size²)`` vectors in ``[0, 1]``, resized by area averaging: the
    space near-duplicates are measured in (a repeated image is a repeated image whatever a network makes of it)."""
    x = _check_images(images).float() / 255
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="area")
    return x.flatten(1)


def near_duplicate_share(real_features: torch.Tensor, fake_features: torch.Tensor, *, seed: int = 0) -> float:
    """The share of generated samples nearer to another generated sample than 95 % of real images are to theirs.

    Nearest-neighbour distances shrink as a set grows, so the real threshold comes from as many real images as there
    are generated samples (all of them when there are fewer); the real data scores about ``NEAR_QUANTILE``.
    """
    n = min(len(fake_features), len(real_features))
    order = torch.randperm(len(real_features), generator=torch.Generator().manual_seed(seed))[:n]
    real = _nearest_other(real_features[order])
    real = real[real > 0]  # a data set may hold exact duplicates (OpenMoji does): they would set the threshold to 0
    threshold = real.quantile(NEAR_QUANTILE) if len(real) else real.new_tensor(0.0)
    return float((_nearest_other(fake_features) < threshold).double().mean())


def kmeans(features: torch.Tensor, clusters: int, *, iterations: int = 30, seed: int = 0) -> torch.Tensor:
    """``clusters`` centres of ``features`` by Lloyd's k-means from a k-means++ start (Arthur & Vassilvitskii 2007)."""
    generator = torch.Generator().manual_seed(seed)
    x = features.double()
    centres = x[torch.randint(len(x), (1,), generator=generator)]
    while len(centres) < clusters:
        weight = torch.cdist(x, centres).min(1).values.square()
        centres = torch.cat([centres, x[torch.multinomial(weight / weight.sum(), 1, generator=generator)]])
    for _ in range(iterations):
        assign = torch.cdist(x, centres).argmin(1)
        for j in range(clusters):
            if (assign == j).any():
                centres[j] = x[assign == j].mean(0)
    return centres


def dropped_mass(centres: torch.Tensor, real_features: torch.Tensor, fake_features: torch.Tensor) -> float:
    """The real share held by clusters that the generated samples left (almost) empty: a cluster of real share ``p``
    is dropped when it gets under ``p / 4`` of the samples, counted only where ``n·p ≥ 8`` samples were expected
    there, so that an empty cluster is not chance (P(0 of 8 expected) ≈ e⁻⁸)."""
    real = torch.cdist(real_features.double(), centres).argmin(1).bincount(minlength=len(centres)).double()
    fake = torch.cdist(fake_features.double(), centres).argmin(1).bincount(minlength=len(centres)).double()
    p, q = real / real.sum(), fake / fake.sum()
    dropped = (q < p / 4) & (p * len(fake_features) >= 8)
    return float(p[dropped].sum())


def copy_share(train_features: torch.Tensor, fake_features: torch.Tensor, *,
               train_nearest: torch.Tensor | None = None) -> float:
    """The share of generated samples nearer to a training image than 99 % of training images are to their nearest
    other one (leave one out: how near a new glyph of the data comes to the rest). ``train_nearest``: those
    leave-one-out distances, when already computed."""
    if train_nearest is None:
        train_nearest = _nearest_other(train_features)
    apart = train_nearest[train_nearest > 0]  # a dataset may hold exact duplicates: they would set the threshold to 0
    threshold = apart.quantile(COPY_QUANTILE) if len(apart) else train_nearest.new_tensor(0.0)
    return float((torch.cdist(fake_features, train_features).min(1).values <= threshold).double().mean())


def findings(scores: dict) -> list[str]:
    """The judge's findings for one evaluation (``scores`` from :meth:`QualityMetrics.evaluate`), as short English
    keys a lesson words in its language: ``"collapsed"``, ``"partly collapsed"``, ``"drops modes"``,
    ``"copies training images"``, ``"unlike the data"``, ``"covers almost none of the data"``. Empty: nothing
    found. A measure the scores lack (an older record's row) finds nothing."""
    def has(measure):
        return scores.get(measure) is not None

    found = []
    if has("near_duplicates") and scores["near_duplicates"] >= COLLAPSED:
        found.append("collapsed")
    elif has("near_duplicates") and scores["near_duplicates"] >= PARTLY_COLLAPSED:
        found.append("partly collapsed")
    if has("dropped_mass") and scores["dropped_mass"] >= DROPPED_MASS:
        found.append("drops modes")
    if has("copies") and scores["copies"] >= COPIES:
        found.append("copies training images")
    if has("precision") and scores["precision"] < UNLIKE:
        found.append("unlike the data")
    if has("recall") and scores["recall"] < RECALL_FLOOR:
        found.append(NO_COVER)
    return found


def learned(scores: dict) -> bool:
    """Whether an evaluation shows a run that learned: not collapsed, not unlike the data, and covering more than
    almost none of it (partial collapse, dropped modes and copying are faults of a run that learned something)."""
    found = findings_of(scores)
    if found is None:  # a row that carries only the collapse flag
        return not scores.get("collapsed")
    return not set(NOT_LEARNED) & set(found)


def findings_of(scores: dict) -> list[str] | None:
    """A row's findings under the judge's present thresholds: found afresh from every measure the row keeps, the
    recorded ones kept where the row lacks their measure (a record's rows keep what they can be re-judged by);
    ``None`` for a row with neither."""
    if scores.get("findings") is None and scores.get("near_duplicates") is None:
        return None
    kept = [f for f in scores.get("findings") or () if scores.get(MEASURE_OF.get(f, "")) is None]
    fresh = findings(scores)
    order = list(MEASURE_OF)
    return sorted({*kept, *fresh}, key=lambda f: order.index(f) if f in order else len(order))


def describe(scores: dict) -> str:
    """The findings in one English line with their measures (``"no findings"`` when there are none)."""
    parts = []
    for finding in scores["findings"]:
        if finding in ("collapsed", "partly collapsed"):
            parts.append(f"{finding} ({scores['near_duplicates']:.0%} near-duplicates)")
        elif finding == "drops modes":
            parts.append(f"drops modes ({scores['dropped_mass']:.0%} of the real images' clusters left empty)")
        elif finding == "copies training images":
            parts.append(f"copies training images ({scores['copies']:.0%} of samples)")
        elif finding == NO_COVER:
            parts.append(f"{NO_COVER} (recall {scores['recall']:.2f})")
        else:
            parts.append(f"unlike the data (precision {scores['precision']:.2f})")
    return "; ".join(parts) or "no findings"


def collapse_status(metrics: list[dict]) -> dict:
    """Whether and how a run collapsed, from its quality evaluations in step order (each with its ``findings``).

    Returns ``{"collapsed": …, "kind": …, "step": …, "collapsed_steps": […], "text": …}``: ``collapsed`` is the last
    evaluation's flag (collapsed or unlike the data: the run has not learned); ``kind`` is ``"from the start"`` (no
    healthy evaluation before the first such one), ``"after being diverse"``, or ``None`` (never); ``step`` is the
    first flagged evaluation's. ``text`` names the first flagged evaluation's fault and, for a run that has not
    learned by its last evaluation, that evaluation's faults too (a run that collapsed at first may fail on
    coverage alone by the end).
    """
    if not metrics:
        return {"collapsed": False, "kind": None, "step": None, "collapsed_steps": [], "text": "not measured"}
    metrics = [{**m, "findings": findings_of(m) or (["collapsed"] if m.get("collapsed") else [])} for m in metrics]
    flagged = [m for m in metrics if not learned(m)]
    if not flagged:
        partly = [m for m in metrics if "partly collapsed" in m.get("findings", ())]
        tail = f"; partly collapsed at {len(partly)} of them" if partly else ""
        return {"collapsed": False, "kind": None, "step": None, "collapsed_steps": [],
                "text": f"no collapse at all {len(metrics)} evaluations{tail}"}
    first = flagged[0]
    healthy_before = [m for m in metrics if m["step"] < first["step"]]
    kind = "after being diverse" if healthy_before else "from the start"
    fault = next(f for f in first["findings"] if f in NOT_LEARNED)
    detail = describe({**first, "findings": [fault]}).removeprefix(fault).strip(" ()")
    text = (f"{fault} from the start ({detail} at step {first['step']})" if kind == "from the start"
            else f"{fault} at step {first['step']} after being diverse ({detail})")
    last = metrics[-1]
    if learned(last):
        text += f"; healthy again by step {last['step']}"
    elif last is not first:  # what keeps it from having learned now, which may not be what first stopped it
        faults = [f for f in last["findings"] if f in NOT_LEARNED]
        text += f"; at step {last['step']}: {describe({**last, 'findings': faults})}"
    return {"collapsed": not learned(last), "kind": kind, "step": first["step"],
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

    >>> quality = QualityMetrics(real_images)          # uint8 (N, 3, H, W): the training images
    >>> quality.evaluate(generated_images)             # {"fd": …, "fd_low": …, "fd_high": …, "findings": […], …}

    The real images serve as the reference and as the training set that copying is measured against.
    """

    def __init__(self, real_images: torch.Tensor, *, feature_space: str = "auto", device: str | torch.device = "cpu",
                 k: int = 3, kid_subsets: int = 50, intervals: bool = True, seed: int = 0,
                 extractor: tuple[nn.Module, str] | None = None, download: bool = False) -> None:
        # extractor: a (network, name) pair instead of a named space (the battery compares candidate spaces);
        # download: let torch-fidelity fetch the Inception weights (feature_space="inception") when they are not here
        self.extractor, self.feature_space = extractor or load_feature_extractor(feature_space, device=device,
                                                                                 download=download)
        dims = self.extractor.num_features
        if len(real_images) <= dims:
            raise ValueError(f"quality metrics in the {self.feature_space} space need at least {dims + 1} real images "
                             f"(more than the {dims} feature dimensions); got {len(real_images)}")
        self.real_features = (real_features if extractor is None else extract_features)(self.extractor, real_images)
        self.real_pixels = pixel_vectors(real_images)
        self.real_diversity = diversity(self.real_features)
        self.real_nearest = _nearest_other(self.real_features)
        self.centres = kmeans(self.real_features, min(MODES, len(real_images) // 8), seed=seed)
        self.k, self.kid_subsets, self.intervals, self.seed = k, kid_subsets, intervals, seed
        self.foreign = foreign_to_space(self.real_features, self.feature_space)
        if self.foreign:
            warnings.warn(f"these real images lie far from the glyphs the {self.feature_space} space was made on "
                          f"(mean squared feature norm {self.foreign:.0f}, the glyphs' ≈ {dims}): its scores may not "
                          "follow what you see; feature_space='inception' is the standard for photos", stacklevel=2)

    @property
    def min_samples(self) -> int:
        """The fewest generated samples :meth:`evaluate` accepts (more than the feature dimensions)."""
        return self.real_features.shape[1] + 1

    def evaluate(self, images: torch.Tensor) -> dict:
        """Every score for ``images``: FD (with its 95 % bootstrap interval ``fd_low``–``fd_high``), KID ± std,
        precision, recall, density, coverage, the diversity ratio, the near-duplicate, dropped-mode and copy shares,
        the ``findings`` and ``collapsed`` (collapsed or unlike the data), the sample count and the space."""
        return self.evaluate_features(extract_features(self.extractor, images), pixel_vectors(images))

    def evaluate_features(self, fake: torch.Tensor, pixels: torch.Tensor) -> dict:
        """:meth:`evaluate` for features already extracted in this space and the images' :func:`pixel_vectors`."""
        real = self.real_features
        fd = frechet_distance(real, fake)
        low, high = frechet_interval(real, fake, seed=self.seed) if self.intervals else (fd, fd)
        kid, kid_std = kernel_distance(real, fake, subsets=self.kid_subsets)
        precision, recall = precision_recall(real, fake, k=self.k)
        density, coverage = density_coverage(real, fake)
        spread = diversity(fake)
        scores = {"fd": fd, "fd_low": low, "fd_high": high, "kid": kid, "kid_std": kid_std,
                  "precision": precision, "recall": recall, "density": density, "coverage": coverage,
                  "diversity": spread, "diversity_ratio": spread / self.real_diversity,
                  "near_duplicates": near_duplicate_share(self.real_pixels, pixels, seed=self.seed),
                  "dropped_mass": dropped_mass(self.centres, real, fake),
                  "copies": copy_share(real, fake, train_nearest=self.real_nearest)}
        scores["findings"] = findings(scores)
        scores["collapsed"] = not learned(scores)
        return {**scores, "n_samples": len(fake), "feature_space": self.feature_space}


def foreign_to_space(features: torch.Tensor, space: str) -> float:
    """The real features' mean squared norm when the glyph space, whose whitened glyph features average about their
    dimension, sees images far off its glyphs (over four times that), else 0."""
    if space != "glyph":
        return 0.0
    norm = float(features.square().sum(1).mean())
    return norm if norm > 4 * features.shape[1] else 0.0


def compare(a: list[dict] | dict, b: list[dict] | dict, *, key: str = "fd", lower_is_better: bool = True) -> dict:
    """The verdict rule between arm ``a`` (the baseline) and arm ``b``, each one evaluation or one per seed.

    Returns ``{"outcome", "winner", "reason", "seeds", "a", "b"}``. ``outcome`` is

    - ``"inconclusive"`` (winner ``None``) when the baseline did not learn or no arm did (collapsed or unlike the
      data in any seed): nothing is decided between dead runs;
    - ``"collapse"`` when exactly one arm did not learn: the other wins, and the reason is that collapse;
    - ``"better"`` when the intervals part: one seed each, the bootstrap intervals (``{key}_low``–``{key}_high``,
      or the point when there are none); several seeds, the ranges of the seeds' values;
    - ``"no clear difference"`` (winner ``None``) when they overlap.

    ``a`` and ``b`` summarise each arm: its values, their range, whether it learned.
    """
    arms = {}
    for name, runs in (("a", a), ("b", b)):
        runs = [runs] if isinstance(runs, dict) else list(runs)
        values = [r[key] for r in runs]
        if len(runs) == 1:
            low, high = runs[0].get(f"{key}_low", values[0]), runs[0].get(f"{key}_high", values[0])
        else:
            low, high = min(values), max(values)
        arms[name] = {"values": values, "mean": sum(values) / len(values), "low": low, "high": high,
                      "learned": all(learned(r) for r in runs),
                      "faults": sorted({f for r in runs for f in (findings_of(r) or
                                                                 (["collapsed"] if r.get("collapsed") else []))})}
    seeds = min(len(arms["a"]["values"]), len(arms["b"]["values"]))
    result = {"seeds": seeds, **arms}
    if not arms["a"]["learned"]:
        return {**result, "outcome": "inconclusive", "winner": None, "reason": "the baseline did not learn"}
    if not arms["b"]["learned"]:
        return {**result, "outcome": "collapse", "winner": "a", "reason": "b did not learn"}
    below = arms["a"]["high"] < arms["b"]["low"]  # a's whole interval under b's
    above = arms["b"]["high"] < arms["a"]["low"]
    if below or above:
        winner = "a" if below == lower_is_better else "b"
    else:
        return {**result, "outcome": "no clear difference", "winner": None, "reason": "the intervals overlap"}
    return {**result, "outcome": "better", "winner": winner, "reason": "the intervals part"}


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
    laplacian = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]], device=images.device)[None, None]
    return F.conv2d(to_float(images).mean(1, keepdim=True), laplacian).abs().mean().item()

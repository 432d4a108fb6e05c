"""cocogoat_utils.metrics: distances in the fixed feature space, collapse signals, trainer integration."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cocogoat_utils import metrics
from cocogoat_utils.device_dataset import DeviceImageDataset
from cocogoat_utils.openmoji import load_openmoji
from cocogoat_utils.layers import Generator
from cocogoat_utils.metrics import (QualityMetrics, diversity, extract_features, frechet_distance, kernel_distance,
                                    load_feature_extractor, precision_recall, real_data_floor)


@pytest.fixture(scope="module")
def real():
    """400 embedded glyphs at 32 px, spread over the categories."""
    images = load_openmoji(32).images
    return images[torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:400]]


@pytest.fixture(scope="module")
def extractor():
    return load_feature_extractor("classifier")


def _features(n, dims=8, seed=0, shift=0.0):
    return torch.randn(n, dims, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


def test_committed_classifier_loads_and_names_its_space(extractor):
    net, name = extractor
    assert name == "classifier"
    features = net(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    assert features.shape == (2, net.num_features)


def test_frechet_distance_of_a_set_with_itself_is_zero():
    a = _features(200)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_matches_the_closed_form_for_a_mean_shift():
    a = _features(4000, seed=1)
    b = a + 0.5  # same covariance: FD is exactly the squared mean difference, 8 × 0.25
    assert frechet_distance(a, b) == pytest.approx(2.0, rel=1e-6)


def test_frechet_distance_needs_more_samples_than_dimensions():
    with pytest.raises(ValueError, match="at least 9 generated samples"):
        frechet_distance(_features(100), _features(8))


def test_kid_of_one_distribution_is_near_zero_and_grows_with_a_shift():
    a = _features(300)
    same, same_std = kernel_distance(a, _features(300, seed=5))  # two samples of one distribution
    shifted, _ = kernel_distance(a, _features(300, seed=2, shift=1.0))
    assert abs(same) < 3 * same_std + 1e-3
    assert shifted > 0.1 and shifted > 20 * abs(same)


def test_precision_recall_bounds():
    a = _features(200)
    assert precision_recall(a, a.clone()) == (1.0, 1.0)
    assert precision_recall(a, _features(200, seed=3, shift=100.0)) == (0.0, 0.0)


def test_diversity_of_one_repeated_sample_is_zero():
    assert diversity(_features(1).repeat(50, 1)) == 0.0
    assert diversity(_features(50)) > 1.0


def test_distance_from_real_data_grows_with_a_colour_shift(real, extractor):
    net, _ = extractor
    reference = extract_features(net, real[:200])
    distances = []
    for shift in (0, 30, 60, 120):
        shifted = (real[200:].int() + shift).clamp(0, 255).to(torch.uint8)
        distances.append(frechet_distance(reference, extract_features(net, shifted)))
    assert distances == sorted(distances) and distances[-1] > 2 * distances[0]


def test_quality_of_real_data_beats_noise_and_flags_collapse(real):
    quality = QualityMetrics(real[:200])
    held_out = quality.evaluate(real[200:])
    noise = quality.evaluate(torch.randint(0, 256, (200, 3, 32, 32), dtype=torch.uint8))
    collapsed = quality.evaluate(real[200:201].repeat(200, 1, 1, 1))
    assert held_out["fd"] < noise["fd"] and held_out["kid"] < noise["kid"]
    assert held_out["precision"] > noise["precision"] and held_out["recall"] > noise["recall"]
    assert not held_out["collapsed"] and 0.7 < held_out["diversity_ratio"] < 1.3
    assert collapsed["collapsed"] and collapsed["diversity_ratio"] == 0.0
    assert held_out["n_samples"] == 200 and held_out["feature_space"] == "glyph"


def test_real_features_are_kept_and_read_back_for_the_same_images_and_network(real, tmp_path, monkeypatch):
    monkeypatch.setenv("COCOGOAT_DATA_DIR", str(tmp_path))
    first = QualityMetrics(real[:100], intervals=False)
    kept = list((tmp_path / "features").glob("*.pt"))
    assert len(kept) == 1
    calls = []
    monkeypatch.setattr(metrics, "extract_features", lambda *a, **k: calls.append(1) or torch.zeros(0))
    again = QualityMetrics(real[:100], intervals=False)
    assert not calls and torch.equal(again.real_features, first.real_features)  # read back, not recomputed
    monkeypatch.undo()
    monkeypatch.setenv("COCOGOAT_DATA_DIR", str(tmp_path))
    other = QualityMetrics(real[1:101], intervals=False)  # other images: computed and kept under another name
    assert len(list((tmp_path / "features").glob("*.pt"))) == 2
    assert not torch.equal(other.real_features, first.real_features)
    assert torch.allclose(other.real_features[:99], first.real_features[1:], atol=1e-4)


def test_images_in_the_wrong_range_fail_and_float_images_are_converted(real):
    quality = QualityMetrics(real[:200])
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        quality.evaluate(real[200:].float())  # 0..255 floats: not a generator's range
    with pytest.raises(ValueError, match="shaped"):
        quality.evaluate(real[200:, 0])
    as_float = real[200:].float() / 127.5 - 1
    assert quality.evaluate(as_float)["fd"] == pytest.approx(quality.evaluate(real[200:])["fd"], rel=1e-6)


def test_too_few_generated_samples_say_how_many_are_needed(real):
    quality = QualityMetrics(real[:200])
    with pytest.raises(ValueError, match=f"at least {quality.min_samples}"):
        quality.evaluate(real[:10])


def test_real_data_floor_halves(real):
    floor = real_data_floor(real)
    assert floor["n_per_half"] == 200 and floor["fd"] > 0 and floor["feature_space"] == "glyph"


def test_inception_is_never_downloaded(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert not metrics.inception_available()
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        load_feature_extractor("inception")
    with pytest.raises(ValueError, match="expected 'auto'"):
        load_feature_extractor("clip")


class CollapsingGenerator(Generator):
    """Real images picked by the noise (diverse) until ``collapsed`` is set, then one image for every noise."""

    def __init__(self, bank):
        super().__init__()
        self.latent_dim = 8
        self.bank = bank.float() / 127.5 - 1
        self.scale = nn.Parameter(torch.ones(()))  # something for the optimiser to hold
        self.collapsed = False

    def forward(self, z):
        index = torch.zeros(len(z), dtype=torch.long) if self.collapsed else \
            (z[:, 0].abs() * 1e4).long() % len(self.bank)
        return (self.bank[index] * self.scale).clamp(-1, 1)


def _tracked(real, generator, tmp_path=None, steps=6, callbacks=()):
    from cocogoat_utils.models.dcgan import DCGANDiscriminator
    from cocogoat_utils.train import GANTrainConfig, GANTrainer, QualityTracker

    config = GANTrainConfig(steps=steps, batch_size=8, log_every=2, sample_every=100, checkpoint_every=None, n_samples=4)
    tracker = QualityTracker(QualityMetrics(real[:200]), every=2, samples=100)
    trainer = GANTrainer(generator, DCGANDiscriminator(image_size=32, width=8), DeviceImageDataset(real),
                         config=config, out_dir=tmp_path, progress=False, callbacks=[tracker, *callbacks])
    return trainer, tracker


def test_tracker_scores_every_n_steps_keeps_the_best_and_flags_a_collapse_after_diversity(real, tmp_path):
    from cocogoat_utils.train import Callback

    seen = []

    class CollapseAfterStep4(Callback):
        def on_metrics(self, trainer, result):
            seen.append(result["step"])
            trainer.generator.collapsed = trainer.step >= 4

    trainer, tracker = _tracked(real, CollapsingGenerator(real[200:]), tmp_path, callbacks=[CollapseAfterStep4()])
    with pytest.warns(UserWarning, match="collapsed at step 6 after being diverse"):
        trainer.fit()
    assert [m["step"] for m in tracker.metrics] == [2, 4, 6] == seen
    assert [m["collapsed"] for m in tracker.metrics] == [False, False, True]
    assert tracker.collapse_step == 6 and tracker.collapse["kind"] == "after being diverse"
    assert tracker.collapse["collapsed"]
    best = tracker.best
    assert best["step"] != 6 and torch.load(tmp_path / "best.pt", weights_only=True)["step"] == best["step"]
    saved = torch.load(trainer.last_checkpoint, weights_only=True)["callbacks"]["quality"]["metrics"]
    assert [m["step"] for m in saved] == [2, 4, 6]
    resumed, again = _tracked(real, CollapsingGenerator(real[200:]), tmp_path)
    assert resumed.resume() and again.collapse_step == 6 and len(again.metrics) == 3


def test_a_generator_that_never_was_diverse_is_reported_collapsed_from_the_start(real):
    generator = CollapsingGenerator(real[200:])
    generator.collapsed = True  # alike from the start, as an untrained generator's grey samples are
    trainer, tracker = _tracked(real, generator, steps=4)
    with pytest.warns(UserWarning, match="collapsed from the start"):
        trainer.fit()
    assert all(m["collapsed"] for m in tracker.metrics)
    status = tracker.collapse
    assert status["kind"] == "from the start" and status["step"] == 2 and status["collapsed_steps"] == [2, 4]
    assert status["text"].startswith("collapsed from the start")


def test_a_diverse_run_is_not_flagged(real, recwarn):
    trainer, tracker = _tracked(real, CollapsingGenerator(real[200:]), steps=4)
    trainer.fit()
    assert not any(m["collapsed"] for m in tracker.metrics)
    status = tracker.collapse
    assert status == {**status, "collapsed": False, "kind": None, "step": None, "collapsed_steps": []}
    assert status["text"].startswith("no collapse") and not [w for w in recwarn if "collapse" in str(w.message)]


def test_block_artifact_finds_enlarged_pixels_and_spares_smooth_images():
    from cocogoat_utils.metrics import block_artifact

    torch.manual_seed(0)
    coarse = torch.rand(4, 3, 8, 8)
    enlarged = F.interpolate(coarse, scale_factor=2, mode="nearest")
    assert block_artifact(enlarged, 2) > 1e3  # flat 2×2 cells
    noise = torch.rand(4, 3, 16, 16)
    assert 0.8 < block_artifact(noise, 2) < 1.25
    smooth = F.interpolate(coarse, scale_factor=2, mode="bilinear", align_corners=False)
    assert block_artifact(smooth, 2) < 3
    with pytest.raises(ValueError, match="at least 4 pixels"):
        block_artifact(torch.rand(1, 3, 3, 3), 2)

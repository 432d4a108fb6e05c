"""cocogoat_utils.degrade: seeded low-quality degradations and the three-class selection task."""

from collections import Counter

import pytest
import torch

from cocogoat_utils.data import ImageSet
from cocogoat_utils.degrade import DEGRADATIONS, SELECTION_CLASSES, degrade, make_selection_task


def _images(n=6, side=32, seed=0):
    """Random uint8 images: every degradation visibly changes them."""
    return torch.randint(0, 256, (n, 3, side, side), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _fake_set(n_animals=8, n_other=20):
    images = _images(n_animals + n_other, side=16, seed=1)
    others = ["Food & Drink", "Flags", "Objects", "Symbols"]
    categories = ["Animals & Nature"] * n_animals + [others[i % 4] for i in range(n_other)]
    names = [f"img{i}" for i in range(len(images))]
    return ImageSet(images, names, categories, source="fake")


def _run(fn, seed, images):
    return fn(images, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", sorted(DEGRADATIONS))
def test_degradation_keeps_shape_changes_image_and_follows_the_seed(name):
    fn, images = DEGRADATIONS[name], _images()
    out = _run(fn, 0, images)
    assert out.shape == images.shape and out.dtype == torch.uint8
    assert all(not torch.equal(a, b) for a, b in zip(out, images))  # every image changed
    assert torch.equal(out, _run(fn, 0, images))
    assert not torch.equal(out, _run(fn, 1, images))


@pytest.mark.parametrize("side", [8, 64])
def test_degradations_work_at_small_and_large_sizes(side):
    images = _images(n=2, side=side)
    for fn in DEGRADATIONS.values():
        assert _run(fn, 0, images).shape == images.shape


def test_tiny_subject_leaves_most_of_the_canvas_white():
    out = _run(DEGRADATIONS["tiny_subject"], 0, _images())
    white = (out == 255).all(dim=1).float().mean(dim=(1, 2))  # (N,) share of white pixels
    assert (white >= 1 - 0.41**2 - 0.05).all()


def test_degrade_is_seeded_and_leaves_the_global_rng_alone():
    images = _images(n=20)
    state = torch.get_rng_state()
    out, kinds = degrade(images, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    again, kinds_again = degrade(images, seed=3)
    assert torch.equal(out, again) and kinds == kinds_again
    assert out.shape == images.shape and len(kinds) == 20 and set(kinds) <= set(DEGRADATIONS)
    other, other_kinds = degrade(images, seed=4)
    assert not torch.equal(out, other) or kinds != other_kinds
    white = (out == 255).all(dim=1).float().mean(dim=(1, 2))  # the kind reported is the one applied
    assert all((w > 0.5) == (k == "tiny_subject") for w, k in zip(white.tolist(), kinds))
    only, only_kinds = degrade(images, seed=3, kinds=["jpeg"])
    assert set(only_kinds) == {"jpeg"}
    with pytest.raises(ValueError, match="blur"):
        degrade(images, seed=0, kinds=["sharpen"])


def test_selection_task_has_known_truth():
    source = _fake_set()
    task = make_selection_task(source, target="animals", seed=0, per_class=4)
    assert len(task) == 12 and Counter(task.categories) == dict.fromkeys(SELECTION_CLASSES, 4)
    by_name = {n: i for i, n in enumerate(source.names)}
    keep_sources, low_sources = set(), set()
    for image, name, cls in zip(task.images, task.names, task.categories):
        if cls == "low_quality":
            original, kind = name[:-1].split(" [")
            assert kind in DEGRADATIONS
            assert source.categories[by_name[original]] == "Animals & Nature"
            assert not torch.equal(image, source.images[by_name[original]])
            low_sources.add(original)
        else:
            i = by_name[name]
            assert torch.equal(image, source.images[i])  # clean, unmodified
            assert (source.categories[i] == "Animals & Nature") == (cls == "keep")
            if cls == "keep":
                keep_sources.add(name)
    assert not keep_sources & low_sources  # 8 target images: keep and low_quality use different ones
    assert task.categories != sorted(task.categories)  # shuffled


def test_selection_task_is_reproducible_and_defaults_to_all_targets():
    source = _fake_set()
    a, b = make_selection_task(source, seed=5), make_selection_task(source, seed=5)
    assert torch.equal(a.images, b.images) and a.names == b.names and a.categories == b.categories
    assert a.names != make_selection_task(source, seed=6).names
    assert len(a) == 3 * 8  # per_class = the 8 target images; low_quality reuses them, degraded
    assert len(set(a.names)) == len(a)
    full = make_selection_task(source, target="Animals & Nature", seed=5)
    assert torch.equal(full.images, a.images)


def test_selection_task_rejects_unknown_target_and_too_many_per_class():
    with pytest.raises(ValueError, match="target='dragons'"):
        make_selection_task(_fake_set(), target="dragons")
    with pytest.raises(ValueError, match="per_class=9"):
        make_selection_task(_fake_set(), per_class=9)

"""cocogoat_utils.augment: DiffAugment transforms, flips, dataset multiplication."""

import pytest
import torch

from cocogoat_utils.augment import (
    augment_dataset,
    diff_augment,
    diff_color,
    diff_cutout,
    diff_translation,
    random_flip,
)


def _distinct_images(b=16, c=3, h=16, w=16):
    """Positive, all-distinct pixel values, so a shift or a zeroed pixel can be told apart."""
    return torch.arange(1, b * c * h * w + 1, dtype=torch.float32).view(b, c, h, w)


def _shifted(image, dy, dx):
    """``image`` moved down by ``dy`` and right by ``dx`` pixels, zero fill."""
    out = torch.zeros_like(image)
    h, w = image.shape[-2:]
    src_rows = slice(max(0, -dy), min(h, h - dy))
    dst_rows = slice(max(0, dy), min(h, h + dy))
    src_cols = slice(max(0, -dx), min(w, w - dx))
    dst_cols = slice(max(0, dx), min(w, w + dx))
    out[..., dst_rows, dst_cols] = image[..., src_rows, src_cols]
    return out


def test_shift_helper():
    image = torch.arange(1, 10, dtype=torch.float32).view(1, 3, 3)
    assert _shifted(image, 1, 0).tolist() == [[[0, 0, 0], [1, 2, 3], [4, 5, 6]]]
    assert _shifted(image, 0, -1).tolist() == [[[2, 3, 0], [5, 6, 0], [8, 9, 0]]]


@pytest.mark.parametrize("ratio", [0.125, 0.25])
def test_diff_translation_is_an_exact_integer_shift(ratio):
    x = _distinct_images()
    out = diff_translation(x, ratio=ratio, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    limit = int(16 * ratio)
    shifts = []
    for image, moved in zip(x, out):
        matches = [(dy, dx) for dy in range(-limit, limit + 1) for dx in range(-limit, limit + 1)
                   if torch.equal(moved, _shifted(image, dy, dx))]
        assert len(matches) == 1, "the output is not a zero-filled integer shift within the ratio"
        shifts.append(matches[0])
    assert len(set(shifts)) > 1  # every sample draws its own shift
    assert any(s != (0, 0) for s in shifts)


def test_diff_translation_non_square():
    x = _distinct_images(b=16, c=2, h=8, w=16)
    out = diff_translation(x, ratio=0.25, generator=torch.Generator().manual_seed(2))
    shifts = []
    for image, moved in zip(x, out):
        # up to 2 rows (a quarter of 8) and 4 columns (a quarter of 16)
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-4, 5) if torch.equal(moved, _shifted(image, dy, dx))]
        assert len(matches) == 1
        shifts.append(matches[0])
    assert any(abs(dx) > 2 for _, dx in shifts)  # columns move further than rows can


def test_diff_translation_reproducible_and_differentiable():
    x = torch.randn(4, 3, 8, 8, requires_grad=True)
    a = diff_translation(x, generator=torch.Generator().manual_seed(5))
    b = diff_translation(x, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_diff_cutout_zeroes_a_ratio_sized_square():
    x = torch.ones(64, 3, 8, 8)
    out = diff_cutout(x, ratio=0.5, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    zeros = out == 0
    # the same place in every channel
    assert torch.equal(zeros[:, 0], zeros[:, 1]) and torch.equal(zeros[:, 0], zeros[:, 2])
    counts = zeros[:, 0].sum(dim=(1, 2))
    assert (counts <= 16).all()
    assert (counts > 0).all()
    assert (counts == 16).any()  # squares fully inside the image
    assert (counts < 16).any()  # squares clipped at a border
    for mask in zeros[:, 0]:
        rows = mask.any(dim=1).nonzero().flatten()
        cols = mask.any(dim=0).nonzero().flatten()
        # one solid rectangle, at most 4 x 4
        assert len(rows) <= 4 and len(cols) <= 4
        assert rows.max() - rows.min() + 1 == len(rows)
        assert cols.max() - cols.min() + 1 == len(cols)
        assert mask.sum() == len(rows) * len(cols)
        if len(rows) == 4 and len(cols) == 4:
            assert mask.sum() == 16


def test_diff_cutout_keeps_the_rest():
    x = _distinct_images(b=8, h=8, w=8)
    out = diff_cutout(x, generator=torch.Generator().manual_seed(1))
    kept = out != 0
    assert torch.equal(out[kept], x[kept])


def test_diff_color_shape_and_per_sample():
    x = torch.rand(1, 3, 8, 8).mul(2).sub(1).expand(6, 3, 8, 8).contiguous()
    out = diff_color(x, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert not torch.allclose(out, x)
    for i in range(1, 6):
        assert not torch.allclose(out[0], out[i]), "samples drew the same colour change"
    again = diff_color(x, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_diff_augment_full_policy_is_differentiable():
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    out = diff_augment(x, "color,translation,cutout", generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    out.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_diff_augment_empty_policy_is_identity():
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(diff_augment(x, ""), x)


def test_diff_augment_rejects_unknown_policy():
    with pytest.raises(ValueError, match="rotate") as info:
        diff_augment(torch.zeros(1, 3, 8, 8), "color,rotate")
    assert "cutout" in str(info.value)


def test_random_flip():
    x = torch.randn(5, 3, 4, 6)
    assert torch.equal(random_flip(x, p=1.0), x.flip(-1))
    assert torch.equal(random_flip(x, p=0.0), x)
    mixed = random_flip(torch.randn(64, 1, 2, 2), p=0.5, generator=torch.Generator().manual_seed(0))
    assert mixed.shape == (64, 1, 2, 2)


def test_random_flip_half_flips_some():
    x = _distinct_images(b=32, c=1, h=2, w=3)
    out = random_flip(x, p=0.5, generator=torch.Generator().manual_seed(0))
    flipped = [torch.equal(o, i.flip(-1)) for o, i in zip(out, x)]
    same = [torch.equal(o, i) for o, i in zip(out, x)]
    assert all(f or s for f, s in zip(flipped, same))
    assert 0 < sum(flipped) < 32


def test_augment_dataset():
    images = torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    state = torch.get_rng_state()
    out = augment_dataset(images, factor=3, seed=1)
    assert torch.equal(torch.get_rng_state(), state), "augment_dataset changed the global RNG"
    assert out.shape == (9, 3, 16, 16)
    assert out.dtype == torch.uint8
    assert torch.equal(out[:3], images)
    assert not torch.equal(out[3:6], images)
    assert not torch.equal(out[3:6], out[6:9])
    assert torch.equal(augment_dataset(images, factor=3, seed=1), out)
    assert not torch.equal(augment_dataset(images, factor=3, seed=2), out)


@pytest.mark.parametrize("size", [8, 32])
def test_augment_dataset_small_and_large_images(size):
    # the elastic warp's blur kernel must fit inside tiny images (8 px, the smoke-test size)
    images = torch.randint(0, 256, (1, 3, size, size), dtype=torch.uint8)
    out = augment_dataset(images, factor=2, seed=0)
    assert out.shape == (2, 3, size, size) and out.dtype == torch.uint8
    assert torch.equal(out[:1], images)


def test_augment_dataset_factor_bounds():
    images = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    assert torch.equal(augment_dataset(images, factor=1), images)
    with pytest.raises(ValueError, match="factor"):
        augment_dataset(images, factor=0)

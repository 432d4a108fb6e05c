"""cocogoat_utils.losses against hand computations (math.log / math.exp, not torch)."""

import math

import pytest
import torch

from cocogoat_utils.losses import LOSSES, bce_discriminator_loss, bce_generator_loss, get_loss


def _sigmoid(x):
    return 1 / (1 + math.exp(-x))


def _bce(logit, target):
    """−[t·log σ(x) + (1 − t)·log(1 − σ(x))], by hand."""
    p = _sigmoid(logit)
    return -(target * math.log(p) + (1 - target) * math.log(1 - p))


def _mean(values):
    return sum(values) / len(values)


def test_zero_logits_give_log2_per_term():
    zeros = torch.zeros(5)
    assert bce_discriminator_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2), rel=1e-6)
    assert bce_generator_loss(None, zeros).item() == pytest.approx(math.log(2), rel=1e-6)


def test_discriminator_loss_by_hand():
    real = [2.0, -1.0, 0.5]
    fake = [-3.0, 1.5, 0.0, 4.0]
    # softplus(−r) = log(1 + e^(−r)) is −log σ(r); softplus(f) = log(1 + e^f) is −log(1 − σ(f))
    expected = _mean([math.log(1 + math.exp(-r)) for r in real]) + _mean([math.log(1 + math.exp(f)) for f in fake])
    got = bce_discriminator_loss(torch.tensor(real), torch.tensor(fake))
    assert got.dim() == 0
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_generator_loss_by_hand():
    fake = [-3.0, 1.5, 0.0, 4.0]
    expected = _mean([-math.log(_sigmoid(f)) for f in fake])
    real = torch.tensor([100.0, -100.0])  # ignored by the BCE generator loss
    assert bce_generator_loss(real, torch.tensor(fake)).item() == pytest.approx(expected, rel=1e-6)
    assert bce_generator_loss(None, torch.tensor(fake)).item() == pytest.approx(expected, rel=1e-6)


def test_generator_loss_is_non_saturating():
    # the gradient w.r.t. a confidently rejected fake stays near −1, not near 0
    fake = torch.tensor([-10.0], requires_grad=True)
    bce_generator_loss(None, fake).backward()
    assert fake.grad.item() == pytest.approx(_sigmoid(-10.0) - 1, rel=1e-5)
    assert fake.grad.item() < -0.99


def test_label_smoothing_by_hand():
    real = [2.0, -0.5]
    fake = [1.0, -2.0]
    smooth = _mean([_bce(r, 0.9) for r in real]) + _mean([_bce(f, 0.0) for f in fake])
    plain = _mean([_bce(r, 1.0) for r in real]) + _mean([_bce(f, 0.0) for f in fake])
    got_smooth = bce_discriminator_loss(torch.tensor(real), torch.tensor(fake), real_label=0.9).item()
    got_plain = bce_discriminator_loss(torch.tensor(real), torch.tensor(fake)).item()
    assert got_smooth == pytest.approx(smooth, rel=1e-6)
    assert got_plain == pytest.approx(plain, rel=1e-6)
    assert abs(got_smooth - got_plain) > 1e-3


def test_losses_are_differentiable():
    real = torch.randn(4, requires_grad=True)
    fake = torch.randn(4, requires_grad=True)
    bce_discriminator_loss(real, fake).backward()
    # d/dr of mean softplus(−r) is −σ(−r)/n; d/df of mean softplus(f) is σ(f)/n
    for r, g in zip(real.tolist(), real.grad.tolist()):
        assert g == pytest.approx(-_sigmoid(-r) / 4, rel=1e-5)
    for f, g in zip(fake.tolist(), fake.grad.tolist()):
        assert g == pytest.approx(_sigmoid(f) / 4, rel=1e-5)


def test_get_loss():
    pair = get_loss("bce")
    assert pair.discriminator is bce_discriminator_loss
    assert pair.generator is bce_generator_loss
    assert pair.generator_uses_real is False
    assert "bce" in LOSSES


def test_get_loss_unknown_lists_names():
    with pytest.raises(ValueError, match="nope") as info:
        get_loss("nope")
    assert "bce" in str(info.value)

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


# --------------------------------------------------------------------------- hinge and the relativistic family

R = [2.0, -0.5, 1.0]   # C(x_r), the real images' logits
F_ = [-1.0, 0.5, 3.0]  # C(x_f), the fakes'


def _t(values):
    return torch.tensor(values, dtype=torch.float64)


def _softplus(x):
    return math.log(1 + math.exp(x))


def test_hinge_by_hand():
    d = _mean([max(0, 1 - r) for r in R]) + _mean([max(0, 1 + f) for f in F_])
    assert LOSSES["hinge"].discriminator(_t(R), _t(F_)).item() == pytest.approx(d)
    assert LOSSES["hinge"].generator(None, _t(F_)).item() == pytest.approx(-_mean(F_))
    assert not LOSSES["hinge"].generator_uses_real


def test_rsgan_by_hand():
    d = _mean([-math.log(_sigmoid(r - f)) for r, f in zip(R, F_)])
    g = _mean([-math.log(_sigmoid(f - r)) for r, f in zip(R, F_)])
    assert LOSSES["rsgan"].discriminator(_t(R), _t(F_)).item() == pytest.approx(d)
    assert LOSSES["rsgan"].generator(_t(R), _t(F_)).item() == pytest.approx(g)


def test_rasgan_by_hand():
    mr, mf = _mean(R), _mean(F_)
    d = _mean([-math.log(_sigmoid(r - mf)) for r in R]) + _mean([-math.log(1 - _sigmoid(f - mr)) for f in F_])
    g = _mean([-math.log(_sigmoid(f - mr)) for f in F_]) + _mean([-math.log(1 - _sigmoid(r - mf)) for r in R])
    assert LOSSES["rasgan"].discriminator(_t(R), _t(F_)).item() == pytest.approx(d)
    assert LOSSES["rasgan"].generator(_t(R), _t(F_)).item() == pytest.approx(g)


def test_ralsgan_by_hand():
    mr, mf = _mean(R), _mean(F_)
    d = _mean([(r - mf - 1) ** 2 for r in R]) + _mean([(f - mr + 1) ** 2 for f in F_])
    g = _mean([(f - mr - 1) ** 2 for f in F_]) + _mean([(r - mf + 1) ** 2 for r in R])
    assert LOSSES["ralsgan"].discriminator(_t(R), _t(F_)).item() == pytest.approx(d)
    assert LOSSES["ralsgan"].generator(_t(R), _t(F_)).item() == pytest.approx(g)


def test_rahinge_by_hand():
    mr, mf = _mean(R), _mean(F_)
    d = _mean([max(0, 1 - (r - mf)) for r in R]) + _mean([max(0, 1 + (f - mr)) for f in F_])
    g = _mean([max(0, 1 - (f - mr)) for f in F_]) + _mean([max(0, 1 + (r - mf)) for r in R])
    assert LOSSES["rahinge"].discriminator(_t(R), _t(F_)).item() == pytest.approx(d)
    assert LOSSES["rahinge"].generator(_t(R), _t(F_)).item() == pytest.approx(g)


@pytest.mark.parametrize("name", ["rsgan", "rasgan", "ralsgan", "rahinge"])
def test_relativistic_generator_loss_is_the_discriminator_loss_with_roles_swapped(name):
    pair = LOSSES[name]
    real, fake = torch.randn(7, dtype=torch.float64), torch.randn(7, dtype=torch.float64)
    assert pair.generator_uses_real
    assert pair.generator(real, fake).item() == pytest.approx(pair.discriminator(fake, real).item())
    assert pair.generator(real, fake).item() != pytest.approx(pair.discriminator(real, fake).item())


@pytest.mark.parametrize("name", ["rsgan", "rasgan", "ralsgan", "rahinge"])
def test_relativistic_losses_depend_only_on_differences(name):
    """Adding a constant to every logit changes nothing: only how much more real the real ones look counts."""
    pair = LOSSES[name]
    real, fake = torch.randn(6, dtype=torch.float64), torch.randn(6, dtype=torch.float64)
    for loss in (pair.discriminator, pair.generator):
        assert loss(real + 3.0, fake + 3.0).item() == pytest.approx(loss(real, fake).item())


def test_r1_penalty_by_hand():
    from cocogoat_utils.losses import r1_penalty

    x = torch.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
    w = torch.tensor([0.5, -2.0])
    logits = (x * w).sum(1) + (x ** 2).sum(1)  # ∇ = w + 2x per row
    expected = sum(((w + 2 * row) ** 2).sum().item() for row in x.detach()) / 2 * (10.0 / 2)
    penalty = r1_penalty(logits, x, gamma=10.0)
    assert penalty.item() == pytest.approx(expected)
    penalty.backward()  # the graph was kept: the penalty itself trains
    assert x.grad is not None
    parts = [x[:, :1], x[:, 1:]]  # a multi-scale D: the squared gradients of every input add up
    logits = (parts[0] * 2).sum(1) + (parts[1] * 3).sum(1)
    assert r1_penalty(logits, parts, gamma=2.0).item() == pytest.approx(4 + 9)


def test_wgan_loss_by_hand():
    real, fake = [1.0, 3.0], [-2.0, 0.5]
    d = _mean(fake) - _mean(real) + 1e-3 * _mean([r * r for r in real])
    assert LOSSES["wgan"].discriminator(_t(real), _t(fake)).item() == pytest.approx(d)
    assert LOSSES["wgan"].generator(None, _t(fake)).item() == pytest.approx(-_mean(fake))


def test_gradient_penalty_of_a_linear_critic():
    """C(x) = w·x has gradient w everywhere: the penalty is λ(‖w‖ − 1)², whatever the mix."""
    from cocogoat_utils.losses import gradient_penalty

    w = torch.tensor([3.0, 4.0])  # ‖w‖ = 5
    critic = lambda x: (x.flatten(1) * w).sum(1)
    real, fake = torch.randn(6, 2, 1, 1), torch.randn(6, 2, 1, 1)
    assert gradient_penalty(critic, real, fake, 10.0).item() == pytest.approx(10 * 16)
    unit = lambda x: (x.flatten(1) * w / 5).sum(1)
    assert gradient_penalty(unit, real, fake, 10.0).item() == pytest.approx(0.0, abs=1e-6)


def test_gradient_penalty_trains_the_critic_and_mixes_between_real_and_fake():
    from cocogoat_utils.losses import gradient_penalty

    seen = []
    critic = torch.nn.Linear(4, 1)

    def record(x):
        seen.append(x.detach())
        return critic(x.flatten(1)).squeeze(1) ** 2  # a gradient that depends on x

    real, fake = torch.zeros(8, 4, 1, 1), torch.ones(8, 4, 1, 1)
    penalty = gradient_penalty(record, real, fake, 10.0, generator=torch.Generator().manual_seed(0))
    penalty.backward()
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0
    mixed = seen[0]
    assert ((mixed >= 0) & (mixed <= 1)).all() and mixed.std() > 0  # between the two, not all the same point


def test_dragan_penalty_by_hand_and_near_the_real_images():
    """A linear critic's gradient is w everywhere: λ(‖w‖ − 1)²; the points lie within 0.5·std(x) above each real."""
    from cocogoat_utils.losses import dragan_penalty

    w = torch.tensor([3.0, 4.0])
    critic = lambda x: (x.flatten(1) * w).sum(1)
    real = torch.randn(6, 2, 1, 1)
    assert dragan_penalty(critic, real, 10.0).item() == pytest.approx(10 * 16)
    seen = []
    layer = torch.nn.Linear(4, 1)

    def record(x):
        seen.append(x.detach())
        return layer(x.flatten(1)).squeeze(1) ** 2

    real = torch.randn(16, 4, 1, 1)
    penalty = dragan_penalty(record, real, 10.0, generator=torch.Generator().manual_seed(0))
    penalty.backward()
    assert layer.weight.grad.abs().sum() > 0
    offset = seen[0] - real
    assert (offset >= 0).all() and (offset <= 0.5 * real.std() + 1e-6).all() and offset.std() > 0


def test_a_per_pixel_critic_counts_as_the_mean_of_its_map():
    """R1 on a (B, H, W) logit map equals R1 on each image's mean logit."""
    from cocogoat_utils.losses import r1_penalty

    x = torch.randn(3, 1, 4, 4, requires_grad=True)
    maps = (2 * x).squeeze(1)  # (B, 4, 4): ∂ mean / ∂x = 2/16 per pixel
    assert r1_penalty(maps, x, 2.0).item() == pytest.approx(16 * (2 / 16) ** 2)


def test_label_smoothing_is_one_sided_and_bce_only():
    from cocogoat_utils.train import GANTrainConfig

    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    smoothed = LOSSES["bce"].discriminator(real, fake, real_label=0.9)
    by_hand = _mean([-(0.9 * math.log(_sigmoid(r)) + 0.1 * math.log(1 - _sigmoid(r))) for r in real.tolist()]) + \
        _mean([-math.log(1 - _sigmoid(f)) for f in fake.tolist()])
    assert smoothed.item() == pytest.approx(by_hand)
    with pytest.raises(ValueError, match="bce"):
        GANTrainConfig(loss="rahinge", label_smoothing=0.1)
    with pytest.raises(ValueError, match="label_smoothing"):
        GANTrainConfig(label_smoothing=1.0)


def test_instance_noise_falls_linearly_to_zero():
    from cocogoat_utils.train import GANTrainConfig

    config = GANTrainConfig(steps=100, instance_noise=0.2)
    assert [config.instance_noise_at(s) for s in (0, 50, 100, 150)] == pytest.approx([0.2, 0.1, 0.0, 0.0])
    assert GANTrainConfig(steps=100, instance_noise=0.2, instance_noise_steps=10).instance_noise_at(5) == pytest.approx(0.1)
    assert GANTrainConfig().instance_noise_at(0) == 0.0
    with pytest.raises(ValueError, match="instance_noise_steps"):
        GANTrainConfig(steps=None, instance_noise=0.1)

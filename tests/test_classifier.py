"""cocogoat_utils.train.classifier: supervised training, entropy minimisation, pseudo-labels, self-training."""

import torch

from cocogoat_utils.models.classifier import ImageClassifier
from cocogoat_utils.train import predict, pseudo_label, self_train, train_classifier


def _two_classes(n, seed):
    """Dark images are class 0, bright ones class 1, with noise: separable, but not trivially."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    base = torch.where(labels[:, None, None, None] == 1, 170.0, 85.0)
    images = (base + torch.randn(n, 3, 16, 16, generator=g) * 40).clamp(0, 255).to(torch.uint8)
    return images, labels


def _model(seed=0):
    torch.manual_seed(seed)
    return ImageClassifier(num_classes=2, width=8, depth=2, feature_dim=16)


def test_supervised_training_learns_a_separable_task():
    images, labels = _two_classes(256, 0)
    val = _two_classes(128, 1)
    history = train_classifier(_model(), images, labels, epochs=6, batch_size=32, lr=3e-3, val=val, progress=False)
    assert len(history["train_loss"]) == 6 and history["train_loss"][-1] < history["train_loss"][0]
    assert history["val_acc"][-1] > 0.9


def test_entropy_minimisation_makes_unlabelled_predictions_confident():
    images, labels = _two_classes(16, 0)
    unlabeled, _ = _two_classes(256, 2)

    def mean_entropy(model):
        p = predict(model, unlabeled).softmax(1)
        return -(p * p.clamp_min(1e-12).log()).sum(1).mean().item()

    plain, with_entropy = _model(), _model()
    train_classifier(plain, images, labels, epochs=5, batch_size=8, lr=3e-3, progress=False)
    train_classifier(with_entropy, images, labels, epochs=5, batch_size=8, lr=3e-3, unlabeled=unlabeled,
                     entropy_weight=1.0, progress=False)
    assert mean_entropy(with_entropy) < mean_entropy(plain)


def test_pseudo_labels_and_self_training_rounds():
    images, labels = _two_classes(32, 0)
    unlabeled, truth = _two_classes(128, 3)
    model = _model()
    train_classifier(model, images, labels, epochs=4, batch_size=16, lr=3e-3, progress=False)
    predicted, confidence = pseudo_label(model, unlabeled)
    assert predicted.shape == truth.shape and ((confidence >= 0.5) & (confidence <= 1)).all()

    final, report = self_train(_model, images, labels, unlabeled, rounds=2, threshold=0.5, epochs=3, batch_size=16,
                               lr=3e-3, val=_two_classes(64, 4), progress=False)
    assert [r["round"] for r in report] == [0, 1, 2]
    assert report[0]["pseudo_labels"] == 0 and report[1]["pseudo_labels"] == 128  # two classes: every p ≥ 0.5
    assert all(0 <= r["val_acc"] <= 1 for r in report) and isinstance(final, ImageClassifier)


def test_validation_every_n_epochs_and_after_the_last():
    images, labels = _two_classes(64, 0)
    history = train_classifier(_model(), images, labels, epochs=5, batch_size=32, val=_two_classes(32, 1),
                               val_every=2, progress=False)
    assert history["val_epoch"] == [2, 4, 5] and len(history["val_acc"]) == 3


# --------------------------------------------------------------------------- information-maximisation pretraining

import math  # noqa: E402

import pytest  # noqa: E402

from cocogoat_utils.train.classifier import (information_maximisation_loss, one_cycle, prediction_spread,  # noqa: E402
                                             pretrain_information_max)


def test_information_maximisation_loss_against_a_hand_computation():
    logits = torch.tensor([[0.0, math.log(3.0)], [math.log(3.0), 0.0]])  # p = (1/4, 3/4) and (3/4, 1/4)
    h_image = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))  # each image's entropy: H(Y|X) = mean = this
    h_mean = math.log(2.0)  # the mean prediction is (1/2, 1/2)
    kl = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)  # KL(p_i ‖ (1/2, 1/2)), the same for both
    plain = information_maximisation_loss(logits, marginal_weight=1.0)
    assert plain.item() == pytest.approx(h_image - h_mean, abs=1e-6)
    weighted = information_maximisation_loss(logits, torch.zeros(2, 2), marginal_weight=2.0, consistency_weight=0.5)
    assert weighted.item() == pytest.approx(h_image - 2.0 * h_mean + 0.5 * kl, abs=1e-6)
    assert information_maximisation_loss(logits, logits).item() == pytest.approx(h_image - h_mean, abs=1e-6)


def test_entropy_alone_prefers_one_class_and_the_marginal_term_forbids_it():
    """The trivial minimum of entropy minimisation: every image confidently in one class."""
    one_class = torch.tensor([[20.0, 0.0], [20.0, 0.0]])
    two_classes = torch.tensor([[20.0, 0.0], [0.0, 20.0]])
    alone = lambda z: information_maximisation_loss(z, marginal_weight=0.0).item()  # noqa: E731
    assert alone(one_class) == pytest.approx(alone(two_classes), abs=1e-6) == pytest.approx(0.0, abs=1e-6)
    assert information_maximisation_loss(two_classes).item() < information_maximisation_loss(one_class).item() - 0.6


def test_the_consistency_term_pulls_the_augmented_prediction_only():
    logits = torch.tensor([[1.0, -1.0], [0.5, 0.2]], requires_grad=True)
    augmented = torch.tensor([[-1.0, 1.0], [0.2, 0.5]], requires_grad=True)
    no_marginal = information_maximisation_loss(logits, augmented, marginal_weight=0.0, consistency_weight=1.0)
    entropy_only = information_maximisation_loss(logits.detach().requires_grad_(), marginal_weight=0.0)
    no_marginal.backward()
    assert augmented.grad.abs().sum() > 0
    entropy_only.backward()
    # the clean logits get the entropy's gradient only: the KL target p is held fixed
    fresh = logits.detach().requires_grad_()
    information_maximisation_loss(fresh, marginal_weight=0.0).backward()
    assert torch.allclose(logits.grad, fresh.grad)


def _separable_four(n, seed):
    """Four groups far apart in colour (red, green, blue, grey), with noise: four obvious clusters."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=g)
    colours = torch.tensor([[220.0, 30, 30], [30, 220, 30], [30, 30, 220], [128, 128, 128]])
    images = colours[labels][:, :, None, None] + torch.randn(n, 3, 16, 16, generator=g) * 25
    return images.clamp(0, 255).to(torch.uint8), labels


def _pretrained(marginal_weight):
    images, truth = _separable_four(512, 0)
    torch.manual_seed(0)
    model = ImageClassifier(num_classes=4, width=8, depth=2, feature_dim=16)
    with torch.no_grad():
        before = model.eval().features(images[:64].float() / 127.5 - 1)
    history = pretrain_information_max(model, images, epochs=8, batch_size=64, lr=5e-3, marginal_weight=marginal_weight,
                                       progress=False)
    with torch.no_grad():
        after = model.features(images[:64].float() / 127.5 - 1)
    return model, history, images, truth, before, after


def test_pretraining_changes_the_features_and_does_not_collapse_on_separable_data():
    model, history, images, truth, before, after = _pretrained(marginal_weight=1.0)
    assert not torch.allclose(before, after, atol=1e-3)
    assert history["steps"] == 8 * 8 and len(history["loss"]) == 8
    assert history["conditional_entropy"][-1] < history["conditional_entropy"][0] - 0.3  # confident per image…
    assert history["marginal_entropy"][-1] > 0.9 * math.log(4)  # …with every class still used on average
    predicted = predict(model, images).argmax(1)
    assert history["spread"] == prediction_spread(predicted, 4)
    assert not history["spread"]["collapsed"] and history["spread"]["classes_used"] >= 2
    # each colour group falls (almost) whole into one class: the classes follow the data's groups
    majority = [torch.bincount(predicted[truth == k], minlength=4).argmax().item() for k in range(4)]
    assert all((predicted[truth == k] == majority[k]).float().mean() > 0.9 for k in range(4))


def test_entropy_minimisation_alone_collapses_where_information_maximisation_does_not():
    _, alone, *_ = _pretrained(marginal_weight=0.0)
    _, informed, *_ = _pretrained(marginal_weight=1.0)
    assert alone["spread"]["collapsed"] and alone["spread"]["largest_share"] == 1.0
    assert not informed["spread"]["collapsed"]
    assert alone["marginal_entropy"][-1] < informed["marginal_entropy"][-1] - 0.2


def test_pretraining_with_a_temporary_head_leaves_the_classifier_head_alone():
    images, _ = _separable_four(128, 1)
    torch.manual_seed(0)
    model = ImageClassifier(num_classes=2, width=8, depth=2, feature_dim=16)
    head = {k: v.clone() for k, v in model.head.state_dict().items()}
    body = model.body[0].weight.clone()
    history = pretrain_information_max(model, images, clusters=7, epochs=2, batch_size=32,
                                       augment=lambda x: x.flip(-1), progress=False)
    assert all(torch.equal(head[k], v) for k, v in model.head.state_dict().items())
    assert not torch.equal(body, model.body[0].weight) and history["marginal_entropy"][-1] <= math.log(7) + 1e-6


def test_one_cycle_schedule_values():
    assert one_cycle(0.0) == pytest.approx(1 / 25) and one_cycle(0.3) == pytest.approx(1.0)
    assert one_cycle(1.0) == pytest.approx(1 / 25e4) and one_cycle(0.15) == pytest.approx((1 / 25 + 1) / 2)
    assert one_cycle(2.0) == one_cycle(1.0)


def test_a_time_budget_stops_training_and_still_scores_the_last_epoch():
    images, labels = _two_classes(256, 0)
    history = train_classifier(_model(), images, labels, epochs=50, batch_size=32, seconds=1e-9,
                               val=_two_classes(32, 1), val_every=None, progress=False)
    assert history["epoch"] == [1] and history["steps"] == 8 and history["val_epoch"] == [1]


def test_bf16_precision_trains_on_the_cpu():
    images, labels = _two_classes(128, 0)
    history = train_classifier(_model(), images, labels, epochs=2, batch_size=32, precision="bf16", progress=False)
    assert all(math.isfinite(v) for v in history["train_loss"])


def test_prediction_spread_and_self_training_counts_right_pseudo_labels():
    spread = prediction_spread(torch.tensor([0, 0, 1, 1]), 3)
    assert spread["classes_used"] == 2 and spread["largest_share"] == 0.5 and not spread["collapsed"]
    assert spread["balance"] == pytest.approx(math.log(2) / math.log(3))
    assert prediction_spread(torch.tensor([2, 2, 2]), 3)["collapsed"]
    images, labels = _two_classes(32, 0)
    unlabeled, truth = _two_classes(64, 3)
    _, report = self_train(_model, images, labels, unlabeled, rounds=1, threshold=0.5, truth=truth, epochs=2,
                           batch_size=16, progress=False)
    assert report[0]["pseudo_correct"] is None and 0 <= report[1]["pseudo_correct"] <= report[1]["pseudo_labels"] == 64
    assert report[0]["steps"] == 2 * 2 and report[1]["steps"] == 2 * (96 // 16)

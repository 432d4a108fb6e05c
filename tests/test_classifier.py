"""cocogoat_utils.train.classifier: supervised training, entropy minimisation, pseudo-labels, self-training."""

import torch

from cocogoat_utils.models.selector import ImageClassifier
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

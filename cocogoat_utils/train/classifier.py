"""Training classifiers: supervised, with entropy minimisation on unlabelled images, and self-training.

Used by the DataSelector (``01``) and to train the fixed feature network of ``metrics``.
The whole labelled set lives on the device; batches are drawn there by permutation.
"""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from ..data import to_float
from ..runtime import eval_mode

@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """Logits for uint8 ``images`` (moved to the model's device batch by batch), model in eval mode."""
    device = next(model.parameters()).device
    with eval_mode(model):
        return torch.cat([model(to_float(images[i:i + batch_size].to(device))).float().cpu()
                          for i in range(0, len(images), batch_size)])


def train_classifier(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    epochs: int = 30,
    batch_size: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    val_every: int = 1,
    augment=None,
    class_weight: torch.Tensor | None = None,
    unlabeled: torch.Tensor | None = None,
    entropy_weight: float = 0.0,
    device: str | torch.device = "cpu",
    seed: int = 0,
    progress: bool = True,
) -> dict[str, list[float]]:
    """Supervised training with AdamW, cross-entropy and a one-cycle learning-rate schedule.

    ``images`` are uint8 ``(N, C, H, W)``, kept on ``device`` whole; ``augment`` (float
    ``[-1, 1]`` batch → batch) runs there too; ``class_weight`` weighs the loss per class
    (for unbalanced labels). With ``unlabeled`` images and ``entropy_weight > 0``, every
    step adds entropy minimisation on an unlabelled batch (Grandvalet & Bengio 2005,
    "Semi-supervised Learning by Entropy Minimization"): ``λ · mean(−Σ_c p_c log p_c)``,
    which pushes the decision boundary away from the unlabelled data.
    Returns per-epoch ``train_loss`` and ``train_acc``; with ``val``, ``val_acc`` every
    ``val_every`` epochs and after the last (``val_epoch`` says which).
    """
    device = torch.device(device)
    model.to(device).train()
    images, labels = images.to(device), labels.to(device)
    class_weight = class_weight.to(device) if class_weight is not None else None
    use_unlabeled = unlabeled is not None and len(unlabeled) > 0 and entropy_weight > 0
    unlabeled = unlabeled.to(device) if use_unlabeled else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, fused=device.type == "cuda")
    steps_per_epoch = max(1, len(images) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch)
    generator = torch.Generator(device=device).manual_seed(seed)
    history: dict[str, list[float]] = {"epoch": [], "train_loss": [], "train_acc": [], "val_acc": [], "val_epoch": []}
    bar = tqdm(range(epochs), desc="classifier", unit="epoch", disable=not progress)
    for epoch in bar:
        order = torch.randperm(len(images), device=device, generator=generator)
        total_loss = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        for i in range(steps_per_epoch):
            index = order[i * batch_size:(i + 1) * batch_size]
            x, y = to_float(images[index]), labels[index]
            if augment is not None:
                x = augment(x)
            logits = model(x)
            loss = nn.functional.cross_entropy(logits, y, weight=class_weight)
            if use_unlabeled:
                pick = torch.randint(len(unlabeled), (len(index),), device=device, generator=generator)
                u = to_float(unlabeled[pick])
                log_p = nn.functional.log_softmax(model(augment(u) if augment is not None else u), dim=1)
                loss = loss + entropy_weight * -(log_p.exp() * log_p).sum(1).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += loss.detach() * len(index)
            correct += (logits.argmax(1) == y).sum()
        seen = steps_per_epoch * batch_size if len(images) >= batch_size else len(images)
        history["epoch"].append(epoch + 1)
        history["train_loss"].append(total_loss.item() / seen)
        history["train_acc"].append(correct.item() / seen)
        if val is not None and ((epoch + 1) % val_every == 0 or epoch + 1 == epochs):
            history["val_acc"].append((predict(model, val[0]).argmax(1) == val[1].cpu()).float().mean().item())
            history["val_epoch"].append(epoch + 1)
        bar.set_postfix(loss=f"{history['train_loss'][-1]:.3f}", acc=f"{history['train_acc'][-1]:.3f}",
                        **({"val": f"{history['val_acc'][-1]:.3f}"} if history["val_acc"] else {}))
    model.eval()
    return history


def pseudo_label(model: nn.Module, images: torch.Tensor, *, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """The predicted class and its softmax probability (the confidence) for each uint8 image."""
    probabilities = predict(model, images, batch_size=batch_size).softmax(1)
    confidence, labels = probabilities.max(1)
    return labels, confidence


def self_train(
    build_model,
    images: torch.Tensor,
    labels: torch.Tensor,
    unlabeled: torch.Tensor,
    *,
    rounds: int = 2,
    threshold: float = 0.95,
    **train_kwargs,
) -> tuple[nn.Module, list[dict]]:
    """Self-training: train, pseudo-label the unlabelled images, add the confident ones, train again.

    ``build_model()`` makes a fresh model for every round (so mistakes are not carried in
    the weights). Returns the last model and, per round, how many pseudo-labels joined and
    the final validation accuracy (when ``val`` is passed through ``train_kwargs``).
    """
    report, extra_images, extra_labels = [], images[:0], labels[:0]
    model = None
    for round_ in range(rounds + 1):
        model = build_model()
        history = train_classifier(model, torch.cat([images, extra_images]), torch.cat([labels, extra_labels]),
                                   unlabeled=unlabeled, **train_kwargs)
        report.append({"round": round_, "pseudo_labels": len(extra_labels),
                       "val_acc": history["val_acc"][-1] if history["val_acc"] else None})
        if round_ == rounds:
            break
        predicted, confidence = pseudo_label(model, unlabeled)
        confident = confidence >= threshold
        extra_images, extra_labels = unlabeled[confident], predicted[confident]
    return model, report

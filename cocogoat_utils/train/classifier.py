"""Training classifiers: supervised, with entropy minimisation on unlabelled images, self-training, and
information-maximisation pretraining.

Used by the DataSelector (``01``) and to train the fixed feature network of ``metrics``.
The whole labelled set lives on the device; batches are drawn there by permutation.

- :func:`train_classifier`: supervised (plus an optional entropy term on unlabelled images);
- :func:`pseudo_label`, :func:`self_train`: pseudo-labels and self-training rounds;
- :func:`information_maximisation_loss`, :func:`pretrain_information_max`: self-supervised pretraining on
  unlabelled images that minimises the per-image entropy without collapsing to one class;
- :func:`prediction_spread`: how the predictions spread over the classes (one class only: collapsed);
  :func:`collapsed_models` names the models whose predictions collapsed.
"""

from __future__ import annotations

import math
import time

import torch
from torch import nn

from ..data import to_float
from ..runtime import distributed, eval_mode, progress_bar, stream_seed
from .optim import PrecisionStep, fast_layout, fused_on


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """Logits for uint8 ``images`` (moved to the model's device batch by batch), model in eval mode."""
    device = next(model.parameters()).device
    with eval_mode(model):
        return torch.cat([model(to_float(images[i:i + batch_size].to(device))).float().cpu()
                          for i in range(0, len(images), batch_size)])


def one_cycle(progress: float, *, warmup: float = 0.3, div: float = 25.0, final_div: float = 1e4) -> float:
    """The one-cycle learning-rate factor at ``progress`` ∈ [0, 1] (Smith & Topin 2017, as ``OneCycleLR``):
    cosine from ``1/div`` up to 1 over the first ``warmup`` share, then cosine down to ``1/(div·final_div)``."""
    progress = min(max(progress, 0.0), 1.0)
    start, end = 1.0 / div, 1.0 / (div * final_div)
    if progress < warmup:
        return start + (1.0 - start) * (1 - math.cos(math.pi * progress / warmup)) / 2
    return end + (1.0 - end) * (1 + math.cos(math.pi * (progress - warmup) / (1 - warmup))) / 2


class _Optimisation:
    """AdamW, the one-cycle schedule over ``total_steps`` (or, with ``seconds``, over whichever of the steps
    and the seconds runs out first), precision (autocast; a gradient scaler for fp16) and the clock."""

    def __init__(self, parameters, *, lr: float, weight_decay: float, total_steps: int, seconds: float | None,
                 device: torch.device, precision: str) -> None:
        self.device = device
        self.total_steps, self.seconds, self.started = max(1, total_steps), seconds, time.perf_counter()
        self.steps = 0
        # under torchrun: rank 0's clock, shared at each epoch's end (0 until then, so every rank starts alike)
        self.shared_elapsed: float | None = 0.0 if distributed()[1] > 1 else None
        self.optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay, fused=fused_on(device))
        if seconds is None:  # the exact schedule the shipped feature classifier was trained with
            self.schedule = torch.optim.lr_scheduler.OneCycleLR(self.optimizer, max_lr=lr, total_steps=self.total_steps)
        else:
            self.schedule = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda _: one_cycle(self.progress))
        self.precise = PrecisionStep(self.optimizer, device=device, precision=precision)

    @property
    def progress(self) -> float:
        done = self.steps / self.total_steps
        return max(done, self.elapsed / self.seconds) if self.seconds else done

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started if self.shared_elapsed is None else self.shared_elapsed

    def share_clock(self) -> None:
        """Across processes: every rank takes rank 0's elapsed seconds (at each epoch's end), so the learning-rate
        schedule and the stop agree on every rank."""
        clock = torch.tensor([time.perf_counter() - self.started], dtype=torch.float64,
                             device=self.device if self.device.type == "cuda" else "cpu")
        torch.distributed.broadcast(clock, 0)
        self.shared_elapsed = float(clock)

    @property
    def out_of_time(self) -> bool:
        return self.steps >= self.total_steps or (self.seconds is not None and self.elapsed >= self.seconds)

    def autocast(self):
        return self.precise.autocast()

    def step(self, loss: torch.Tensor) -> None:
        self.precise.step(loss)
        self.steps += 1
        self.schedule.step()


def _unlabelled_batch(unlabeled: torch.Tensor, n: int, augment, generator: torch.Generator) -> torch.Tensor:
    """``n`` unlabelled images drawn at random (float, augmented when ``augment`` is given)."""
    u = to_float(unlabeled[torch.randint(len(unlabeled), (n,), device=unlabeled.device, generator=generator)])
    return augment(u) if augment is not None else u


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
    val_every: int | None = 1,
    augment=None,
    class_weight: torch.Tensor | None = None,
    unlabeled: torch.Tensor | None = None,
    entropy_weight: float = 0.0,
    seconds: float | None = None,
    precision: str = "fp32",
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
    ``seconds`` is a wall-time budget (``epochs`` then a ceiling; the schedule follows whichever of the two
    runs out first); ``precision`` (``"auto" | "bf16" | "fp16" | "fp32"``) sets autocast.
    Under ``torchrun`` (``torch.distributed`` initialised) the model trains data-parallel: gradients averaged by
    ``DistributedDataParallel``, each rank drawing its own batches from ``(seed, rank)`` (global batch =
    ``batch_size`` × processes), and rank 0's clock deciding the schedule and the stop for every rank (shared at
    each epoch's end).
    Returns per-epoch ``train_loss`` and ``train_acc``; with ``val``, ``val_acc`` every
    ``val_every`` epochs (``None``: only after the last; ``val_epoch`` says which), and ``steps``.
    """
    device = torch.device(device)
    fast_layout(model.to(device), device).train()
    images, labels = images.to(device), labels.to(device)
    class_weight = class_weight.to(device) if class_weight is not None else None
    use_unlabeled = unlabeled is not None and len(unlabeled) > 0 and entropy_weight > 0
    unlabeled = unlabeled.to(device) if use_unlabeled else None
    steps_per_epoch = max(1, len(images) // batch_size)
    run = _Optimisation(model.parameters(), lr=lr, weight_decay=weight_decay, total_steps=epochs * steps_per_epoch,
                        seconds=seconds, device=device, precision=precision)
    rank, world = distributed()
    net = model
    if world > 1:  # batch norms synchronised on GPUs (torch's SyncBatchNorm is CUDA-only; the layers are replaced in place)
        if device.type == "cuda":
            nn.SyncBatchNorm.convert_sync_batchnorm(model)
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    generator = torch.Generator(device=device).manual_seed(seed if world == 1 else stream_seed(seed, rank))
    history: dict[str, list[float]] = {"epoch": [], "train_loss": [], "train_acc": [], "val_acc": [], "val_epoch": []}
    bar = progress_bar(range(epochs), desc="classifier", unit="epoch", disable=not progress or rank != 0)
    for epoch in bar:
        order = torch.randperm(len(images), device=device, generator=generator)
        total_loss = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        for i in range(steps_per_epoch):
            index = order[i * batch_size:(i + 1) * batch_size]
            x, y = to_float(images[index]), labels[index]
            if augment is not None:
                x = augment(x)
            with run.autocast():
                if use_unlabeled and world > 1:  # one forward per step under DDP: both batches together
                    u = _unlabelled_batch(unlabeled, len(index), augment, generator)
                    logits, u_logits = net(torch.cat([x, u])).split([len(x), len(u)])
                else:
                    logits = net(x)
                    if use_unlabeled:
                        u_logits = model(_unlabelled_batch(unlabeled, len(index), augment, generator))
                loss = nn.functional.cross_entropy(logits.float(), y, weight=class_weight)
                if use_unlabeled:
                    log_p = nn.functional.log_softmax(u_logits.float(), dim=1)
                    loss = loss + entropy_weight * -(log_p.exp() * log_p).sum(1).mean()
            run.step(loss)
            total_loss += loss.detach() * len(index)
            correct += (logits.argmax(1) == y).sum()
        seen = steps_per_epoch * batch_size if len(images) >= batch_size else len(images)
        if world > 1:
            run.share_clock()
        last = epoch + 1 == epochs or run.out_of_time
        history["epoch"].append(epoch + 1)
        history["train_loss"].append(total_loss.item() / seen)
        history["train_acc"].append(correct.item() / seen)
        if val is not None and ((val_every and (epoch + 1) % val_every == 0) or last):
            history["val_acc"].append((predict(model, val[0]).argmax(1) == val[1].cpu()).float().mean().item())
            history["val_epoch"].append(epoch + 1)
        bar.set_postfix(loss=f"{history['train_loss'][-1]:.3f}", acc=f"{history['train_acc'][-1]:.3f}",
                        **({"val": f"{history['val_acc'][-1]:.3f}"} if history["val_acc"] else {}))
        if last:
            break
    model.eval()
    history["steps"] = run.steps
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
    truth: torch.Tensor | None = None,
    **train_kwargs,
) -> tuple[nn.Module, list[dict]]:
    """Self-training: train, pseudo-label the unlabelled images, add the confident ones, train again.

    ``build_model()`` makes a fresh model for every round (so mistakes are not carried in
    the weights; a copy of a pretrained model works too). Returns the last model and, per round,
    how many pseudo-labels joined, how many of them were right when ``truth`` of the unlabelled
    images is passed (``pseudo_correct``), the optimisation ``steps``, and the final validation
    accuracy (when ``val`` is passed through ``train_kwargs``).
    """
    report, extra_images, extra_labels, correct = [], images[:0], labels[:0], None
    model = None
    for round_ in range(rounds + 1):
        model = build_model()
        history = train_classifier(model, torch.cat([images, extra_images]), torch.cat([labels, extra_labels]),
                                   unlabeled=unlabeled, **train_kwargs)
        report.append({"round": round_, "pseudo_labels": len(extra_labels), "pseudo_correct": correct,
                       "steps": history["steps"], "val_acc": history["val_acc"][-1] if history["val_acc"] else None})
        if round_ == rounds:
            break
        predicted, confidence = pseudo_label(model, unlabeled)
        confident = confidence >= threshold
        extra_images, extra_labels = unlabeled[confident], predicted[confident]
        if truth is not None:
            correct = int((extra_labels == truth.cpu()[confident]).sum())
    return model, report


# --------------------------------------------------------------------------- self-supervised pretraining

def information_maximisation_loss(logits: torch.Tensor, augmented_logits: torch.Tensor | None = None, *,
                                  marginal_weight: float = 1.0, consistency_weight: float = 1.0) -> torch.Tensor:
    """Regularised information maximisation on a batch of unlabelled images (Krause, Perona & Gomes 2010,
    "Discriminative Clustering by Regularized Information Maximization"; Hu et al. 2017, IMSAT,
    https://arxiv.org/abs/1702.08720).

    With ``p_i = softmax(logits_i)`` for the N images of the batch, ``p̄ = (1/N) Σ_i p_i`` and
    ``q_i = softmax(augmented_logits_i)`` (the same images augmented)::

        H(Y|X) = −(1/N) Σ_i Σ_c p_ic log p_ic       mean per-image entropy: minimised, each image confident
        H(Y)   = −Σ_c p̄_c log p̄_c                   entropy of the mean prediction: maximised, every class used
        R      = (1/N) Σ_i Σ_c p_ic (log p_ic − log q_ic)    KL(p_i ‖ q_i), p_i held fixed (IMSAT's self-augmentation)

        L = H(Y|X) − marginal_weight · H(Y) + consistency_weight · R

    Entropy minimisation alone (``marginal_weight = 0``) has a trivial minimum, every image in one class with
    certainty; the ``H(Y)`` term forbids it (``H(Y|X) − H(Y)`` is minus the mutual information between the
    images and their predicted class). ``R`` asks an augmented copy for the same prediction, so the classes
    found follow what the augmentations keep rather than arbitrary pixel patterns.
    """
    log_p = nn.functional.log_softmax(logits.float(), dim=1)
    p = log_p.exp()
    conditional = -(p * log_p).sum(1).mean()
    mean_p = p.mean(0)
    marginal = -(mean_p * mean_p.clamp_min(1e-12).log()).sum()
    loss = conditional - marginal_weight * marginal
    if augmented_logits is not None and consistency_weight:
        log_q = nn.functional.log_softmax(augmented_logits.float(), dim=1)
        loss = loss + consistency_weight * (p.detach() * (log_p.detach() - log_q)).sum(1).mean()
    return loss


def pretrain_information_max(
    model: nn.Module,
    images: torch.Tensor,
    *,
    clusters: int | None = None,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    augment=None,
    marginal_weight: float = 1.0,
    consistency_weight: float = 1.0,
    seconds: float | None = None,
    precision: str = "fp32",
    device: str | torch.device = "cpu",
    seed: int = 0,
    progress: bool = True,
) -> dict[str, list[float]]:
    """Self-supervised pretraining of ``model`` on unlabelled uint8 ``images`` by
    :func:`information_maximisation_loss` (no labels used): the network learns to sort the images into
    confident, balanced groups that survive ``augment``, and its features change with it.

    ``clusters=None`` trains the model's own outputs (its classes become clusters; fine-tuning then names
    them); a number adds a temporary linear head with that many clusters on ``model.features`` (over-clustering,
    for richer features; the head is dropped after). ``seconds`` is a wall-time budget (``epochs`` a ceiling).
    Returns per epoch ``loss``, ``conditional_entropy`` H(Y|X) and ``marginal_entropy`` H(Y) (in nats,
    on the un-augmented batches), ``steps``, and ``spread``: how ``images`` spread over the clusters at the end
    (:func:`prediction_spread`; ``collapsed`` if they all fall in one).
    """
    device = torch.device(device)
    fast_layout(model.to(device), device).train()
    if clusters is None:
        head, logits_of = None, model
    else:
        head = nn.Linear(model.feature_dim, clusters).to(device)
        logits_of = lambda x: head(model.features(x))  # noqa: E731
    parameters = list(model.parameters()) + (list(head.parameters()) if head is not None else [])
    data = images.to(device)
    batch_size = min(batch_size, len(data))
    steps_per_epoch = max(1, len(data) // batch_size)
    run = _Optimisation(parameters, lr=lr, weight_decay=weight_decay, total_steps=epochs * steps_per_epoch,
                        seconds=seconds, device=device, precision=precision)
    generator = torch.Generator(device=device).manual_seed(seed)
    history: dict[str, list[float]] = {"epoch": [], "loss": [], "conditional_entropy": [], "marginal_entropy": []}
    bar = progress_bar(range(epochs), desc="pretraining", unit="epoch", disable=not progress)
    for epoch in bar:
        order = torch.randperm(len(data), device=device, generator=generator)
        sums = torch.zeros(3, device=device)
        for i in range(steps_per_epoch):
            x = to_float(data[order[i * batch_size:(i + 1) * batch_size]])
            with run.autocast():
                logits = logits_of(x)
                augmented = logits_of(augment(x)) if augment is not None else None
                loss = information_maximisation_loss(logits, augmented, marginal_weight=marginal_weight,
                                                     consistency_weight=consistency_weight)
            run.step(loss)
            with torch.no_grad():
                p = logits.float().softmax(1)
                sums += torch.stack([loss.detach(), -(p * p.clamp_min(1e-12).log()).sum(1).mean(),
                                     -(p.mean(0) * p.mean(0).clamp_min(1e-12).log()).sum()])
        loss_, conditional, marginal = (sums / steps_per_epoch).tolist()
        history["epoch"].append(epoch + 1)
        history["loss"].append(loss_)
        history["conditional_entropy"].append(conditional)
        history["marginal_entropy"].append(marginal)
        bar.set_postfix(loss=f"{loss_:.3f}", H_cond=f"{conditional:.3f}", H_marg=f"{marginal:.3f}")
        if run.out_of_time:
            break
    model.eval()
    with torch.no_grad(), eval_mode(*([head] if head is not None else [])):
        logits = torch.cat([logits_of(to_float(data[i:i + 256])).float().cpu() for i in range(0, len(data), 256)])
    history["steps"], history["spread"] = run.steps, prediction_spread(logits.argmax(1), logits.shape[1])
    return history


def prediction_spread(predicted: torch.Tensor, num_classes: int) -> dict:
    """How predicted classes spread: ``classes_used``, ``largest_share`` (of the most predicted class),
    ``balance`` (the entropy of the predicted-class shares over ``log num_classes``: 1 = even, 0 = one class)
    and ``collapsed`` (every prediction is one class)."""
    counts = torch.bincount(predicted.flatten().long(), minlength=num_classes).float()
    shares = counts / counts.sum().clamp_min(1)
    entropy = -(shares * shares.clamp_min(1e-12).log()).sum().item()
    used = int((counts > 0).sum())
    return {"classes_used": used, "largest_share": shares.max().item(),
            "balance": entropy / math.log(num_classes) if num_classes > 1 else 1.0, "collapsed": used <= 1}


def collapsed_models(models: dict[str, nn.Module], images: torch.Tensor, num_classes: int) -> str:
    """The names (comma-separated) of the ``models`` that put every one of ``images`` in one class
    (:func:`prediction_spread`), or ``"none"``."""
    return ", ".join(name for name, model in models.items()
                     if prediction_spread(predict(model, images).argmax(1), num_classes)["collapsed"]) or "none"

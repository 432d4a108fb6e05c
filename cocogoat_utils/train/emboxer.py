"""Training the Emboxer (one box per image) and scoring its boxes by IoU (:func:`evaluate_boxes`: predict, score, say)."""

from __future__ import annotations

import time

import torch
from torch import nn
from torchvision.ops import box_iou

from ..data import to_float
from ..models.emboxer import box_loss
from ..runtime import progress_bar
from .optim import PrecisionStep, fast_layout, fused_on


def box_scores(predicted: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Mean IoU of each predicted box with its own target, and the shares at IoU ≥ 0.5 and ≥ 0.75."""
    iou = box_iou(predicted.float(), target.float()).diagonal()
    return {"mean_iou": iou.mean().item(), "iou50": (iou >= 0.5).float().mean().item(),
            "iou75": (iou >= 0.75).float().mean().item()}


@torch.no_grad()
def predict_boxes(model: nn.Module, images: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """The model's boxes for uint8 ``images``, in eval mode, on the CPU."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    boxes = torch.cat([model(to_float(images[i:i + batch_size].to(device))).cpu()
                       for i in range(0, len(images), batch_size)])
    model.train(was_training)
    return boxes


def train_emboxer(model: nn.Module, images: torch.Tensor, boxes: torch.Tensor, *, steps: int = 2000,
                  batch_size: int = 64, lr: float = 2e-3, val: tuple[torch.Tensor, torch.Tensor] | None = None,
                  val_every: int = 100, seconds: float | None = None, device: str | torch.device = "cpu",
                  seed: int = 0, precision: str = "fp32", progress: bool = True) -> dict[str, list[float]]:
    """AdamW with a one-cycle schedule on :func:`~cocogoat_utils.models.emboxer.box_loss`, random horizontal flips
    (the box flips with the image); ``precision`` (``"auto" | "bf16" | "fp16" | "fp32"``) sets autocast and, in fp16,
    a gradient scaler. Returns ``step``/``loss`` per step and ``val_step``/``val_iou``."""
    device = torch.device(device)
    fast_layout(model.to(device), device).train()
    data, targets = images.to(device), boxes.float().to(device)
    size = images.shape[-1]
    generator = torch.Generator(device=device).manual_seed(seed)  # batches and flips drawn on the device
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4, fused=fused_on(device))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    precise = PrecisionStep(optimizer, device=device, precision=precision)
    history: dict[str, list[float]] = {"step": [], "loss": [], "val_step": [], "val_iou": []}
    losses = []  # device scalars, read once at the end: no host sync per step
    started = time.perf_counter()
    for step in progress_bar(range(1, steps + 1), desc="emboxer", disable=not progress):
        pick = torch.randint(0, len(data), (batch_size,), generator=generator, device=device)
        x, box = to_float(data[pick]), targets[pick]
        flip = torch.rand(batch_size, generator=generator, device=device) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        mirrored = torch.stack([size - box[:, 2], box[:, 1], size - box[:, 0], box[:, 3]], dim=1)
        target = torch.where(flip[:, None], mirrored, box)
        with precise.autocast():
            predicted = model(x)
        loss = box_loss(predicted.float(), target, size)
        precise.step(loss)
        schedule.step()
        losses.append(loss.detach())
        out_of_time = seconds is not None and time.perf_counter() - started >= seconds
        if val is not None and (step % val_every == 0 or step == steps or out_of_time):
            history["val_step"].append(step)
            history["val_iou"].append(box_scores(predict_boxes(model, val[0]), val[1])["mean_iou"])
        if out_of_time:
            break
    history["step"] = list(range(1, len(losses) + 1))
    history["loss"] = torch.stack(losses).tolist()
    return history


def evaluate_boxes(model: nn.Module, images: torch.Tensor, boxes: torch.Tensor, what: str
                   ) -> tuple[torch.Tensor, dict[str, float]]:
    """The model's boxes for ``images`` and their :func:`box_scores` against ``boxes``, with the scores printed
    after ``what`` (``"held out: mean IoU 0.712; IoU ≥ 0.5: 84.0%; IoU ≥ 0.75: 41.0%"``)."""
    predicted = predict_boxes(model, images)
    scores = box_scores(predicted, boxes)
    print(f"{what}: mean IoU {scores['mean_iou']:.3f}; IoU ≥ 0.5: {scores['iou50']:.1%}; "
          f"IoU ≥ 0.75: {scores['iou75']:.1%}")
    return predicted, scores

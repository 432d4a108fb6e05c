"""Training and scoring an inpainter: fill a square hole so that it matches the real image.

Every image of every batch gets its own square hole (:func:`box_masks`); the loss and the scores
count only the pixels in the hole (:func:`masked_l1`): outside it the inpainter copies its input,
so whole-image scores would flatter it.
:func:`inpainting_row` is one row of a comparison; :func:`mean_colour_l1` the baseline to read it against.
"""

from __future__ import annotations

import math
import time

import torch
from torch import nn

from ..data import to_float
from ..runtime import progress_bar
from .optim import PrecisionStep


def box_masks(batch: int, size: int, *, fraction: float = 0.25, generator: torch.Generator | None = None,
              device: str | torch.device = "cpu") -> torch.Tensor:
    """``(batch, 1, size, size)`` masks, each a square hole of ``fraction`` of the area at a random place."""
    side = max(1, round(size * fraction**0.5))
    corners = torch.randint(0, size - side + 1, (batch, 2), generator=generator,
                            device=generator.device if generator is not None else device).to(device)
    grid = torch.arange(size, device=device)
    rows = (grid >= corners[:, :1]) & (grid < corners[:, :1] + side)  # (batch, size)
    cols = (grid >= corners[:, 1:]) & (grid < corners[:, 1:] + side)
    return (rows[:, :, None] & cols[:, None, :]).unsqueeze(1).float()


def masked_l1(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the masked pixels only (all channels): ``Σ m·|p − t| / (C · Σ m)``."""
    channels = prediction.shape[1]
    return (mask * (prediction - target).abs()).sum() / (mask.sum() * channels).clamp_min(1)


def train_inpainter(model: nn.Module, images: torch.Tensor, *, steps: int = 1000, batch_size: int = 64,
                    lr: float = 2e-3, fraction: float = 0.25, seconds: float | None = None,
                    device: str | torch.device = "cpu", seed: int = 0, precision: str = "fp32",
                    progress: bool = True) -> dict[str, list[float]]:
    """Adam with a cosine schedule on masked L1, a new random hole for every image of every batch.

    ``images`` are uint8 ``(N, C, S, S)``; ``seconds`` stops early at that wall time
    (equal compute for two models); ``precision`` (``"auto" | "bf16" | "fp16" | "fp32"``) sets autocast and, in
    fp16, a gradient scaler. Returns ``step`` and ``loss`` per step and ``seconds``.
    """
    device = torch.device(device)
    model.to(device).train()
    data = images.to(device)
    generator = torch.Generator(device=device).manual_seed(seed)  # batches and holes drawn on the device
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    precise = PrecisionStep(optimizer, device=device, precision=precision)
    losses = []  # device scalars, read once at the end: no host sync per step
    started = time.perf_counter()
    for step in progress_bar(range(1, steps + 1), desc=f"inpainter ({getattr(model, 'config', {}).get('middle', '')})",
                     disable=not progress):
        pick = torch.randint(0, len(data), (batch_size,), generator=generator, device=device)
        target = to_float(data[pick])
        mask = box_masks(batch_size, target.shape[-1], fraction=fraction, generator=generator, device=device)
        with precise.autocast():
            filled = model(target * (1 - mask), mask)
        loss = masked_l1(filled.float(), target, mask)
        precise.step(loss)
        schedule.step()
        losses.append(loss.detach())
        if seconds is not None and time.perf_counter() - started >= seconds:
            break
    return {"step": list(range(1, len(losses) + 1)), "loss": torch.stack(losses).tolist(),
            "seconds": [time.perf_counter() - started]}


@torch.no_grad()
def evaluate_inpainter(model: nn.Module, images: torch.Tensor, *, fraction: float = 0.25, seed: int = 1,
                       batch_size: int = 256) -> dict[str, float]:
    """Masked L1 and PSNR (in the hole, images in ``[-1, 1]`` so the peak-to-peak range is 2) on fixed holes."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    abs_sum = sq_sum = count = 0.0
    for start in range(0, len(images), batch_size):
        target = to_float(images[start:start + batch_size].to(device))
        mask = box_masks(len(target), target.shape[-1], fraction=fraction, generator=generator, device=device)
        error = (model(target * (1 - mask), mask) - target) * mask
        abs_sum += error.abs().sum().item()
        sq_sum += error.pow(2).sum().item()
        count += mask.sum().item() * target.shape[1]
    model.train(was_training)
    mse = sq_sum / count
    return {"l1": abs_sum / count, "psnr": 10 * math.log10(4.0 / mse) if mse > 0 else float("inf")}


@torch.no_grad()
def fill_holes(model: nn.Module, images: torch.Tensor, *, fraction: float = 0.25, seed: int = 1
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """(masked inputs, filled outputs) as float ``[-1, 1]`` for a picture, with the holes of :func:`evaluate_inpainter`."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    target = to_float(images.to(device))
    mask = box_masks(len(target), target.shape[-1], fraction=fraction, generator=torch.Generator().manual_seed(seed),
                     device=device)
    masked = target * (1 - mask)
    filled = model(masked, mask)
    model.train(was_training)
    return masked.cpu(), filled.cpu()


def inpainting_row(model: nn.Module, history: dict, images: torch.Tensor, *, fraction: float = 0.25) -> dict:
    """One row of an inpainter comparison: its parameters, the steps and seconds of ``history`` (what
    :func:`train_inpainter` returned), and its L1 (4 decimals) and PSNR (2) on ``images`` (:func:`evaluate_inpainter`)."""
    scores = evaluate_inpainter(model, images, fraction=fraction)
    return {"parameters": sum(p.numel() for p in model.parameters()), "steps": len(history["loss"]),
            "seconds": round(history["seconds"][0], 1), "l1": round(scores["l1"], 4), "psnr": round(scores["psnr"], 2)}


def mean_colour_l1(train_images: torch.Tensor, test_images: torch.Tensor) -> float:
    """The L1 error (images in ``[-1, 1]``) of filling every pixel of ``test_images`` with the training set's mean
    colour: the baseline an inpainter's L1 in the hole is read against."""
    mean = to_float(train_images).mean(dim=(0, 2, 3), keepdim=True)
    return (to_float(test_images) - mean).abs().mean().item()

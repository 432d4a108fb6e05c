"""Train the judge's feature space (``checkpoints/glyph_features.pt``): a self-supervised glyph encoder beside a
random twin, their blocks read together and projected onto 64 whitened principal directions.

    python checkpoints/train_feature_network.py                 # about 8 minutes on one CPU core
    python checkpoints/train_feature_network.py --minutes 2 --out /tmp/glyph_features   # a quick look

The encoder (``ImageClassifier``'s convolutional body, width 32, four strided blocks) learns without
labels by SimCLR (Chen et al. 2020, https://arxiv.org/abs/2002.05709): each glyph is augmented twice —
a random zoom and shift, a flip, a colour jitter, sometimes grey — and the NT-Xent loss pulls its two
views together and pushes the other glyphs of the batch apart (temperature 0.2). What survives those
augmentations is shape: what a person names when they look at a glyph. The colour, noise and
texture statistics that SimCLR learns to ignore come from a randomly initialised twin of the same
network (Naeem et al. 2020 suggest random networks' features for domains without a trained
evaluator). The space reads the SimCLR encoder's two deepest blocks (averaged over space) and its
embedding — shape — and the random twin's two first blocks — colour, noise, texture
(:data:`cocogoat_utils.features.GLYPH_PARTS`); each part is scaled to unit total variance, and the
whole is projected onto its 64 principal directions over every OpenMoji glyph, each divided by
its standard deviation, so that the Fréchet distance weighs each direction alike
(:func:`cocogoat_utils.features.fit_projection`).

The choice of this space over the category classifier (``train_feature_classifier.py``) and over
each part alone is the disturbance battery's (``benchmarks/metrics_battery.py``, its table in
``benchmarks/README.md``). Retraining changes every quality number in the project: compare only runs
scored in the same space.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cocogoat_utils.features import FEATURE_IMAGE_SIZE, GLYPH_PARTS, fit_projection, save_layer_features  # noqa: E402
from cocogoat_utils.models.classifier import ImageClassifier  # noqa: E402
from cocogoat_utils.openmoji import load_openmoji  # noqa: E402
from cocogoat_utils.runtime import autocast, hardware, pick_device, pick_precision, set_seed  # noqa: E402


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One random view of each image in ``[-1, 1]`` ``(B, 3, H, W)``: zoom 1–1.6×, shift up to ±15 %, flip, brightness
    ±0.2, contrast 0.7–1.3, saturation 0.5–1.5, grey with probability 0.2 (white stays white at the borders)."""
    b = x.shape[0]

    def uniform(low, high, *shape):
        return low + (high - low) * torch.rand(b, *shape, generator=generator)

    zoom = 1 / uniform(1.0, 1.6)
    flip = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = zoom * flip, zoom
    theta[:, :, 2] = uniform(-0.15, 0.15, 2)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1  # outside: white
    x = x.neg()  # work on "ink" so that the white background stays put under brightness and contrast
    grey = x.mean(1, keepdim=True)
    x = grey + (x - grey) * uniform(0.5, 1.5, 1, 1, 1)
    x = (x + 1) * uniform(0.7, 1.3, 1, 1, 1) - 1 + uniform(-0.2, 0.2, 1, 1, 1)
    x = torch.where(torch.rand(b, 1, 1, 1, generator=generator) < 0.2, x.mean(1, keepdim=True).expand_as(x), x)
    return x.neg().clamp(-1, 1)


def nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's normalised temperature-scaled cross entropy: each view must pick its twin among the other 2B − 1."""
    z = F.normalize(torch.cat([a, b]), dim=1)
    logits = z @ z.T / temperature
    logits.fill_diagonal_(-math.inf)
    n = len(a)
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(logits, target)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=8.0, help="training wall time")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--dims", type=int, default=64, help="principal directions kept")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"),
                        help="the training step's precision (auto: bf16 on CPUs with native bf16); the features are "
                             "always computed in fp32")
    parser.add_argument("--out", default=str(ROOT / "checkpoints" / "glyph_features"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    set_seed(args.seed)
    device = pick_device("cpu")
    precision = pick_precision(args.precision, device)
    data = load_openmoji(FEATURE_IMAGE_SIZE)
    x_all = data.images.float().div(127.5).sub(1)
    encoder = ImageClassifier(num_classes=64, width=32, depth=4, feature_dim=128, dropout=0.0)  # head = projector
    torch.manual_seed(args.seed + 1)
    random_twin = ImageClassifier(num_classes=1, width=32, depth=4, feature_dim=8, dropout=0.0)
    optimiser = torch.optim.AdamW(encoder.parameters(), lr=args.lr, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(args.seed)
    started, step, losses = time.time(), 0, []
    encoder.train()
    while time.time() - started < args.minutes * 60:
        index = torch.randint(len(x_all), (args.batch_size,), generator=generator)
        batch = x_all[index]
        views = torch.cat([augment(batch, generator), augment(batch, generator)])
        with autocast(device, precision):
            projected = encoder(views).float()
        loss = nt_xent(*projected.chunk(2), args.temperature)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        step += 1
        if step % 20 == 0:
            losses.append([step, round(loss.item(), 4)])
            print(f"step {step}: NT-Xent {loss.item():.3f} ({time.time() - started:.0f} s)", flush=True)
    seconds = time.time() - started
    encoder.eval()
    features = fit_projection([encoder, random_twin], data.images, parts=GLYPH_PARTS, dims=args.dims, whiten=True)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = ""
    record = {"what": "SimCLR glyph encoder (its two deepest blocks' channel means and its embedding) + random twin "
                      "(its two first blocks' channel means), 64 whitened principal directions over every OpenMoji glyph",
              "images": len(data), "image_size": FEATURE_IMAGE_SIZE, "steps": step, "batch_size": args.batch_size,
              "lr": args.lr, "precision": precision, "temperature": args.temperature, "dims": args.dims, "seed": args.seed,
              "seconds": round(seconds, 1), "hardware": hardware(device), "torch": str(torch.__version__),
              "commit": commit, "loss_history": losses,
              "command": "python checkpoints/train_feature_network.py " + " ".join(argv or sys.argv[1:])}
    out = Path(args.out)
    save_layer_features(features, out.with_suffix(".pt"), **{k: v for k, v in record.items() if k != "loss_history"})
    out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out.with_suffix('.pt')}: {step} steps in {seconds / 60:.1f} min, last NT-Xent "
          f"{losses[-1][1] if losses else float('nan')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Train the fixed feature network of ``cocogoat_utils.metrics``: a small classifier of OpenMoji categories.

    python checkpoints/train_feature_classifier.py            # writes checkpoints/openmoji_classifier.{pt,json}

The classes are the Unicode emoji groups of the embedded dataset (``Component``, five
glyphs, is left out). Skin-tone variants of one emoji share a name stem; the held-out
split is made by stem, so no variant of a test emoji is seen in training. Images are
classified at 32×32 (the metrics resize every image to that size first; 64 px would
cost four times the compute on the 2-core machines this is trained on), with random
flips and translations so that the features do not hinge on exact pixel positions, and
the loss weighted by 1/√(class size) so that the many skin-tone variants of "People &
Body" do not drown the other groups.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cocogoat_utils.augment import diff_translation, random_flip  # noqa: E402
from cocogoat_utils.checkpoint import atomic_save  # noqa: E402
from cocogoat_utils.openmoji import load_openmoji  # noqa: E402
from cocogoat_utils.metrics import FEATURE_IMAGE_SIZE  # noqa: E402
from cocogoat_utils.models.classifier import ImageClassifier  # noqa: E402
from cocogoat_utils.runtime import pick_device, set_seed  # noqa: E402
from cocogoat_utils.train import predict, train_classifier  # noqa: E402


def stem(name: str) -> str:
    """The emoji's name without its skin-tone suffix."""
    return re.sub(r"\s*\(.*\)$", "", name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--held-out", type=float, default=0.2, help="share of name stems kept for testing")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=str(ROOT / "checkpoints" / "openmoji_classifier"))
    args = parser.parse_args(argv)

    set_seed(args.seed)
    device = pick_device(args.device)
    data = load_openmoji(FEATURE_IMAGE_SIZE)
    classes = sorted(c for c in set(data.categories) if c != "Component")
    keep = [i for i, c in enumerate(data.categories) if c in classes]
    data = data.subset(keep)
    labels = torch.tensor([classes.index(c) for c in data.categories])

    stems = sorted({stem(n) for n in data.names})
    order = torch.randperm(len(stems), generator=torch.Generator().manual_seed(args.seed)).tolist()
    test_stems = {stems[i] for i in order[: int(len(stems) * args.held_out)]}
    is_test = torch.tensor([stem(n) in test_stems for n in data.names])
    train_idx, test_idx = (~is_test).nonzero().flatten(), is_test.nonzero().flatten()

    model = ImageClassifier(num_classes=len(classes))
    started = time.time()
    history = train_classifier(
        model, data.images[train_idx], labels[train_idx], epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        val=(data.images[test_idx], labels[test_idx]), device=device, seed=args.seed,
        augment=lambda x: diff_translation(random_flip(x), ratio=0.0625),
        class_weight=labels[train_idx].bincount().double().rsqrt().float(),  # 1/√count: People & Body is half the set
    )
    model.cpu()
    predictions = predict(model, data.images[test_idx]).argmax(1)
    truth = labels[test_idx]
    accuracy = (predictions == truth).float().mean().item()
    per_class = {c: round((predictions[truth == k] == k).float().mean().item(), 3)
                 for k, c in enumerate(classes) if (truth == k).any()}
    majority = truth.bincount().max().item() / len(truth)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = ""

    out = Path(args.out)
    atomic_save({"version": 1, "state_dict": model.state_dict(), "config": model.config, "classes": classes,
                 "image_size": FEATURE_IMAGE_SIZE}, out.with_suffix(".pt"))
    report = {
        "classes": classes, "image_size": FEATURE_IMAGE_SIZE, "feature_dim": model.feature_dim,
        "train_images": len(train_idx), "held_out_images": len(test_idx),
        "held_out_accuracy": round(accuracy, 4), "majority_class_accuracy": round(majority, 4),
        "per_class_recall": per_class, "epochs": args.epochs, "seconds": round(time.time() - started, 1),
        "device": torch.cuda.get_device_name() if device.type == "cuda" else str(device),
        "torch": torch.__version__, "commit": commit, "history": history,
    }
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "history"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

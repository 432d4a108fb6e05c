"""A pilot that mends the shipped MSG-GAN recipe: where does it turn, and which change keeps it learning?

The shipped ``msggan`` (relativistic average hinge, Adam(0.5, 0.999) at 2e-4, G width 128, D width 32, DiffAugment,
EMA of G) dropped modes from its first evaluations (recall 0.01 at its best step) and blew up between steps 2,000 and
3,000 (FD 33 → 157 in the old feature space). Each arm here changes the recipe in one or two named ways, trains from
the same seed for ``--steps`` steps on one thread, and is scored by the judge (500 samples of the EMA generator) every
``--every`` steps, so the FD and recall histories show whether and where each arm turns. Results and a figure go to
``benchmarks/results/msggan_mend/`` (one JSON per arm, so arms can run side by side, one core each).

    taskset -c 0 python benchmarks/msggan_mend.py run bce-0.9
    taskset -c 1 python benchmarks/msggan_mend.py run rahinge-0.9-d64
    python benchmarks/msggan_mend.py table        # the arms done, as a markdown table and a figure
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "msggan_mend"

# each arm: GANTrainConfig fields and network widths on top of the shipped recipe's
RECIPE = dict(loss="rahinge", betas=(0.5, 0.999), lr_g=2e-4, lr_d=2e-4, g_width=128, d_width=32)
ARMS = {
    "recipe": {},
    "bce-0.9": dict(loss="bce", betas=(0.5, 0.9)),  # the shipped dcgan's loss and betas, stable for 36,000 steps
    "rahinge-0.9-d64": dict(betas=(0.5, 0.9), d_width=64),  # the loss kept; a shorter Adam memory and a wider D
    "bce-0.9-d64": dict(loss="bce", betas=(0.5, 0.9), d_width=64),
    "rahinge-lr1e-4": dict(lr_g=1e-4, lr_d=1e-4),
}


def run(arm: str, steps: int, every: int, samples: int, seed: int) -> dict:
    from cocogoat_utils.data import load_dataset
    from cocogoat_utils.device_dataset import DeviceImageDataset
    from cocogoat_utils.metrics import QualityMetrics
    from cocogoat_utils.models.msggan import MSGGenerator, MultiScaleDiscriminator
    from cocogoat_utils.pretrain import CATEGORIES
    from cocogoat_utils.runtime import hardware, set_seed
    from cocogoat_utils.train import GANTrainConfig, GANTrainer, QualityTracker
    from cocogoat_utils.viz import save_grid

    s = {**RECIPE, **ARMS[arm]}
    torch.set_num_threads(1)
    device = torch.device("cpu")
    real = load_dataset(None, 32, categories=CATEGORIES)
    set_seed(seed)
    torch.manual_seed(seed)
    generator = MSGGenerator(image_size=32, width=s["g_width"])
    discriminator = MultiScaleDiscriminator(image_size=32, width=s["d_width"])
    config = GANTrainConfig(steps=steps, batch_size=64, lr_g=s["lr_g"], lr_d=s["lr_d"], betas=tuple(s["betas"]),
                            loss=s["loss"], ema_decay=0.999, diffaugment="color,translation,cutout", log_every=100,
                            sample_every=None, checkpoint_every=500, seed=seed, precision="bf16")
    tracker = QualityTracker(QualityMetrics(real.images, device=device), every=every, samples=samples)
    trainer = GANTrainer(generator, discriminator, DeviceImageDataset(real.images, device), config=config,
                         out_dir=ROOT / "runs" / "msggan_mend" / arm, callbacks=[tracker], progress=False)
    started = time.time()
    trainer.fit()  # continues from the arm's checkpoints
    OUT.mkdir(parents=True, exist_ok=True)
    save_grid(trainer.generate(64, seed=0), OUT / f"{arm}.png", nrow=8)
    history = [{"step": m["step"], "fd": round(m["fd"], 2), "precision": round(m["precision"], 3),
                "recall": round(m["recall"], 3), "near_duplicates": round(m["near_duplicates"], 3),
                "findings": m["findings"]} for m in tracker.metrics]
    result = {"arm": arm, "changes": ARMS[arm], "settings": {**s, "betas": list(s["betas"])}, "steps": trainer.step,
              "seed": seed, "samples": samples, "history": history, "seconds_this_call": round(time.time() - started),
              "hardware": hardware(device), "torch": str(torch.__version__), "python": platform.python_version(),
              "command": shlex.join(["python", "benchmarks/msggan_mend.py", "run", arm, "--steps", str(steps),
                                     "--every", str(every), "--samples", str(samples), "--seed", str(seed)])}
    (OUT / f"{arm}.json").write_text(json.dumps(result, indent=2) + "\n")
    for h in history:
        print(f"[{arm}] step {h['step']:,}: FD {h['fd']:.1f}, precision {h['precision']:.2f}, recall "
              f"{h['recall']:.2f}, {', '.join(h['findings']) or 'no findings'}", flush=True)
    return result


def table() -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = [json.loads(p.read_text()) for p in sorted(OUT.glob("*.json"))]
    lines = ["| arm | changes from the recipe | FD by step | recall by step | best FD (step) | findings at the end |",
             "|---|---|---|---|---|---|"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for r in results:
        h = r["history"]
        best = min(h, key=lambda x: x["fd"])
        changes = ", ".join(f"{k} {v}" for k, v in r["changes"].items()) or "none (the shipped recipe)"
        lines.append(f"| `{r['arm']}` | {changes} | " + ", ".join(f"{x['fd']:.0f}" for x in h) + " | "
                     + ", ".join(f"{x['recall']:.2f}" for x in h) + f" | {best['fd']:.1f} ({best['step']:,}) | "
                     + (", ".join(h[-1]["findings"]) or "none") + " |")
        axes[0].plot([x["step"] for x in h], [x["fd"] for x in h], marker="o", label=r["arm"])
        axes[1].plot([x["step"] for x in h], [x["recall"] for x in h], marker="o", label=r["arm"])
    axes[0].set(xlabel="step", ylabel="FD (glyph space, 500 samples)", yscale="log", title="FD while training")
    axes[1].set(xlabel="step", ylabel="recall", title="recall while training")
    axes[1].axhline(0.3, color="grey", lw=0.8, ls="--")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "msggan_mend.png", dpi=110)
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    r = sub.add_parser("run", help="train and score one arm")
    r.add_argument("arm", choices=sorted(ARMS))
    r.add_argument("--steps", type=int, default=4000)
    r.add_argument("--every", type=int, default=500)
    r.add_argument("--samples", type=int, default=500)
    r.add_argument("--seed", type=int, default=0)
    sub.add_parser("table", help="the arms done as a markdown table and a figure")
    args = p.parse_args(argv)
    if args.what == "run":
        run(args.arm, args.steps, args.every, args.samples, args.seed)
    else:
        print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())

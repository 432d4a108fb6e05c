"""A study's pilot: one arm of a GAN study, one seed, judged every few hundred steps — where does it learn?

A study's budget must be one at which its baseline learns (issue 29). This trains one arm of a registered GAN study
with the study's own settings (networks, data, batch, optimiser) for ``--steps`` steps, scoring the generator with the
judge on ``--samples`` images every ``--every`` steps, and writes the history (step, seconds, FD, precision, recall,
findings) to ``benchmarks/results/pilot_<study>_<arm>.json``. The study's budget text cites it.

    taskset -c 1 python benchmarks/study_pilot.py gan-concepts g1 --steps 5000 --every 500

A progressive study (``progan-tricks``) grows through its levels instead: ``--images-per-phase`` sets its budget, and
the history holds the judge's score at the end of every level (against the reals pooled to its size) and the top
level's score on ``--samples`` images.

    taskset -c 1 python benchmarks/study_pilot.py progan-tricks recipe --images-per-phase 12000

``--image-size`` and ``--categories`` pilot a GAN study's recipe on other data — a notebook's live run, for one:

    taskset -c 1 python benchmarks/study_pilot.py msggan-losses bce --image-size 16 --steps 2000 --every 250 --tag _16px
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from cocogoat_utils.data import load_dataset  # noqa: E402
from cocogoat_utils.device_dataset import DeviceImageDataset  # noqa: E402
from cocogoat_utils.metrics import QualityMetrics  # noqa: E402
from cocogoat_utils.runtime import hardware, pick_precision  # noqa: E402
from cocogoat_utils.pretrain import msggan_networks  # noqa: E402
from cocogoat_utils.study import (GAN_CONCEPTS_SETTINGS, MSGGAN_LOSSES_SETTINGS, STUDIES, SeedContext,  # noqa: E402
                                  gan_arm_config, gan_concepts_arms, gan_concepts_networks, progan_tricks_seed)
from cocogoat_utils.train import GANTrainer, QualityTracker  # noqa: E402


def gan_concepts(arm: str, changes: dict) -> tuple[dict, dict, tuple]:
    """00's study: its settings (with ``changes``), the arm's overrides of the training config, and the networks (the
    study's own)."""
    s = {**GAN_CONCEPTS_SETTINGS, **changes}
    return s, gan_concepts_arms(s)[arm], gan_concepts_networks(s)


def msggan_losses(arm: str, changes: dict) -> tuple[dict, dict, tuple]:
    """04's msggan recipe (the arm names its loss), at another size or on fewer categories with ``changes`` — e.g.
    the pilot of a live run that learns in a notebook's cpu minutes."""
    s = {**MSGGAN_LOSSES_SETTINGS, **changes}
    return s, {"loss": arm}, msggan_networks(s["image_size"], seed=0, g_width=s["g_width"], d_width=s["d_width"])


PILOTS = {"gan-concepts": gan_concepts, "msggan-losses": msggan_losses, "progan-tricks": None}


def progressive_pilot(args) -> tuple[dict, list[dict]]:
    """The progressive study's arm through every level at ``--images-per-phase``: its settings and one history entry
    per level (the level's end) and one for the top level's final score on ``--samples`` images."""
    settings = {"arms": [args.arm], "images_per_phase": args.images_per_phase, "samples": args.samples}
    with tempfile.TemporaryDirectory() as work:
        ctx = SeedContext(STUDIES[args.study], 0, torch.device("cpu"), pick_precision("auto", "cpu"), None, Path(work))
        row = progan_tricks_seed(ctx, settings)["rows"][0]
    history = [{"resolution": lv["resolution"], "seconds": lv["seconds"], "fd": lv.get("fd"),
                "findings": lv.get("findings")} for lv in row["levels"]]
    history.append({"resolution": "final", "seconds": row["seconds"], "fd": row["fd"], "fd_low": row["fd_low"],
                    "fd_high": row["fd_high"], "precision": row["precision"], "recall": row["recall"],
                    "findings": row["findings"], "steps": row["steps"], "images_seen": row["images_seen"]})
    return {**STUDIES[args.study].settings, **settings}, history


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("study", choices=sorted(PILOTS))
    p.add_argument("arm")
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--every", type=int, default=500)
    p.add_argument("--images-per-phase", type=int, default=12_000, help="a progressive study's budget")
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--image-size", type=int, default=None, help="another size than the study's (a GAN study)")
    p.add_argument("--categories", default=None, help="comma-separated categories instead of the study's")
    p.add_argument("--tag", default="", help="added to the result's file name")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    started = time.time()
    if PILOTS[args.study] is None:  # a progressive study
        s, history = progressive_pilot(args)
        for m in history:
            print(f"{m['resolution']}: FD {m['fd']:.1f}; findings: {', '.join(m['findings'] or []) or 'none'}", flush=True)
        return write(args, argv, s, history, started, suffix=f"_{args.images_per_phase}{args.tag}")
    changes = {**({"image_size": args.image_size} if args.image_size else {}),
               **({"categories": args.categories.split(",")} if args.categories else {})}
    s, overrides, (generator, discriminator) = PILOTS[args.study](args.arm, changes)
    real = load_dataset(None, s["image_size"], categories=s["categories"])
    config = gan_arm_config({**s, "steps": args.steps}, overrides, precision="auto", seed=0, checkpoint_every=None)
    tracker = QualityTracker(QualityMetrics(real.images), every=args.every, samples=args.samples, keep_best=False)
    trainer = GANTrainer(generator, discriminator, DeviceImageDataset(real.images, torch.device("cpu"), seed=0),
                         config=config, callbacks=[tracker], progress=False)
    trainer.fit()
    history = [{k: m[k] for k in ("step", "seconds", "fd", "fd_low", "fd_high", "precision", "recall", "findings")}
               for m in tracker.metrics]
    for m in history:
        print(f"step {m['step']:>6,}: FD {m['fd']:.1f}, precision {m['precision']:.2f}, recall {m['recall']:.2f}; "
              f"findings: {', '.join(m['findings']) or 'none'}", flush=True)
    s = {**s, "steps": args.steps, "samples": args.samples}  # what this pilot ran, not the study's own budget
    if changes:
        s["data"] = f"the study's data with {changes}"
    return write(args, argv, s, history, started, suffix=args.tag)


def write(args, argv, s: dict, history: list[dict], started: float, suffix: str = "") -> int:
    out = Path(args.out_dir) / f"pilot_{args.study}_{args.arm}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"study": args.study, "arm": args.arm, "seed": 0, "settings": s, "steps": args.steps,
                               "every": args.every, "samples": args.samples, "history": history,
                               "hardware": hardware("cpu"),
                               "torch": torch.__version__, "python": platform.python_version(),
                               "minutes": round((time.time() - started) / 60, 1),
                               "command": "python benchmarks/study_pilot.py " + shlex.join(sys.argv[1:] if argv is None
                                                                                          else argv)},
                              indent=1, default=str) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

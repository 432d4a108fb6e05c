"""A tiny training run in its own process, for the kill-and-resume tests (tests/test_resume.py).

    python tests/resume_worker.py KIND OUT_DIR [--pause-at STEP]

KIND is ``gan`` (DCGAN with EMA, DiffAugment, R1 and dropout in D), ``diffusion`` (a class-conditional
UNet with dropout) or ``progressive`` (a ProGAN over three levels, WGAN-GP, EMA). With ``--pause-at``
the run writes ``OUT_DIR/paused`` after that step and waits to be killed; without it, it trains to
the end and writes every model's final weights, the EMA's and the loss history to ``OUT_DIR/final.pt``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cocogoat_utils.device_dataset import DeviceImageDataset  # noqa: E402
from cocogoat_utils.train import Callback  # noqa: E402


class PauseAt(Callback):
    """After step ``step`` (and its checkpoint, if any), say so in a file and wait to be killed."""

    def __init__(self, step: int, marker: Path) -> None:
        self.step, self.marker = step, marker

    def on_step_start(self, trainer) -> None:
        if trainer.step == self.step:  # that step is done (and saved, if it was a checkpoint step); the next has not begun
            self.marker.write_text(str(trainer.step))
            while True:
                time.sleep(1)


def images(n: int = 48, size: int = 16) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(7))


def gan(out: Path, callbacks) -> dict:
    from cocogoat_utils.models.dcgan import DCGANDiscriminator, DCGANGenerator
    from cocogoat_utils.train import GANTrainConfig, GANTrainer

    torch.manual_seed(0)
    g = DCGANGenerator(image_size=32, latent_dim=8, width=16, arch="sprite")
    d = DCGANDiscriminator(image_size=32, width=8, arch="sprite", dropout=0.3)
    config = GANTrainConfig(steps=12, batch_size=8, log_every=2, sample_every=5, checkpoint_every=4, n_samples=4,
                            ema_decay=0.9, diffaugment="color,translation,cutout", r1_gamma=1.0, seed=3)
    trainer = GANTrainer(g, d, DeviceImageDataset(images(size=32)), config=config, out_dir=out / "run",
                         callbacks=callbacks, progress=False)
    trainer.fit()
    return {"models": {k: m.state_dict() for k, m in trainer.models.items()}, "ema": trainer.ema.state_dict(),
            "history": trainer.history, "step": trainer.step}


def diffusion(out: Path, callbacks) -> dict:
    from cocogoat_utils.models.unet import UNet
    from cocogoat_utils.train import DiffusionTrainConfig, DiffusionTrainer

    torch.manual_seed(0)
    model = UNet(image_size=16, width=8, channel_mults=(1, 2), blocks_per_level=1, attention_at=(8,), dropout=0.2,
                 num_classes=2)
    config = DiffusionTrainConfig(steps=12, batch_size=6, T=20, log_every=2, sample_every=5, sample_steps=3,
                                  checkpoint_every=4, n_samples=4, warmup=5, ema_decay=0.9, seed=3)
    labels = torch.arange(48) % 2
    trainer = DiffusionTrainer(model, DeviceImageDataset(images()), config=config, labels=labels, num_classes=2,
                               out_dir=out / "run", callbacks=callbacks, progress=False)
    trainer.fit()
    return {"models": {k: m.state_dict() for k, m in trainer.models.items()}, "ema": trainer.ema.state_dict(),
            "history": trainer.history, "step": trainer.step}


def progressive(out: Path, callbacks) -> dict:
    from cocogoat_utils.models.progan import ProDiscriminator, ProGenerator
    from cocogoat_utils.train import GANTrainConfig, ProgressiveTrainer, level_plan

    torch.manual_seed(0)
    g, d = ProGenerator(max_level=2, latent_dim=8, width=16), ProDiscriminator(max_level=2, width=16)
    plan = level_plan(2, images_per_phase=32, batch_size=4)  # 8 steps per level, level 2 fades over its first 8
    config = GANTrainConfig(loss="wgan", gp_lambda=10.0, lr_g=1e-3, lr_d=1e-3, betas=(0.0, 0.99), ema_decay=0.9,
                            log_every=2, sample_every=None, checkpoint_every=3, n_samples=4, seed=3)
    trainer = ProgressiveTrainer(g, d, DeviceImageDataset(images()), plan=plan, config=config, out_dir=out / "run",
                                 callbacks=callbacks, progress=False)
    trainer.fit()
    return {"models": {"generator": g.state_dict(), "discriminator": d.state_dict()},
            "ema": trainer.trainer.ema.state_dict(), "history": trainer.history, "step": trainer.trainer.step}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=("gan", "diffusion", "progressive"))
    p.add_argument("out", type=Path)
    p.add_argument("--pause-at", type=int, default=None)
    p.add_argument("--pause-level", type=int, default=None, help="progressive: pause in this level only")
    args = p.parse_args()
    torch.set_num_threads(1)
    callbacks = []
    if args.pause_at is not None:
        pause = PauseAt(args.pause_at, args.out / "paused")
        if args.pause_level is not None:  # only in one level's trainer
            original = pause.on_step_start

            def on_step_start(trainer, original=original):
                if trainer.generator.level == args.pause_level:
                    original(trainer)
            pause.on_step_start = on_step_start
        callbacks.append(pause)
    result = {"gan": gan, "diffusion": diffusion, "progressive": progressive}[args.kind](args.out, callbacks)
    torch.save(result, args.out / "final.pt")


if __name__ == "__main__":
    main()

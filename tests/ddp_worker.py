"""Runs under ``torchrun`` (or plain ``python``) for tests/test_distributed.py: small trainings across processes.

    torchrun --standalone --nproc_per_node 2 tests/ddp_worker.py TASK OUT [--same-data] [--steps N] … [+ TASK OUT …]

Several jobs separated by ``+`` run one after the other in the same processes (one launch: the tests pay the
start of torch once). Each process writes what the test compares to ``OUT/rank<r>.pt``. Tasks:

- ``dcgan``: a DCGAN with EMA trains ``--steps`` steps (checkpoints in ``OUT/run``; ``--resume`` continues them);
- ``budget``: the same with ``seconds=`` and rank 1 slowed down; both must stop at the same step;
- ``raise``: rank 1 raises at step 3 (the job must fail, not hang);
- ``selector``: ``train_classifier`` (with the entropy term on unlabelled images) for 3 epochs, or with
  ``--seconds S`` for S seconds with rank 1 slowed down;
- ``progan``: a WGAN-GP ProGAN over two levels; ``msggan``: an R1 MSG-GAN; both check every step that the
  generator's gradients and both networks' weights are equal on every rank.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cocogoat_utils.device_dataset import DeviceImageDataset  # noqa: E402
from cocogoat_utils.runtime import distributed  # noqa: E402
from cocogoat_utils.train import Callback, GANTrainConfig, GANTrainer  # noqa: E402


def images(size: int) -> torch.Tensor:
    return torch.randint(0, 256, (64, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(5))


def gather(tensors: list[torch.Tensor]) -> list[list[torch.Tensor]]:
    rank, world = distributed()
    out = [None] * world
    torch.distributed.all_gather_object(out, [t.detach().clone() for t in tensors])
    return out


class CheckEqual(Callback):
    """After every step: G's gradients and every weight are the same on every rank (else raise)."""

    def __init__(self):
        self.checked = 0

    def on_step_start(self, trainer) -> None:
        if trainer.step == 0:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in trainer.generator.parameters()]
        weights = [*trainer.generator.parameters(), *trainer.discriminator.parameters()]
        for name, values in (("generator gradients", grads), ("weights", weights)):
            every = gather(values)
            for other in every[1:]:
                if not all(torch.equal(a, b) for a, b in zip(every[0], other)):
                    raise AssertionError(f"{name} differ across ranks at step {trainer.step}")
        self.checked += 1


class Slow(Callback):
    def __init__(self, seconds: float):
        self.seconds = seconds

    def on_step_start(self, trainer) -> None:
        time.sleep(self.seconds)


class RaiseAt(Callback):
    def on_step_start(self, trainer) -> None:
        if trainer.step == 3:
            raise RuntimeError("rank 1 failed on purpose at step 3")


def dcgan_trainer(out: Path, args, callbacks=()) -> GANTrainer:
    from cocogoat_utils.models.dcgan import DCGANDiscriminator, DCGANGenerator

    torch.manual_seed(0)
    g = DCGANGenerator(image_size=32, latent_dim=8, width=16, arch="sprite")
    d = DCGANDiscriminator(image_size=32, width=8, arch="sprite")
    config = GANTrainConfig(steps=args.steps, batch_size=4, log_every=2, sample_every=None, checkpoint_every=2,
                            n_samples=4, ema_decay=0.9, diffaugment="translation", seed=1)
    trainer = GANTrainer(g, d, DeviceImageDataset(images(32)), config=config, out_dir=out / "run",
                         callbacks=list(callbacks), progress=False)
    if args.same_data:  # the control: every rank draws the same batches and noise
        for i, stream in enumerate(trainer.streams.values()):
            stream.manual_seed(1000 + i)
    return trainer


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("task", choices=("dcgan", "budget", "raise", "progan", "msggan", "selector"))
    p.add_argument("out", type=Path)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--same-data", action="store_true")
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--no-resume", dest="resume", action="store_false")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> None:
    """One job: its task trained on this process's rank, what the test compares saved to ``OUT/rank<r>.pt``."""
    rank, world = distributed()
    args.out.mkdir(parents=True, exist_ok=True)
    result: dict = {"world_size": world}
    if args.task == "selector":
        from cocogoat_utils.models.classifier import ImageClassifier
        from cocogoat_utils.train.classifier import train_classifier

        data = images(16)
        labels = torch.arange(len(data)) % 3

        def augment(x):
            if rank == 1 and args.seconds:
                time.sleep(0.02)
            return x.flip(3)

        torch.manual_seed(0)
        model = ImageClassifier(num_classes=3, width=4, depth=2, feature_dim=8)
        history = train_classifier(model, data, labels, epochs=3 if args.seconds is None else 10**6, batch_size=8,
                                   unlabeled=data.flip(2), entropy_weight=0.3, augment=augment, seconds=args.seconds,
                                   seed=1, progress=False)
        result.update(model=model.state_dict(), history=history)
    elif args.task in ("dcgan", "budget", "raise"):
        callbacks = []
        if args.task == "budget" and rank == 1:
            callbacks.append(Slow(0.05))
        if args.task == "raise" and rank == 1:
            callbacks.append(RaiseAt())
        trainer = dcgan_trainer(args.out, args, callbacks)
        if args.task == "budget":
            trainer.fit(seconds=1.5, resume=False)
        else:
            trainer.fit(resume=args.resume)
        result.update(step=trainer.step, resumed_step=trainer.resumed_step, history=trainer.history,
                      generator=trainer.generator.state_dict(), discriminator=trainer.discriminator.state_dict(),
                      ema=trainer.ema.module.state_dict(), images_seen=trainer.images_seen)
    else:
        check = CheckEqual()
        if args.task == "progan":
            from cocogoat_utils.models.progan import ProDiscriminator, ProGenerator
            from cocogoat_utils.train import ProgressiveTrainer, level_plan

            torch.manual_seed(0)
            g, d = ProGenerator(max_level=1, latent_dim=8, width=16), ProDiscriminator(max_level=1, width=16)
            config = GANTrainConfig(loss="wgan", gp_lambda=10.0, lr_g=1e-3, lr_d=1e-3, betas=(0.0, 0.99),
                                    log_every=2, sample_every=None, checkpoint_every=None, n_samples=4, seed=1)
            trainer = ProgressiveTrainer(g, d, DeviceImageDataset(images(8)), plan=level_plan(1, images_per_phase=16,
                                         batch_size=4), config=config, callbacks=[check], progress=False)
            trainer.fit()
            result.update(steps=[r["steps"] for r in trainer.results])
        else:
            from cocogoat_utils.models.msggan import MSGGenerator, MultiScaleDiscriminator

            torch.manual_seed(0)
            g, d = MSGGenerator(image_size=16, latent_dim=8, width=16), MultiScaleDiscriminator(image_size=16, width=8)
            config = GANTrainConfig(steps=4, batch_size=4, loss="rahinge", r1_gamma=1.0, log_every=2,
                                    sample_every=None, checkpoint_every=None, n_samples=4, seed=1)
            trainer = GANTrainer(g, d, DeviceImageDataset(images(16)), config=config, callbacks=[check], progress=False)
            trainer.fit()
            result.update(step=trainer.step)
        result.update(checked=check.checked)
    torch.save(result, args.out / f"rank{rank}.pt")


def main() -> None:
    jobs, job = [], []
    for word in sys.argv[1:]:
        if word == "+":
            jobs.append(job)
            job = []
        else:
            job.append(word)
    jobs.append(job)
    torch.set_num_threads(1)
    if int(__import__("os").environ.get("WORLD_SIZE", "1")) > 1:
        torch.distributed.init_process_group("gloo")
    for job in map(parse, jobs):
        run(job)
    if distributed()[1] > 1:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()

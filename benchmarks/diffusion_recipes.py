"""Why deterministic DDIM draws muddy glyphs with the shipped DDPM, and a pilot study of diffusion recipes.

Two parts, each writing under ``benchmarks/results/diffusion_recipes/``:

``diagnose``: the shipped ``checkpoints/ddpm.pt`` (cosine schedule, T = 1000, ε-prediction) sampled
with one thing changed at a time — eta, x̂_0 clipping, the timestep spacing (Lin et al., WACV 2024,
https://arxiv.org/abs/2305.08891), the guidance scale, the number of steps — each scored by its mean
brightness and its share of pixels at 255 against the real images', with a grid per variant. It also
reads the model's x̂_0 at the noisiest steps against the data mean (the ideal x̂_0 at SNR ≈ 0).

``pilot``: each recipe trained from scratch for ``--minutes`` on one thread (OpenMoji animals, faces,
people at 32 px, the shipped UNet, batch 32, EMA — the ``ddpm`` recipe's data and network), then sampled
deterministically in ≤ 50 network calls and scored with :class:`~cocogoat_utils.metrics.QualityMetrics`.
The samples are kept as uint8 tensors (``<arm>.pt``) so that they can be re-scored by a later judge.

    taskset -c 0 python benchmarks/diffusion_recipes.py diagnose
    taskset -c 0 python benchmarks/diffusion_recipes.py pilot --minutes 8 --seed 0
    taskset -c 0 python benchmarks/diffusion_recipes.py reference --samples 200   # the shipped models, same judge
    python benchmarks/diffusion_recipes.py rescore          # the saved samples against the present judge
    python benchmarks/diffusion_recipes.py table            # the pilot record as a markdown table
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

OUT = ROOT / "benchmarks" / "results" / "diffusion_recipes"

# the arms of the pilot: DiffusionTrainConfig fields (on top of the ddpm recipe's) and the sampler they are scored with
ARMS = {
    "eps": dict(schedule="cosine", prediction="eps", sampler="ddim", sample_spacing="linspace"),
    "eps-leading": dict(schedule="cosine", prediction="eps", sampler="ddim", sample_spacing="leading"),
    "v-minsnr-ztsnr": dict(schedule="cosine", prediction="v", zero_terminal_snr=True, min_snr_gamma=5.0,
                           sampler="ddim", sample_spacing="trailing"),
    "v-ztsnr": dict(schedule="cosine", prediction="v", zero_terminal_snr=True, sampler="ddim",
                    sample_spacing="trailing"),
    "flow": dict(schedule="flow", prediction="velocity", sampler="euler"),
}
TRAINED_AS = {"eps-leading": "eps"}  # arms that only change the sampler share another arm's training


def image_stats(images: torch.Tensor) -> dict:
    """Mean brightness (0–255) and the shares of pixel values at 255 and at 0 or 255 (the project's saturation)."""
    x = images[:, :3]
    return {"brightness": round(x.float().mean().item(), 2), "white_255": round((x == 255).float().mean().item(), 4),
            "saturated_0_or_255": round(((x == 0) | (x == 255)).float().mean().item(), 4)}


def real_images():
    from cocogoat_utils.data import load_dataset
    from cocogoat_utils.pretrain import CATEGORIES

    return load_dataset(None, 32, categories=CATEGORIES)


def make_judge(real: torch.Tensor):
    """The project's :class:`QualityMetrics` in its default feature space, or — while that space's files are being
    replaced — in the older classifier space; returns (metrics, the space's name)."""
    from cocogoat_utils.metrics import QualityMetrics

    for space in ("auto", "classifier"):
        try:
            return QualityMetrics(real, device="cpu", feature_space=space), space
        except Exception as error:  # noqa: BLE001 — a judge under construction; say why and fall back
            print(f"[judge] feature_space={space!r} unavailable: {type(error).__name__}: {str(error)[:200]}", flush=True)
    raise RuntimeError("no feature space of QualityMetrics loads")


def _settings() -> dict:
    from cocogoat_utils.runtime import hardware

    return {"hardware": hardware("cpu"), "threads": torch.get_num_threads(), "torch": str(torch.__version__),
            "python": platform.python_version(), "command": shlex.join(["python", *sys.argv])}


# --------------------------------------------------------------------------- diagnosis of the shipped model

@torch.no_grad()
def diagnose(args) -> dict:
    from cocogoat_utils.data import to_uint8
    from cocogoat_utils.diffusion import NoiseSchedule, ddim_sample, ddim_timesteps, to_eps_and_x0
    from cocogoat_utils.shipped import load_pretrained
    from cocogoat_utils.viz import save_grid

    out = OUT / "diagnosis"
    out.mkdir(parents=True, exist_ok=True)
    shipped = load_pretrained("ddpm")
    model, record = shipped.model, shipped.record
    schedule = NoiseSchedule.make(record["schedule"], record["T"])
    real = real_images()
    classes = record["classes"]
    n = args.n
    labels = torch.arange(n) % len(classes)
    shape = (n, 3, 32, 32)
    result = {"model": "checkpoints/ddpm.pt", "n": n, "seed": args.seed, "real": image_stats(real.images),
              "schedule": {"alpha_bar[T-1]": schedule.alpha_bars[-1].item(), "snr[T-1]": schedule.snr()[-1].item(),
                           "sqrt_alpha_bar[T-1]": schedule.alpha_bars[-1].sqrt().item(),
                           "alpha_bar[T-2]": schedule.alpha_bars[-2].item(), "beta[T-1]": schedule.betas[-1].item()},
              "first_steps": {s: ddim_timesteps(schedule.T, 50, s)[:3] for s in ("linspace", "leading", "trailing")},
              **_settings()}

    # the model's x̂_0 at the noisiest steps: ideally the (class) data mean, since x_t carries almost nothing of x_0
    real_x = real.images[:, :3].float() / 127.5 - 1
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(args.seed))
    x0_reads = []
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for t in (999, 998, 979, 958, 900, 700):
            out_eps = model(noise, torch.full((n,), t), labels).float()
            a = schedule.alpha_bars[t].item()
            _, x0 = to_eps_and_x0(out_eps, noise, a, "eps")
            eps_error = (out_eps - noise).pow(2).mean().sqrt().item()  # at SNR ≈ 0 the ideal ε̂ is ≈ x_t itself
            x0_reads.append({"t": t, "sqrt_alpha_bar": round(a ** 0.5, 7), "x0_mean": round(x0.mean().item(), 3),
                             "x0_std": round(x0.std().item(), 3),
                             "x0_share_outside_[-1,1]": round((x0.abs() > 1).float().mean().item(), 3),
                             "x0_clipped_mean": round(x0.clamp(-1, 1).mean().item(), 3),
                             "rms(eps_hat - x_t)": round(eps_error, 4)})
    result["x0_estimate_on_pure_noise"] = x0_reads
    result["data_mean"] = round(real_x.mean().item(), 3)

    variants = {
        "ddim50 linspace eta0 (shipped)": dict(steps=50),
        "ddim50 linspace eta1": dict(steps=50, eta=1.0),
        "ddim50 linspace eta0 no clip": dict(steps=50, clip=False),
        "ddim50 trailing eta0": dict(steps=50, spacing="trailing"),
        "ddim50 leading eta0 (first step t=980)": dict(steps=50, spacing="leading"),
        "ddim50 leading eta0 no clip": dict(steps=50, spacing="leading", clip=False),
        "ddim50 linspace eta0 guidance 3": dict(steps=50, guidance=3.0),
        "ddim50 leading eta0 guidance 3": dict(steps=50, spacing="leading", guidance=3.0),
        "ddim200 linspace eta0": dict(steps=200),
        "ddim200 leading eta0 (first step t=995)": dict(steps=200, spacing="leading"),
    }
    rows = []
    for i, (name, kw) in enumerate(variants.items()):
        start = time.time()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            images, _ = ddim_sample(model, schedule, shape, labels=labels, null_label=len(classes),
                                    prediction="eps", generator=torch.Generator().manual_seed(args.seed), **kw)
        images = to_uint8(images)
        save_grid(images[:48], out / f"variant_{i:02d}.png", nrow=12)
        rows.append({"variant": name, "grid": f"diagnosis/variant_{i:02d}.png", **image_stats(images),
                     "seconds": round(time.time() - start, 1)})
        print(rows[-1], flush=True)
    result["variants"] = rows
    (out / "diagnosis.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: result[k] for k in ("schedule", "first_steps", "x0_estimate_on_pure_noise", "data_mean",
                                              "real")}, indent=1))
    return result


# --------------------------------------------------------------------------- pilot study

def train_arm(arm: str, args, real, labels, classes):
    """Train ``arm`` for ``args.minutes`` on one thread; returns the trainer (EMA weights for sampling)."""
    from cocogoat_utils.device_dataset import DeviceImageDataset
    from cocogoat_utils.models.unet import UNet
    from cocogoat_utils.train import DiffusionTrainConfig, DiffusionTrainer

    torch.manual_seed(args.seed)
    model = UNet(image_size=32, width=32, channel_mults=(1, 2, 2), blocks_per_level=1, attention_at=(8,),
                 num_classes=len(classes))
    config = DiffusionTrainConfig(steps=None, batch_size=32, lr=2e-4, warmup=args.warmup, T=1000, ema_decay=0.999,
                                  sample_steps=50, log_every=100, sample_every=None, checkpoint_every=None,
                                  n_samples=12, seed=args.seed, **ARMS[arm])
    trainer = DiffusionTrainer(model, DeviceImageDataset(real.images, "cpu"), config=config, labels=labels,
                               num_classes=len(classes), out_dir=None, progress=False)
    trainer.fit(seconds=args.minutes * 60)
    return trainer


@torch.no_grad()
def x0_on_pure_noise(trainer, n: int = 64, seed: int = 0) -> float:
    """The mean of the EMA network's x̂_0 (clipped to [−1, 1]) at the sampler's first, noisiest step on pure noise;
    the ideal is about the data mean."""
    from cocogoat_utils.diffusion import FLOW_TIME_SCALE, ddim_timesteps, to_eps_and_x0

    cfg, model = trainer.config, trainer.sampler
    x = torch.randn((n, 3, 32, 32), generator=torch.Generator().manual_seed(seed))
    labels = torch.arange(n) % trainer.num_classes
    model.eval()
    if cfg.schedule == "flow":  # x_1 = ε, so x̂_0 = x_1 − v̂
        x0 = x - model(x, torch.full((n,), FLOW_TIME_SCALE), labels).float()
    else:
        t = ddim_timesteps(cfg.T, cfg.sample_steps, cfg.sample_spacing)[0]
        out = model(x, torch.full((n,), t), labels).float()
        x0 = to_eps_and_x0(out, x, trainer.schedule.alpha_bars[t].item(), cfg.prediction)[1]
    model.train()
    return round(x0.clamp(-1, 1).mean().item(), 3)


def pilot(args) -> dict:
    from cocogoat_utils.viz import save_grid

    OUT.mkdir(parents=True, exist_ok=True)
    real = real_images()
    classes, labels = real.class_labels()
    quality, space = make_judge(real.images)
    arms = args.arms.split(",")
    record_path = OUT / f"pilot_seed{args.seed}.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {"arms": {}}
    record.update({"data_mean": round((real.images[:, :3].float() / 127.5 - 1).mean().item(), 3),
                   "minutes_per_arm": args.minutes, "warmup": args.warmup, "lr": 2e-4, "seed": args.seed, "samples": args.samples, "batch_size": 32,
                   "data": f"OpenMoji {', '.join(['animals', 'faces', 'people'])} at 32 px ({len(real)} images)",
                   "network": "UNet width 32, mults (1, 2, 2), 1 block per level, attention at 8 px, 3 classes + null",
                   "real": image_stats(real.images), "judge_feature_space": space, **_settings()})
    trainers = {}
    for arm in arms:
        base = TRAINED_AS.get(arm, arm)
        if base not in trainers:
            start = time.time()
            trainers[base] = train_arm(base, args, real, labels, classes)
            print(f"[{base}] {trainers[base].step} steps in {time.time() - start:.0f} s, "
                  f"last loss {trainers[base].history['loss'][-1]:.4f}", flush=True)
        trainer = trainers[base]
        spec = ARMS[arm]
        start = time.time()
        images = trainer.generate(args.samples, seed=args.seed + 1) if arm == base else torch.cat(
            [trainer.sample(min(256, args.samples - i), seed=args.seed + 1 + i, spacing=spec["sample_spacing"],
                            labels=trainer.class_cycle(args.samples)[i:i + 256]) for i in range(0, args.samples, 256)])
        sampling = time.time() - start
        torch.save(images, OUT / f"{arm}_seed{args.seed}.pt")
        save_grid(images[:64], OUT / f"{arm}_seed{args.seed}.png", nrow=8)
        scores = quality.evaluate(images)
        record["arms"][arm] = {
            "config": spec, "trained_as": base, "steps": trainer.step, "images_seen": trainer.images_seen,
            "train_seconds": round(trainer.elapsed, 1), "final_loss": round(trainer.history["loss"][-1], 5),
            "sampler": (f"{spec['sampler']}-{trainer.config.sample_steps}" +
                        (f" {spec.get('sample_spacing')} eta 0" if spec["sampler"] == "ddim" else "")),
            "sampling_seconds": round(sampling, 1), "samples_file": f"{arm}_seed{args.seed}.pt",
            "grid": f"{arm}_seed{args.seed}.png", **image_stats(images),
            "x0_mean_on_pure_noise": x0_on_pure_noise(trainer, seed=args.seed),
            "scores": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in scores.items()}}
        print(arm, json.dumps(record["arms"][arm]), flush=True)
        record_path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return record


@torch.no_grad()
def reference(args) -> dict:
    """The shipped DCGAN and the shipped DDPM (DDIM-50 at eta 0 and eta 1) scored by the same judge on as many samples
    as the pilot's arms, so that the pilot's figures have a yardstick; the samples are kept too."""
    from cocogoat_utils.data import to_uint8
    from cocogoat_utils.diffusion import NoiseSchedule, ddim_sample
    from cocogoat_utils.shipped import load_pretrained
    from cocogoat_utils.viz import save_grid

    real = real_images()
    quality, space = make_judge(real.images)
    result = {"samples": args.samples, "seed": args.seed, "judge_feature_space": space, "rows": {}, **_settings()}
    dcgan = load_pretrained("dcgan")
    ddpm = load_pretrained("ddpm")
    schedule = NoiseSchedule.make("cosine", 1000)
    n = args.samples
    labels = torch.arange(n) % 3

    def ddim(eta):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return torch.cat([to_uint8(ddim_sample(ddpm.model, schedule, (len(labels[i:i + 100]), 3, 32, 32), steps=50,
                                                   eta=eta, labels=labels[i:i + 100], null_label=3,
                                                   generator=torch.Generator().manual_seed(args.seed + 1 + i))[0])
                              for i in range(0, n, 100)])

    for name, make in (("shipped dcgan", lambda: dcgan.generate(n, seed=args.seed + 1)),
                       ("shipped ddpm, DDIM-50 eta 0", lambda: ddim(0.0)),
                       ("shipped ddpm, DDIM-50 eta 1", lambda: ddim(1.0))):
        images = make()
        stem = "reference_" + name.replace("shipped ", "").replace(", ", "_").replace(" ", "-").replace("DDIM-50_", "")
        torch.save(images, OUT / f"{stem}_seed{args.seed}.pt")
        save_grid(images[:64], OUT / f"{stem}_seed{args.seed}.png", nrow=8)
        scores = quality.evaluate(images)
        result["rows"][name] = {**image_stats(images), "grid": f"{stem}_seed{args.seed}.png",
                                "scores": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in scores.items()}}
        print(name, json.dumps(result["rows"][name]), flush=True)
    (OUT / f"reference_seed{args.seed}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result


def rescore(args) -> None:
    """Score every saved ``<arm>_seed<k>.pt`` with the present judge (samples kept for a judge that changes)."""
    quality, space = make_judge(real_images().images)
    print(f"[judge] feature space {space}")
    for path in sorted(OUT.glob("*_seed*.pt")):
        print(path.name, quality.evaluate(torch.load(path, weights_only=True)))


def table(args) -> None:
    """The pilot record as a markdown table (for benchmarks/README.md)."""
    record = json.loads((OUT / f"pilot_seed{args.seed}.json").read_text())
    real = record["real"]
    print(f"| arm | trained as | sampler | steps | FD (interval) | precision / recall | brightness | at 255 | "
          f"x̂_0 mean on noise | findings |\n|---|---|---|---:|---|---|---:|---:|---:|---|")
    for arm, r in record["arms"].items():
        sc = r["scores"]
        print(f"| `{arm}` | {r['trained_as']} | {r['sampler']} | {r['steps']:,} | {sc['fd']:.1f} ({sc['fd_low']:.1f}–"
              f"{sc['fd_high']:.1f}) | {sc['precision']:.2f} / {sc['recall']:.2f} | {r['brightness']:.0f} | "
              f"{100 * r['white_255']:.0f} % | {r['x0_mean_on_pure_noise']:+.2f} | {', '.join(sc.get('findings', [])) or '—'} |")
    print(f"| real images | | | | | | {real['brightness']:.0f} | {100 * real['white_255']:.0f} % | "
          f"{record['data_mean']:+.2f} (data mean) | |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("part", choices=("diagnose", "pilot", "reference", "rescore", "table"))
    p.add_argument("--minutes", type=float, default=8.0, help="training minutes per arm (pilot)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of {list(ARMS)}")
    p.add_argument("--warmup", type=int, default=100, help="learning-rate warm-up steps (pilot; the ddpm recipe's is "
                                                           "500, most of an 8-minute arm)")
    p.add_argument("--samples", type=int, default=500, help="samples scored per arm (pilot)")
    p.add_argument("--n", type=int, default=48, help="images per sampler variant (diagnose)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    {"diagnose": diagnose, "pilot": pilot, "reference": reference, "rescore": rescore, "table": table}[args.part](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Images per second of the 64×64 tutorial DCGAN: the PyTorch tutorial's loop against cocogoat's trainer.

Two pipelines train the same networks (``build_dcgan(image_size=64, arch="tutorial")``)
on the same data (the embedded OpenMoji set at 64 px, composited on white):

(a) **tutorial loop** — the PyTorch DCGAN tutorial's pipeline, written out below as the
    baseline: the images as PNG files in an ``ImageFolder`` layout, ``ToTensor`` +
    ``Normalize`` to ``[-1, 1]``, a shuffling ``DataLoader`` with worker processes, fp32,
    plain (unfused) Adam, ``BCEWithLogitsLoss`` and ``.item()`` on both losses every step.
(b) **cocogoat trainer** — :class:`cocogoat_utils.train.GANTrainer` over a
    :class:`~cocogoat_utils.device_dataset.DeviceImageDataset` on the device, bf16 autocast, fused
    Adam, no host sync inside the timed loop, ``cudnn.benchmark`` on CUDA, and optionally
    channels_last (``--channels-last``).

Every figure printed or written comes from the timing here; nothing is hard-coded
except the targets: on an H100-class GPU ≥ 15× the tutorial at batch 128 and ≥ 100,000 images/s
at batch ≥ 1024 (the eager step is launch-bound: ``--cuda-graphs`` captures the whole step, D and G
updates, EMA and all, into one CUDA graph and replays it); on a CPU ≥ 2× the tutorial at the same batch.

    python benchmarks/dcgan_throughput.py                  # defaults (a GPU run)
    python benchmarks/dcgan_throughput.py --channels-last  # the fast configuration on a GPU
    python benchmarks/dcgan_throughput.py --channels-last --cuda-graphs --batch-sizes 128,1024,4096
    python benchmarks/dcgan_throughput.py --device cpu --tutorial-batch 64 --batch-sizes 64   # the CPU row
    python benchmarks/dcgan_throughput.py --smoke          # tiny settings, < 1 min on 2 CPU cores
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

TARGET_RATIO_AT_128 = 15.0  # the targets on an H100-class GPU: ≥ 15× the tutorial at batch 128 …
TARGET_IMAGES_PER_S_AT_1024 = 100_000.0  # … and ≥ 100,000 images/s at batch ≥ 1024
TARGET_RATIO_ON_CPU = 2.0  # on a CPU: ≥ 2× the tutorial loop at the same batch
SMOKE = dict(steps=3, warmup=1, batch_sizes="16", tutorial_batch=16, workers=0, subset=256)
DEFAULTS = dict(steps=200, warmup=20, batch_sizes="128,1024", tutorial_batch=128, workers=2, subset=0)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Throughput (images/s) of the 64x64 tutorial DCGAN: the PyTorch tutorial's "
        "ImageFolder/DataLoader/fp32 loop against cocogoat_utils' GANTrainer with the data on the device.",
    )
    p.add_argument("--batch-sizes", default=None,
                   help=f"comma-separated batch sizes for the cocogoat trainer (default {DEFAULTS['batch_sizes']!r}; "
                        f"{SMOKE['batch_sizes']!r} with --smoke)")
    p.add_argument("--tutorial-batch", type=int, default=None,
                   help=f"batch size of the tutorial loop, the baseline of every ratio "
                        f"(default {DEFAULTS['tutorial_batch']}; {SMOKE['tutorial_batch']} with --smoke)")
    p.add_argument("--steps", type=int, default=None,
                   help=f"timed steps per measurement (default {DEFAULTS['steps']}; {SMOKE['steps']} with --smoke)")
    p.add_argument("--warmup", type=int, default=None,
                   help=f"untimed steps before each measurement (default {DEFAULTS['warmup']}; "
                        f"{SMOKE['warmup']} with --smoke)")
    p.add_argument("--workers", type=int, default=None,
                   help=f"DataLoader workers of the tutorial loop (default {DEFAULTS['workers']}, as in the tutorial; "
                        f"{SMOKE['workers']} with --smoke)")
    p.add_argument("--subset", type=int, default=None,
                   help="use only the first N images of the dataset, 0 for all "
                        f"(default {DEFAULTS['subset']}; {SMOKE['subset']} with --smoke)")
    p.add_argument("--channels-last", action="store_true",
                   help="cocogoat trainer: models and DeviceImageDataset in channels_last memory format")
    p.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp16", "fp32"),
                   help="cocogoat trainer's precision (default auto: bf16 on Ampere+ GPUs and bf16-capable CPUs, "
                        "fp16 with a gradient scaler on older GPUs, else fp32)")
    p.add_argument("--cuda-graphs", action="store_true",
                   help="cocogoat trainer on CUDA: also measure the whole step captured in one CUDA graph")
    p.add_argument("--skip-tutorial", action="store_true", help="do not run the tutorial loop (no ratios then)")
    p.add_argument("--device", default="auto", help="'auto' (default: CUDA when available, else CPU), 'cuda', 'cuda:1', 'cpu'")
    p.add_argument("--smoke", action="store_true",
                   help="tiny settings for a quick check on a CPU (explicit options still win)")
    p.add_argument("--out", default=None,
                   help="JSON output (default benchmarks/results/dcgan_throughput_<device>[_smoke].json)")
    p.add_argument("--seed", type=int, default=999, help="seed of both pipelines (default 999, the tutorial's manualSeed)")
    args = p.parse_args(argv)
    preset = SMOKE if args.smoke else DEFAULTS
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.batch_sizes = [int(b) for b in str(args.batch_sizes).split(",") if b.strip()]
    if not args.batch_sizes or min(args.batch_sizes) < 1 or args.tutorial_batch < 1:
        p.error("batch sizes must be positive integers")
    if args.steps < 1 or args.warmup < 0 or args.workers < 0 or args.subset < 0:
        p.error("--steps ≥ 1, --warmup ≥ 0, --workers ≥ 0 and --subset ≥ 0 are required")
    return args


# --------------------------------------------------------------------------- helpers

def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "device"


def write_image_folder(images, root: Path) -> Path:
    """The dataset as PNG files in ImageFolder layout (one class folder), as the tutorial expects."""
    from PIL import Image

    folder = root / "openmoji"
    (folder / "0").mkdir(parents=True)
    for i, image in enumerate(images.permute(0, 2, 3, 1).numpy()):  # (N, H, W, 3) uint8
        Image.fromarray(image, "RGB").save(folder / "0" / f"{i:05d}.png")
    return folder


# --------------------------------------------------------------------------- (a) the tutorial's loop

def tutorial_loop(image_folder: Path, device, *, batch_size: int, workers: int, steps: int, warmup: int,
                  seed: int) -> dict:
    """BASELINE — the PyTorch DCGAN tutorial's training loop (not cocogoat code), timed.

    https://pytorch.org/tutorials/beginner/dcgan_faces_tutorial.html, with the only change
    that D returns logits, so BCELoss+sigmoid becomes BCEWithLogitsLoss.
    """
    from cocogoat_utils.runtime import synchronize

    import torch
    import torchvision.datasets as dset
    import torchvision.transforms as transforms
    from torch import nn, optim

    from cocogoat_utils.models.dcgan import build_dcgan

    torch.manual_seed(seed)
    dataset = dset.ImageFolder(root=str(image_folder), transform=transforms.Compose([
        transforms.ToTensor(),
        transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ]))
    dataloader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True,
                                             num_workers=workers, drop_last=True)
    if len(dataloader) == 0:
        raise SystemExit(f"tutorial loop: {len(dataset)} images make no full batch of {batch_size}")
    netG, netD = build_dcgan(image_size=64, arch="tutorial")
    netG, netD = netG.to(device), netD.to(device)
    nz = netG.latent_dim
    criterion = nn.BCEWithLogitsLoss()
    real_label, fake_label = 1.0, 0.0
    optimizerD = optim.Adam(netD.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=0.0002, betas=(0.5, 0.999))
    G_losses, D_losses = [], []

    def batches():  # epoch after epoch, as the tutorial's `for epoch ...: for i, data in enumerate(dataloader)`
        while True:
            yield from dataloader

    done, start = 0, None
    for data in batches():
        if done == warmup:
            synchronize(device)
            start = time.perf_counter()
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        real_cpu = data[0].to(device)
        b_size = real_cpu.size(0)
        label = torch.full((b_size,), real_label, dtype=torch.float, device=device)
        output = netD(real_cpu).view(-1)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.sigmoid().mean().item()
        noise = torch.randn(b_size, nz, 1, 1, device=device)
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach()).view(-1)
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.sigmoid().mean().item()
        errD = errD_real + errD_fake
        optimizerD.step()
        # (2) Update G network: maximize log(D(G(z)))
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake).view(-1)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.sigmoid().mean().item()
        optimizerG.step()
        G_losses.append(errG.item())
        D_losses.append(errD.item())
        done += 1
        if done == warmup + steps:
            break
    synchronize(device)
    elapsed = time.perf_counter() - start
    del D_x, D_G_z1, D_G_z2
    finite = all(math.isfinite(v) for v in G_losses + D_losses)
    return dict(variant="tutorial loop (ImageFolder + DataLoader, fp32, .item() every step)",
                pipeline="tutorial", batch=batch_size, steps=steps, seconds=elapsed,
                images_per_s=batch_size * steps / elapsed, finite_losses=finite, workers=workers)


# --------------------------------------------------------------------------- (b) cocogoat's trainer

def cocogoat_trainer(images, device, *, batch_size: int, steps: int, warmup: int, channels_last: bool, precision: str,
                     seed: int, cuda_graph: bool = False) -> dict:
    """Images per second of :class:`GANTrainer.train_step` (D and G updates, no host sync), timed over ``steps``.

    ``cuda_graph``: the step is captured once into a CUDA graph (fused, capturable Adam; autocast without its
    weight cache; the trainer's random streams registered with the graph) and replayed: one launch per step.
    """
    from cocogoat_utils.runtime import synchronize

    import torch

    from cocogoat_utils.device_dataset import DeviceImageDataset
    from cocogoat_utils.models.dcgan import build_dcgan
    from cocogoat_utils.train import GANTrainConfig, GANTrainer

    torch.manual_seed(seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    generator, discriminator = build_dcgan(image_size=64, arch="tutorial")
    if channels_last:
        generator = generator.to(memory_format=torch.channels_last)
        discriminator = discriminator.to(memory_format=torch.channels_last)
    data = DeviceImageDataset(images, device, channels_last=channels_last, seed=seed)
    config = GANTrainConfig(steps=None, batch_size=batch_size, precision=precision, log_every=1, sample_every=None,
                            checkpoint_every=None, seed=seed)
    optimizers = {}
    if cuda_graph:
        generator, discriminator = generator.to(device), discriminator.to(device)
        optimizers = {f"{k}_optimizer": torch.optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True,
                                                         capturable=True)
                      for k, m in (("g", generator), ("d", discriminator))}
    trainer = GANTrainer(generator, discriminator, data, config=config, progress=False, **optimizers)
    trainer.generator.train()
    trainer.discriminator.train()
    if not cuda_graph:
        step = trainer.train_step
    else:
        trainer.autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=False,
                                                  enabled=trainer.precision == "bf16")
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up on a side stream, as capture requires
            for _ in range(3):
                trainer.train_step()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        for stream in trainer.streams.values():
            graph.register_generator_state(stream)
        with torch.cuda.graph(graph):
            captured = trainer.train_step()

        def step():
            graph.replay()
            return captured
    losses = None
    for _ in range(warmup):
        losses = step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        losses = step()
    synchronize(device)
    elapsed = time.perf_counter() - start
    finite = bool(torch.isfinite(losses).all())  # read after the clock stopped
    parts = ["DeviceImageDataset", trainer.precision, "fused Adam" if device.type == "cuda" else "Adam"]
    if channels_last:
        parts.append("channels_last")
    if device.type == "cuda":
        parts.append("cudnn.benchmark")
    if cuda_graph:
        parts.append("CUDA graph")
    return dict(variant=f"cocogoat trainer ({', '.join(parts)})", pipeline="cocogoat", batch=batch_size,
                steps=steps, seconds=elapsed, images_per_s=batch_size * steps / elapsed, finite_losses=finite,
                channels_last=channels_last, precision=trainer.precision, cuda_graph=cuda_graph)


# --------------------------------------------------------------------------- report

def targets(rows: list[dict], device, name: str) -> dict:
    tutorial = next((r for r in rows if r["pipeline"] == "tutorial"), None)
    ours = [r for r in rows if r["pipeline"] == "cocogoat"]
    same = max((r for r in ours if tutorial and r["batch"] == tutorial["batch"]), key=lambda r: r["images_per_s"],
               default=None)
    at128 = max((r for r in ours if r["batch"] == 128), key=lambda r: r["images_per_s"], default=None)
    large = max((r for r in ours if r["batch"] >= 1024), key=lambda r: r["images_per_s"], default=None)
    ratio = at128["images_per_s"] / tutorial["images_per_s"] if tutorial and at128 and tutorial["batch"] == 128 else None
    result = {"ratio_at_128": ratio, "images_per_s_at_1024": large["images_per_s"] if large else None}
    if device.type != "cuda":
        cpu_ratio = same["images_per_s"] / tutorial["images_per_s"] if same else None
        result.update(ratio_same_batch=cpu_ratio, batch=tutorial["batch"] if tutorial else None,
                      cpu_ratio_target=TARGET_RATIO_ON_CPU,
                      cpu_ratio_target_met="not measured" if cpu_ratio is None else cpu_ratio >= TARGET_RATIO_ON_CPU,
                      ratio_target_met="n/a on CPU", throughput_target_met="n/a on CPU",
                      note="the GPU targets are defined for an H100-class GPU")
        return result
    result["ratio_target_met"] = "not measured" if ratio is None else ratio >= TARGET_RATIO_AT_128
    result["throughput_target_met"] = ("not measured" if large is None
                                       else large["images_per_s"] >= TARGET_IMAGES_PER_S_AT_1024)
    if not re.search(r"H100|H200|GH200|B200", name):
        result["note"] = f"the targets are defined for an H100-class GPU; this ran on {name}"
    return result


def markdown_table(rows: list[dict], baseline: dict | None) -> str:
    head = f"ratio vs tutorial @{baseline['batch']}" if baseline else "ratio vs tutorial"
    lines = [f"| variant | batch | images/s | ms/step | {head} |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        ratio = f"{r['images_per_s'] / baseline['images_per_s']:.2f}x" if baseline else "n/a"
        lines.append(f"| {r['variant']} | {r['batch']} | {r['images_per_s']:,.0f} | "
                     f"{1000 * r['seconds'] / r['steps']:.1f} | {ratio} |")
    return "\n".join(lines)


def fmt_target(value) -> str:
    return {True: "met", False: "NOT met"}.get(value, str(value)) if isinstance(value, (bool, str)) else str(value)


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch
    import torchvision

    from cocogoat_utils.openmoji import load_openmoji
    from cocogoat_utils.runtime import device_name

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else "cpu" if args.device == "auto" else args.device)
    name = device_name(device)
    images = load_openmoji(64).images  # (N, 3, 64, 64) uint8, composited on white
    full_size = len(images)
    if args.subset:
        images = images[: args.subset]
    print(f"device: {name} | torch {torch.__version__} | torchvision {torchvision.__version__} | "
          f"{len(images)} images 64x64 | steps {args.steps} (+{args.warmup} warm-up)", flush=True)

    if device.type == "cpu" and not args.smoke:
        print("note: full settings on a CPU take a very long time (batch 1024 for hundreds of steps); "
              "pass --smoke for a quick check", flush=True)
    rows: list[dict] = []
    failures: list[dict] = []
    baseline = None
    if not args.skip_tutorial:  # first, before cudnn.benchmark is switched on (the tutorial leaves it off)
        with tempfile.TemporaryDirectory(prefix="dcgan_bench_") as tmp:
            t = time.perf_counter()
            folder = write_image_folder(images, Path(tmp))
            print(f"wrote {len(images)} PNGs in ImageFolder layout in {time.perf_counter() - t:.1f} s", flush=True)
            baseline = tutorial_loop(folder, device, batch_size=args.tutorial_batch, workers=args.workers,
                                     steps=args.steps, warmup=args.warmup, seed=args.seed)
        rows.append(baseline)
        print(f"  {baseline['variant']} @ {baseline['batch']}: {baseline['images_per_s']:,.0f} images/s", flush=True)
    for batch in args.batch_sizes:
        for graphed in ([False, True] if args.cuda_graphs and device.type == "cuda" else [False]):
            try:
                row = cocogoat_trainer(images, device, batch_size=batch, steps=args.steps, warmup=args.warmup,
                                       channels_last=args.channels_last, precision=args.precision, seed=args.seed,
                                       cuda_graph=graphed)
            except Exception as error:  # a failed variant is reported, the others still run
                print(f"  cocogoat trainer{' (CUDA graph)' if graphed else ''} @ {batch}: FAILED: {error!r}", flush=True)
                failures.append({"batch": batch, "cuda_graph": graphed, "error": repr(error)})
                continue
            rows.append(row)
            print(f"  {row['variant']} @ {batch}: {row['images_per_s']:,.0f} images/s", flush=True)
            if device.type == "cuda":
                torch.cuda.empty_cache()

    checks = targets(rows, device, name)
    print()
    if args.smoke:
        print("SMOKE RUN (tiny settings): checks that the benchmark runs; the figures are no performance claim.\n")
    print(markdown_table(rows, baseline))
    print()
    same_batch = baseline and next((r for r in rows if r["pipeline"] == "cocogoat" and r["batch"] == baseline["batch"]),
                                   None)
    if same_batch:
        print(f"cocogoat trainer / tutorial loop at batch {baseline['batch']}: "
              f"{same_batch['images_per_s'] / baseline['images_per_s']:.2f}x")
    if device.type != "cuda" and checks.get("ratio_same_batch") is not None:
        print(f"target on a CPU >= {TARGET_RATIO_ON_CPU:g}x the tutorial at the same batch: "
              f"{checks['ratio_same_batch']:.2f}x -> {fmt_target(checks['cpu_ratio_target_met'])}")
    ratio = checks["ratio_at_128"]
    print(f"target >= {TARGET_RATIO_AT_128:g}x the tutorial at batch 128: "
          f"{'not measured' if ratio is None else f'{ratio:.2f}x'} -> {fmt_target(checks['ratio_target_met'])}")
    at1024 = checks["images_per_s_at_1024"]
    print(f"target >= {TARGET_IMAGES_PER_S_AT_1024:,.0f} images/s at batch >= 1024: "
          f"{'not measured' if at1024 is None else f'{at1024:,.0f} images/s'} -> "
          f"{fmt_target(checks['throughput_target_met'])}")
    if "note" in checks:
        print(f"({checks['note']})")
    bad = [r["variant"] + f" @ {r['batch']}" for r in rows if not r["finite_losses"]]
    if bad:
        print(f"WARNING: non-finite losses in {', '.join(bad)}")

    out = Path(args.out) if args.out else (
        ROOT / "benchmarks" / "results" / f"dcgan_throughput_{slug(name)}{'_smoke' if args.smoke else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "device": name, "torch": torch.__version__, "torchvision": torchvision.__version__,
        "python": platform.python_version(), "cpu_threads": torch.get_num_threads(),
        "dataset": "OpenMoji 64x64 on white (cocogoat_utils.openmoji.load_openmoji)", "dataset_size": len(images),
        "dataset_full_size": full_size,
        "settings": {k: getattr(args, k) for k in ("steps", "warmup", "batch_sizes", "tutorial_batch", "workers",
                                                   "subset", "channels_last", "precision", "cuda_graphs", "smoke",
                                                   "seed")},
        "rows": rows, "failures": failures, "targets": {"ratio_at_128_min": TARGET_RATIO_AT_128,
                                  "images_per_s_at_1024_min": TARGET_IMAGES_PER_S_AT_1024, **checks},
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

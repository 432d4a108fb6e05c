"""Images per second of diffusion sampling: DDPM over the whole chain against DDIM on a few steps.

The network is notebook 06's gpu-scale UNet (32 px, width 64, two blocks per level,
class-conditional), with freshly initialised weights: the time of a sampler does not
depend on what the weights have learned. Each sampler draws ``--batch`` images per call
under bf16 autocast on CUDA, after one untimed warm-up call, with the device synchronised
around the clock. Quality is not measured here: notebook 06 scores every sampler on a
trained model (its ``summary.json`` has FD per sampler) — or ``--shipped`` scores the shipped DDPM here — and the target reads the
two together (DDIM-50 ≥ 15× faster per image, at an FD within 20 % of DDPM-1000's).

    python benchmarks/diffusion_sampling.py            # on a GPU: DDPM-1000 and DDIM-50, batch 256
    python benchmarks/diffusion_sampling.py --smoke    # tiny settings, seconds on a CPU
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

TARGET_SPEEDUP = 15.0  # the target for DDIM-50 against DDPM-1000, per image (with an FD within 20 %)
DEFAULTS = dict(T=1000, ddim_steps="50", batch=256, width=64, blocks=2, image_size=32)
SMOKE = dict(T=20, ddim_steps="2", batch=4, width=8, blocks=1, image_size=32)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Diffusion sampling throughput: DDPM (all T steps) against DDIM.")
    p.add_argument("--T", type=int, default=None, help=f"diffusion steps (default {DEFAULTS['T']})")
    p.add_argument("--ddim-steps", default=None, help=f"comma-separated DDIM step counts (default {DEFAULTS['ddim_steps']!r})")
    p.add_argument("--batch", type=int, default=None, help=f"images per sampling call (default {DEFAULTS['batch']})")
    p.add_argument("--width", type=int, default=None, help=f"UNet width (default {DEFAULTS['width']})")
    p.add_argument("--device", default="auto", help="cuda, cpu, … (default: cuda when available)")
    p.add_argument("--smoke", action="store_true", help="tiny settings for a CPU check")
    p.add_argument("--shipped", action="store_true",
                   help="time and score the shipped DDPM (checkpoints/ddpm*.pt) instead of a fresh UNet: FD of every "
                        "sampler against the real images, the DDIM-50 ≥ 15× faster and within 20 %% of DDPM's FD target")
    p.add_argument("--metric-samples", type=int, default=None, help="images scored per sampler with --shipped "
                                                                    "(default 1000; 70 with --smoke)")
    p.add_argument("--out", default=None, help="JSON output (default benchmarks/results/diffusion_sampling_<device>.json)")
    args = p.parse_args(argv)
    for key, value in (SMOKE if args.smoke else DEFAULTS).items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if args.metric_samples is None:
        args.metric_samples = 70 if args.smoke else 1000
    return args


def main(argv=None) -> int:
    import torch

    from cocogoat_utils.diffusion import NoiseSchedule, ddim_sample, ddpm_sample
    from cocogoat_utils.models.unet import UNet
    from cocogoat_utils.runtime import device_name, pick_device, synchronize

    args = parse_args(argv)
    device = pick_device(args.device)
    torch.manual_seed(0)
    shipped = None
    if args.shipped:
        from cocogoat_utils.shipped import load_pretrained

        shipped = load_pretrained("ddpm", device=device, image_size=args.image_size)
        model, record = shipped.model, shipped.record
        args.T, args.width, args.image_size = record["T"], record["model_config"]["width"], record["image_size"]
        schedule = NoiseSchedule.make(record["schedule"], record["T"])
    else:
        model = UNet(image_size=args.image_size, width=args.width, channel_mults=(1, 2, 2),
                     blocks_per_level=args.blocks, attention_at=(8,), num_classes=3).to(device).eval()
        schedule = NoiseSchedule.linear(args.T)
    shape = (args.batch, 3, args.image_size, args.image_size)
    labels = torch.arange(args.batch, device=device) % 3

    def run(name: str, call) -> dict:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            call()  # warm-up (cudnn autotuning, allocator)
            synchronize(device)
            began = time.perf_counter()
            call()
            synchronize(device)
        seconds = time.perf_counter() - began
        return {"sampler": name, "batch": args.batch, "seconds": seconds, "images_per_s": args.batch / seconds,
                "ms_per_image": 1000 * seconds / args.batch}

    common = dict(labels=labels, null_label=3, generator=torch.Generator(device=device).manual_seed(0), device=device)
    rows = [run(f"DDPM-{args.T}", lambda: ddpm_sample(model, schedule, shape, **common))]
    for steps in [int(s) for s in str(args.ddim_steps).split(",")]:
        rows.append(run(f"DDIM-{steps}", lambda steps=steps: ddim_sample(model, schedule, shape, steps=steps, **common)))
    for row in rows:
        row["speedup_vs_ddpm"] = row["images_per_s"] / rows[0]["images_per_s"]
    if shipped is not None:  # quality: every sampler's FD on the same classes and seed
        from cocogoat_utils.data import load_dataset, to_uint8
        from cocogoat_utils.metrics import QualityMetrics

        real = load_dataset(None, args.image_size, categories=["animals", "faces", "people"]).images
        quality = QualityMetrics(real, device=device)
        n = args.metric_samples
        classes = len(shipped.record.get("classes", [])) or 3
        for row in rows:
            steps = int(row["sampler"].split("-")[1])
            images = []
            for start in range(0, n, args.batch):
                size = min(args.batch, n - start)
                kwargs = dict(labels=torch.arange(start, start + size, device=device) % classes, null_label=classes,
                              generator=torch.Generator(device=device).manual_seed(1 + start), device=device)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                    x, _ = (ddpm_sample(model, schedule, (size, 3, args.image_size, args.image_size), **kwargs)
                            if row["sampler"].startswith("DDPM") else
                            ddim_sample(model, schedule, (size, 3, args.image_size, args.image_size), steps=steps,
                                        **kwargs))
                images.append(to_uint8(x).cpu())
            scores = quality.evaluate(torch.cat(images))
            row.update({k: scores[k] for k in ("fd", "kid", "precision", "recall", "diversity_ratio")},
                       metric_samples=n)
        for row in rows:
            row["fd_vs_ddpm"] = row["fd"] / rows[0]["fd"]

    print(f"device: {device_name(device)}, UNet width {args.width}, {sum(t.numel() for t in model.parameters()):,} "
          f"parameters, {args.image_size} px, batch {args.batch}")
    print("| sampler | images/s | ms/image | × DDPM | FD | diversity |\n|---|---:|---:|---:|---:|---:|")
    for row in rows:
        fd = f"{row['fd']:.1f}" if "fd" in row else "—"
        div = f"{row['diversity_ratio']:.2f}" if "diversity_ratio" in row else "—"
        print(f"| {row['sampler']} | {row['images_per_s']:.1f} | {row['ms_per_image']:.2f} | "
              f"{row['speedup_vs_ddpm']:.1f} | {fd} | {div} |")
    ddim50 = next((r for r in rows if r["sampler"] == "DDIM-50"), None)
    target = None
    if ddim50 is not None and args.T == 1000:
        target = {"ddim50_speedup": ddim50["speedup_vs_ddpm"], "target": TARGET_SPEEDUP,
                  "met": ddim50["speedup_vs_ddpm"] >= TARGET_SPEEDUP}
        print(f"DDIM-50 is {ddim50['speedup_vs_ddpm']:.1f}× faster per image than DDPM-1000 "
              f"(target ≥ {TARGET_SPEEDUP:g}×: {'met' if target['met'] else 'NOT met'})")
        if "fd" in ddim50:
            target.update(fd_ratio=ddim50["fd_vs_ddpm"], fd_met=ddim50["fd_vs_ddpm"] <= 1.2)
            print(f"DDIM-50 FD {ddim50['fd']:.1f} vs DDPM-1000 FD {rows[0]['fd']:.1f}: {ddim50['fd_vs_ddpm']:.2f}× "
                  f"(target within 20 %: {'met' if target['fd_met'] else 'NOT met'})")
    report = {"device": device_name(device), "torch": torch.__version__, "python": platform.python_version(),
              "smoke": args.smoke, "model": "shipped ddpm" if shipped is not None else "fresh UNet (timing only)",
              "settings": {k: getattr(args, k) for k in ("T", "ddim_steps", "batch", "width", "blocks", "image_size",
                                                          "metric_samples")},
              "rows": rows, "target": target}
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / (
        f"diffusion_sampling_{device_name(device).replace(' ', '_')}{'_smoke' if args.smoke else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

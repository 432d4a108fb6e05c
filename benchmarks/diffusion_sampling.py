"""Images per second of diffusion sampling: DDPM over the whole chain against DDIM on a few steps.

The network is notebook 06's gpu-scale UNet (32 px, width 64, two blocks per level,
class-conditional), with freshly initialised weights: the time of a sampler does not
depend on what the weights have learned. Each sampler draws ``--batch`` images per call
under bf16 autocast on CUDA, after one untimed warm-up call, with the device synchronised
around the clock. Quality is not measured here: notebook 06 scores every sampler on a
trained model (its ``summary.json`` has FD per sampler), and the issue's target reads the
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

TARGET_SPEEDUP = 15.0  # the target for DDIM-50 against DDPM-1000, per image
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
    p.add_argument("--out", default=None, help="JSON output (default benchmarks/results/diffusion_sampling_<device>.json)")
    args = p.parse_args(argv)
    for key, value in (SMOKE if args.smoke else DEFAULTS).items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    return args


def main(argv=None) -> int:
    import torch

    from cocogoat_utils.diffusion import NoiseSchedule, ddim_sample, ddpm_sample
    from cocogoat_utils.models.unet import UNet
    from cocogoat_utils.runtime import device_name, pick_device, synchronize

    args = parse_args(argv)
    device = pick_device(args.device)
    torch.manual_seed(0)
    model = UNet(image_size=args.image_size, width=args.width, channel_mults=(1, 2, 2), blocks_per_level=args.blocks,
                 attention_at=(8,), num_classes=3).to(device).eval()
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

    print(f"device: {device_name(device)}, UNet width {args.width}, {sum(t.numel() for t in model.parameters()):,} "
          f"parameters, {args.image_size} px, batch {args.batch}")
    print("| sampler | images/s | ms/image | × DDPM |\n|---|---:|---:|---:|")
    for row in rows:
        print(f"| {row['sampler']} | {row['images_per_s']:.1f} | {row['ms_per_image']:.2f} | {row['speedup_vs_ddpm']:.1f} |")
    ddim50 = next((r for r in rows if r["sampler"] == "DDIM-50"), None)
    target = None
    if ddim50 is not None and args.T == 1000:
        target = {"ddim50_speedup": ddim50["speedup_vs_ddpm"], "target": TARGET_SPEEDUP,
                  "met": ddim50["speedup_vs_ddpm"] >= TARGET_SPEEDUP}
        print(f"DDIM-50 is {ddim50['speedup_vs_ddpm']:.1f}× faster per image than DDPM-1000 "
              f"(target ≥ {TARGET_SPEEDUP:g}×: {'met' if target['met'] else 'NOT met'})")
    report = {"device": device_name(device), "torch": torch.__version__, "python": platform.python_version(),
              "smoke": args.smoke, "settings": {k: getattr(args, k) for k in ("T", "ddim_steps", "batch", "width",
                                                                              "blocks", "image_size")},
              "rows": rows, "target": target}
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / (
        f"diffusion_sampling_{device_name(device).replace(' ', '_')}{'_smoke' if args.smoke else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

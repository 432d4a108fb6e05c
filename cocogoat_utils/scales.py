"""Each notebook's scale table: its sizes and budgets at every scale, read by
:func:`~cocogoat_utils.experiment.start_run`.

- ``smoke``: seconds on two CPU cores, for the tests.
- ``gpu-shapes``: the ``gpu`` row's shapes (image sizes, levels, canvases) with ``smoke``'s widths and
  budgets (:func:`~cocogoat_utils.runtime.gpu_shapes`), so that CI meets every shape of the GPU run.
- ``cpu``: a few minutes on a laptop's CPU: the committed outputs.
- ``gpu``: budgets in seconds of training, sized from measured step times for about 5 minutes per notebook
  on an H100 (the estimates are written beside the rows).

A notebook parameter left at ``None`` takes its value from the row of the run's scale; any other value wins.
"""

from __future__ import annotations

from .runtime import gpu_shapes

# 00_GAN_Conceptos
# cpu: G 1× alone, 1,000 D steps (the gan-concepts pilot: learned by step 1,000; ≈ 2 min on two cores); G 2× and DRAGAN
# are decided by the recorded study — at 45 s each, the three did not learn
ALL_GAN_CONCEPTS_ARMS = ["g1", "g2", "dragan"]
GAN_CONCEPTOS = {
    "smoke": dict(image_size=32, batch_size=32, compare_seconds=1.5, steps=None, g_width=32, d_width=8,
                  metric_samples=100, live_arms=ALL_GAN_CONCEPTS_ARMS),
    "cpu": dict(image_size=32, batch_size=64, compare_seconds=None, steps=1000, g_width=128, d_width=32,
                metric_samples=500, live_arms=["g1"]),
    "gpu": dict(image_size=64, batch_size=128, compare_seconds=40, steps=None, g_width=512, d_width=64,
                metric_samples=2000, live_arms=ALL_GAN_CONCEPTS_ARMS),
}
GAN_CONCEPTOS["gpu-shapes"] = gpu_shapes(GAN_CONCEPTOS, ("image_size",))

# 01_DataSelector
DATA_SELECTOR = {
    "smoke": dict(image_size=32, per_class=60, held_out=45, label_budgets=[30, 60], epochs=3, min_steps=6, seconds=None,
                  width=8, pretrain_epochs=2, pretrain_seconds=None),
    "cpu": dict(image_size=32, per_class=700, held_out=300, label_budgets=[50, 100, 300, 1000], epochs=10,
                min_steps=80, seconds=None, width=16, pretrain_epochs=12, pretrain_seconds=None),
    "gpu": dict(image_size=64, per_class=2000, held_out=600, label_budgets=[50, 100, 300, 1000], epochs=100,
                min_steps=1500, seconds=8, width=32, pretrain_epochs=100, pretrain_seconds=30),
}
DATA_SELECTOR["gpu-shapes"] = gpu_shapes(DATA_SELECTOR, ("image_size",))

# 02_DataAugmentator_Emboxer
# cpu: the live payoff comparison is off (at 40 s a run neither the plain nor the ×3 run learned); the recorded studies
# answer it: emboxer-crops (plain training, 1,500 and 3,000 steps a run: no baseline learned in every seed) and
# emboxer-crops-diffaugment (DiffAugment, 1,000 and 2,000 steps: every baseline learned)
EMBOXER = {
    "smoke": dict(canvas_size=32, target_size=32, n_canvases=160, held_out=32, steps=20, emboxer_seconds=None, width=8,
                  gan_images=96, gan_seconds=2, gan_width=64, metric_samples=80, max_images=320, compare=True),
    "cpu": dict(canvas_size=64, target_size=32, n_canvases=3000, held_out=300, steps=1500, emboxer_seconds=None, width=16,
                gan_images=300, gan_seconds=40, gan_width=128, metric_samples=500, max_images=None, compare=False),
    "gpu": dict(canvas_size=128, target_size=64, n_canvases=12000, held_out=1000, steps=8000, emboxer_seconds=60, width=32,
                gan_images=500, gan_seconds=60, gan_width=256, metric_samples=1000, max_images=None, compare=True),
}
EMBOXER["gpu-shapes"] = gpu_shapes(EMBOXER, ("canvas_size", "target_size"))

# 03_Cocogoat_ProGAN
PROGAN = {
    "smoke": dict(max_level=2, width=16, batch_sizes=[8, 8, 8], images_per_phase=48, ema_decay=0.0,
                  metric_samples=80, max_images=256, compare=True),
    # cpu: the progan-tricks study's recipe arm (its pilot: 24,000 images a phase is where 32 px learned at width 64;
    # 3,000 had not), ≈ 6 min on two cores; the live comparison is off — the recorded study decides it
    "cpu": dict(max_level=3, width=64, batch_sizes=[32, 32, 32, 32], images_per_phase=24_000, ema_decay=0.999,
                metric_samples=500, max_images=None, compare=False),
    # gpu: the paper's plan in images, sized by time. Three runs × (1 + 2·4) phases at batch 128/128/64/64/32 make
    # 3 × 0.148 · images_per_phase ≈ 7,100 steps for 16,000 images per phase. Basis of the estimate: an eager G+D step
    # at these widths is launch-bound on an H100 (the 64 px DCGAN step takes ≈ 9 ms at batch 128 there, eager: 13–15k images/s);
    # WGAN-GP's double backward about doubles it, ≈ 20 ms → ≈ 140 s of training, plus ≈ 60 s for data, the quality
    # metric at every level and the shipped model: ≈ 3.5 min. The time each level took is printed below.
    "gpu": dict(max_level=4, width=256, batch_sizes=[128, 128, 64, 64, 32], images_per_phase=16_000, ema_decay=0.999,
                metric_samples=2000, max_images=None, compare=True),
}
PROGAN["gpu-shapes"] = gpu_shapes(PROGAN, ("max_level", "batch_sizes"))

# 04_Optimized_Cocogoat
OPTIMIZED = {
    "smoke": dict(image_size=32, batch_size=8, g_width=16, d_width=8, seconds_per_run=1, metric_every=None,
                  metric_samples=80, max_images=256, batch_sizes=[4, 8, 16], batch_images=64, images_per_phase=32,
                  compare=True, live_size=None, live_steps=None),
    # cpu: the live comparisons are off (runs of 25 s judged before they learn decided nothing: twelve runs, none
    # learned); section 2 trains the shipped msggan recipe at 16 px for 2,000 steps to watch it start — its pilot
    # (benchmarks/results/pilot_msggan-losses_bce_16px.json) had not learned by then (FD 86 → 31, recall ≤ 0.02), and
    # the notebook says so; the recorded studies answer the comparisons. 23 min on an AVX2-only core (fp32)
    "cpu": dict(image_size=32, batch_size=32, g_width=64, d_width=16, seconds_per_run=25, metric_every=250,
                metric_samples=500, max_images=None, batch_sizes=[16, 64, 256], batch_images=4096, images_per_phase=1000,
                compare=False, live_size=16, live_steps=2000),
    # gpu (an H100, estimated; these steps are launch-bound at ≈ 20 ms): 8 × 12 s; the batch runs 16,384 images each
    # (≈ 1,350 steps, ≈ 30 s); ProGAN 9 phases × 16,000 images at batch 128 (≈ 1,125 steps, ≈ 25 s) and the MSG-GAN on
    # as many images (≈ 25 s); + ≈ 60 s for data, quality metrics (2,000 samples) and the shipped model ≈ 4 min
    "gpu": dict(image_size=64, batch_size=128, g_width=256, d_width=64, seconds_per_run=12, metric_every=250,
                metric_samples=2000, max_images=None, batch_sizes=[16, 64, 256], batch_images=16_384,
                images_per_phase=16_000, compare=True, live_size=None, live_steps=None),
}
OPTIMIZED["gpu-shapes"] = gpu_shapes(OPTIMIZED, ("image_size",))

# 05_Prototype_LSTM
# cpu: the generators train by steps, 2,000 each — where the shipped lstm-baseline recipe had learned (FD 12.9 at step
# 2,000 of its record's history); the two-stage generator (1.6× the step cost) only at smoke and gpu scale
LSTM = {  # gpu: seconds, sized for ≤ 5 min on an H100 — 2 sizes × 3 generators × 25 s + 3 inpainters × 15 s ≈ 200 s
    "smoke": dict(sizes=[32], max_images=256, seconds_per_model=2, steps_per_model=None,
                  kinds=["dcgan", "lstm", "two-stage"], batch_size=16, d_width=8, metric_samples=80,
                  inpaint_seconds=1, inpaint_batch=8),
    "cpu": dict(sizes=[32], max_images=None, seconds_per_model=None, steps_per_model=2000, kinds=["dcgan", "lstm"],
                batch_size=64, d_width=32, metric_samples=1000, inpaint_seconds=30, inpaint_batch=16),
    "gpu": dict(sizes=[32, 64], max_images=None, seconds_per_model=25, steps_per_model=None,
                kinds=["dcgan", "lstm", "two-stage"], batch_size=128, d_width=64, metric_samples=1000,
                inpaint_seconds=15, inpaint_batch=128),
}
LSTM["gpu-shapes"] = gpu_shapes(LSTM, ("sizes",))

# 06_Diffusion
# gpu: seconds, sized for ≤ 5 min on an H100 (≤ 15 on a T4). Training: 80 s at 32 px, then 80 s at 64 px. Sampling
# counts too: one call of the width-64 UNet costs ≈ 2.9 GFLOP per 32 px image (11.7 at 64 px), so DDPM-1000 plus
# DDIM-50/100/250 on 500 images is 1,400 × 500 × 2.9 GFLOP ≈ 2 PFLOP — about 20 s at an effective 100 TFLOP/s in
# bf16; the evaluations during training (DDIM-50 on 500 images every 2,000 steps, at 32 and 64 px), the failure
# modes and the shipped model add about as much again. T shrinks with the scale so that DDPM's chain stays affordable.
DIFFUSION = {
    "smoke": dict(image_size=32, seconds=8, steps=12, batch_size=8, width=8, T=20, ddim_steps=[5, 10], metric_samples=70,
                  eval_every=None, view_steps=3, resolutions=[], ema_decay=0.9, max_images=256, warmup=2, sample_every=None,
                  toy_steps=60),
    "cpu": dict(image_size=32, seconds=120, steps=None, batch_size=32, width=16, T=250, ddim_steps=[25, 50, 125],
                metric_samples=70, eval_every=None, view_steps=50, resolutions=[], ema_decay=0.999, max_images=None,
                warmup=100, sample_every=50, toy_steps=2000),
    "gpu": dict(image_size=32, seconds=80, steps=20_000, batch_size=128, width=64, T=1000, ddim_steps=[50, 100, 250],
                metric_samples=500, eval_every=2000, view_steps=50, resolutions=[32, 64], ema_decay=0.999,
                max_images=None, warmup=500, sample_every=1000, toy_steps=2000),
}
DIFFUSION["gpu-shapes"] = gpu_shapes(DIFFUSION, ("image_size", "resolutions"))

# 07_Pokemon_DCGAN
POKEMON_DCGAN = {  # the hires_* keys size the 128 px section, which trains only at gpu (a few steps at gpu-shapes)
    "smoke": dict(image_size=32, batch_size=32, seconds=None, steps=30, compare_seconds=1.5, epoch_scale=0.01,
                  max_images=192, g_width=64, d_width=16, ema_decay=None, hires_size=None, hires_seconds=None,
                  hires_steps=3, tutorial_ceiling=None, sample_every=15, log_every=10, checkpoint_every=15,
                  metric_every=15, metric_samples=100, compare=True),
    # cpu: the live comparisons of sections 7–9 are off (at 40 s or 1/20 of the tutorial's epochs their baselines did
    # not learn); the recorded studies sprite-dcgan-tricks and sprite-dcgan-settings answer them
    "cpu": dict(image_size=32, batch_size=64, seconds=None, steps=1200, compare_seconds=40, epoch_scale=0.05,
                max_images=None, g_width=256, d_width=32, ema_decay=0.99, hires_size=None, hires_seconds=None,
                hires_steps=None, tutorial_ceiling=None, sample_every=100, log_every=25, checkpoint_every=400,
                metric_every=200, metric_samples=1000, compare=False),
    "gpu": dict(image_size=64, batch_size=128, seconds=40, steps=None, compare_seconds=10, epoch_scale=1.0,
                max_images=None, g_width=512, d_width=64, ema_decay=0.999, hires_size=128, hires_seconds=20,
                hires_steps=None, tutorial_ceiling=60, sample_every=500, log_every=100, checkpoint_every=2500,
                metric_every=1000, metric_samples=2000, compare=True),
}
POKEMON_DCGAN["gpu-shapes"] = gpu_shapes(POKEMON_DCGAN, ("image_size", "hires_size"))


TABLES = {
    "00_GAN_Conceptos": GAN_CONCEPTOS,
    "01_DataSelector": DATA_SELECTOR,
    "02_DataAugmentator_Emboxer": EMBOXER,
    "03_Cocogoat_ProGAN": PROGAN,
    "04_Optimized_Cocogoat": OPTIMIZED,
    "05_Prototype_LSTM": LSTM,
    "06_Diffusion": DIFFUSION,
    "07_Pokemon_DCGAN": POKEMON_DCGAN,
}


def table(notebook: str) -> dict:
    """The scale table of ``notebook`` (its file name without ``.ipynb``)."""
    try:
        return TABLES[notebook]
    except KeyError:
        raise KeyError(f"no scale table for {notebook!r}: one of {sorted(TABLES)}") from None

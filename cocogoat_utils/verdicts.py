"""What 06's comparisons say (:func:`sampler_lines`, :func:`resolution_verdict`, :func:`ema_warmup_verdict`) and
:func:`print_bullets`, from the run's own numbers whichever way they fall (the two-row
:func:`~cocogoat_utils.comparison.verdict` is the building block). The other lessons' sentences live in their notebooks.
"""

from __future__ import annotations

from .comparison import verdict


def sampler_lines(samplers: list[dict]) -> list[str]:
    """Each sampler row after the first (the reference, DDPM) against it: speed, FD, diversity and collapse (none
    without scores)."""
    ref, lines = samplers[0], []
    for r in samplers[1:] if ref["fd"] is not None else []:
        change = r["diversity_ratio"] / ref["diversity_ratio"] - 1
        lines.append(
            f"{r['sampler']}: {r['images_per_second'] / ref['images_per_second']:.1f}× faster than {ref['sampler']}, FD "
            f"{r['fd'] / ref['fd']:.2f}× its FD; diversity ratio {r['diversity_ratio']:.2f} vs {ref['diversity_ratio']:.2f} "
            + ("→ about as varied (within 10 %)" if abs(change) <= 0.1 else
               f"→ {abs(change):.0%} {'more' if change > 0 else 'less'} varied")
            + ("; collapsed (under 0.5)" if r["collapsed"] else "; not collapsed")
            + ("; its diversity is above the data's while its FD is worse: the spread of noise, not of glyphs"
               if r["diversity_ratio"] > 1.1 and r["fd"] > ref["fd"] else ""))
    return lines


def resolution_verdict(rows: list[dict], *, seconds: float, scale: str, scored: bool) -> str:
    """Notebook 06's stability verdict: the highest resolution (``rows[-1]``) against the lowest (``rows[0]``), each
    trained ``seconds`` — a collapse of its own or a diversity ratio 10 % lower are the signs; or why there is none
    (one row: skipped at this ``scale``; ``scored`` false: no quality metrics)."""
    low, top = rows[0], rows[-1]
    if len(rows) == 1:
        return (f"skipped at {scale} scale: the 32 vs 64 px comparison trains a second UNet at 64 px, "
                "which needs a GPU (it runs at gpu scale, and at gpu-shapes with a tiny budget)")
    if not scored:
        return "no quality metrics (too few real images): only the loss curves above compare the two"
    signs = [f"it collapsed ({top['collapse']})"] if top["collapsed"] and not low["collapsed"] else []
    if top["diversity_ratio"] is not None and top["diversity_ratio"] < 0.9 * low["diversity_ratio"]:
        signs.append(f"its diversity ratio is {1 - top['diversity_ratio'] / low['diversity_ratio']:.0%} lower")
    return (f"{top['run']} vs {low['run']}, {seconds} s each ({top['steps']:,} vs {low['steps']:,} steps): "
            f"{verdict(top, low)}; diversity ratio {top['diversity_ratio']:.2f} vs {low['diversity_ratio']:.2f}; "
            f"collapse: {top['collapse']} / {low['collapse']} → " + (
                "higher resolution was less stable here: " + "; ".join(signs) if signs else
                "no sign here that the higher resolution is less stable (no collapse of its own, "
                "diversity ratio not 10 % lower)"))


def ema_warmup_verdict(rows: list[dict], *, decay: float, steps: int, sampler: str, real_saturated: float,
                       scored: bool) -> list[str]:
    """Notebook 06's verdict on the weight average without warm-up: the share of the untrained network it still
    holds (``decay ** steps``), the saturated pixels of each model, and — ``scored`` — the FD comparisons. ``rows``:
    [undertrained raw,] raw, average with warm-up, average without, each with ``run``, ``saturated`` and ``fd``."""
    raw, warm, cold = rows[-3:]
    share = decay ** steps
    lines = [f"after {steps:,} steps the average without warm-up still holds {share:.2%} of the untrained network "
             f"(decay {decay}^{steps:,}); {sampler} with the same noise: saturated pixels {cold['saturated']:.1%} "
             f"without warm-up, {warm['saturated']:.1%} with it, {raw['saturated']:.1%} raw, {real_saturated:.1%} in "
             "the real images"]
    if not scored:
        return lines
    best = min(raw, warm, key=lambda r: r["fd"])
    lines += [verdict(warm, raw), verdict(cold, warm)]
    lines.append(f"→ the average without warm-up scored {cold['fd'] / best['fd']:.2f}× the FD of the {best['run']}: " + (
        "it carried enough of the untrained network to spoil deterministic sampling" if cold["fd"] > 1.2 * best["fd"] else
        f"no clear harm at this length — its untrained share ({share:.2%}) is too small to matter; the effect shows "
        "when decay^steps is a few per cent (0.999 over a few thousand steps)" if share < 0.01 else
        f"no clear harm here although it holds {share:.0%} of the untrained network: this short run's weights have "
        "not yet moved far from the untrained ones"))
    if len(rows) == 4:
        lines.append(verdict(raw, rows[0]) + " (trained vs undertrained, raw weights)")
    return lines


def print_bullets(lines: list[str]) -> None:
    """Print each line of a verdict as a bullet: ``• <line>``."""
    for line in lines:
        print("•", line)

"""What the comparisons say: the sentences a notebook prints under its tables, from its own numbers,
whichever way they fall (the two-row :func:`~cocogoat_utils.experiment.verdict` is the building block).

- Rankings and trends: :func:`ranking_verdict` (lowest FD first), :func:`trend_verdict` (does FD fall as a
  setting grows?), :func:`claim_count` (on how many counts a claim holds), :func:`race_to_fd` (time to a
  common FD), :func:`band_verdict` (the healthy loss band), :func:`score_text`, :func:`collapsed_levels`
  (03, 04).
- 05: :func:`pair_verdict` (the shipped pair trained with one recipe), :func:`lstm_verdict`.
- 06: :func:`sampler_lines` (DDIM against DDPM), :func:`resolution_verdict` (32 vs 64 px stability),
  :func:`ema_warmup_verdict` (the weight average without warm-up).
- :func:`print_bullets` prints a verdict's lines as bullets.
"""

from __future__ import annotations

from .experiment import verdict


def score_text(metrics: dict | None) -> str:
    """``"FD 41.2, diversity 0.83"`` from a level's or a run's scores, or ``"no metric"`` without them."""
    return f"FD {metrics['fd']:.1f}, diversity {metrics['diversity_ratio']:.2f}" if metrics else "no metric"


def collapsed_levels(rows: list[dict]) -> dict[str, list[int]]:
    """Print, for each run, whether the judge found it collapsed (or unlike the data) at the end of every level
    (``rows``: :func:`level_rows`); returns run → the resolutions where it had not learned."""
    print("the judge at the end of each level (collapsed: most samples near-duplicates, or unlike the data):")
    collapses = {}
    for label in dict.fromkeys(r["run"] for r in rows):
        mine = [r for r in rows if r["run"] == label and r["collapsed"] is not None]
        collapses[label] = [r["resolution"] for r in mine if r["collapsed"]]
        where = ", ".join(f"{size}px" for size in collapses[label])
        print(f"  {label:<30} " + "  ".join(f"{r['resolution']}px FD {r['fd']:.1f}" for r in mine)
              + (f"   collapsed at {where}" if where else "   no collapse at any level"))
    return collapses


def ranking_verdict(rows: list[dict], *, how: str = "by FD at equal time") -> str:
    """``"by FD at equal time: a 40.1 < b 52.3 → a did best here"`` over the rows with an FD (lowest first)."""
    ranked = sorted((r for r in rows if r["fd"] is not None), key=lambda r: r["fd"])
    if not ranked:
        return "no FD to compare"
    order = " < ".join(f"{r['run']} {r['fd']:.1f}" for r in ranked)
    return f"{how}: {order} → {ranked[0]['run']} did best here"


def trend_verdict(rows: list[dict], key: str, *, claim: str, prefix: str) -> str:
    """Whether FD falls as ``key`` grows over ``rows`` (in the order given): ``"<prefix>, FD by <key>: 4 → 51.0, …;
    lowest at <key> 16: '<claim>' holds here"`` (or ``does not hold``)."""
    scored = [r for r in rows if r["fd"] is not None]
    if not scored:
        return "no FD to compare"
    holds = all(a["fd"] > b["fd"] for a, b in zip(scored, scored[1:]))
    best = min(scored, key=lambda r: r["fd"])[key]
    what = key.replace("_", " ")
    return (f"{prefix}, FD by {what}: " + ", ".join(f"{r[key]} → {r['fd']:.1f}" for r in scored)
            + f"; lowest at {what.split()[0]} {best}: '{claim}' {'holds' if holds else 'does not hold'} here")


def race_to_fd(curves: dict[str, list[tuple[float, int, float]]], size: int) -> tuple[dict, str]:
    """Time to a common FD: ``curves`` maps a run to its ``(seconds, images, fd)`` evaluations; the target is the
    worse of the runs' best FDs (every run reaches it). Returns ``({"fd": target, run: {"seconds", "images"}, …},
    the verdict line naming the run that got there first)``."""
    target = max(min(fd for *_, fd in curve) for curve in curves.values())
    reached = {name: next({"seconds": round(s, 1), "images": i} for s, i, fd in curve if fd <= target)
               for name, curve in curves.items()}
    faster = min(reached, key=lambda name: reached[name]["seconds"])
    times = ", ".join(f"{name} {r['seconds']} s ({r['images']:,} images)" for name, r in reached.items())
    return {"fd": target, **reached}, f"time to FD ≤ {target:.1f} at {size}px: {times} → {faster} got there first"


def claim_count(verdicts: list[str], winner: str, claim: str) -> str:
    """How many of the ``verdicts`` that name a winner (``"→ <run> …"``) name ``winner``: ``"<claim> holds here on
    2 of 3 counts"``, or that the claim cannot be judged without them."""
    counts = [v for v in verdicts if "→" in v]
    if not counts:
        return "no scores: the claim cannot be judged here"
    return f"{claim} holds here on {sum(f'→ {winner}' in v for v in counts)} of {len(counts)} counts"


def band_verdict(name: str, shares: dict[str, float], bands: dict[str, tuple[float, float]], *,
                 at_least: float = 0.8) -> str:
    """Whether a run stayed in the author's healthy loss bands: ``shares`` (key → the share of steps inside
    ``bands[key]``, e.g. ``metrics.healthy_shares``) all at least ``at_least``."""
    inside = ", ".join(f"{key.split('_')[0].upper()} loss inside {bands[key]} at {shares[key]:.0%} of the steps"
                       for key in bands)
    stays = min(shares.values()) >= at_least
    return (f"{name}, second half of training: {inside} → the run "
            + (f"stays in the author's healthy band (both ≥ {at_least:.0%})" if stays
               else "does not stay in the author's healthy band"))


def pair_verdict(shipped: dict, rows: list[dict], first: str, second: str) -> str:
    """The verdict on two shipped models trained with one recipe and budget (``shipped``: name → the loaded model
    or ``None``; ``rows``: :func:`shipped_beside`'s rows), or why there is none."""
    found = {r["model"]: {**r, "run": r["model"]} for r in rows}
    if shipped.get(first) and shipped.get(second) and "fd" in found.get(f"shipped {first}", {}):
        budgets = "; ".join(f"{n}: {s.record['wall_minutes']:g} min, {s.record['steps']:,} steps"
                            for n, s in shipped.items())
        return (f"shipped, same recipe and budget ({budgets}): "
                + verdict(found[f"shipped {first}"], found[f"shipped {second}"]))
    missing = [n for n in (first, second) if not shipped.get(n)]
    return "no verdict on the shipped pair: " + (f"{', '.join(missing)} not loaded" if missing else "no scores")


def lstm_verdict(rows: list[dict], inpainting: dict[str, dict], shipped_rows: list[dict], shipped_text: str) -> list[str]:
    """Notebook 05's verdict: per size, the LSTM and two-stage generators against the parameter-matched DCGAN
    (``rows``: ``train_for`` rows with ``size``, ``model`` and ``samples_per_second``); the inpainters ranked by
    L1; the shipped pair (``shipped_text``); and an overall count of the FD duels the LSTM generator won."""
    lines, duels = [], []
    for size in dict.fromkeys(r["size"] for r in rows):
        by = {r["model"]: r for r in rows if r["size"] == size}
        base = by["dcgan"]
        for kind in ("lstm", "two-stage"):
            r = by[kind]
            lines.append(f"{size}px live, equal time and parameters: {verdict(r, base)}; "
                         f"{r['steps'] / max(base['steps'], 1):.2f}× the steps, draws "
                         f"{r['samples_per_second'] / base['samples_per_second']:.2f}× as fast; "
                         f"collapse: {kind} {r['collapse'] or '—'}, dcgan {base['collapse'] or '—'}")
        if by["lstm"]["fd"] is not None:
            duels.append((f"{size}px live", by["lstm"]["fd"] < base["fd"]))
    ranked = sorted(inpainting, key=lambda m: inpainting[m]["l1"])
    lines.append("Recomposition at equal parameters and time: " + "; ".join(
        f"{m} L1 {inpainting[m]['l1']:.4f} / PSNR {inpainting[m]['psnr']:.2f} dB after {inpainting[m]['steps']} steps"
        for m in ranked) + f" → the {ranked[0]} inpainter filled the hole closest to the truth here, the LSTM ranked "
        f"{ranked.index('lstm') + 1} of {len(ranked)}.")
    lines.append(shipped_text)
    found = {r["model"]: r for r in shipped_rows}
    if "fd" in found.get("shipped lstm", {}) and "fd" in found.get("shipped lstm-baseline", {}):
        duels.append(("shipped", found["shipped lstm"]["fd"] < found["shipped lstm-baseline"]["fd"]))
    wins = [name for name, won in duels if won]
    lines.append(f"Overall: the LSTM generator scored a lower FD than the parameter-matched DCGAN in {len(wins)} of "
                 f"{len(duels)} comparisons ("
                 f"{', '.join(f'{n}: ' + ('LSTM' if w else 'DCGAN') for n, w in duels) or 'none scored'})"
                 + ("; the shipped pair, trained far longer with one recipe, weighs most, and there the "
                    + ("LSTM" if dict(duels)["shipped"] else "DCGAN") + " won." if "shipped" in dict(duels) else
                    "; without the shipped pair only the short live runs speak, so this is a verdict on the first "
                    "seconds of training."))
    return lines


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

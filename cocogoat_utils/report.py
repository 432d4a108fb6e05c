"""Collect the ``summary.json`` of every notebook run at one scale into one results table.

``python -m cocogoat_utils.report runs gpu`` reads ``runs/*/gpu/summary.json``, prints the
table and writes ``runs/RESULTS_gpu.md``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SKIP = {"artifacts", "notebook"}


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def results_table(root: str | Path, scale: str) -> str:
    """A markdown section per notebook: every figure its ``<root>/<notebook>/<scale>/summary.json`` reports."""
    root = Path(root)
    lines = [f"# Results at `{scale}` scale", ""]
    summaries = sorted(root.glob(f"*/{scale}/summary.json"))
    if not summaries:
        return "\n".join(lines + ["No summary.json found."])
    for path in summaries:
        summary = json.loads(path.read_text())
        lines += [f"## {summary.get('notebook', path.parent.parent.name)}", "", "| figure | value |", "| --- | --- |"]
        lines += [f"| {k} | {_cell(v)} |" for k, v in summary.items() if k not in SKIP]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0] if argv else "runs")
    scale = argv[1] if len(argv) > 1 else "cpu"
    table = results_table(root, scale)
    print(table)
    if root.is_dir():
        (root / f"RESULTS_{scale}.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Success curves of a group sweep (scripts/group-sweep.py's results.json) as one SVG per
staleness pattern: the learner's evaluated success against updates, one line per method (the
mean over seeds, each seed's curve faint behind it). No dependencies.

    python3 scripts/group-plot.py /tmp/sweep/results.json docs/seed-reproduction
"""
import json
import os
import sys
from collections import defaultdict

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def curve_mean(curves, grid):
    out = []
    for u in grid:
        values = []
        for c in curves:
            before = [v for (x, v) in c if x <= u]
            if before:
                values.append(before[-1])
        out.append(sum(values) / len(values) if values else None)
    return out


def plot(pattern, runs, path):
    w, h, left, top, right, bottom = 720, 420, 60, 30, 190, 50
    pw, ph = w - left - right, h - top - bottom
    max_u = max((c[-1][0] for r in runs for c in [r["evaluations"]] if c), default=1000)
    sx = lambda u: left + pw * u / max_u
    sy = lambda v: top + ph * (1 - v)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{left}" y="18" font-size="14">addrev, {pattern}: the learner\'s evaluated success</text>']
    for v in [0, 0.25, 0.5, 0.75, 0.9, 1.0]:
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{sy(v):.1f}" y2="{sy(v):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 8}" y="{sy(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
    for u in range(0, max_u + 1, max(1, max_u // 5)):
        parts.append(f'<text x="{sx(u):.1f}" y="{top + ph + 18}" text-anchor="middle">{u}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{h - 8}" text-anchor="middle">updates</text>')
    by_method = defaultdict(list)
    for r in runs:
        if r.get("evaluations"):
            by_method[r["method"]].append(r["evaluations"])
    grid = list(range(0, max_u + 1, max(1, max_u // 100)))
    for i, (method, curves) in enumerate(sorted(by_method.items())):
        colour = COLOURS[i % len(COLOURS)]
        # Past ten methods the colours repeat, dashed.
        dash = ' stroke-dasharray="6 3"' if i >= len(COLOURS) else ""
        for c in curves:
            pts = " ".join(f"{sx(u):.1f},{sy(v):.1f}" for u, v in c)
            parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-opacity="0.25" stroke-width="1"/>')
        mean = curve_mean(curves, grid)
        pts = " ".join(f"{sx(u):.1f},{sy(v):.1f}" for u, v in zip(grid, mean) if v is not None)
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        y = top + 14 + 18 * i
        parts.append(f'<line x1="{left + pw + 12}" x2="{left + pw + 32}" y1="{y - 4}" y2="{y - 4}" stroke="{colour}" stroke-width="2"{dash}/>')
        parts.append(f'<text x="{left + pw + 38}" y="{y}">{method} ({len(curves)})</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    results = json.load(open(sys.argv[1]))
    os.makedirs(sys.argv[2], exist_ok=True)
    by_pattern = defaultdict(list)
    for r in results:
        by_pattern[r["pattern"]].append(r)
    for pattern, runs in by_pattern.items():
        path = os.path.join(sys.argv[2], f"success-{pattern}.svg")
        plot(pattern, runs, path)
        print(path)


if __name__ == "__main__":
    main()

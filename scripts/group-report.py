#!/usr/bin/env python3
"""Tables of a group sweep (scripts/group-sweep.py's results.json), aggregated over seeds: per
staleness pattern and method, the final evaluated success as mean ± standard error, the area
under the success curve (the mean of all evaluations, in [0, 1]), the seeds that reached 90 % and
the median update at which they did, the collapses, the mean masked and clipped fractions
(clipped: PPO-style clipping of the ratio; "–" for runs recorded before the sweep kept it), the
mean |log ratio| and the final token entropy.
Markdown on stdout.

    python3 scripts/group-report.py Benchmarks/seed/sweep.json
"""
import json
import math
import statistics
import sys
from collections import defaultdict


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    results = json.load(open(sys.argv[1]))
    cells = defaultdict(list)
    patterns, methods = [], []
    for r in results:
        if "final" not in r:
            continue
        cells[(r["pattern"], r["method"])].append(r)
        if r["pattern"] not in patterns:
            patterns.append(r["pattern"])
        if r["method"] not in methods:
            methods.append(r["method"])
    for pattern in patterns:
        rows = [(m, cells[(pattern, m)]) for m in methods if cells[(pattern, m)]]
        lag = statistics.mean(x["lag_mean"] for _, runs in rows for x in runs)
        print(f"\n**{pattern}** (mean version lag {lag:.1f})\n")
        print("| method | final success (mean ± s.e.) | curve area | reached 90 % | updates to 90 % (median) | collapsed | masked | clipped | mean \\|log π/μ\\| | entropy (final, nats) |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for method, runs in rows:
            finals = [x["final"] for x in runs]
            se = statistics.stdev(finals) / math.sqrt(len(finals)) if len(finals) > 1 else 0
            hits = [x["updates_to_90"] for x in runs if x["updates_to_90"] is not None]
            med = f"{statistics.median(hits):.0f}" if hits else "–"
            collapsed = sum(1 for x in runs if x["collapsed"])
            masked = statistics.mean(x["masked_fraction"] for x in runs)
            lr = statistics.mean(x["mean_abs_log_ratio"] for x in runs)
            area = statistics.mean(statistics.mean(v for _, v in x["evaluations"]) for x in runs)
            clips = [x["clipped_fraction"] for x in runs if "clipped_fraction" in x]
            clipped = f"{100 * statistics.mean(clips):.2f} %" if len(clips) == len(runs) else "–"
            entropy = statistics.mean(x["entropy_final"] for x in runs)
            print(f"| {method} | {statistics.mean(finals):.3f} ± {se:.3f} | {area:.3f} | {len(hits)}/{len(runs)} | {med} | {collapsed}/{len(runs)} | "
                  f"{100 * masked:.2f} % | {clipped} | {lr:.3f} | {entropy:.3f} |")


if __name__ == "__main__":
    main()

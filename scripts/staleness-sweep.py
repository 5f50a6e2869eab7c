#!/usr/bin/env python3
"""Staleness sweep: an environment (CartPole-v1 by default) for every correction x injected lag
x seed, then a report.

Each run is `tributary demo --json` (a learner and 2 rollout workers, real processes) with
`--eta 0` (synchronous admission, so the natural lag is ~1 version) and `--inject-lag L`
(workers act with weights L versions old), under a wall-clock budget. The demo's summary and
the run's metrics.jsonl give: solved or not, wall time and env steps to mean-100 >= 475, the
final mean return, the observed version lag, and what the correction did (fraction clipped /
truncated / masked, effective sample size, mean |log ratio| behaviour vs learner).

Writes (by default):
  Benchmarks/staleness/results.jsonl   one JSON line per run (appended; --fresh starts over)
  docs/staleness/*.svg                 plots against lag, one line per correction
  docs/staleness-results.md            the table (medians over seeds) and the plots' links

Python standard library only (the plots are hand-written SVG), so CI can run the smoke
version (`--smoke`: 1 seed, lags 0 and 8, a short budget) with nothing installed.

Usage: scripts/staleness-sweep.py [--bin-dir .build/release] [--seeds 3] [--budget 25] [--smoke]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CORRECTIONS = ["vtrace", "ppo", "tis-ppo", "decoupled-ppo", "appo"]
LAGS = [0, 2, 4, 8, 16, 32]
COLORS = {"vtrace": "#1f77b4", "ppo": "#ff7f0e", "tis-ppo": "#2ca02c", "decoupled-ppo": "#d62728", "appo": "#9467bd"}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_one(bin_dir, env, correction, lag, seed, budget, extra):
    cmd = [os.path.join(bin_dir, "tributary"), "demo", "--json", "--ephemeral-ports", "--env", env, "--seed", str(seed), "--seconds", str(budget),
           "--learner-arg=--correction=" + correction, "--learner-arg=--inject-lag=" + str(lag),
           "--learner-arg=--eta=0"] + ["--learner-arg=" + a for a in extra]
    started = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=budget + 60, cwd=ROOT)
    summary = None
    for line in proc.stdout.splitlines():
        if line.startswith("{") and '"demo_summary"' in line:
            summary = json.loads(line)
    if summary is None:
        raise RuntimeError(f"{' '.join(cmd)} printed no summary (exit {proc.returncode}): {proc.stderr[-800:]}")
    row = {"env": env, "correction": correction, "lag": lag, "seed": seed, "budget_s": budget, "solved": summary["solved"],
           "solve_wall_s": summary.get("solve_wall_s"), "solve_steps": summary.get("solve_steps"),
           "final_return": summary["mean_return_100"], "env_steps": summary["env_steps"], "updates": summary["updates"],
           "lag_mean_observed": summary["lag_mean"], "lag_max_observed": summary["lag_max"],
           "run_wall_s": time.time() - started}
    # What the correction did, averaged over the run's metrics lines.
    metrics = []
    run_dir = summary.get("run_directory")
    if run_dir and os.path.exists(os.path.join(run_dir, "metrics.jsonl")):
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            metrics = [json.loads(l) for l in f if l.strip()]
    for key in ["clipped_fraction", "truncated_fraction", "masked_fraction", "ess", "mean_abs_log_ratio", "lag_mean"]:
        values = [m[key] for m in metrics if isinstance(m.get(key), (int, float))]
        row[key] = statistics.fmean(values) if values else None
    return row


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def aggregate(rows):
    """Medians over seeds per (correction, lag); unsolved runs count as the budget (steps: None)."""
    out = {}
    for r in rows:
        out.setdefault((r["correction"], r["lag"]), []).append(r)
    table = {}
    for key, group in out.items():
        table[key] = {
            "runs": len(group),
            "solved": sum(1 for r in group if r["solved"]),
            "solve_wall_s": median_or_none([r["solve_wall_s"] if r["solved"] else r["budget_s"] for r in group]),
            "solve_steps": median_or_none([r["solve_steps"] if r["solved"] else None for r in group]),
            "final_return": median_or_none([r["final_return"] for r in group]),
            "lag": median_or_none([r.get("lag_mean") for r in group]),
            "clipped": median_or_none([r.get("clipped_fraction") for r in group]),
            "truncated": median_or_none([r.get("truncated_fraction") for r in group]),
            "masked": median_or_none([r.get("masked_fraction") for r in group]),
            "ess": median_or_none([r.get("ess") for r in group]),
            "log_ratio": median_or_none([r.get("mean_abs_log_ratio") for r in group]),
        }
    return table


def svg_chart(path, title, ylabel, series, lags, ymin=None, ymax=None, note=""):
    """A line chart: x = lag (evenly spaced categories), one line per correction."""
    w, h, left, right, top, bottom = 640, 400, 70, 150, 40, 60
    pw, ph = w - left - right, h - top - bottom
    ys = [y for pts in series.values() for _, y in pts if y is not None]
    lo = ymin if ymin is not None else (min(ys) if ys else 0)
    hi = ymax if ymax is not None else (max(ys) if ys else 1)
    if hi - lo < 1e-12:
        hi = lo + 1
    pad = 0.05 * (hi - lo)
    lo2, hi2 = (lo if ymin is not None else lo - pad), (hi if ymax is not None else hi + pad)
    def x_of(lag):
        i = lags.index(lag)
        return left + (pw * i / max(1, len(lags) - 1))
    def y_of(v):
        return top + ph - ph * (v - lo2) / (hi2 - lo2)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{left + pw / 2}" y="22" text-anchor="middle" font-size="15">{title}</text>',
             f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="black"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="black"/>']
    for k in range(6):
        v = lo2 + (hi2 - lo2) * k / 5
        y = y_of(v)
        label = f"{v:.3g}" if abs(v) < 1e5 else f"{v:.2e}"
        parts.append(f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    for lag in lags:
        x = x_of(lag)
        parts.append(f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 5}" stroke="black"/>')
        parts.append(f'<text x="{x:.1f}" y="{top + ph + 20}" text-anchor="middle">{lag}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{h - 15}" text-anchor="middle">injected lag (versions)</text>')
    parts.append(f'<text x="18" y="{top + ph / 2}" text-anchor="middle" transform="rotate(-90 18 {top + ph / 2})">{ylabel}</text>')
    for i, (name, pts) in enumerate(series.items()):
        color = COLORS.get(name, "#333")
        pts = [(x, y) for x, y in pts if y is not None]
        if pts:
            d = " ".join(f"{'M' if j == 0 else 'L'}{x_of(x):.1f},{y_of(y):.1f}" for j, (x, y) in enumerate(pts))
            parts.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2"/>')
            for x, y in pts:
                parts.append(f'<circle cx="{x_of(x):.1f}" cy="{y_of(y):.1f}" r="3.5" fill="{color}"/>')
        ly = top + 10 + 20 * i
        parts.append(f'<line x1="{left + pw + 15}" y1="{ly}" x2="{left + pw + 40}" y2="{ly}" stroke="{color}" stroke-width="3"/>')
        parts.append(f'<text x="{left + pw + 45}" y="{ly + 4}">{name}</text>')
    for k, line in enumerate(note.split("|") if note else []):
        parts.append(f'<text x="{left + pw + 15}" y="{top + 20 + 20 * len(series) + 13 * k}" font-size="10" fill="#555">{line}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def report(rows, md_path, plot_dir, lags, corrections, command):
    table = aggregate(rows)
    os.makedirs(plot_dir, exist_ok=True)
    rel = os.path.relpath(plot_dir, os.path.dirname(md_path))
    def series(field):
        return {c: [(l, table[(c, l)][field]) for l in lags if (c, l) in table] for c in corrections}
    budget = max(r["budget_s"] for r in rows)
    svg_chart(os.path.join(plot_dir, "final_return.svg"), "Mean return of the last 100 episodes when the run stopped", "return",
              series("final_return"), lags, None, None, note="runs stop at the target|or at the budget")
    svg_chart(os.path.join(plot_dir, "time_to_solve.svg"), f"Wall time to the target (unsolved = budget {budget} s)", "seconds",
              series("solve_wall_s"), lags, 0, None)
    svg_chart(os.path.join(plot_dir, "steps_to_solve.svg"), "Env steps to the target (solved runs)", "env steps", series("solve_steps"), lags, 0, None)
    svg_chart(os.path.join(plot_dir, "clipped_fraction.svg"), "Fraction of samples clipped or truncated", "fraction",
              {c: [(l, v if v is not None else None) for l, v in pts] for c, pts in
               {c: [(l, max(x for x in [table[(c, l)]["clipped"] or 0, table[(c, l)]["truncated"] or 0, table[(c, l)]["masked"] or 0]))
                    for l in lags if (c, l) in table] for c in corrections}.items()}, lags, 0, 1,
              note="the largest of|clipped, truncated|and masked")
    svg_chart(os.path.join(plot_dir, "ess.svg"), "Effective sample size of the importance weights (fraction)", "ESS / n", series("ess"), lags, 0, 1)
    svg_chart(os.path.join(plot_dir, "log_ratio.svg"), "Mean |log π_behaviour − log π_learner|", "nats", series("log_ratio"), lags, 0, None)

    lines = [f"<!-- Written by scripts/staleness-sweep.py; command: {command} -->", "",
             f"Runs: {len(rows)} ({len({r['seed'] for r in rows})} seeds), budget {budget} s each. Medians over seeds; "
             "an unsolved run counts as the budget in the time column and is left out of the steps column.", "",
             "| correction | injected lag | observed lag (mean) | solved | wall s to target | env steps to target | final return | clipped | truncated | masked | ESS | mean abs log ratio |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    def fmt(v, spec):
        return "–" if v is None else format(v, spec)
    for c in corrections:
        for l in lags:
            t = table.get((c, l))
            if not t:
                continue
            lines.append(f"| {c} | {l} | {fmt(t['lag'], '.1f')} | {t['solved']}/{t['runs']} | {fmt(t['solve_wall_s'], '.1f')} | "
                         f"{fmt(t['solve_steps'], ',.0f')} | {fmt(t['final_return'], '.0f')} | {fmt(t['clipped'], '.3f')} | "
                         f"{fmt(t['truncated'], '.3f')} | {fmt(t['masked'], '.3f')} | {fmt(t['ess'], '.3f')} | {fmt(t['log_ratio'], '.3f')} |")
    lines += ["", f"![final return]({rel}/final_return.svg) ![time to solve]({rel}/time_to_solve.svg)",
              f"![steps to solve]({rel}/steps_to_solve.svg) ![clipped]({rel}/clipped_fraction.svg)",
              f"![ESS]({rel}/ess.svg) ![log ratio]({rel}/log_ratio.svg)", ""]
    with open(md_path, "w") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", default=os.path.join(ROOT, ".build", "release"))
    ap.add_argument("--env", default="CartPole-v1", help="environment (its demo target return is the goal)")
    ap.add_argument("--corrections", default=",".join(CORRECTIONS))
    ap.add_argument("--lags", default=",".join(map(str, LAGS)))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=25, help="seconds per run")
    ap.add_argument("--smoke", action="store_true", help="1 seed, lags 0 and 8, 6 s budget (CI)")
    ap.add_argument("--out-dir", default=ROOT, help="where results/, docs/ paths are rooted")
    ap.add_argument("--fresh", action="store_true", help="discard earlier results")
    ap.add_argument("--learner-arg", action="append", default=[], help="more learner flags for every run")
    args = ap.parse_args()
    if args.smoke:
        args.seeds, args.lags, args.budget = 1, "0,8", 6
    corrections = args.corrections.split(",")
    lags = [int(x) for x in args.lags.split(",")]
    suffix = "" if args.env == "CartPole-v1" else "-" + args.env
    data = os.path.join(args.out_dir, "Benchmarks", "staleness", f"results{suffix}.jsonl")
    md = os.path.join(args.out_dir, "docs", f"staleness-results{suffix}.md")
    plots = os.path.join(args.out_dir, "docs", f"staleness{suffix}")
    os.makedirs(os.path.dirname(data), exist_ok=True)
    os.makedirs(os.path.dirname(md), exist_ok=True)
    if args.fresh and os.path.exists(data):
        os.remove(data)
    command = "scripts/staleness-sweep.py " + " ".join(sys.argv[1:])
    rows = []
    if os.path.exists(data):
        with open(data) as f:
            rows = [json.loads(l) for l in f if l.strip()]
    rows = [r for r in rows if r.get("env", "CartPole-v1") == args.env]
    done = {(r["correction"], r["lag"], r["seed"]) for r in rows}
    total = len(corrections) * len(lags) * args.seeds
    started = time.time()
    for seed in range(1, args.seeds + 1):
        for lag in lags:
            for c in corrections:
                if (c, lag, seed) in done:
                    continue
                row = run_one(args.bin_dir, args.env, c, lag, seed, args.budget, args.learner_arg)
                rows.append(row)
                with open(data, "a") as f:
                    f.write(json.dumps(row, sort_keys=True) + "\n")
                print(f"[{len(rows)}/{total} {time.time() - started:.0f}s] {c} lag {lag} seed {seed}: "
                      f"{'solved in %.1f s' % row['solve_wall_s'] if row['solved'] else 'not solved'}, "
                      f"final {row['final_return']:.0f}, observed lag {row['lag_mean_observed']:.1f}", flush=True)
    rows = [r for r in rows if r["correction"] in corrections and r["lag"] in lags and r["seed"] <= args.seeds]
    report(rows, md, plots, lags, corrections, command)
    print(f"wrote {md} and {plots}/*.svg from {len(rows)} runs")


if __name__ == "__main__":
    main()

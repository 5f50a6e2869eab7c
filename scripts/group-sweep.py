#!/usr/bin/env python3
"""Runs group-relative methods on a sequence task under the seed paper's staleness patterns and
tabulates what happened (docs/group-methods.md).

Each cell is one learner process with in-process workers (`learner --local-workers 2`) for a
fixed number of updates. From the run's metrics.jsonl it reports the final success (the mean
return of the last 100 answers, averaged over the last 5 % of updates), the first update at which
success reached 90 %, the best success, whether the run collapsed (success fell below half its
best and stayed there for the last 200 updates, with the entropy below 0.05 nats), the mean
version lag, and the mean masked fraction and mean |log ratio| of the whole run.

    python3 scripts/group-sweep.py --methods grpo,reinforce --patterns on-policy,lag10 --seeds 1,2 \\
        --updates 600 --out /tmp/sweep

Patterns: on-policy (--eta 0), lagN (--eta 0 --sync-offset N), syncN (--eta 0 --sync-interval N).
Binaries: --bin-dir (default .build/release).
"""
import argparse
import json
import os
import subprocess
import sys
import time


def pattern_flags(p):
    if p == "on-policy":
        return ["--eta", "0"]
    if p.startswith("lag"):
        return ["--eta", "0", "--sync-offset", p[3:]]
    if p.startswith("sync"):
        return ["--eta", "0", "--sync-interval", p[4:]]
    sys.exit(f"unknown pattern {p}")


def summarise(metrics_path):
    rows = [json.loads(l) for l in open(metrics_path) if l.strip()]
    rows = [r for r in rows if r.get("episodic_return_mean100") is not None]
    if not rows:
        return None
    success = [r["episodic_return_mean100"] for r in rows]
    tail = max(1, len(rows) // 20)
    final = sum(success[-tail:]) / tail
    best = max(success)
    to90 = next((r["update"] for r in rows if r["episodic_return_mean100"] >= 0.9), None)
    last = [r for r in rows if r["update"] > rows[-1]["update"] - 200]
    collapsed = best > 0.2 and all(r["episodic_return_mean100"] < best / 2 for r in last) and last[-1]["entropy"] < 0.05
    mean = lambda k: sum(r.get(k, 0) for r in rows) / len(rows)
    return {"final": round(final, 3), "best": round(best, 3), "updates_to_90": to90, "collapsed": collapsed,
            "updates": rows[-1]["update"], "lag_mean": round(mean("lag_mean"), 2),
            "masked_fraction": round(mean("masked_fraction"), 4), "mean_abs_log_ratio": round(mean("mean_abs_log_ratio"), 4),
            "entropy_final": round(rows[-1]["entropy"], 4)}


def main():
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--env", default="addrev")
    a.add_argument("--methods", default="grpo,reinforce,rec-oneside-nois,rec-oneside-nois-wide,opmd,asymre")
    a.add_argument("--patterns", default="on-policy,lag10,sync20")
    a.add_argument("--seeds", default="1")
    a.add_argument("--updates", type=int, default=1000)
    a.add_argument("--learner-args", default="", help="extra learner flags, e.g. '--learning-rate 3e-3 --entropy-cost 0.03'")
    a.add_argument("--bin-dir", default=".build/release")
    a.add_argument("--out", default="sweep-out")
    args = a.parse_args()
    os.makedirs(args.out, exist_ok=True)
    results = []
    for method in args.methods.split(","):
        for pattern in args.patterns.split(","):
            for seed in args.seeds.split(","):
                run_id = f"{args.env}__{method}__{pattern}__seed{seed}"
                cmd = [os.path.join(args.bin_dir, "learner"), "--env", args.env, "--preset", method, "--seed", seed,
                       "--local-workers", "2", "--max-updates", str(args.updates), "--runs", args.out, "--run-id", run_id,
                       "--no-progress", "--log-level", "warning", "--no-metrics", "--data-port", "0", "--checkpoint-seconds", "off",
                       "--eval-seconds", "off", "--metrics-every", "5"] + pattern_flags(pattern) + args.learner_args.split()
                started = time.time()
                p = subprocess.run(cmd, capture_output=True, text=True)
                wall = time.time() - started
                if p.returncode != 0:
                    print(f"{run_id}: learner exited {p.returncode}: {p.stderr[-600:]}", file=sys.stderr)
                    continue
                s = summarise(os.path.join(args.out, run_id, "metrics.jsonl")) or {}
                s.update({"method": method, "pattern": pattern, "seed": int(seed), "wall_s": round(wall, 1)})
                results.append(s)
                print(json.dumps(s), flush=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print("\n| method | pattern | seed | final success | updates to 90 % | best | collapsed | lag mean | masked | mean abs log ratio | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['method']} | {r['pattern']} | {r['seed']} | {r.get('final')} | {r.get('updates_to_90') or 'never'} | {r.get('best')} | "
              f"{'yes' if r.get('collapsed') else 'no'} | {r.get('lag_mean')} | {r.get('masked_fraction')} | {r.get('mean_abs_log_ratio')} | {r['wall_s']} |")


if __name__ == "__main__":
    main()

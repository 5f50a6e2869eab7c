#!/usr/bin/env python3
"""Runs group-relative methods on a sequence task under the seed paper's staleness patterns and
tabulates what happened (docs/group-methods.md).

Each cell is one learner process with in-process workers (`learner --local-workers 2`) for a
fixed number of updates. Success is the learner's own policy's: the learner evaluates it every
--eval-seconds on 256 sampled answers to random prompts (checkpoints/evaluations.jsonl). The
table gives the final success (mean of the last 3 evaluations), the first update evaluated at
>= 90 %, the best, whether the run collapsed (success below half its best at every evaluation of
the last 200 updates, with the entropy below 0.05 nats), the behaviour policy's success (the
answers the workers sent, metrics.jsonl; offline it never moves), the mean version lag, and the
mean masked fraction and mean |log ratio| of the whole run.

    python3 scripts/group-sweep.py --methods grpo,reinforce --patterns on-policy,lag10 --seeds 1,2 \\
        --updates 600 --out /tmp/sweep

Patterns: on-policy (--eta 0), lagN (--eta 0 --sync-offset N), syncN (--eta 0 --sync-interval N),
offlineP (train REINFORCE on-policy until P % success, once per seed, then every method starts from
that policy with --init-from and never refreshes the behaviour policy: --offline).
Binaries: --bin-dir (default .build/release).
"""
import argparse
import json
import os
import subprocess
import sys
import time


def pattern_flags(p, base=None):
    if p.startswith("offline"):
        return ["--eta", "0", "--offline", "--init-from", base]
    if p == "on-policy":
        return ["--eta", "0"]
    if p.startswith("lag"):
        return ["--eta", "0", "--sync-offset", p[3:]]
    if p.startswith("sync"):
        return ["--eta", "0", "--sync-interval", p[4:]]
    sys.exit(f"unknown pattern {p}")


def summarise(run_dir):
    """Success is the learner's own policy's, from the periodic evaluations (sampled answers to
    random prompts, checkpoints/evaluations.jsonl); the behaviour policy's (the answers the
    workers sent, metrics.jsonl) is reported beside it: offline, it never moves."""
    rows = [json.loads(l) for l in open(os.path.join(run_dir, "metrics.jsonl")) if l.strip()]
    rows = [r for r in rows if r.get("episodic_return_mean100") is not None]
    path = os.path.join(run_dir, "checkpoints", "evaluations.jsonl")
    evals = [json.loads(l) for l in open(path) if l.strip()] if os.path.exists(path) else []
    if not rows or not evals:
        return None
    success = [e["mean_return"] for e in evals]
    final = sum(success[-3:]) / len(success[-3:])
    best = max(success)
    to90 = next((e["updates"] for e in evals if e["mean_return"] >= 0.9), None)
    last_update = evals[-1]["updates"]
    last = [e for e in evals if e["updates"] > last_update - 200]
    collapsed = best > 0.2 and all(e["mean_return"] < best / 2 for e in last) and rows[-1]["entropy"] < 0.05
    mean = lambda k: sum(r.get(k, 0) for r in rows) / len(rows)
    return {"final": round(final, 3), "best": round(best, 3), "updates_to_90": to90, "collapsed": collapsed,
            "updates": rows[-1]["update"], "behaviour_final": round(rows[-1]["episodic_return_mean100"], 3),
            "lag_mean": round(mean("lag_mean"), 2), "masked_fraction": round(mean("masked_fraction"), 4),
            "clipped_fraction": round(mean("clipped_fraction"), 4),
            "mean_abs_log_ratio": round(mean("mean_abs_log_ratio"), 4), "entropy_final": round(rows[-1]["entropy"], 4),
            "evaluations": [[e["updates"], round(e["mean_return"], 3)] for e in evals]}


def main():
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--env", default="addrev")
    a.add_argument("--methods", default="grpo,reinforce,rec-oneside-nois,rec-oneside-nois-wide,opmd,asymre")
    a.add_argument("--patterns", default="on-policy,lag10,sync20")
    a.add_argument("--seeds", default="1")
    a.add_argument("--updates", type=int, default=1000)
    a.add_argument("--learner-args", default="", help="extra learner flags, e.g. '--learning-rate 3e-3 --entropy-cost 0.03'")
    a.add_argument("--bin-dir", default=".build/release")
    a.add_argument("--eval-seconds", type=float, default=0.5, help="how often the learner's own policy is evaluated (256 answers)")
    a.add_argument("--out", default="sweep-out")
    args = a.parse_args()
    os.makedirs(args.out, exist_ok=True)
    results = []
    bases = {}

    def base_run(pattern, seed):
        """The partly trained policy an offline pattern starts from (REINFORCE to P % success)."""
        key = (pattern, seed)
        if key not in bases:
            run_id = f"{args.env}__base-{pattern}__seed{seed}"
            subprocess.run([os.path.join(args.bin_dir, "learner"), "--env", args.env, "--preset", "reinforce", "--seed", seed,
                            "--local-workers", "2", "--eta", "0", "--target-return", str(int(pattern[7:]) / 100), "--max-updates",
                            str(args.updates), "--runs", args.out, "--run-id", run_id, "--no-progress", "--log-level", "warning",
                            "--no-metrics", "--data-port", "0", "--eval-seconds", "off"] + args.learner_args.split(),
                           check=True, capture_output=True)
            bases[key] = os.path.join(args.out, run_id)
        return bases[key]

    for method in args.methods.split(","):
        for pattern in args.patterns.split(","):
            for seed in args.seeds.split(","):
                run_id = f"{args.env}__{method}__{pattern}__seed{seed}"
                cmd = [os.path.join(args.bin_dir, "learner"), "--env", args.env, "--preset", method, "--seed", seed,
                       "--local-workers", "2", "--max-updates", str(args.updates), "--runs", args.out, "--run-id", run_id,
                       "--no-progress", "--log-level", "warning", "--no-metrics", "--data-port", "0", "--checkpoint-seconds", "off",
                       "--eval-seconds", str(args.eval_seconds), "--eval-episodes", "256", "--metrics-every", "5"] + args.learner_args.split()
                cmd += pattern_flags(pattern, base_run(pattern, seed) if pattern.startswith("offline") else None)
                started = time.time()
                p = subprocess.run(cmd, capture_output=True, text=True)
                wall = time.time() - started
                if p.returncode != 0:
                    print(f"{run_id}: learner exited {p.returncode}: {p.stderr[-600:]}", file=sys.stderr)
                    continue
                s = summarise(os.path.join(args.out, run_id)) or {}
                s.update({"method": method, "pattern": pattern, "seed": int(seed), "wall_s": round(wall, 1)})
                results.append(s)
                print(json.dumps(s), flush=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print("\n| method | pattern | seed | final success | updates to 90 % | best | collapsed | behaviour's success | lag mean | masked | mean abs log ratio | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['method']} | {r['pattern']} | {r['seed']} | {r.get('final')} | {r.get('updates_to_90') or 'never'} | {r.get('best')} | "
              f"{'yes' if r.get('collapsed') else 'no'} | {r.get('behaviour_final')} | {r.get('lag_mean')} | {r.get('masked_fraction')} | "
              f"{r.get('mean_abs_log_ratio')} | {r['wall_s']} |")


if __name__ == "__main__":
    main()

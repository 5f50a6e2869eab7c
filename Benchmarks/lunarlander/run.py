#!/usr/bin/env python3
"""LunarLander-v3 trained by Tributary's learner with Python workers, against Stable-Baselines3's
PPO with the rl-baselines3-zoo hyper-parameters, in one run on one machine (run.sh sets up the
venv and the release build, then calls this).

For each seed, interleaved:
  ours   the release `learner`, told the environment's spaces (it has none of its code), with
         the settings in FLAGS below, and WORKERS `tributary-worker` processes (the Python SDK,
         gymnasium's LunarLander-v3, NUM_ENVS copies each). Wall time = the learner's
         `solved.seconds`: from the learner being ready to the mean return of the last 100
         finished episodes reaching 200. The workers' start-up (Python imports) is inside it.
  sb3    Benchmarks/peers/sb3_lunarlander.py ppo_zoo SEED: from the start of `learn` (set-up
         excluded) to the same mean over the last 100 episodes reaching 200.
Then the rollout speeds: one Python worker against a learner for ~15 s (env steps per second
while streaming, from its summary) and SB3's own `collect_rollouts` (sb3_lunarlander.py rollout),
both 16 copies in one process.

Writes OUT/results.md (the report, also printed), OUT/results.json and OUT/curves.svg (mean
return of the last 100 episodes against wall seconds, every run of both sides).

    python3 Benchmarks/lunarlander/run.py --bin-dir .build-release/release --out /tmp/lunar [--seeds 0 1 2]
"""
import argparse
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ENV = "LunarLander-v3"
TARGET = 200.0
CAP_S = 1800
DECLARATION = ["--observation-shape", "8", "--action-space", "discrete:4", "--max-episode-steps", "1000"]
# Tributary's settings for LunarLander (docs/benchmarks.md, "LunarLander-v3 from Python workers").
FLAGS = ["--correction", "ppo", "--epochs", "4", "--minibatches", "8", "--batch-columns", "32", "--unroll-length", "64",
         "--gamma", "0.999", "--gae-lambda", "0.98", "--learning-rate", "3e-4", "--entropy-cost", "0.01", "--reward-scale", "0.01",
         "--credits", "4", "--eta", "1", "--max-reuse", "2", "--order", "newest-first"]


def ours(args, seed, out):
    run_id = f"lunar-seed{seed}"
    learner = subprocess.Popen([str(args.bin_dir / "learner"), "--env", ENV, *DECLARATION, *FLAGS, "--target-return", str(TARGET),
                                "--seed", str(seed + 1), "--runs", str(out / "runs"), "--run-id", run_id, "--data-port", "0",
                                "--no-metrics", "--log-level", "warning", "--no-progress"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = json.loads(learner.stdout.readline())
    endpoints = ["--data", ready["data"][0], "--weights", ready["weights"][0], "--control", ready["control"][0]]
    workers = [subprocess.Popen([sys.executable, "-m", "tributary_worker.cli", *endpoints, "--env", ENV, "--num-envs", str(args.num_envs),
                                 "--seed", str(1000 * seed + i + 1), "--worker-id", f"py-{i}", "--log-level", "warning"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(args.workers)]
    try:
        out_text, err_text = learner.communicate(timeout=CAP_S)
    except subprocess.TimeoutExpired:
        learner.terminate()
        out_text, err_text = learner.communicate(timeout=60)
    summaries = []
    for w in workers:
        w.terminate()
        w_out, _ = w.communicate(timeout=60)
        lines = [l for l in w_out.splitlines() if l.startswith("{")]
        if lines:
            summaries.append(json.loads(lines[-1]))
    summary = json.loads([l for l in out_text.splitlines() if l.startswith("{")][-1])
    curve = []
    metrics = out / "runs" / run_id / "metrics.jsonl"
    if metrics.exists():
        for line in metrics.read_text().splitlines():
            m = json.loads(line)
            if m.get("episodic_return_mean100") is not None and m.get("episodes", 0) >= 100:
                curve.append((m["time_s"], m["env_steps"], m["episodic_return_mean100"]))
    solved = summary.get("solved")
    status = summary["status"]
    result = {"seed": seed, "reached": solved is not None, "curve": curve,
              "wall_s": solved["seconds"] if solved else None, "steps": solved["steps"] if solved else status.get("steps_received"),
              "updates": solved["updates"] if solved else status.get("updates"),
              "rejected": status.get("rejected", {}), "worker_steps_per_s": [s.get("env_steps_per_second") for s in summaries],
              "lag_mean": status.get("lag_mean")}
    if not solved:
        result["final_mean100"] = status.get("mean_return_100")
        print(err_text[-2000:], file=sys.stderr)
    else:
        result["evaluated"] = evaluate(out / "runs" / run_id, seed)
    return result


def evaluate(run_dir, seed, episodes=100):
    """The run's final policy (tributary_worker.load_policy) on fresh episodes, sampling as the
    workers do: the mean return, as a check that the learner's running mean was not luck."""
    import gymnasium as gym
    import numpy as np
    import tributary_worker as tw

    policy = tw.load_policy(run_dir, seed=seed)
    env = gym.make(ENV)
    returns = []
    for e in range(episodes):
        obs, _ = env.reset(seed=10_000 * (seed + 1) + e)
        total, done = 0.0, False
        while not done:
            obs, r, terminated, truncated, _ = env.step(int(policy.act(obs)))
            total += r
            done = terminated or truncated
        returns.append(total)
    return {"episodes": episodes, "mean": float(np.mean(returns)), "std": float(np.std(returns)), "policy_version": policy.version}


def sb3(args, seed, out):
    curve_file = out / f"sb3-seed{seed}.csv"
    text = subprocess.run([sys.executable, str(ROOT / "Benchmarks/peers/sb3_lunarlander.py"), "ppo_zoo", str(seed), "--curve", str(curve_file)],
                          capture_output=True, text=True, timeout=CAP_S + 300).stdout
    line = [l for l in text.splitlines() if l.startswith("RESULT")][-1]
    fields = dict(re.findall(r"(\w+)=([^\s]+)", line))
    curve = []
    if curve_file.exists():
        for row in curve_file.read_text().splitlines()[1:]:
            s, n, m = row.split(",")
            curve.append((float(s), int(n), float(m)))
    return {"seed": seed, "reached": " REACHED " in line, "wall_s": float(fields["wall_s"]), "steps": int(fields["steps"]),
            "fps": float(fields["fps"]), "torch_threads": int(fields["torch_threads"]), "curve": curve, "line": line}


def worker_speed(args, out):
    """One Python worker streaming for about `seconds`, against a learner training LunarLander."""
    learner = subprocess.Popen([str(args.bin_dir / "learner"), "--env", ENV, *DECLARATION, *FLAGS, "--target-return", "off",
                                "--runs", "", "--data-port", "0", "--no-metrics", "--log-level", "warning", "--no-progress"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready = json.loads(learner.stdout.readline())
    endpoints = ["--data", ready["data"][0], "--weights", ready["weights"][0], "--control", ready["control"][0]]
    worker = subprocess.Popen([sys.executable, "-m", "tributary_worker.cli", *endpoints, "--env", ENV, "--num-envs", "16",
                               "--seed", "7", "--log-level", "warning"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(15)
    worker.terminate()
    w_out, _ = worker.communicate(timeout=60)
    learner.terminate()
    learner.communicate(timeout=60)
    return json.loads([l for l in w_out.splitlines() if l.startswith("{")][-1])


def sb3_rollout():
    text = subprocess.run([sys.executable, str(ROOT / "Benchmarks/peers/sb3_lunarlander.py"), "rollout"], capture_output=True, text=True,
                          timeout=600).stdout
    line = [l for l in text.splitlines() if l.startswith("RESULT")][-1]
    return {k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", line)}


def svg(results, path):
    w, h, left, top, right, bottom = 720, 400, 60, 30, 170, 50
    pw, ph = w - left - right, h - top - bottom
    runs = [("ours", r) for r in results["ours"]] + [("sb3", r) for r in results["sb3"]]
    xmax = max([p[0] for _, r in runs for p in r["curve"]] + [1.0])
    ymin, ymax = -400.0, 300.0
    x = lambda s: left + pw * s / xmax
    y = lambda v: top + ph * (1 - (max(ymin, min(ymax, v)) - ymin) / (ymax - ymin))
    colours = {"ours": "#1f77b4", "sb3": "#d62728"}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{left}" y="18">LunarLander-v3: mean return of the last 100 episodes against wall time</text>']
    for v in range(-400, 301, 100):
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v}</text>')
    parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(TARGET):.1f}" y2="{y(TARGET):.1f}" stroke="#888" stroke-dasharray="4 3"/>')
    step = 10 ** max(0, len(str(int(xmax))) - 1)
    for s in range(0, int(xmax) + 1, step):
        parts.append(f'<text x="{x(s):.1f}" y="{top + ph + 16}" text-anchor="middle">{s}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{h - 10}" text-anchor="middle">seconds</text>')
    for side, r in runs:
        if r["curve"]:
            points = " ".join(f"{x(s):.1f},{y(m):.1f}" for s, _, m in r["curve"])
            parts.append(f'<polyline fill="none" stroke="{colours[side]}" stroke-width="1.5" points="{points}"/>')
    for i, (label, side) in enumerate([("Tributary, Python workers", "ours"), ("SB3 PPO (rl-zoo)", "sb3")]):
        yy = top + 20 + 20 * i
        parts.append(f'<line x1="{left + pw + 12}" x2="{left + pw + 32}" y1="{yy}" y2="{yy}" stroke="{colours[side]}" stroke-width="2"/>'
                     f'<text x="{left + pw + 38}" y="{yy + 4}">{label}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")


def report(args, results):
    def med(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else float("nan")

    lines = [f"LunarLander-v3 to a mean return of {TARGET:.0f} over the last 100 episodes; commit {results['commit']}, "
             f"{results['cpu']}, OPENBLAS_CORETYPE={results['coretype']}, {args.workers} Python workers x {args.num_envs} envs.", "",
             "| seed | Tributary wall s | env steps | SB3 PPO wall s | env steps | wall ratio (ours / SB3) |", "|---|---|---|---|---|---|"]
    for o, s in zip(results["ours"], results["sb3"]):
        ow = f"{o['wall_s']:.1f}" if o["reached"] else f"not reached ({o.get('final_mean100', float('nan')):.0f})"
        sw = f"{s['wall_s']:.1f}" if s["reached"] else f"not reached in {s['wall_s']:.0f}"
        ratio = (f"{o['wall_s'] / s['wall_s']:.2f}" if s["reached"] else f"< {o['wall_s'] / s['wall_s']:.2f}") if o["reached"] else "-"
        lines.append(f"| {o['seed']} | {ow} | {o['steps']:,} | {sw} | {s['steps']:,} | {ratio} |")
    ours_wall = [o["wall_s"] if o["reached"] else float("inf") for o in results["ours"]]
    sb3_reached = [s for s in results["sb3"] if s["reached"]]
    # A seed SB3 did not reach within the zoo's budget counts at the time it ran: a lower bound
    # on its time to the target, so the ratio below is an upper bound.
    sb3_wall = [s["wall_s"] for s in results["sb3"]]
    bound = "" if len(sb3_reached) == len(results["sb3"]) else " at most"
    lines += ["", f"SB3 reached {TARGET:.0f} in {len(sb3_reached)} of {len(results['sb3'])} seeds within the zoo's budget of 1 M steps; "
              f"a seed it did not reach counts at the time its budget took (a lower bound on its time to the target). "
              f"Median wall time: Tributary {med(ours_wall):.1f} s, SB3{' more than' if bound else ''} {med(sb3_wall):.1f} s: "
              f"ratio{bound} {med(ours_wall) / med(sb3_wall):.2f} (goal <= 0.33). Median env steps: Tributary "
              f"{med([o['steps'] for o in results['ours']]):,.0f}, SB3 {med([s['steps'] for s in results['sb3']]):,.0f}."]
    if "rollout" in results:
        ws, sb = results["rollout"]["worker"], results["rollout"]["sb3"]
        lines += ["", f"Rollout speed, 16 envs in one process: a Tributary Python worker {ws['env_steps_per_second']:,.0f} env steps/s "
                  f"(streaming to a learner, {ws['streaming_seconds']:.0f} s), SB3's collect_rollouts {sb['steps_per_s']:,.0f} env steps/s "
                  f"(torch threads {sb['torch_threads']:.0f}): ratio {ws['env_steps_per_second'] / sb['steps_per_s']:.2f}."]
    lines += ["", "Tributary's settings: `learner --env LunarLander-v3 " + " ".join(DECLARATION + FLAGS) + " --target-return 200`."]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin-dir", type=pathlib.Path, default=ROOT / ".build-release/release")
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("/tmp/tributary-lunarlander"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--skip-sb3", action="store_true", help="only Tributary's runs (tuning)")
    p.add_argument("--report-only", action="store_true", help="rewrite OUT/results.md and curves.svg from OUT/results.json")
    p.add_argument("--extra", default="", help="learner flags appended to FLAGS (tuning; a later flag wins)")
    args = p.parse_args()
    FLAGS.extend(args.extra.split())
    if args.report_only:
        results = json.loads((args.out / "results.json").read_text())
        text = report(args, results)
        (args.out / "results.md").write_text(text)
        svg(results, args.out / "curves.svg")
        print(text)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    results = {"commit": commit, "cpu": cpu, "coretype": os.environ.get("OPENBLAS_CORETYPE", "unset"), "flags": FLAGS, "ours": [], "sb3": []}
    for seed in args.seeds:
        o = ours(args, seed, args.out)
        print(f"ours seed {seed}: {'reached' if o['reached'] else 'NOT reached'} wall {o['wall_s']} s, {o['steps']} steps, "
              f"{o['updates']} updates, worker steps/s {o['worker_steps_per_s']}, evaluated {o.get('evaluated')}", flush=True)
        results["ours"].append(o)
        if not args.skip_sb3:
            s = sb3(args, seed, args.out)
            print(f"sb3 seed {seed}: {s['line']}", flush=True)
            results["sb3"].append(s)
    if not args.skip_sb3:
        results["rollout"] = {"worker": worker_speed(args, args.out), "sb3": sb3_rollout()}
        text = report(args, results)
        (args.out / "results.md").write_text(text)
        svg(results, args.out / "curves.svg")
        print(text)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

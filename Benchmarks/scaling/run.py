#!/usr/bin/env python3
"""Staleness at scale: one release learner and N rollout-worker processes (4 environments each)
on this machine, for each worker count and seed, with the learner's default settings unless
--learner-arg says otherwise. Records, per run:

  solved / seconds / steps   the learner's own `solved` record (mean return of the last 100
                             episodes reaching the target, counted from the learner being ready)
  lag p50 / p99 / max / mean of every trained sample (the summary's trained_lag histogram)
  env steps/s, updates/s     over the time to solve (or the whole run when it did not)
  learner / worker RSS       peak (VmHWM) of the learner, and the largest of the workers
  worker µs per env step     the workers' CPU time (user + system, /proc) per env step accepted
  η                          where the lag target left the admission bound, and its moves

With --steady S the learner runs S seconds without a stopping rule and the run also reports the
steady state (steady_*): env steps/s, updates/s and worker µs per env step between the first
progress sample after S/3 and the last, so process start-up and the first weights do not count.

With --fanout (weight fan-out) the learner and every worker run with --trace-versions: the
learner prints when it publishes each policy version, each worker session when it begins acting
with a newer one. For every version published in the steady window (from the moment every
session acts with some version, to 1 s before the first session stops), the fan-out is the time
from its publish until 95 % of the sessions act with it or a newer version; the run reports
its p50 and p99 over those versions (and the versions that never reached 95 %, if any).

With --ceiling (end-to-end ceiling, with --steady) each run is followed, on the same machine, by
`tributary-bench worker-steps` (acting: env steps/s on one core, the run's env, envs per worker,
T 32, the preset's 64x64 network) and `tributary-bench learner-update` (training: samples/s on one
core, T 32, B 16 columns as the preset trains), so the steady rate can be set against
min(acting, training) and against what both allow together on the machine's cores.

With --past-target S the learner runs without a stopping rule; once the mean return first
reaches the target it runs S more seconds and the run reports the fraction of the learner's
per-second progress samples (metrics.jsonl) in that window whose mean is at least --hold.

    python3 Benchmarks/scaling/run.py --bin-dir .build-release/release --out /tmp/scaling \\
        --env CartPole-v1 --workers 1 2 4 8 16 32 64 --seeds 1 2 3

Writes OUT/results.jsonl (one line per run, appended) and prints a Markdown table
(Benchmarks/scaling/report.py turns results.jsonl into docs/scaling.md's tables).
"""
import argparse
import bisect
import json
import math
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

TARGETS = {"CartPole-v1": 475.0, "Acrobot-v1": -100.0, "Pendulum-v1": -200.0}
CLK = os.sysconf("SC_CLK_TCK")


def lag_bucket_range(i):
    """The lags bucket i of a LagHistogram holds, [lo, hi) (docs/protocol.md, LagHistogram)."""
    if i < 64:
        return i, i + 1
    e, s = 6 + (i - 64) // 4, (i - 64) % 4
    width = 1 << (e - 2)
    return (4 + s) * width, (5 + s) * width


def lag_quantile(hist, q):
    counts = hist.get("counts", [])
    total = sum(counts)
    if total == 0:
        return None
    need, seen = q * total, 0
    for i, c in enumerate(counts):
        seen += c
        if seen >= need:
            lo, hi = lag_bucket_range(i)
            return lo if hi == lo + 1 else min(hi - 1, hist.get("max", hi - 1))
    return hist.get("max")


def rss_peak_kib(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK  # utime, stime (fields 14, 15)
    except (OSError, IndexError):
        return None


def quantile(sorted_values, q):
    """The q-quantile of an ascending list by rank (q 0.5: the median; 0.99: the 99th percentile)."""
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def fanout(published, sessions, share=0.95):
    """Weight fan-out: for each version published while every session was acting, the time until
    `share` of the sessions act with it or newer. `published`: {version: unix time};
    `sessions`: per session, its (unix time, version) switches in order."""
    sessions = [s for s in sessions if s]
    if not sessions or not published:
        return None
    need = math.ceil(share * len(sessions))
    begin = max(s[0][0] for s in sessions)
    end = min(s[-1][0] for s in sessions) - 1.0
    # Versions only grow along a session, so the first switch to >= a version is a bisection.
    versions = [[v for _, v in s] for s in sessions]
    delays, censored = [], 0
    for version, t in sorted(published.items()):
        if not begin <= t <= end:
            continue
        reached = []
        for s, vs in zip(sessions, versions):
            i = bisect.bisect_left(vs, version)
            if i < len(s):
                reached.append(s[i][0])
        if len(reached) < need:
            censored += 1
            continue
        reached.sort()
        delays.append(1000 * max(0.0, reached[need - 1] - t))
    if not delays:
        return None
    delays.sort()
    return {"fanout_versions": len(delays), "fanout_censored": censored, "fanout_sessions": len(sessions),
            "fanout_ms_p50": quantile(delays, 0.5), "fanout_ms_p99": quantile(delays, 0.99),
            "fanout_ms_max": delays[-1]}


def bench_median(cmd, key):
    """The median rate of a `tributary-bench` RESULT line (`median X steps/s` or `(X samples/s`)."""
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("RESULT"))
    if key == "steps":
        return float(line.split("median ")[1].split()[0])
    return float(line.split("(")[1].split()[0])


def ceiling(args):
    bench = str(args.bin_dir / "tributary-bench")
    acting = bench_median([bench, "worker-steps", "--env", args.env, "--num-envs", str(args.num_envs), "--unroll", "32",
                           "--steps", "800000", "--repeats", "5"], "steps")
    training = bench_median([bench, "learner-update", "--obs", "4" if args.env == "CartPole-v1" else "6", "--actions",
                             "2" if args.env == "CartPole-v1" else "3", "--T", "32", "--B", "16", "--updates", "3000", "--warmup", "200"],
                            "samples")
    cores = os.cpu_count() or 1
    return {"acting_per_core": acting, "training_per_core": training, "cores": cores,
            "ceiling_min": min(acting, training), "ceiling_together": cores / (1 / acting + 1 / training)}


def run_one(args, workers, seed, out):
    run_id = f"{args.env}-w{workers}-s{seed}-{int(time.time() * 1000) % 100000}"
    trace = ["--trace-versions"] if args.fanout else []
    target = TARGETS[args.env] if args.target is None else args.target
    stop_rule = ["--target-return", "off"] if args.past_target or args.steady else ["--target-return", str(target)]
    learner = subprocess.Popen(
        [str(args.bin_dir / "learner"), "--env", args.env, *stop_rule, "--seed", str(seed), "--runs", str(out / "runs"),
         "--run-id", run_id, "--data-port", "0", "--no-metrics", "--log-level", "warning", "--no-progress",
         "--max-workers", str(max(1024, workers)), "--eval-seconds", "off", *trace, *args.learner_arg],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = json.loads(learner.stdout.readline())
    # The learner's standard output is read as it comes (a traced run prints a line per version:
    # an unread pipe would block it).
    learner_lines = []
    reader = threading.Thread(target=lambda: learner_lines.extend(learner.stdout), daemon=True)
    reader.start()
    trace_files = [out / f"{run_id}-w{i}.jsonl" for i in range(workers)] if args.fanout else []
    endpoints = ["--data", ready["data"][0], "--weights", ready["weights"][0], "--control", ready["control"][0]]
    procs = [subprocess.Popen([str(args.bin_dir / "rollout-worker"), *endpoints, "--env", args.env, "--num-envs", str(args.num_envs),
                               "--seed", str(1000 * seed + i * args.sessions + 1), "--worker-id", f"w{i}", "--log-level", "error",
                               "--sessions", str(args.sessions), *trace, *args.worker_arg],
                              stdout=trace_files[i].open("w") if args.fanout else subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for i in range(workers)]
    started = time.monotonic()
    learner_rss, worker_rss, worker_cpu = 0, 0, {}
    metrics_path = out / "runs" / run_id / "metrics.jsonl"
    solved_at, hold = None, None
    status_ms = []
    cpu_trace = []  # (seconds since the workers started, their CPU seconds so far)
    while learner.poll() is None:
        time.sleep(0.25)
        if args.status_poll:
            # What an operator sees: `tributary status` against the learner under load, timed.
            t0 = time.monotonic()
            polled = subprocess.run([str(args.bin_dir / "tributary"), "status", "--json", "--learner", ready["control"][0],
                                     "--timeout", "5"], capture_output=True, text=True)
            if polled.returncode == 0:
                status_ms.append(1000 * (time.monotonic() - t0))
        learner_rss = max(learner_rss, rss_peak_kib(learner.pid) or 0)
        for p in procs:
            worker_rss = max(worker_rss, rss_peak_kib(p.pid) or 0)
            c = cpu_seconds(p.pid)
            if c is not None:
                worker_cpu[p.pid] = c
        elapsed = time.monotonic() - started
        cpu_trace.append((elapsed, sum(worker_cpu.values())))
        if args.steady and elapsed > args.steady:
            learner.send_signal(signal.SIGINT)
            break
        if args.past_target:
            samples = read_metrics(metrics_path)
            if solved_at is None:
                solved_at = next((m["time_s"] for m in samples if m.get("episodic_return_mean100", -1e9) >= target), None)
            if solved_at is not None and samples and samples[-1]["time_s"] >= solved_at + args.past_target:
                learner.send_signal(signal.SIGINT)
                break
        if elapsed > args.budget + (args.past_target or 0):
            learner.send_signal(signal.SIGINT)
            break
    try:
        learner.wait(timeout=60)
    except subprocess.TimeoutExpired:
        learner.kill()
        learner.wait()
    reader.join(timeout=10)
    err_text = learner.stderr.read()
    out_text = "".join(learner_lines)
    for p in procs:
        c = cpu_seconds(p.pid)
        if c is not None:
            worker_cpu[p.pid] = c
        p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    lines = [l for l in out_text.splitlines() if l.startswith("{")]
    summary = next((json.loads(l) for l in reversed(lines) if '"event":"summary"' in l), {})
    if summary.get("event") != "summary":
        return {"env": args.env, "workers": workers, "seed": seed, "error": err_text[-2000:]}
    st = summary["status"]
    lag = st.get("trained_lag", {})
    samples = sum(lag.get("counts", []))
    solved = summary.get("solved")
    # protobuf's JSON leaves out zeros
    seconds = solved["seconds"] if solved else st.get("uptime_ms", 0) / 1000
    steps = solved["steps"] if solved else st.get("steps_received", 0)
    updates = solved["updates"] if solved else st.get("updates", 0)
    b = st.get("buffer", {})
    result = {
        "env": args.env, "workers": workers, "sessions": args.sessions, "num_envs": args.num_envs, "seed": seed,
        "learner_args": args.learner_arg,
        "solved": solved is not None, "seconds": seconds, "steps": steps, "updates": updates,
        "steps_per_s": steps / seconds if seconds else 0, "updates_per_s": updates / seconds if seconds else 0,
        "lag_p50": lag_quantile(lag, 0.5), "lag_p99": lag_quantile(lag, 0.99), "lag_max": lag.get("max"),
        "lag_mean": lag.get("sum", 0) / samples if samples else None,
        "learner_rss_mib": learner_rss / 1024, "worker_rss_mib": worker_rss / 1024,
        "worker_us_per_step": 1e6 * sum(worker_cpu.values()) / st["steps_received"] if st.get("steps_received") else None,
        "eta": b.get("admission_eta", b.get("eta")), "lag_target": b.get("lag_target"),
        "eta_moves": [b.get("eta_lowered", 0), b.get("eta_raised", 0)],
        "final_mean_return": st.get("mean_return_100"), "rejected": st.get("rejected", {}),
    }
    acc = st.get("accounting", {})
    result["identity_holds"] = acc.get("received", 0) == acc.get("trained", 0) + sum(acc.get("dropped", {}).values()) + acc.get("buffered", 0)
    if status_ms:
        status_ms.sort()
        result["status_ms_p50"] = quantile(status_ms, 0.5)
        result["status_ms_p99"] = quantile(status_ms, 0.99)
        result["status_polls"] = len(status_ms)
    if args.ceiling:
        result.update(ceiling(args))
    if args.fanout:
        published = {}
        for l in lines:
            if '"event":"published"' in l:
                e = json.loads(l)
                published[e["version"]] = e["unix_time"]
        switches = {}
        for path in trace_files:
            for l in path.read_text().splitlines():
                if '"event":"acting_with"' in l:
                    e = json.loads(l)
                    switches.setdefault(e["incarnation"], []).append((e["unix_time"], e["version"]))
        result.update(fanout(published, list(switches.values())) or {"fanout_versions": 0})
        for path in trace_files:
            path.unlink()
    if args.past_target:
        samples = read_metrics(metrics_path)
        solved_at = next((m["time_s"] for m in samples if m.get("episodic_return_mean100", -1e9) >= target), None)
        window = [m for m in samples if solved_at is not None and solved_at < m["time_s"] <= solved_at + args.past_target]
        held = [m for m in window if m.get("episodic_return_mean100", -1e9) >= args.hold]
        result.update({"past_target_s": args.past_target, "solved": solved_at is not None, "solved_at_s": solved_at,
                       "window_samples": len(window), "held_fraction": len(held) / len(window) if window else None,
                       "window_min_return": min((m["episodic_return_mean100"] for m in window), default=None),
                       "window_min_entropy": min((m["entropy"] for m in window), default=None)})
    if args.steady:
        result["steady"] = args.steady
        # Steady state: from the first progress sample after the warm-up to the last, env steps
        # from the learner's samples and the workers' CPU over the same stretch (start-up excluded).
        samples = [m for m in read_metrics(metrics_path) if "env_steps" in m]
        window = [m for m in samples if args.steady / 3 <= m["time_s"] <= args.steady - 0.5]
        if len(window) >= 2 and cpu_trace:
            def cpu_at(t):
                return min(cpu_trace, key=lambda c: abs(c[0] - t))[1]
            a, b = window[0], window[-1]
            steps = b["env_steps"] - a["env_steps"]
            cpu = cpu_at(b["time_s"]) - cpu_at(a["time_s"])
            result.update({"steady_s": b["time_s"] - a["time_s"], "steady_steps_per_s": steps / (b["time_s"] - a["time_s"]),
                           "steady_updates_per_s": (b["update"] - a["update"]) / (b["time_s"] - a["time_s"]),
                           "steady_worker_us_per_step": 1e6 * cpu / steps if steps else None})
    return result


def read_metrics(path):
    try:
        text = path.read_text()
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # the line being written
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", type=pathlib.Path, default=pathlib.Path(".build-release/release"))
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("/tmp/tributary-scaling"))
    ap.add_argument("--env", default="CartPole-v1", choices=sorted(TARGETS))
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--num-envs", type=int, default=4)
    ap.add_argument("--sessions", type=int, default=1, help="sessions per worker process (rollout-worker --sessions)")
    ap.add_argument("--budget", type=float, default=60, help="seconds before a run counts as not solved")
    ap.add_argument("--target", type=float, help="default: 475 for CartPole-v1, -100 for Acrobot-v1")
    ap.add_argument("--past-target", type=float, help="run this many seconds past the target (stability)")
    ap.add_argument("--steady", type=float, help="run this many seconds without a stopping rule and report the steady-state "
                    "env steps/s and worker CPU per step (the first third is warm-up)")
    ap.add_argument("--hold", type=float, default=450, help="with --past-target: the mean return to hold")
    ap.add_argument("--learner-arg", action="append", default=[], help="an extra learner flag (repeatable), e.g. --learner-arg=--eta=4")
    ap.add_argument("--worker-arg", action="append", default=[])
    ap.add_argument("--tag", default="", help="a label stored with each result")
    ap.add_argument("--status-poll", action="store_true", help="time `tributary status` every 0.25 s during each run")
    ap.add_argument("--ceiling", action="store_true", help="after each run, measure acting and training rates with "
                    "tributary-bench (end-to-end ceiling)")
    ap.add_argument("--fanout", action="store_true", help="trace versions and report the weight fan-out (time from a "
                    "publish until 95 %% of the worker sessions act with it)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "results.jsonl"
    for seed in args.seeds:  # seeds outermost: a slow drift of the machine hits every count alike
        for workers in args.workers:
            r = run_one(args, workers, seed, args.out)
            r["tag"] = args.tag
            with results.open("a") as f:
                f.write(json.dumps(r) + "\n")
            if "error" in r:
                print(f"{args.env} workers={workers} seed={seed}: ERROR {r['error'][-300:]}", flush=True)
                continue
            extra = f" held {r['held_fraction']:.2f} min {r['window_min_return']}" if args.past_target and r.get("held_fraction") is not None else ""
            if r.get("fanout_versions"):
                extra += f"  fan-out p50 {r['fanout_ms_p50']:.1f} ms p99 {r['fanout_ms_p99']:.1f} ms ({r['fanout_versions']} versions)"
            print(f"{args.env} workers={workers:3d} seed={seed} solved={r['solved']!s:5} {r['seconds']:6.1f} s {r['steps'] / 1e6:5.2f} M steps"
                  f"  lag p50 {r['lag_p50']} p99 {r['lag_p99']} mean {r['lag_mean'] or 0:.1f}  {r['steps_per_s'] / 1e6:.2f} M/s"
                  f"  {r['updates_per_s']:.0f} upd/s  η {r['eta']} {r['eta_moves']}  rss {r['learner_rss_mib']:.0f}/{r['worker_rss_mib']:.0f} MiB"
                  f"  {r['worker_us_per_step'] or 0:.2f} µs/step{extra}", flush=True)


if __name__ == "__main__":
    main()

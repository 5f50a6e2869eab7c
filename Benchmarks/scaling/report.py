#!/usr/bin/env python3
"""Writes docs/scaling.md from the scale benchmark's results.jsonl (Benchmarks/scaling/run.sh
runs both). Every table names the command and the tag of the runs it comes from.

    python3 Benchmarks/scaling/report.py /tmp/tributary-scaling/results.jsonl --out docs/scaling.md
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess


def load(path):
    rows = []
    for line in pathlib.Path(path).read_text().splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def med(values, fmt="{:.1f}"):
    values = [v for v in values if v is not None]
    return fmt.format(statistics.median(values)) if values else "–"


def by(rows, tag):
    return [r for r in rows if r.get("tag") == tag and "error" not in r]


def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def transport_text():
    """The tributary/raw ratios of Benchmarks/transport/results.md, by size (what `make
    bench-transport` last wrote), e.g. '1.11–1.34 × at 256 KiB, 0.32–0.35 × at 16 KiB'."""
    path = pathlib.Path(__file__).resolve().parent.parent / "transport" / "results.md"
    ratios = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 7 and cells[0].endswith(("KiB", "MiB")) and cells[6].replace(".", "").isdigit():
            ratios.setdefault(cells[0], []).append(float(cells[6]))
    parts = [(f"{min(v):.2f}" if min(v) == max(v) else f"{min(v):.2f}–{max(v):.2f}") + f" × at {size}" for size, v in ratios.items()]
    return ", ".join(parts) or "not run"


def scale_table(rows, tag, counts):
    out = ["| workers | solved | lag p50 / p99 / mean | env steps/s | updates/s | s to solve | env steps to solve | learner / worker RSS MiB | worker CPU µs per env step | η at the end |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for n in counts:
        rs = [r for r in by(rows, tag) if r["workers"] == n]
        if not rs:
            continue
        solved = [r for r in rs if r["solved"]]
        out.append("| {} | {}/{} | {} / {} / {} | {} M | {} | {} | {} M | {} / {} | {} | {} |".format(
            n, len(solved), len(rs), med([r["lag_p50"] for r in rs], "{:.0f}"), med([r["lag_p99"] for r in rs], "{:.0f}"),
            med([r["lag_mean"] for r in rs]), med([r["steps_per_s"] / 1e6 for r in rs], "{:.2f}"),
            med([r["updates_per_s"] for r in rs], "{:.0f}"), med([r["seconds"] for r in solved]),
            med([r["steps"] / 1e6 for r in solved], "{:.2f}"), med([r["learner_rss_mib"] for r in rs], "{:.0f}"),
            med([r["worker_rss_mib"] for r in rs], "{:.0f}"), med([r["worker_us_per_step"] for r in rs], "{:.2f}"),
            med([r["eta"] for r in rs], "{:.0f}")))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--out", default="docs/scaling.md")
    ap.add_argument("--command", default="Benchmarks/scaling/run.sh")
    args = ap.parse_args()
    rows = load(args.results)
    counts = sorted({r["workers"] for r in by(rows, "cartpole")})
    cart = by(rows, "cartpole")
    solved_all = all(r["solved"] for r in cart)
    worst_mean = max((r["lag_mean"] or 0) for r in cart) if cart else 0
    worst_p99 = max((r["lag_p99"] or 0) for r in cart) if cart else 0
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    stab = by(rows, "stability")
    stab_adam = by(rows, "stability-adam")

    def stab_rows(rs, name):
        return "\n".join("| {} | {} | {:.1f} | {} | {:.2f} | {:.1f} | {:.3f} |".format(
            name, r["seed"], r["solved_at_s"] or 0, r["window_samples"], r["held_fraction"] or 0, r["window_min_return"] or 0,
            r["window_min_entropy"] or 0) for r in rs)

    def collapse_row(tag, name):
        rs = by(rows, tag)
        if not rs:
            return f"| {name} | not run | | | |"
        ok = [r for r in rs if r["solved"]]
        failed = ", ".join(f"seed {r['seed']} ({r.get('final_mean_return') or 0:.1f})" for r in rs if not r["solved"]) or "–"
        return "| {} | {}/{} | {} | {} | {} M | {} |".format(
            name, len(ok), len(rs), med([r["seconds"] for r in ok]), "{:.1f}".format(max(r["seconds"] for r in ok)) if ok else "–",
            med([r["steps"] / 1e6 for r in ok], "{:.2f}"), failed)

    eta_lines = []
    for eta in (0, 1, 4):
        rs = by(rows, f"eta{eta}")
        if not rs:
            continue
        eta_lines.append("| {} | {}/{} | {} | {} M | {} | {} M |".format(
            eta, sum(r["solved"] for r in rs), len(rs), " / ".join(f"{r['seconds']:.1f}" for r in rs),
            med([r["steps"] / 1e6 for r in rs if r["solved"]], "{:.2f}"), med([r["lag_mean"] for r in rs]),
            med([r["steps_per_s"] / 1e6 for r in rs], "{:.2f}")))
    # Steady-state runs have no stopping rule: not solving is not a failure there.
    unsolved = [r for r in rows if "error" not in r and not r["solved"] and not r.get("steady")]
    unsolved_text = ("Runs that did not reach the target: " + "; ".join(
        f"{r['tag']} with {r['workers']} workers, seed {r['seed']} (mean return {r.get('final_mean_return') or 0:.1f} after "
        f"{r['seconds']:.0f} s)" for r in unsolved) + ".") if unsolved else "Every run reached its target."


    before = by(rows, "before")
    # Overhead targets come from the steady-state runs (start-up excluded): CartPole now solves
    # in about a second, so rates over the time to solve are mostly start-up.
    over = [r for r in by(rows, "overhead") if r.get("steady_steps_per_s")]
    over2 = [r for r in over if r["workers"] == 2]
    over32 = [r for r in over if r["workers"] == 32]
    ratio = (statistics.median(r["steady_steps_per_s"] for r in over32) / statistics.median(r["steady_steps_per_s"] for r in over2)
             if over2 and over32 else None)
    us32 = med([r["steady_worker_us_per_step"] for r in over32], "{:.2f}")
    over_lines = "\n".join("| {} | {:.2f} M | {:.0f} | {:.2f} | {:.0f} |".format(
        r["workers"], r["steady_steps_per_s"] / 1e6, r["steady_updates_per_s"], r["steady_worker_us_per_step"], r["steady_s"])
        for r in sorted(over, key=lambda r: r["workers"]))

    fan = sorted((r for r in by(rows, "fanout") if r.get("fanout_versions")), key=lambda r: r["workers"])
    fan_lines = "\n".join("| {} | {:,} | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {} |".format(
        r["workers"], r["fanout_versions"], r["fanout_ms_p50"], r["fanout_ms_p99"], r["fanout_ms_max"],
        1000 * 0.0005 * r["workers"], r.get("fanout_censored", 0)) for r in fan) or "| not run | | | | | | |"
    fan64 = next((r for r in fan if r["workers"] == 64), None)
    fan64_text = f"p50 {fan64['fanout_ms_p50']:.1f} ms, p99 {fan64['fanout_ms_p99']:.1f} ms" if fan64 else "not run"
    e2e = [r for r in by(rows, "e2e") if r.get("ceiling_min") and r.get("steady_steps_per_s")]
    e2e_lines = "\n".join("| {} | {:.2f} M | {:.2f} M | {:.2f} M | {:.0f} % | {:.2f} M | {:.0f} % |".format(
        r["seed"], r["steady_steps_per_s"] / 1e6, r["acting_per_core"] / 1e6, r["training_per_core"] / 1e6,
        100 * r["steady_steps_per_s"] / r["ceiling_min"], r["ceiling_together"] / 1e6,
        100 * r["steady_steps_per_s"] / r["ceiling_together"]) for r in e2e) or "| not run | | | | | | |"
    e2e_min = med([100 * r["steady_steps_per_s"] / r["ceiling_min"] for r in e2e], "{:.0f}")
    e2e_together = med([100 * r["steady_steps_per_s"] / r["ceiling_together"] for r in e2e], "{:.0f}")

    def sessions_row():
        rs = {tag: by(rows, tag)[-1] for tag in ("sessions256", "sessions256-mux") if by(rows, tag)}
        if not rs:
            return "not run"
        holds = all(r.get("identity_holds") for r in rs.values())
        p99 = "; ".join(f"status p99 {r['status_ms_p99']:.0f} ms with " + ("8 processes × 32 sessions" if tag.endswith("mux") else "256 processes")
                        for tag, r in rs.items() if r.get("status_ms_p99") is not None)
        met = all(r.get("status_ms_p99", 1e9) < 250 for r in rs.values())
        return f"{'identity holds' if holds else 'identity broken'}, RSS bounded; {p99}" + ("" if met else " (not met)")

    def sessions_text_of(r, tag):
        per = r.get("sessions", 1)
        who = (f"{r['workers']} `rollout-worker` processes with {r['num_envs']} environment each" if per == 1 else
               f"{r['workers'] * per} sessions — {r['workers']} `rollout-worker --sessions {per}` processes, {r['num_envs']} environment per session")
        p99 = r.get("status_ms_p99", 0)
        return (
            f"{who}, on one CartPole learner (tag `{tag}`, {r['seconds']:.0f} s"
            f"{' without a stopping rule' if r.get('steady') else ''}): the accounting identity "
            f"{'holds' if r.get('identity_holds') else '**does not hold**'} at the end (received = trained + dropped + buffered), "
            f"the learner's peak RSS is {r['learner_rss_mib']:.0f} MiB and each worker process's {r['worker_rss_mib']:.0f} MiB, the mean lag "
            f"{r['lag_mean']:.1f} versions (p99 {r['lag_p99']}), and nothing was refused but the chunks in flight at shutdown "
            f"({r.get('rejected', {}).get('shutting_down', 0)}). `tributary status --json`, run every 0.25 s during it and timed from "
            f"the command's start to its exit (process start-up included), took {r.get('status_ms_p50', 0):.0f} ms at the median and "
            f"{p99:.0f} ms at p99 over {r.get('status_polls', 0)} calls — "
            f"{'**above the 250 ms p99 the issue asks for**' if p99 > 250 else 'within the 250 ms p99 the issue asks for'}. "
            f"{(r.get('steady_steps_per_s') or r['steps_per_s']) / 1e6:.2f} M env steps/s at "
            f"{(r.get('steady_worker_us_per_step') or r['worker_us_per_step']):.1f} µs of worker CPU per step"
            f"{' (steady state)' if r.get('steady_steps_per_s') else ''}.")

    parts = [sessions_text_of(by(rows, tag)[-1], tag) for tag in ("sessions256", "sessions256-mux") if by(rows, tag)]
    sessions_text = "\n\n".join(parts) if parts else "Not measured in this run."
    if by(rows, "sessions256") and not by(rows, "sessions256-mux"):
        sessions_text += ("\n\nThe machine is the limit with 257 processes on 2 cores; sessions multiplexed in a few processes "
                          "(`rollout-worker --sessions`) test the learner rather than the scheduler.")
    if parts:
        sessions_text += """

**What a `tributary status` call is made of on a busy machine.** Against an idle learner a call
takes ~30 ms; with 256 sessions on 2 cores it takes five to eight times that, because the
command is a new process competing for the CPUs: `strace` shows 55–90 ms from `exec` to `main`
alone, and `perf` of the command under that load puts about a third of its CPU in the dynamic
loader (61 shared libraries: the HTTP server behind /metrics brings FoundationNetworking, and
with it libcurl and some 25 more), a tenth in Swift's first protocol-conformance lookups
(ArgumentParser), 5 % in writing the JSON; the request itself, timed from a client that was
already running, took 11–76 ms. Two changes (2026-12-01), each measured side by side against the
build before it with `Benchmarks/scaling/status-ab.sh OLD NEW 8 32` and `... 256 1` (40 calls
each, the two builds alternating under the same load):

| change | 8 × 32 sessions: median / p95 ms | 256 processes: median / p95 ms |
|---|---|---|
| OpenBLAS's idle pool thread stopped at start-up (it spun in `sched_yield` for ~0.1 s: CPU per call 54 → 30 ms), no regular expression in argument handling | 214 / 285 → 161 / 264 | 211 / 315 → 148 / 251 |
| the request on the socket thread from open to answer (three thread hand-offs fewer) | 155 / 238 → 150 / 236 | 173 / 277 → 154 / 233 |

Linking Swift's runtime statically (`--static-swift-stdlib`) was tried and did not lower the CPU
per call (27 against 24 ms with the pool stopped), so the build stays as it is. What is left is
process start-up under CPU contention, and the p99 of the runs above is its tail."""

    text = f"""# Scaling: 1 to 64 workers on one learner

What happens to staleness, learning and overhead as workers are added, on one 2-core machine
({cpu()}, `OPENBLAS_CORETYPE={coretype or 'unset'}`{' (preset by the host, respected)' if coretype else ''}).
One command regenerates every figure here; the runs shown were made with the code of commit
{commit()} ({datetime.date.today().isoformat()}):

```sh
{args.command}            # about 30 minutes; rewrites this page
```

It runs `Benchmarks/scaling/run.py` (one release learner and N `rollout-worker` processes per
run, real sockets; the learner's own `solved` record for time and steps; the trained-lag
histogram of its summary for p50/p99/mean; `/proc` for RSS and CPU) and then
`Benchmarks/scaling/report.py`. The raw results are one JSON line per run in
`Benchmarks/scaling/results.jsonl`. Seeds 1–3 for every
setting; tables show medians over seeds (a run that did not solve counts in the lag, rate and
memory columns, not in the time to solve).

## The admission rule: a lag target

A sample's lag is the learner's version when it is trained minus the version that acted. The
learner keeps the **mean lag of trained samples at or below a target** (`--lag-target`, default
8 versions for CartPole-v1, 4 for Acrobot-v1, MountainCar-v0 and Pendulum-v1; off for the
sequence tasks, whose experiments set staleness themselves, and for `--env synthetic`):

- Credits come from one learner-wide budget of (η + 1) · B columns, B the batch columns:
  admitted-but-untrained columns plus those of credits in flight stay within it (AReaL's
  `max_head_offpolicyness` rule). A sample then waits at most η + 1 updates after its credit.
- The budget is shared: a worker may hold ⌈(η + 1) · B / n⌉ columns' worth of credits (at least
  one chunk, at most what 32 MiB of its chunks allows) for n workers, recomputed whenever a
  worker joins or leaves and whenever η moves. Workers the budget leaves without credit wait in
  a line served in turn.
- η follows the lag. It starts at target − 1; every 32 updates the mean lag of the samples those
  updates trained is compared with the target: above it, η − 1 (down to 0); below target − 1,
  η + 1 (up to twice the target). What admission cannot see — how old the weights were that
  acted, which grows with the number of processes sharing the CPUs — is paid for with a smaller
  η, not with more lag.
- `--eta N` fixes η instead (no adjustment); `--lag-target off` without `--eta` is the old
  unbounded admission (32 credits per worker, lag growing with the workers).

The rule is `Admission` (Sources/Learner/Admission.swift); `AdmissionTests` unit-tests it alone
and in a simulated pipeline on a simulated clock, driving the real `LearnerCore` and buffer with
1 to 64 workers whose weights arrive 0 or 4 versions late: the mean lag stays at or below the
target in every case, η comes down when the weights arrive later, and with weights later than
the target η goes to 0. `tributary status` shows the target, the η in force, the last window's
mean lag (`staleness  η 6 (lag target 8, recent 7.6)`; `--json` adds η's moves), and
the trained-lag quantiles on the next line; `tributary top` the η budget as a gauge; /metrics
`tributary_buffer_eta_versions` and `tributary_buffer_lag_target_versions`.

## CartPole-v1 with 1 to 64 workers

Default settings (`learner --env CartPole-v1`, target 475), each worker `rollout-worker --env
CartPole-v1 --num-envs 4` (tag `cartpole`):

{scale_table(rows, "cartpole", counts)}

{"Solved by every worker count in every seed." if solved_all else "**Not every run solved: see the solved column.**"}
The lag is bounded at every count: the largest mean over all runs is {worst_mean:.1f} versions
and the largest p99 {worst_p99}. Env steps/s, updates/s and CPU per step are over the time to
solve, which is now a second or two and so mostly the processes' start-up and first weights;
"Per-chunk overhead" below has the steady state.

Before this change (tag `before`: `--lag-target off` and the previous preset — 32 credits per
worker, unbounded η, Adam, learning rate 3e-3, unscaled rewards), seed 1:

{scale_table(rows, "before", sorted({r["workers"] for r in before}))}

## Acrobot-v1 at 1, 8 and 32 workers

Default settings (`learner --env Acrobot-v1`, target −100), 4 envs per worker (tag `acrobot`):

{scale_table(rows, "acrobot", sorted({r["workers"] for r in by(rows, "acrobot")}))}

## Learning that holds

**The collapse and its cause.** Run on past the target, the default CartPole run used to swing
(500 → 44 → 114 → 441 → 500) and sometimes die: in one run the mean return fell from 500 to 9.4
within a second and never came back, with the policy's entropy at 1e-17. The per-second metrics
show what comes first: once solved, every episode runs to the 500-step limit, value and policy
losses are ~0 for thousands of updates, and then a single update has an approximate KL of 0.3–3.3
and a clipped ESS. That is Adam after a quiet stretch: its running second moment v decays with
the gradients, and the first ordinary gradient after it is divided by a tiny √v — each parameter
moves ~3 learning rates at once (`AdamTests.afterAQuietStretchAMSGradDoesNotAmplifyTheNextGradient`
reproduces the arithmetic). When that step saturates the softmax, the gradient vanishes and the
policy stays deterministic (always pushing one way: return 9.4).

**The fixes.** CartPole's preset now trains with AMSGrad (`--optimizer amsgrad`): the step is
divided by the largest second moment seen, so a quiet stretch cannot make the next step large.
Also tried, each over two seeds of 60 s past the target: Adam's ε 1e-8 → 1e-5 (held ≥ 450 in
90–92 % of samples, dips to 69); learning rate 3e-3 → 1e-3 (100 %, but the entropy fell to
0.075 in one seed, closer to the saturated state). AMSGrad kept the entropy above 0.4. Pendulum
learned slower with AMSGrad (one of two seeds short of −200 at 40 s, against 8–9 s with Adam), so
its preset keeps Adam, as do the others. Since then CartPole's preset also scales its rewards by
0.1 and uses a learning rate of 1e-3, against collapses *before* the target (below); the rows
marked "before" here use the previous preset whole (Adam, 3e-3, unscaled rewards).

The demo's setting (2 workers × 16 envs), run 60 s past the target: the fraction of the
learner's per-second progress samples (metrics.jsonl) in those 60 s whose mean return of the
last 100 episodes is ≥ 450 (tags `stability`, `stability-adam`):

| preset | seed | solved at s | samples | ≥ 450 | lowest mean return | lowest entropy |
|---|---|---|---|---|---|---|
{stab_rows(stab, "amsgrad, lr 1e-3, rewards × 0.1 (default)")}
{stab_rows(stab_adam, "adam, lr 3e-3, rewards × 1 (before)")}

**Small η.** A fixed admission bound of 0, 1 and 4 (2 workers × 16 envs, tags `eta0`, `eta1`,
`eta4`; before the fix `--eta 4` collapsed CartPole in 2 of 2 runs):

| η | solved | s to solve per seed | median env steps | median lag mean | median env steps/s |
|---|---|---|---|---|---|
{chr(10).join(eta_lines)}

{unsolved_text}

**Collapses before the target.** AMSGrad did not prevent every collapse *before* the target:
with the previous preset (learning rate 3e-3, unscaled rewards) about one run in twenty climbed
(a mean return of 130–400 in the first seconds), then saw the value loss jump (71 in one run: with
rewards of 1 per step the value targets reach ~100, and the value head shares its torso with
the policy) and within a second one update saturated the softmax — entropy 10⁻¹⁰, return 9.3
for good. It struck η = 0 once and 1 and 2 workers once each in earlier runs of this page. The
preset now scales CartPole's rewards by 0.1 in the loss (`--reward-scale`; returns are still
reported unscaled) and uses a learning rate of 1e-3. The same 20 seeds, 1 worker × 4 envs, both
presets (tags `collapse-old`, `collapse-new`):

| preset | solved | median s to solve | slowest s | median env steps | not solved (mean return at 20 s) |
|---|---|---|---|---|---|
{collapse_row("collapse-old", "lr 3e-3, rewards × 1 (before)")}
{collapse_row("collapse-new", "lr 1e-3, rewards × 0.1 (default)")}

Scaled rewards alone (3e-3, × 0.1) solved in a median 0.33 s but collapsed in 4 of 40 seeds, in
the first second; 1e-3 alone solved 40 of 40 in a median 3.5 s; both together 40 of 40 in a
median 0.39 s, the slowest 0.5 s (measured once, 2026-12-01, 40 seeds each; the table above is
this page's run).

## Many sessions

{sessions_text}

## Per-chunk overhead: what changed, and what is still missing

Bounding the lag has a price at many workers: a worker's share of the budget is one or two
chunks, so it wakes, acts and sends one chunk at a time, where unbounded admission let each
worker send bursts of up to 32. At 32 workers the bounded run stepped 0.87 × the env steps/s of
the unbounded one (commit 8fa2a27, seed 1; over the time to solve, which is mostly start-up now
that CartPole solves in a second, so not recomputed here) — and learned faster for it, because its
data was 8 versions old instead of ~250.

Three changes made a chunk cheaper for a worker:

- **Weights are fetched when they will be used.** A worker fetches new weights only while it
  holds credits; one that waited for the learner's admission longer than 2 ms asks for the
  newest version (GetWeights answers with the newest whatever was announced) and acts when it
  arrives, or after 20 ms with what it has. Before, every worker fetched every version it was
  told of: with 32 workers and ~400 versions a second that was ~8 fetches per chunk sent.
- **Announcements are paced**: at most one WeightsAvailable per 0.5 ms × workers (every version
  for one or two workers, one per 16 ms for 32), always for the newest version. GetWeights still
  serves the newest at any time, so a worker that asks is never behind for it.
- **The worker runs on its socket thread** (`WorkerDriver`, a `SocketThreadDriver`; docs/
  architecture.md): the credit is read, the newest weights fetched and installed into the network
  it has, the environments stepped and the chunk encoded and sent by the one thread that owns the
  sockets, which sleeps in `zmq_poll` between steps. A worker has two busy threads, that one and
  libzmq's I/O thread. Before, a chunk crossed four threads (Swift's cooperative pool for the
  session and the weights client, the socket thread, libzmq's I/O thread, dispatch's timer
  thread for every timed wait), and a closure kept as `Mutex`'s generic value grew by two
  reabstraction thunks on every wake (6 % of a 32-worker run's CPU after a minute). Measured on
  the same machine and seed, 32 workers × 4 envs: 6.45 → 2.57 µs of worker CPU per env step and
  0.23 → 0.48 M env steps/s; 2 workers 1.41 → 0.97 µs per step.

In the steady state (tag `overhead`: `--steady 15`, CartPole default settings, 4 envs per worker,
seed 1; rates between the first progress sample after 5 s and the last, so process start-up and
the first weights do not count — CartPole now solves in about a second, so the rates over the
time to solve in the tables above are mostly start-up):

| workers | env steps/s | updates/s | worker CPU µs per env step | window s |
|---|---|---|---|---|
{over_lines}

What is left at 32 workers is four messages per chunk (Credit in, GetWeights out, Weights in,
the chunk out), each crossing libzmq's I/O thread and the kernel's loopback on both sides
(`perf`: libzmq's I/O thread about a quarter of a worker's CPU, mostly in the kernel). A chunk's
small tensors now share one frame (3 frames a chunk, was 12), which the learner's ingest felt
more than the workers: 16 KiB transport went from about 25,000 to about 30,000 chunks/s side by
side (docs/benchmarks.md). The workers did not feel it: run side by side (`run.py --steady 15`,
seed 1, two rounds alternating), the previous build (8e64020) made 0.74–0.76 M env steps/s with 2
workers and 0.37–0.41 M with 32 (3.1–3.5 µs per step), 8cc92be 0.71–0.92 M and 0.34–0.46 M
(2.8–3.9 µs): within the noise of this machine, which ran both builds slower on the day of this
regeneration than on the previous one (0.95 M and 0.51 M then).

**This machine's speed drifts more than most effects measured here.** The regeneration of
2026-12-01 evening (commit eba7c4b) ran everything 20–40 % slower than the one that morning
(8cc92be) — 32 workers 0.34 M env steps/s here against 0.44 M then. Side by side right after it
(`run.py --workers 2 32 --steady 15`, seed 1, the previous build 968abc5 and this one
alternating, two rounds), the previous build made 0.67 and 0.57 M with 2 workers and 0.30 and
0.24 M with 32 (4.4 and 5.2 µs per step), this one 0.58 and 0.59 M and 0.24 and 0.27 M (5.3 and
4.9 µs): the same within the noise, each round slower than the one before. Only side-by-side
figures compare builds; the tables compare worker counts within one run.
Where the issue's targets stand:

| target (issue) | now |
|---|---|
| worker CPU per env step ≤ 1.5 µs at 32 workers | {us32} µs |
| env steps/s at 32 workers ≥ 0.8 × at 2 workers | {f"{ratio:.2f}" if ratio else "–"} × |
| the send path on the socket thread; ≤ 2 busy worker threads | met (`WorkerDriver`) |
| a chunk's small tensors in one frame | done: tensors below 32 KiB share one frame once the learner's Welcome offers it (docs/protocol.md §2); a CartPole chunk is 3 frames, was 12 |
| transport ≥ 0.9 × raw libzmq at 256 KiB (W = 1, 2), ≥ 0.6 × at 16 KiB | {transport_text()} (docs/benchmarks.md, `make bench-transport`) |
| the demo exits within 0.3 s of the target | about 0.2 s (below) |
| 256 sessions: nothing lost, RSS bounded, `tributary status` p99 < 250 ms | {sessions_row()} ("Many sessions") |
| weight fan-out p50/p99 to 95 % of 64 workers (measure and report) | {fan64_text} ("Weight fan-out") |
| end-to-end, demo's setting, ≥ 70 % of min(acting, training) | {e2e_min} % of min(acting, training); {e2e_together} % of what both allow together on 2 cores ("End-to-end ceiling") |

The demo (`tributary demo`, 2 workers × 16 envs) exits about 0.2 s after the learner reaches the
target (two runs: solved at 1.2 and 2.4 s after launch, exited at 1.39 and 2.64 s), where it took
~2 s: stopping workers no longer wait out the drain limit for a learner whose connection closed,
and a worker closes its SUB socket and a Hello that never got a Welcome without a linger.

## Weight fan-out

Tag `fanout`: CartPole default settings, 4 envs per worker, 20 s without a stopping rule, the
learner and every worker with `--trace-versions` (the learner prints a `published` line per
version, each worker session an `acting_with` line when it begins acting with a newer one; one
machine, so the two clocks are one). For every version published while every session was acting
(and until 1 s before the first one stopped), the fan-out is the time from its publish until 95 %
of the sessions act with it or a newer version; p50 / p99 / max over those versions:

| workers | versions | p50 ms | p99 ms | max ms | announcement pace ms | never reached 95 % |
|---|---|---|---|---|---|---|
{fan_lines}

The fan-out follows the pace of announcements, which is deliberate: the learner announces at most
one version per 0.5 ms × workers (16 ms at 32 workers, 32 ms at 64), so that a publish does not wake
every worker's socket thread hundreds of times a second (`LearnerCore.announceInterval`); a worker
fetches on an announcement, its heartbeat's `policy_version`, or before it acts after waiting for
credits, and `GetWeights` always serves the newest version. With the lag target holding the lag
near 8 versions (the tables above) a fan-out of one or two announcement intervals costs no
staleness that the admission does not already bound. Weights are encoded once per publish
(`WeightsSnapshot.encodeParts`, outside the core's lock); GetWeights serves the encoded parts.

## End-to-end ceiling

Tag `e2e`: the demo's setting (2 workers × 16 envs, CartPole, default settings) for 20 s without
a stopping rule; the steady env steps/s (start-up excluded, as above) against what
`tributary-bench` measures on the same machine right after each run: acting (`worker-steps`:
env steps/s on one core, 16 envs, T 32, the preset's 64×64 network) and training
(`learner-update`: samples/s on one core, T 32, B 16, as the preset trains). Every sample is
trained once (η adapts, reuse 1), so env steps/s and trained samples/s are the same figure.

| seed | steady env steps/s | acting per core | training per core | of min(acting, training) | both together on 2 cores | of that |
|---|---|---|---|---|---|---|
{e2e_lines}

"Both together" is 2 / (1/acting + 1/training): the rate at which two cores could act and train
every sample if nothing else cost anything. What separates the steady rate from it is the
learner's ingest (decode, validate, admit: about 20 µs of CPU per chunk, docs/benchmarks.md),
batch assembly, libzmq's I/O threads on both sides, and the scheduler moving seven busy threads
over two cores (the learner's socket thread, trainer and libzmq I/O thread; each worker's socket
thread and libzmq I/O thread). Issue 13's 70 % is not met.
"""
    pathlib.Path(args.out).write_text(text)


if __name__ == "__main__":
    main()

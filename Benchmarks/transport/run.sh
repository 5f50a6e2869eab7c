#!/usr/bin/env bash
# Transport benchmark: Tributary's learner ingest vs. a raw libzmq DEALER→ROUTER stream.
#
# For each payload size and worker count W it runs, alternating, REPS times each:
#   tributary: one `learner` (--max-chunks W*N) and W `rollout-worker`s sending N chunks
#              each, with T/B/D chosen so a whole chunk (all frames) is about the size;
#   raw:       Benchmarks/transport/raw_zmq.c, W forked DEALER processes each sending N
#              single-frame messages to one ROUTER, at the chunk size Tributary actually
#              sent (status.bytes_received / chunks_accepted of the pilot run).
# A short pilot of each mode first measures the chunk size and sets N so one run takes
# about TARGET_SECONDS. Reports medians as a markdown table on stdout and in
# Benchmarks/transport/results.md. Everything binds/connects on 127.0.0.1 only.
#
# Environment (all optional):
#   WORKERS="1 2"                  worker counts (default "1 2")
#   SIZES="16384 262144 4194304"   target chunk sizes in bytes
#   REPS=3                         repetitions per mode (median reported)
#   TARGET_SECONDS=3               intended length of one timed run
#   CREDITS=4                      pass `--credits 4` to the learner (chunks in flight per
#                                  worker); unset: the learner's own credit defaults
#   LEARNER_ARGS="..."             more learner flags (e.g. "--credit-bytes 8388608")
#   UNROLL=32                      learner --unroll-length (T)
#   CURVE=1                        both sides with CURVE: the learner with --curve-secret-key and
#                                  --allow-keys (keys made with `tributary keys generate`), the
#                                  workers with theirs; raw_zmq -c (CURVE server and clients)
#   SKIP_BUILD=1                   reuse the release binaries already in .build-release
#   LEARNER_BIN=, WORKER_BIN=      benchmark other builds of the executables (A/B tests)
#   RESULTS=path                   where to write the markdown (default: next to this script)
#
# Builds with `swift build -c release --scratch-path .build-release` from the package root,
# never touching the default .build directory.
set -euo pipefail
for tool in jq python3 cc /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "run.sh needs $tool (Debian: apt-get install jq python3 gcc time)" >&2; exit 1; }
done

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORKERS="${WORKERS:-1 2}"
SIZES="${SIZES:-16384 262144 4194304}"
REPS="${REPS:-3}"
TARGET_SECONDS="${TARGET_SECONDS:-3}"
CREDITS="${CREDITS:-}"
LEARNER_ARGS="${LEARNER_ARGS:-}"
CREDIT_ARGS=()
[[ -n "$CREDITS" ]] && CREDIT_ARGS=(--credits "$CREDITS")
# shellcheck disable=SC2206
EXTRA_ARGS=($LEARNER_ARGS)
CREDITS_LABEL="${CREDITS:-default}"
UNROLL="${UNROLL:-32}"
CURVE="${CURVE:-0}"
RAW_ARGS=()
[[ "$CURVE" == 1 ]] && RAW_ARGS=(-c)
RESULTS="${RESULTS:-$HERE/results.md}"
RUN_TIMEOUT=60          # seconds one run may take before it is killed and counted as failed
CHUNKS_PER_VERSION=1000000000   # no weights traffic during the measurement
COMMAND_LINE="${LEARNER_BIN:+LEARNER_BIN=$LEARNER_BIN }${WORKER_BIN:+WORKER_BIN=$WORKER_BIN }${CURVE:+CURVE=$CURVE }WORKERS=\"$WORKERS\" SIZES=\"$SIZES\" REPS=$REPS TARGET_SECONDS=$TARGET_SECONDS ${CREDITS:+CREDITS=$CREDITS }${LEARNER_ARGS:+LEARNER_ARGS=\"$LEARNER_ARGS\" }UNROLL=$UNROLL Benchmarks/transport/run.sh"

SCRATCH="$ROOT/.build-release"
WORK="$(mktemp -d /tmp/tributary-transport.XXXXXX)"
PIDS=()

log() { printf '%s\n' "$*" >&2; }

# Kill every process this script started: the tracked ones and their children (the
# executables under a GNU time wrapper). TERM first (the learner and workers shut down
# gracefully), KILL whatever is left a second later.
cleanup() {
    local pid child all=()
    for pid in "${PIDS[@]:-}"; do
        [[ -n "$pid" ]] || continue
        all+=("$pid")
        for child in $(pgrep -P "$pid" 2>/dev/null || true); do all+=("$child"); done
    done
    PIDS=()
    ((${#all[@]})) || return 0
    local alive=()
    for pid in "${all[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            alive+=("$pid")
        fi
    done
    ((${#alive[@]})) || return 0
    local i
    for ((i = 0; i < 20; i++)); do
        local left=0
        for pid in "${alive[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
        ((left)) || break
        sleep 0.05
    done
    for pid in "${alive[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    for pid in "${alive[@]}"; do wait "$pid" 2>/dev/null || true; done
}
on_exit() {
    local rc=$?
    cleanup
    rm -rf "$WORK"
    exit "$rc"
}
trap on_exit EXIT
trap 'log "interrupted"; exit 130' INT TERM

# Waits for pid up to $2 seconds; 0 if it exited (its status is ignored), 1 on timeout.
wait_for() {
    local pid=$1 deadline=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then return 1; fi
        sleep 0.05
    done
    wait "$pid" 2>/dev/null || true
    return 0
}

# ---------------------------------------------------------------- build

cd "$ROOT"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building release binaries into $SCRATCH (this can take a few minutes)"
    swift build -c release --scratch-path "$SCRATCH" --product learner >&2
    swift build -c release --scratch-path "$SCRATCH" --product rollout-worker >&2
    [[ "$CURVE" == 1 ]] && swift build -c release --scratch-path "$SCRATCH" --product tributary >&2
fi
BIN="$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)"
LEARNER="${LEARNER_BIN:-$BIN/learner}"
WORKER="${WORKER_BIN:-$BIN/rollout-worker}"
RAW="$SCRATCH/raw_zmq"
[[ -x "$LEARNER" && -x "$WORKER" ]] || { log "missing $LEARNER or $WORKER (unset SKIP_BUILD)"; exit 1; }
mkdir -p "$SCRATCH"
cc -O2 -Wall -o "$RAW" "$HERE/raw_zmq.c" -lzmq
# The synthetic learner checks every chunk against its own observation size; a learner built
# before that check (an A/B run with LEARNER_BIN) has no such flag and takes any size.
OBS_FLAG=0
[[ "$("$LEARNER" --help 2>&1)" == *--observation-size* ]] && OBS_FLAG=1
LEARNER_KEYS=() WORKER_KEYS=()
if [[ "$CURVE" == 1 ]]; then
    "$BIN/tributary" keys generate learner --dir "$WORK/keys/learner" >/dev/null
    "$BIN/tributary" keys generate bench-worker --dir "$WORK/keys/allowed" >/dev/null
    LEARNER_KEYS=(--curve-secret-key "$WORK/keys/learner/learner.key_secret" --allow-keys "$WORK/keys/allowed")
    WORKER_KEYS=(--curve-server-key "$WORK/keys/learner/learner.key" --curve-secret-key "$WORK/keys/allowed/bench-worker.key_secret")
fi
TIME_BIN=""
if [[ -x /usr/bin/time ]] && /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then TIME_BIN=/usr/bin/time; fi

# ---------------------------------------------------------------- one run of each mode

# Chunk shape for a target size: B ≈ sqrt(size/4096), then D so all frames ≈ size.
# Frames: observations T*B*D*4, bootstrap B*D*4, finals ≈ T*B/200 obs (episodes of 200
# steps), policy versions T*8, actions/logp/rewards T*B*4 each, flags T*B*2, ~400 B of
# header and protobuf body.
shape_for() {
    python3 - "$1" "$UNROLL" <<'EOF'
import math, sys
size, t = int(sys.argv[1]), int(sys.argv[2])
b = max(2, round(math.sqrt(size / 4096)))
fixed = t * b * 14 + t * 8 + 400
per_d = 4 * (t * b + b + t * b / 200)
d = max(1, round((size - fixed) / per_d))
print(b, d)
EOF
}

# run_tributary W N B D: sets RESULT to one JSON line (mode tributary), or returns 1.
# (Run functions set RESULT instead of printing, so they run in this shell and PIDS, which
# the EXIT trap kills, sees every process they start.) With GNU time, every process runs
# under `time -f "%M %U %S"`: peak RSS and CPU seconds of the learner and of each worker.
run_tributary() {
    RESULT=
    local w=$1 n=$2 b=$3 d=$4
    local dir="$WORK/trib.$RANDOM$RANDOM"
    mkdir -p "$dir"
    local wrap=()
    [[ -n "$TIME_BIN" ]] && wrap=("$TIME_BIN" -f '%M %U %S' -o "$dir/learner.time")
    local obs=()
    ((OBS_FLAG)) && obs=(--observation-size "$d")
    "${wrap[@]}" "$LEARNER" --bind 127.0.0.1 --data-port 0 --weights-port 0 --control-port 0 --metrics-port 0 \
        --unroll-length "$UNROLL" "${CREDIT_ARGS[@]}" "${EXTRA_ARGS[@]}" "${obs[@]}" "${LEARNER_KEYS[@]}" --chunks-per-version "$CHUNKS_PER_VERSION" \
        --max-chunks $((w * n)) --log-level warning >"$dir/learner.out" 2>"$dir/learner.err" &
    local lpid=$!
    PIDS+=("$lpid")
    local i
    for ((i = 0; i < 300; i++)); do
        grep -q '"event":"ready"' "$dir/learner.out" 2>/dev/null && break
        kill -0 "$lpid" 2>/dev/null || break
        sleep 0.05
    done
    if ! grep -q '"event":"ready"' "$dir/learner.out" 2>/dev/null; then
        log "learner did not become ready:"; cat "$dir/learner.err" >&2; cleanup; return 1
    fi
    local ready data weights control
    ready="$(grep '"event":"ready"' "$dir/learner.out" | head -1)"
    data="$(jq -r '.data[0]' <<<"$ready")"
    weights="$(jq -r '.weights[0]' <<<"$ready")"
    control="$(jq -r '.control[0]' <<<"$ready")"
    local wpids=()
    for ((i = 1; i <= w; i++)); do
        wrap=()
        [[ -n "$TIME_BIN" ]] && wrap=("$TIME_BIN" -f '%M %U %S' -o "$dir/worker$i.time")
        "${wrap[@]}" "$WORKER" --data "$data" --weights "$weights" --control "$control" \
            --num-envs "$b" --observation-size "$d" --max-chunks "$n" --worker-id "w$i" "${WORKER_KEYS[@]}" \
            --log-level warning >"$dir/worker$i.out" 2>"$dir/worker$i.err" &
        wpids+=($!)
        PIDS+=($!)
    done
    if ! wait_for "$lpid" "$RUN_TIMEOUT"; then
        log "tributary run (W=$w N=$n B=$b D=$d) timed out"; cat "$dir/learner.err" >&2; cleanup; return 1
    fi
    for i in "${wpids[@]}"; do
        wait_for "$i" 15 || log "a worker did not exit within 15 s after the learner; killing it"
    done
    cleanup
    local summary
    summary="$(grep '"event":"summary"' "$dir/learner.out" | tail -1 || true)"
    if [[ -z "$summary" ]]; then log "no learner summary"; cat "$dir/learner.err" >&2; return 1; fi
    # GNU time lines "maxrss_kib user_s sys_s" -> {"learner":[rss,cpu],"w1":[rss,cpu],...}
    local times
    times="$(for f in "$dir"/*.time; do
        [[ -s "$f" ]] || continue
        printf '%s %s\n' "$(basename "$f" .time)" "$(tail -1 "$f")"
    done | jq -R -s -c 'split("\n") | map(select(length > 0) | split(" ")
        | {key: .[0], value: [(.[1] | tonumber), ((.[2] | tonumber) + (.[3] | tonumber))]}) | from_entries')"
    [[ -n "$times" ]] || times='{}'
    # Chunk size: data-socket bytes over chunks (Hello/Goodbye/Heartbeat add a few hundred
    # bytes in all, < 0.01 % here); MB/s: those bytes over ingest_seconds (first accepted
    # chunk to last consumed chunk).
    RESULT="$(jq -c --argjson w "$w" --argjson n "$n" --argjson b "$b" --argjson d "$d" \
        --argjson t "$times" --arg credits "$CREDITS_LABEL" '
        .status as $s | ($s.chunks_accepted // 0) as $c | ($s.bytes_received // 0) as $by |
        if $c != $w * $n then error("accepted \($c) of \($w * $n) chunks") else . end |
        {mode: "tributary", workers: $w, chunks: $c, num_envs: $b, observation_size: $d,
         credits: $credits,
         bytes: (($by / $c) | round), seconds: .ingest_seconds,
         mb_per_s: ($by / .ingest_seconds / 1e6), chunks_per_s: ($c / .ingest_seconds),
         rejected: ($s.rejected // {}), sends_dropped: .transport.sends_dropped,
         learner_cpu_s: ($t.learner[1] // null),
         workers_cpu_s: ([$t | to_entries[] | select(.key | startswith("worker")) | .value[1]] | if length > 0 then add else null end),
         learner_max_rss_kib: ($t.learner[0] // null), worker_max_rss_kib: ($t.worker1[0] // null)}' <<<"$summary")" || {
        log "bad learner summary: $summary"; return 1; }
}

# run_raw W N S: sets RESULT to one JSON line (mode raw), or returns 1.
run_raw() {
    RESULT=
    local out="$WORK/raw.$RANDOM$RANDOM"
    "$RAW" -w "$1" -n "$2" -s "$3" -H 64 -e 'tcp://127.0.0.1:*' -t "$RUN_TIMEOUT" "${RAW_ARGS[@]}" >"$out" 2>"$out.err" &
    local pid=$!
    PIDS+=("$pid")
    if ! wait_for "$pid" $((RUN_TIMEOUT + 5)); then log "raw run timed out"; cleanup; return 1; fi
    cleanup
    if [[ ! -s "$out" ]]; then log "raw run failed:"; cat "$out.err" >&2; return 1; fi
    RESULT="$(cat "$out")"
}

# retry CMD...: one more attempt when a run fails (e.g. a port race); then give up.
retry() {
    "$@" && return 0
    log "run failed ($*); retrying once"
    "$@" && return 0
    log "run failed twice: $*"
    exit 1
}

# N per worker so a run of this mode lasts about TARGET_SECONDS, from a pilot's rate.
n_for() {
    python3 -c 'import sys; rate, w, t = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]); print(max(20, min(5_000_000, round(rate * t / w))))' "$1" "$2" "$TARGET_SECONDS"
}


# ---------------------------------------------------------------- the benchmark

START_DATE="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
NPROC="$(nproc)"
ZMQ_VERSION="$(pkg-config --modversion libzmq 2>/dev/null || echo unknown)"
LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"
CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || echo unknown)"
SWIFT_VERSION="$(swift --version 2>/dev/null | head -1)"
# Name what was built: the commit, whether Sources/ differed from it, and a digest of the sources.
REVISION="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)"
git -C "$ROOT" diff --quiet HEAD -- Sources Package.swift 2>/dev/null || REVISION="$REVISION with uncommitted changes"
SOURCES_DIGEST="$(cd "$ROOT" && find Sources Package.swift -type f \( -name '*.swift' -o -name '*.h' -o -name '*.modulemap' \) | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-12)"
log "transport benchmark: sizes [$SIZES], workers [$WORKERS], $REPS reps, ~${TARGET_SECONDS}s per run; nproc $NPROC; libzmq $ZMQ_VERSION; load $LOADAVG"

ALL="$WORK/runs.jsonl"
: >"$ALL"
LARGEST="$(tr ' ' '\n' <<<"$SIZES" | sort -n | tail -1)"
# tag RESULT with the target size, the repetition and the 1-minute load average, and keep it
keep() { jq -c --argjson target "$1" --argjson rep "$2" --arg load "$(cut -d' ' -f1 /proc/loadavg)" \
    '. + {target: $target, rep: $rep, load1: ($load | tonumber)}' <<<"$RESULT" >>"$ALL"; }
for size in $SIZES; do
    read -r B D < <(shape_for "$size")
    for w in $WORKERS; do
        log "== size $size (T=$UNROLL B=$B D=$D), W=$w"
        # Pilots: Tributary's real chunk size and rate, then raw's rate at that size.
        pilot_n=$(python3 -c "print(max(100, min(2000, round(384e6 / $size / $w))))")
        retry run_tributary "$w" "$pilot_n" "$B" "$D"; keep "$size" 0
        bytes="$(jq -r .bytes <<<"$RESULT")"
        n_trib="$(n_for "$(jq -r .chunks_per_s <<<"$RESULT")" "$w")"
        retry run_raw "$w" "$(python3 -c "print(max(200, round(384e6 / $bytes / $w)))")" "$bytes"; keep "$size" 0
        n_raw="$(n_for "$(jq -r .msgs_per_s <<<"$RESULT")" "$w")"
        log "   chunk $bytes bytes; N per worker: tributary $n_trib, raw $n_raw"
        for ((rep = 1; rep <= REPS; rep++)); do
            retry run_tributary "$w" "$n_trib" "$B" "$D"; keep "$size" "$rep"; t="$RESULT"
            retry run_raw "$w" "$n_raw" "$bytes"; keep "$size" "$rep"; r="$RESULT"
            log "   rep $rep: tributary $(jq -r '.mb_per_s | floor' <<<"$t") MB/s ($(jq -r '.chunks_per_s | floor' <<<"$t") chunks/s, $(jq -r .seconds <<<"$t") s), raw $(jq -r '.mb_per_s | floor' <<<"$r") MB/s ($(jq -r .seconds <<<"$r") s)"
        done
    done
done
END_LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"

# Medians per (size, W) over the timed repetitions (pilots, rep 0, are only listed).
REPORT="$(python3 - "$ALL" "$UNROLL" "$CREDITS_LABEL" "$LARGEST" <<'EOF'
import json, statistics, sys
path, unroll, credits, largest = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
runs = [json.loads(line) for line in open(path) if line.strip()]
def label(n):
    return f"{n >> 20} MiB" if n % (1 << 20) == 0 else f"{n >> 10} KiB" if n % 1024 == 0 else f"{n} B"
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
def cpu_per_gb(r):
    if r["mode"] == "raw":
        return (r["receiver_cpu_s"] + r["senders_cpu_s"]) / (r["bytes"] * r["messages"] / 1e9)
    if r.get("learner_cpu_s") is None or r.get("workers_cpu_s") is None:
        return None
    return (r["learner_cpu_s"] + r["workers_cpu_s"]) / (r["bytes"] * r["chunks"] / 1e9)
def f(x, fmt="{:,.0f}"):
    return "n/a" if x is None else fmt.format(x)
keys = []
for r in runs:
    k = (r["target"], r["workers"])
    if k not in keys: keys.append(k)
rows, memory = [], []
for size, w in keys:
    t = [r for r in runs if (r["target"], r["workers"]) == (size, w) and r["mode"] == "tributary" and r["rep"] > 0]
    raw = [r for r in runs if (r["target"], r["workers"]) == (size, w) and r["mode"] == "raw" and r["rep"] > 0]
    if not t or not raw: continue
    mt, mr = med(r["mb_per_s"] for r in t), med(r["mb_per_s"] for r in raw)
    rows.append("| {} | {:,} | {}×{} | {} | {} | {} | {:.2f} | {} | {} | {} | {} |".format(
        label(size), t[0]["bytes"], t[0]["num_envs"], t[0]["observation_size"], w,
        f(mr), f(mt), mt / mr, f(med(r["chunks_per_s"] for r in t)), f(med(r["msgs_per_s"] for r in raw)),
        f(med(cpu_per_gb(r) for r in raw), "{:.2f}"), f(med(cpu_per_gb(r) for r in t), "{:.2f}")))
    wr = [r["worker_max_rss_kib"] for r in t if r.get("worker_max_rss_kib")]
    lr = [r["learner_max_rss_kib"] for r in t if r.get("learner_max_rss_kib")]
    if wr:
        memory.append(f"| {label(size)} | {w} | {max(wr) / 1024:,.1f} | {max(lr) / 1024:,.1f} |")
print("| size | chunk bytes (measured) | B×D (T={}) | W | raw MB/s | tributary MB/s | tributary/raw | tributary chunks/s | raw msgs/s | raw CPU s/GB | tributary CPU s/GB |".format(unroll))
print("|---|---|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
print("@@MEMORY@@")
if memory:
    print("| size | W | worker w1 peak RSS (MiB) | learner peak RSS (MiB) |")
    print("|---|---|---|---|")
    print("\n".join(memory))
EOF
)"
TABLE="${REPORT%%@@MEMORY@@*}"
TABLE="${TABLE%$'\n'}"
MEMORY="${REPORT#*@@MEMORY@@}"
MEMORY="${MEMORY#$'\n'}"

{
    if [[ "$CURVE" == 1 ]]; then
        echo "# Transport benchmark with CURVE: Tributary learner ingest vs. raw libzmq, both encrypted"
    else
        echo "# Transport benchmark: Tributary learner ingest vs. raw libzmq"
    fi
    echo
    echo "- Command: \`$COMMAND_LINE\` (from the package root)"
    echo "- Date: $START_DATE; host: $NPROC CPUs (nproc), $CPU; load average at start $LOADAVG, at end $END_LOADAVG"
    echo "- libzmq $ZMQ_VERSION; $SWIFT_VERSION; release build (\`swift build -c release --scratch-path .build-release\`); commit $REVISION, sources digest $SOURCES_DIGEST (sha256 of Sources/ and Package.swift, as computed in run.sh)"
    echo "- Median of $REPS runs per mode, alternating tributary/raw; each run ≈ ${TARGET_SECONDS} s (N per worker set from a pilot run)."
    echo "- MB/s = 10^6 bytes/s of message payload (all frames of a chunk; routing id excluded)."
    echo "- CPU s/GB = user+system CPU seconds of every process of the run (learner + workers, or receiver + senders) per 10^9 payload bytes;"
    echo "  Tributary's include process start-up and the initial weights fetch (~0.2 CPU s per run). On $NPROC CPUs the senders, the receiver and anything else running share the same cores."
    echo
    echo "$TABLE"
    echo
    echo "How it was measured:"
    echo "- **tributary**: one \`learner --bind 127.0.0.1 ${CREDITS:+--credits $CREDITS }${LEARNER_ARGS:+$LEARNER_ARGS }--unroll-length $UNROLL --chunks-per-version $CHUNKS_PER_VERSION --max-chunks W·N\` and W \`rollout-worker --num-envs B --observation-size D --max-chunks N\`."
    echo "  \`--chunks-per-version $CHUNKS_PER_VERSION\`: the stand-in trainer publishes no new weights during the run, so there is no weights traffic (only the initial 64 KiB fetch, before the first chunk)."
    echo "  Time = the learner's \`ingest_seconds\` (first accepted chunk to last consumed); bytes = \`status.bytes_received\`; chunk bytes = bytes_received / chunks_accepted."
    echo "  Every chunk is decoded, validated (dtype/shape/frame size/flags) and its rewards read by the stand-in trainer; a credit goes back per chunk."
    echo "- **raw**: \`raw_zmq -w W -n N -s <measured chunk bytes>\`: W forked processes, each with its own context and DEALER, send N single-frame messages (zero-copy from a constant buffer) to one ROUTER; SNDHWM/RCVHWM 64 as in Tributary; no credits (the ceiling). Time = first to last message received."
    echo
    if [[ -n "$CREDITS" ]]; then BOUND="at most $CREDITS chunks in flight per worker"; else BOUND="the learner's default credit policy"; fi
    echo "Peak RSS (GNU time %M, largest over the timed runs; credits bound what is in flight: $BOUND):"
    echo
    echo "${MEMORY:-not measured (no GNU time at /usr/bin/time)}"
    echo
    echo "<details><summary>Every run (JSON lines; rep 0 = pilot)</summary>"
    echo
    echo '```'
    cat "$ALL"
    echo '```'
    echo "</details>"
} >"$RESULTS"

echo "$TABLE"
echo
echo "$MEMORY"
log "written: $RESULTS"

#!/usr/bin/env bash
# What a flood of idle worker sessions costs a learner's training, side by side for two builds.
#
# For each learner binary it runs a CartPole learner with --eta 4 (admission on every update)
# and one honest worker (16 envs), measures updates/s over MEASURE seconds, then opens
# SESSIONS sessions that only say Hello and heartbeat (tributary-bench session-flood, one
# process) and measures again. Reports updates/s without and with the flood, and their ratio.
#
#   Benchmarks/security/session-flood.sh                 (this build only)
#   BASE_BIN=/path/to/old/release/bin Benchmarks/security/session-flood.sh   (and an older build)
# Environment: SESSIONS=1000, MEASURE=10, SKIP_BUILD=1
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SESSIONS="${SESSIONS:-1000}"
MEASURE="${MEASURE:-10}"
cd "$ROOT"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    swift build -c release --scratch-path .build-release >&2
fi
BIN="$(swift build -c release --scratch-path .build-release --show-bin-path)"
WORK="$(mktemp -d /tmp/tributary-flood.XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

updates() { "$BIN/tributary" status --json --learner "$1" | jq '.updates // 0'; }

# measure LABEL LEARNER_DIR: prints one markdown row.
measure() {
    local label=$1 dir=$2 extra=() file
    file="$(tr -c "a-zA-Z0-9" "_" <<<"$label")"
    [[ "$("$dir/learner" --help 2>&1)" == *--max-workers* ]] && extra=(--max-workers 2048)
    "$dir/learner" --bind 127.0.0.1 --data-port 0 --weights-port 0 --control-port 0 --metrics-port 0 --runs '' \
        --env CartPole-v1 --eta 4 --log-level warning "${extra[@]}" >"$WORK/$file.out" 2>"$WORK/$file.err" &
    local learner=$!
    PIDS+=("$learner")
    for _ in $(seq 100); do grep -q '"ready"' "$WORK/$file.out" 2>/dev/null && break; sleep 0.1; done
    local ready data weights control
    ready="$(grep '"ready"' "$WORK/$file.out" | head -1)"
    data="$(jq -r '.data[0]' <<<"$ready")"; weights="$(jq -r '.weights[0]' <<<"$ready")"; control="$(jq -r '.control[0]' <<<"$ready")"
    "$BIN/rollout-worker" --data "$data" --weights "$weights" --control "$control" --env CartPole-v1 --num-envs 16 \
        --log-level error >/dev/null 2>&1 &
    PIDS+=($!)
    sleep 3
    local u0 u1 u2 u3
    u0=$(updates "$control"); sleep "$MEASURE"; u1=$(updates "$control")
    "$BIN/tributary-bench" session-flood --data "$data" --sessions "$SESSIONS" --seconds $((MEASURE + 8)) >"$WORK/$file.flood" 2>&1 &
    PIDS+=($!)
    sleep 5
    u2=$(updates "$control"); sleep "$MEASURE"; u3=$(updates "$control")
    local connected
    connected=$("$BIN/tributary" status --json --learner "$control" | jq '.workers_connected // 0')
    kill -9 "${PIDS[@]}" 2>/dev/null || true
    wait "${PIDS[@]}" 2>/dev/null || true
    PIDS=()
    python3 -c "
import sys
label, m, u0, u1, u2, u3, conn = sys.argv[1], float(sys.argv[2]), *map(int, sys.argv[3:7]), sys.argv[7]
idle, flood = (u1 - u0) / m, (u3 - u2) / m
print(f'| {label} | {idle:,.0f} | {flood:,.0f} | {flood / idle:.2f} | {conn} |')
" "$label" "$MEASURE" "$u0" "$u1" "$u2" "$u3" "$connected"
}

echo "| learner | updates/s, 1 worker | updates/s, + $SESSIONS idle sessions | ratio | sessions connected |"
echo "|---|---|---|---|---|"
measure "this build ($(git rev-parse --short HEAD))" "$BIN"
if [[ -n "${BASE_BIN:-}" ]]; then measure "base ($BASE_BIN)" "$BASE_BIN"; fi

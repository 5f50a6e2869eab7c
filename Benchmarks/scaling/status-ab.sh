#!/usr/bin/env bash
# Side by side: how long `tributary status --json` takes, from the command's start to its exit,
# for two builds of `tributary`, on one learner fed by many worker sessions (the machine busy).
# The two binaries alternate call by call, so the machine's drift touches both alike.
#
#   Benchmarks/scaling/status-ab.sh OLD_TRIBUTARY NEW_TRIBUTARY [PROCESSES] [SESSIONS] [CALLS]
#
# PROCESSES `rollout-worker --sessions SESSIONS --num-envs 1` processes (default 8 × 32 = 256
# sessions) on a CartPole learner from .build-release (or BIN); prints each build's sorted times
# in ms and its median and p95.
set -euo pipefail
cd "$(dirname "$0")/../.."
old=$1 new=$2 procs=${3:-8} sessions=${4:-32} calls=${5:-40}
bin=${BIN:-.build-release/release}
tmp=$(mktemp -d)
trap 'pkill -INT -P $$ rollout-worker 2>/dev/null || true; sleep 1; kill -INT $learner 2>/dev/null || true; wait; rm -rf "$tmp"' EXIT
"$bin/learner" --env CartPole-v1 --bind 127.0.0.1 --data-port 0 --weights-port 0 --control-port 0 --metrics-port 0 \
    --log-level warning > "$tmp/learner.json" 2>/dev/null &
learner=$!
for _ in $(seq 200); do grep -q '"event":"ready"' "$tmp/learner.json" 2>/dev/null && break; sleep 0.05; done
ready=$(grep '"event":"ready"' "$tmp/learner.json" | head -1)
endpoint() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]][0])' "$ready" "$1"; }
data=$(endpoint data) weights=$(endpoint weights) control=$(endpoint control)
for i in $(seq "$procs"); do
    "$bin/rollout-worker" --env CartPole-v1 --data "$data" --weights "$weights" --control "$control" --num-envs 1 \
        --sessions "$sessions" --worker-id "ab$i" --log-level warning > /dev/null 2>&1 &
done
sleep 12
ms() { local a b; a=$(date +%s%N); "$1" status --learner "$control" --json > /dev/null; b=$(date +%s%N); echo $(( (b - a) / 1000000 )); }
for _ in $(seq "$calls"); do
    echo "$(ms "$old") $(ms "$new")" >> "$tmp/times"
    sleep 0.2
done
for col in 1 2; do
    name=$([ $col = 1 ] && echo old || echo new)
    sort -n -k$col "$tmp/times" | awk -v c=$col -v n="$name" '{v[NR]=$c} END {
        printf "%s: median %d ms, p95 %d ms, max %d ms (%d calls):", n, v[int((NR+1)/2)], v[int(0.95*NR+0.5)], v[NR], NR;
        for (i = 1; i <= NR; i++) printf " %d", v[i]; printf "\n" }'
done

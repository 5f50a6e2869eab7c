#!/usr/bin/env bash
# Regenerates docs/scaling.md: every run of the scale benchmark in one go, on this machine, with
# the release build (about 30 minutes on 2 cores).
#
#   Benchmarks/scaling/run.sh [OUT_DIR]        (default /tmp/tributary-scaling; wiped first)
#
#   1. CartPole-v1, default settings, 1, 2, 4, 8, 16, 32 and 64 worker processes x 4 envs, seeds 1-3
#   2. the same at 1, 8 and 32 workers with the admission and preset this replaced
#      (--lag-target off, Adam, learning rate 3e-3, unscaled rewards), seed 1: the "before" rows
#   3. Acrobot-v1, default settings, 1, 8 and 32 workers, seeds 1-3
#   4. learning that holds: the demo's setting (2 workers x 16 envs) run 60 s past the target,
#      seeds 1-3, and seeds 1-2 again with the old preset (Adam, 3e-3, unscaled rewards); then
#      1 worker x 4 envs, seeds 1-20, with the old learning rate and reward scale and with today's
#   5. 256 worker processes x 1 env on one learner for 30 s (no stopping rule), `tributary status`
#      timed every 0.25 s; then
#      the same 256 sessions as 8 processes x 32 sessions (rollout-worker --sessions 32)
#   6. per-chunk overhead in the steady state: 1, 2, 8, 32 and 64 workers for 15 s each, seed 1
#   7. a fixed eta of 0, 1 and 4 (2 workers x 16 envs), seeds 1-3
#   8. weight fan-out: 8, 32 and 64 workers for 20 s with --trace-versions, seed 1
#   9. end-to-end ceiling: the demo's setting (2 workers x 16 envs) for 20 s, seeds 1-3, each
#      followed by tributary-bench's acting and training rates
#
# Then the results are copied to Benchmarks/scaling/results.jsonl (one JSON line per run) and
# Benchmarks/scaling/report.py writes docs/scaling.md from them. SKIP_BUILD=1
# reuses .build-release; OPENBLAS_CORETYPE is respected when preset (the report says which).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:-/tmp/tributary-scaling}"
cd "$ROOT"
if [[ -z "${SKIP_BUILD:-}" ]]; then
    ./scripts/install-deps.sh
    swift build -c release --scratch-path .build-release >&2
fi
BIN="$ROOT/.build-release/release"
rm -rf "$OUT"
mkdir -p "$OUT"
run() { python3 Benchmarks/scaling/run.py --bin-dir "$BIN" --out "$OUT" "$@"; }
run --env CartPole-v1 --workers 1 2 4 8 16 32 64 --seeds 1 2 3 --budget 60 --tag cartpole
OLD_PRESET=(--learner-arg=--optimizer=adam --learner-arg=--learning-rate=3e-3 --learner-arg=--reward-scale=1)
run --env CartPole-v1 --workers 1 8 32 --seeds 1 --budget 60 --tag before --learner-arg=--lag-target=off "${OLD_PRESET[@]}"
run --env Acrobot-v1 --workers 1 8 32 --seeds 1 2 3 --budget 120 --tag acrobot
run --env CartPole-v1 --workers 2 --num-envs 16 --seeds 1 2 3 --past-target 60 --tag stability
run --env CartPole-v1 --workers 2 --num-envs 16 --seeds 1 2 --past-target 60 --tag stability-adam "${OLD_PRESET[@]}"
run --env CartPole-v1 --workers 1 --seeds $(seq 1 20) --budget 20 --tag collapse-old --learner-arg=--learning-rate=3e-3 --learner-arg=--reward-scale=1
run --env CartPole-v1 --workers 1 --seeds $(seq 1 20) --budget 20 --tag collapse-new
run --env CartPole-v1 --workers 256 --num-envs 1 --seeds 1 --steady 30 --status-poll --tag sessions256
run --env CartPole-v1 --workers 8 --sessions 32 --num-envs 1 --seeds 1 --steady 30 --status-poll --tag sessions256-mux
run --env CartPole-v1 --workers 1 2 8 32 64 --seeds 1 --steady 15 --tag overhead
for eta in 0 1 4; do
    run --env CartPole-v1 --workers 2 --num-envs 16 --seeds 1 2 3 --budget 60 --tag "eta$eta" --learner-arg=--eta=$eta
done
run --env CartPole-v1 --workers 8 32 64 --seeds 1 --steady 20 --fanout --tag fanout
run --env CartPole-v1 --workers 2 --num-envs 16 --seeds 1 2 3 --steady 20 --ceiling --tag e2e
cp "$OUT/results.jsonl" Benchmarks/scaling/results.jsonl
python3 Benchmarks/scaling/report.py Benchmarks/scaling/results.jsonl --out docs/scaling.md --command "Benchmarks/scaling/run.sh"
echo "wrote docs/scaling.md" >&2

#!/usr/bin/env bash
# Learning benchmarks, side by side with the peer scripts in Benchmarks/peers (PyTorch,
# gymnasium, Stable-Baselines3; same machine, same session, interleaved so that load from other
# tenants hits both sides alike):
#
#   1. learner update: `tributary-bench learner-update` vs torch_vtrace_bench.py
#      (obs 4 -> 64 -> 64 tanh + policy/value heads, V-trace, Adam, T=32 x B=64, same threads),
#      ours with OPENBLAS_CORETYPE unset (Tributary picks the kernel) and preset to Haswell
#   2. worker steps/s on one core: `tributary-bench worker-steps` (16 CartPole copies, batched
#      forward, sampling, chunk encoding) vs env_step_bench.py `torch` and `vec8`
#   3. CartPole-v1 wall time to mean-100 >= 475: `tributary demo` (learner + 2 workers, real
#      processes over loopback) vs sb3_cartpole.py ppo_zoo, SEEDS each, medians
#   4. start-up: from launching the learner to the first environment step (from 3.)
#
# Prints a markdown report on stdout and writes it to Benchmarks/learning/results.md.
#
# Environment (all optional):
#   PEERS=Benchmarks/peers     where the peer scripts are
#   PEERS_VENV=.venv-peers     a venv with torch, stable-baselines3, gymnasium, numpy at the
#                              versions pinned in Benchmarks/peers/requirements.txt (created if
#                              missing, brought to the pins whenever that file changes)
#   REPS=3                     repetitions of the micro-benchmarks (median of medians)
#   SEEDS="0 1 2"              CartPole seeds for both sides
#   SKIP_SB3=1                 skip section 3's SB3 side (it takes ~1 min)
#   SKIP_BUILD=1               reuse the release binaries in .build-release
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PEERS="${PEERS:-$ROOT/Benchmarks/peers}"
PEERS_REQUIREMENTS="$ROOT/Benchmarks/peers/requirements.txt"
PEERS_VENV="${PEERS_VENV:-$ROOT/.venv-peers}"
REPS="${REPS:-3}"
SEEDS="${SEEDS:-0 1 2}"
RESULTS="${RESULTS:-$HERE/results.md}"
log() { printf '%s\n' "$*" >&2; }

command -v jq >/dev/null || { log "run.sh needs jq (Debian: apt-get install jq)"; exit 1; }
[[ -f "$PEERS/torch_vtrace_bench.py" ]] || { log "peer scripts not found in $PEERS (set PEERS=)"; exit 1; }
if [[ ! -x "$PEERS_VENV/bin/python" ]]; then
    log "creating $PEERS_VENV"
    python3 -m venv "$PEERS_VENV"
fi
# The venv keeps a copy of the requirements it was last brought to; install again when they differ.
if ! cmp -s "$PEERS_REQUIREMENTS" "$PEERS_VENV/tributary-peers-requirements.txt"; then
    log "installing $PEERS_REQUIREMENTS into $PEERS_VENV (pinned torch, stable-baselines3, gymnasium, numpy from PyPI; a few GB, a few minutes)"
    "$PEERS_VENV/bin/pip" install -q -r "$PEERS_REQUIREMENTS"
    cp "$PEERS_REQUIREMENTS" "$PEERS_VENV/tributary-peers-requirements.txt"
fi
PY="$PEERS_VENV/bin/python"
cd "$ROOT"
if [[ -z "${SKIP_BUILD:-}" ]]; then
    ./scripts/install-deps.sh
    swift build -c release --scratch-path .build-release >&2
fi
BIN="$ROOT/.build-release/release"

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# The samples/s or steps/s figure of a RESULT line: "(1,234,567 samples/s" or "median 123,456".
samples_per_s() { grep '^RESULT' | sed -E 's/.*\(([0-9,.]+) samples\/s.*/\1/' | tr -d ,; }
median_steps() { grep '^RESULT' | sed -E 's/.*median ([0-9,.]+).*/\1/' | tr -d ,; }

CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
TORCH_VERSION="$("$PY" -c 'import torch; print(torch.__version__)')"

# 1. Learner update -------------------------------------------------------------------
# OpenBLAS's kernel decides most of it, and it is chosen when the library loads: with
# OPENBLAS_CORETYPE unset Tributary picks the best the CPU allows (SkylakeX on AVX-512), a preset
# value is respected (some hosts preset Haswell). One thread is measured both ways, side by side;
# everything else runs with the caller's environment as it is (ENV_CORE below).
ENV_CORE="${OPENBLAS_CORETYPE:-unset}"
declare -A LEARN
for threads in 1 2; do
    ours=(); haswell=(); theirs=()
    for ((i = 0; i < REPS; i++)); do
        ours+=("$(env -u OPENBLAS_CORETYPE "$BIN/tributary-bench" learner-update --threads "$threads" | tee -a /dev/stderr | samples_per_s)")
        if [[ $threads == 1 ]]; then
            haswell+=("$(OPENBLAS_CORETYPE=Haswell "$BIN/tributary-bench" learner-update --threads 1 | tee -a /dev/stderr | samples_per_s)")
        fi
        theirs+=("$("$PY" "$PEERS/torch_vtrace_bench.py" --threads "$threads" --obs 4 --hidden 64 | tee -a /dev/stderr | samples_per_s)")
    done
    LEARN[ours$threads]="$(printf '%s\n' "${ours[@]}" | median)"
    [[ $threads == 1 ]] && LEARN[haswell1]="$(printf '%s\n' "${haswell[@]}" | median)"
    LEARN[torch$threads]="$(printf '%s\n' "${theirs[@]}" | median)"
done
CORE="$(env -u OPENBLAS_CORETYPE "$BIN/tributary-bench" learner-update --updates 10 --warmup 1 | sed -E 's/.*core=([^ ]+).*/\1/')"

# 2. Worker steps/s ---------------------------------------------------------------------
ours=(); torch=(); vec8=()
for ((i = 0; i < REPS; i++)); do
    ours+=("$("$BIN/tributary-bench" worker-steps --steps 400000 --repeats 3 | tee -a /dev/stderr | median_steps)")
    torch+=("$("$PY" "$PEERS/env_step_bench.py" torch 30000 3 | tee -a /dev/stderr | median_steps)")
    vec8+=("$("$PY" "$PEERS/env_step_bench.py" vec8 200000 3 | tee -a /dev/stderr | median_steps)")
done
W_OURS="$(printf '%s\n' "${ours[@]}" | median)"
W_TORCH="$(printf '%s\n' "${torch[@]}" | median)"
W_VEC8="$(printf '%s\n' "${vec8[@]}" | median)"

# 3 and 4. CartPole to 475 ---------------------------------------------------------------
DEMO_ROWS=""; SB3_ROWS=""; ours_wall=(); ours_steps=(); startups=(); sb3_wall=(); sb3_steps=()
for seed in $SEEDS; do
    line="$("$BIN/tributary" demo --json --ephemeral-ports --seed "$((seed + 1))" --seconds 120 | tee -a /dev/stderr | grep '"demo_summary"')"
    if [[ "$(jq -r .solved <<<"$line")" == true ]]; then
        ours_wall+=("$(jq -r .solve_wall_s <<<"$line")"); ours_steps+=("$(jq -r .solve_steps <<<"$line")")
    else
        ours_wall+=(inf); ours_steps+=(inf)
    fi
    startups+=("$(jq -r .startup_s <<<"$line")")
    DEMO_ROWS+="| Tributary | $((seed + 1)) | $(jq -r '.solved' <<<"$line") | $(jq -r '.solve_wall_s // "–" | if type == "number" then (. * 100 | round / 100) else . end' <<<"$line") | $(jq -r '.solve_steps // "–"' <<<"$line") | $(jq -r '.startup_s * 100 | round / 100' <<<"$line") | $(jq -r '.lag_mean * 10 | round / 10' <<<"$line") |"$'\n'
    if [[ -z "${SKIP_SB3:-}" ]]; then
        out="$("$PY" "$PEERS/sb3_cartpole.py" ppo_zoo "$seed" | tee -a /dev/stderr | grep '^RESULT')"
        if grep -q REACHED <<<"$out" && ! grep -q NOT_REACHED <<<"$out"; then
            w="$(sed -E 's/.*wall_s=([0-9.]+).*/\1/' <<<"$out")"; s="$(sed -E 's/.* steps=([0-9]+).*/\1/' <<<"$out")"
            setup="$(sed -E 's/.*setup_s=([0-9.]+).*/\1/' <<<"$out")"
        else
            w=inf; s=inf; setup="–"
        fi
        sb3_wall+=("$w"); sb3_steps+=("$s")
        SB3_ROWS+="| SB3 PPO (rl-zoo) | $seed | $([[ $w == inf ]] && echo false || echo true) | $w | $s | $setup (set-up, not counted) | – |"$'\n'
    fi
done
O_WALL="$(printf '%s\n' "${ours_wall[@]}" | median)"
O_STEPS="$(printf '%s\n' "${ours_steps[@]}" | median)"
O_START="$(printf '%s\n' "${startups[@]}" | median)"
O_START_MAX="$(printf '%s\n' "${startups[@]}" | sort -g | tail -1)"
if [[ -z "${SKIP_SB3:-}" ]]; then
    S_WALL="$(printf '%s\n' "${sb3_wall[@]}" | median)"
    S_STEPS="$(printf '%s\n' "${sb3_steps[@]}" | median)"
else
    S_WALL=nan; S_STEPS=nan
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0 || b == "nan") print "–"; else printf "%.2f", a / b }'; }
# Integers with thousands separators; "inf"/"nan" as they are.
fmt() { if [[ "$1" == inf || "$1" == nan ]]; then echo "$1"; else printf '%.0f' "$1" | rev | sed -E 's/([0-9]{3})/\1,/g; s/,$//' | rev; fi; }
sec() { if [[ "$1" == inf || "$1" == nan ]]; then echo "$1"; else printf '%.2f' "$1"; fi; }
{
    echo "### Run of $(date -u '+%Y-%m-%d %H:%M UTC'), commit $COMMIT"
    echo
    echo "Command: \`make bench-learning\` (REPS=$REPS, SEEDS=\"$SEEDS\"). CPU: $CPU, $(nproc) cores;"
    echo "OpenBLAS kernel: $CORE when OPENBLAS_CORETYPE is unset (Tributary's choice); OPENBLAS_CORETYPE in the"
    echo "caller's environment: $ENV_CORE (the worker, demo and start-up rows ran with it); torch $TORCH_VERSION (CPU)."
    echo
    echo "| benchmark | Tributary | peer | Tributary / peer | target |"
    echo "|---|---|---|---|---|"
    echo "| learner update, 1 thread, OpenBLAS $CORE (samples/s) | $(fmt "${LEARN[ours1]}") | torch $(fmt "${LEARN[torch1]}") | **$(ratio "${LEARN[ours1]}" "${LEARN[torch1]}")×** | ≥ 3× |"
    echo "| learner update, 1 thread, OPENBLAS_CORETYPE=Haswell preset (samples/s) | $(fmt "${LEARN[haswell1]}") | torch $(fmt "${LEARN[torch1]}") | $(ratio "${LEARN[haswell1]}" "${LEARN[torch1]}")× | – |"
    echo "| learner update, 2 threads, OpenBLAS $CORE (samples/s) | $(fmt "${LEARN[ours2]}") | torch $(fmt "${LEARN[torch2]}") | $(ratio "${LEARN[ours2]}" "${LEARN[torch2]}")× | – |"
    echo "| worker steps/s, one core | $(fmt "$W_OURS") | per-step torch policy $(fmt "$W_TORCH") | **$(ratio "$W_OURS" "$W_TORCH")×** | ≥ 50× |"
    echo "| worker steps/s, one core | $(fmt "$W_OURS") | gymnasium vec8, no policy $(fmt "$W_VEC8") | **$(ratio "$W_OURS" "$W_VEC8")×** | ≥ 5× |"
    echo "| CartPole-v1 wall s to mean-100 ≥ 475 (median) | $(sec "$O_WALL") | SB3 PPO rl-zoo $(sec "$S_WALL") | **$(ratio "$O_WALL" "$S_WALL")×** | ≤ 0.33× |"
    echo "| CartPole-v1 env steps to 475 (median) | $(fmt "$O_STEPS") | SB3 PPO rl-zoo $(fmt "$S_STEPS") | $(ratio "$O_STEPS" "$S_STEPS")× | – |"
    echo "| start-up: launch to first env step (median / max s) | $(sec "$O_START") / $(sec "$O_START_MAX") | – | – | ≤ 0.5 s |"
    echo
    echo "| run | seed | solved | wall s to 475 | env steps | start-up s / note | mean lag |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s' "$DEMO_ROWS$SB3_ROWS"
    echo
} | tee -a /dev/stderr > "$RESULTS.new"
# Every run is kept, newest last.
[[ -f "$RESULTS" ]] || printf '# Learning benchmark runs\n\nWritten by Benchmarks/learning/run.sh; see docs/benchmarks.md.\n' > "$RESULTS"
{ echo; cat "$RESULTS.new"; } >> "$RESULTS" && rm -f "$RESULTS.new"

#!/usr/bin/env bash
# The group-relative update, side by side with a PyTorch implementation of the same update
# (Benchmarks/peers/torch_group_bench.py), on one thread, interleaved REPS times:
#   `tributary-bench group-update` — addrev, 64 prompts x K 8 answers sampled token by token from
#   the network (MLP 42 -> 256 -> 256 ReLU -> 10 logits + value), then one GRPO step (token-mean,
#   entropy 0.01, Adam 1e-3) — reports the median sampling and update milliseconds; so does the
#   peer. Ours runs with OPENBLAS_CORETYPE as the environment has it (unset: Tributary picks the
#   kernel) and, for comparison, preset to Haswell; and once more running the network on every
#   row (--no-distinct-rows), as the peer does, instead of once per distinct input row.
# Prints a markdown table and writes it to Benchmarks/group/results.md.
#   PEERS_VENV=.venv-peers (torch, pinned in Benchmarks/peers/requirements.txt; see
#   Benchmarks/learning/run.sh, which creates it), REPS=3, SKIP_BUILD=1 reuses .build-release.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PEERS_VENV="${PEERS_VENV:-$ROOT/.venv-peers}"
REPS="${REPS:-3}"
cd "$ROOT"
[[ -x "$PEERS_VENV/bin/python" ]] || { echo "no $PEERS_VENV: run Benchmarks/learning/run.sh once (it creates the pinned venv)" >&2; exit 1; }
if [[ -z "${SKIP_BUILD:-}" ]]; then
    ./scripts/install-deps.sh
    swift build -c release --scratch-path .build-release >&2
fi
BIN="$ROOT/.build-release/release"
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
field() { sed -E "s/.*median update ([0-9.]+) ms, sampling ([0-9.]+) ms.*/\\$1/"; }
ours_u=(); ours_s=(); has_u=(); has_s=(); all_u=(); all_s=(); torch_u=(); torch_s=(); distinct=()
for r in $(seq "$REPS"); do
    line=$("$BIN/tributary-bench" group-update --threads 1 | grep '^RESULT'); echo "$line" >&2
    ours_u+=("$(echo "$line" | field 1)"); ours_s+=("$(echo "$line" | field 2)")
    distinct+=("$(echo "$line" | sed -E 's/.*distinct rows ([0-9]+)%.*/\1/')")
    line=$("$BIN/tributary-bench" group-update --threads 1 --no-distinct-rows | grep '^RESULT'); echo "$line" >&2
    all_u+=("$(echo "$line" | field 1)"); all_s+=("$(echo "$line" | field 2)")
    line=$(OPENBLAS_CORETYPE=Haswell "$BIN/tributary-bench" group-update --threads 1 | grep '^RESULT'); echo "$line" >&2
    has_u+=("$(echo "$line" | field 1)"); has_s+=("$(echo "$line" | field 2)")
    line=$("$PEERS_VENV/bin/python" Benchmarks/peers/torch_group_bench.py --threads 1 | grep '^RESULT'); echo "$line" >&2
    torch_u+=("$(echo "$line" | field 1)"); torch_s+=("$(echo "$line" | field 2)")
done
calc() { awk "BEGIN { printf \"$2\", $1 }"; }
m() { printf '%s\n' "$@" | median; }
ou=$(m "${ours_u[@]}"); os=$(m "${ours_s[@]}"); au=$(m "${all_u[@]}"); as=$(m "${all_s[@]}"); dr=$(m "${distinct[@]}"); hu=$(m "${has_u[@]}"); hs=$(m "${has_s[@]}"); tu=$(m "${torch_u[@]}"); ts=$(m "${torch_s[@]}")
core=$("$BIN/tributary-bench" group-update --threads 1 --updates 1 --warmup 0 | sed -E 's/.*core=([A-Za-z0-9]+).*/\1/')
report=$(cat <<MD
| one thread, addrev, 64 prompts x 8 answers, 2 tokens | update (ms) | sampling (ms) | both (ms) | torch / ours (both) |
|---|---|---|---|---|
| Tributary (OpenBLAS $core) | $ou | $os | $(calc "$ou + $os" %.3f) | $(calc "($tu + $ts) / ($ou + $os)" %.2f)x |
| Tributary (OPENBLAS_CORETYPE=Haswell) | $hu | $hs | $(calc "$hu + $hs" %.3f) | $(calc "($tu + $ts) / ($hu + $hs)" %.2f)x |
| Tributary, every row (--no-distinct-rows, OpenBLAS $core) | $au | $as | $(calc "$au + $as" %.3f) | $(calc "($tu + $ts) / ($au + $as)" %.2f)x |
| PyTorch $("$PEERS_VENV/bin/python" -c 'import torch; print(torch.__version__)') | $tu | $ts | $(calc "$tu + $ts" %.3f) | 1 |

Distinct input rows: a median $dr % of the 1,024 per update. Medians of $REPS interleaved runs of 300 timed updates each (after 30 warm-up), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), commit $(git rev-parse --short HEAD).
MD
)
echo "$report" | tee "$HERE/results.md"

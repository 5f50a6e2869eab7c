#!/usr/bin/env bash
# Regenerates the numbers and figures of docs/seed-reproduction.md: every method of the seed
# paper's table under each staleness pattern (scripts/group-sweep.py), the M2PO cells at lags up
# to 256, an lr control, a second task (add), and the success curves (scripts/group-plot.py).
# About 2 hours on 2 cores with the release binaries.
#   scripts/seed-reproduction.sh [BIN_DIR]            the full runs; writes Benchmarks/seed/
#                                                     (sweep, others, m2po, lr-control, add: .json
#                                                     and -report.md each)
#                                                     and the SVGs under docs/seed-reproduction/
#   scripts/seed-reproduction.sh --smoke BIN_DIR       two methods, two patterns, one seed, 60
#                                                     updates: checks the pipeline (make test)
set -euo pipefail
cd "$(dirname "$0")/.."
smoke=""
if [[ "${1:-}" == "--smoke" ]]; then smoke=1; shift; fi
bin="${1:-.build-release/release}"
common=(--bin-dir "$bin" --eval-seconds 0.25 --learner-args "--learning-rate 3e-3 --entropy-cost 0.03")
if [[ -n "$smoke" ]]; then
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
    python3 scripts/group-sweep.py "${common[@]}" --methods grpo,opmd --patterns lag10,offline30 --seeds 1 --updates 60 \
        --out "$out" </dev/null >"$out/log" 2>&1 || { cat "$out/log" >&2; exit 1; }
    python3 - "$out/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r) == 4, f"{len(r)} of 4 cells ran"
for x in r:
    assert x.get("evaluations") and x["updates"] >= 55, x
    lag = x["lag_mean"]
    assert (x["pattern"] != "lag10" or lag >= 10), f"lag10 ran with mean lag {lag}"
PY
    python3 scripts/group-plot.py "$out/results.json" "$out/plots" >/dev/null
    python3 scripts/group-report.py "$out/results.json" >/dev/null
    echo "seed-reproduction smoke: 4 cells ran, lags as asked, plots drawn"
    exit 0
fi
dest=Benchmarks/seed
mkdir -p "$dest"
patterns=on-policy,lag10,lag32,lag64,sync20,sync64,offline30
# The seed paper's table: 10 methods x 7 patterns x 3 seeds.
python3 scripts/group-sweep.py "${common[@]}" --updates 1000 --seeds 1,2,3 \
    --methods grpo,reinforce,asymre,rec-oneside-nois,rec-oneside-is,rec-oneside-nois-wide,rec-ring-nois,opmd,red-drop,red-weight \
    --patterns "$patterns" --out /tmp/seed-sweep >&2
cp /tmp/seed-sweep/results.json "$dest/sweep.json"
# Every other method with its own loss or advantage (grpo-population, rec-none-nois, asymre-shift,
# rec-twoside-is and rec-ring-is are variants of swept ones), same patterns.
python3 scripts/group-sweep.py "${common[@]}" --updates 1000 --seeds 1,2,3 \
    --methods dr-grpo,rloo,rec-none-is,rec-twoside-nois,rec-gspo-oneside-nois,gspo,cispo,bnpo,spo,m2po,icepop,dppo-tv,a3po \
    --patterns "$patterns" --out /tmp/seed-others >&2
cp /tmp/seed-others/results.json "$dest/others.json"
python3 scripts/group-sweep.py "${common[@]}" --updates 1000 --seeds 1,2,3 --methods m2po,grpo,rec-oneside-nois \
    --patterns lag64,lag128,lag256 --out /tmp/seed-m2po >&2
cp /tmp/seed-m2po/results.json "$dest/m2po.json"
# The lr control: the task's defaults (lr 1e-3, entropy 0.01) instead of 3e-3 / 0.03.
python3 scripts/group-sweep.py --bin-dir "$bin" --eval-seconds 0.25 --learner-args "--learning-rate 1e-3 --entropy-cost 0.01" \
    --updates 1000 --seeds 1,2,3 --methods grpo,reinforce,rec-oneside-nois,rec-oneside-nois-wide \
    --patterns on-policy,lag10,lag64 --out /tmp/seed-lr >&2
cp /tmp/seed-lr/results.json "$dest/lr-control.json"
# A second task: add (tens digit first).
python3 scripts/group-sweep.py "${common[@]}" --env add --updates 1000 --seeds 1,2,3 --methods grpo,reinforce,rec-oneside-nois,opmd \
    --patterns on-policy,lag10,lag64 --out /tmp/seed-add >&2
cp /tmp/seed-add/results.json "$dest/add.json"
for name in sweep others m2po lr-control add; do
    python3 scripts/group-report.py "$dest/$name.json" > "$dest/$name-report.md"
done
python3 scripts/group-plot.py "$dest/sweep.json" docs/seed-reproduction
python3 scripts/group-plot.py "$dest/others.json" docs/seed-reproduction/others
python3 scripts/group-plot.py "$dest/m2po.json" docs/seed-reproduction/m2po

#!/usr/bin/env bash
# Regenerates the numbers and figures of docs/seed-reproduction.md: every method of the seed
# paper's table under each staleness pattern (scripts/group-sweep.py), the M2PO cells at lags up
# to 256, and the success curves (scripts/group-plot.py). About 40 minutes on 2 cores with the
# release binaries.
#   scripts/seed-reproduction.sh [BIN_DIR]            the full runs; writes Benchmarks/seed/
#                                                     (sweep.json, report.md, m2po.json, m2po-report.md)
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
python3 scripts/group-sweep.py "${common[@]}" --updates 1000 --seeds 1,2,3 \
    --methods grpo,reinforce,asymre,rec-oneside-nois,rec-oneside-is,rec-oneside-nois-wide,rec-ring-nois,opmd,red-drop,red-weight \
    --patterns on-policy,lag10,sync20,lag64,offline30 --out /tmp/seed-sweep >&2
cp /tmp/seed-sweep/results.json "$dest/sweep.json"
python3 scripts/group-sweep.py "${common[@]}" --updates 1000 --seeds 1,2,3 --methods m2po,grpo,rec-oneside-nois \
    --patterns lag64,lag128,lag256 --out /tmp/seed-m2po >&2
cp /tmp/seed-m2po/results.json "$dest/m2po.json"
python3 scripts/group-report.py "$dest/sweep.json" > "$dest/report.md"
python3 scripts/group-report.py "$dest/m2po.json" > "$dest/m2po-report.md"
python3 scripts/group-plot.py "$dest/sweep.json" docs/seed-reproduction
python3 scripts/group-plot.py "$dest/m2po.json" docs/seed-reproduction/m2po

#!/usr/bin/env bash
# A/B of two builds of Tributary on the same machine in one run: the learner update, the
# worker's acting loop and the demo's time to solve CartPole, alternating A and B so that
# noise from a shared machine falls on both. Prints a table of medians and B/A ratios.
#
#   Benchmarks/ab/run.sh A_BIN_DIR B_BIN_DIR [REPEATS]
#   e.g. git worktree add /tmp/base f64317c && (cd /tmp/base && swift build -c release)
#        Benchmarks/ab/run.sh /tmp/base/.build/release .build/release 5
#
# OPENBLAS_CORETYPE is left as the host has it (the binaries pick SkylakeX on AVX-512 when it
# is unset, and respect a preset value); the table says which core ran.
set -euo pipefail
a="$(cd "${1:?A bin dir}" && pwd)"; b="$(cd "${2:?B bin dir}" && pwd)"; repeats="${3:-5}"
out="$(mktemp -d)"
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
for i in $(seq 1 "$repeats"); do
  for side in a b; do
    bin="$a"; [ "$side" = b ] && bin="$b"
    for bsz in 16 64; do
      "$bin/tributary-bench" learner-update --B "$bsz" --updates 300 2>/dev/null | sed -n 's/.*median \([0-9.]*\) upd\/s.*/\1/p' >> "$out/$side-update-$bsz"
    done
    "$bin/tributary-bench" worker-steps --steps 400000 --repeats 1 2>/dev/null | sed -n 's/.*steps.* median \([0-9.]*\) max.*/\1/p' >> "$out/$side-steps"
    # The demo's run directory goes to the scratch folder, not the caller's runs/.
    (cd "$out" && "$bin/tributary" demo --json --ephemeral-ports --seed "$i" --seconds 120 --bin-dir "$bin" 2>/dev/null) \
      | python3 -c 'import json,sys
for l in sys.stdin:
    l=l.strip()
    if l.startswith("{"):
        d=json.loads(l)
        if d.get("event")=="demo_summary": print(d.get("solve_wall_s") or "nan")' >> "$out/$side-demo"
  done
done
core="$("$b/tributary-bench" learner-update --updates 10 2>/dev/null | sed -n 's/.*core=\([A-Za-z0-9]*\).*/\1/p')"
printf "OpenBLAS core %s; %s repeats, A and B alternating\n\n" "$core" "$repeats"
printf "| measure | A (median) | B (median) | B/A |\n|---|---|---|---|\n"
for m in update-16:"learner updates/s, B=16" update-64:"learner updates/s, B=64" steps:"worker env steps/s (CartPole, 16 envs)" demo:"demo seconds to solve CartPole (lower is better)"; do
  key="${m%%:*}"; name="${m#*:}"
  ma="$(median < "$out/a-$key")"; mb="$(median < "$out/b-$key")"
  printf "| %s | %s | %s | %.2f |\n" "$name" "$ma" "$mb" "$(echo "$mb / $ma" | bc -l)"
done
rm -rf "$out"

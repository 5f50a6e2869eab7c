#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/<target>) with -sanitize=fuzzer,address into .build-fuzz
# and runs each for SECONDS (default 60) on its committed corpus, Fuzz/corpus/<target>.
# With FUZZ_MERGE=1 (make fuzz), new inputs that reach new coverage are merged into the corpus
# (commit them); otherwise the corpus is only read. A crash leaves its input in
# .build-fuzz/artifacts and makes this script fail.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (make fuzz: 60 s each; make test: a short pass)
#   FUZZ_RUNS=10000000 scripts/fuzz.sh 0 codec   (a fixed number of executions instead)
#   FUZZ_JOBS=2                                  (parallel jobs per target)
#   FUZZ_SANITIZE=fuzzer                         (coverage only, no AddressSanitizer: ~3x the
#                                                 executions per second, for the long runs)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(codec core trainer)
sanitize="${FUZZ_SANITIZE:-fuzzer,address}"
scratch=.build-fuzz
[ "$sanitize" = "fuzzer,address" ] || scratch=".build-fuzz-${sanitize//,/-}"
cc_sanitize="fuzzer-no-link${sanitize#fuzzer}"
flags=(-c release --scratch-path "$scratch" -Xswiftc -sanitize="$sanitize" -Xswiftc -DFUZZING -Xswiftc -parse-as-library
       -Xcc -fsanitize="$cc_sanitize" -Xswiftc -use-ld=lld)
for t in "${targets[@]}"; do
  swift build "${flags[@]}" --product "fuzz-$t" >&2
done
bin="$(swift build "${flags[@]}" --show-bin-path)"
mkdir -p "$scratch/artifacts" "$scratch/new"
export SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
status=0
for t in "${targets[@]}"; do
  corpus="Fuzz/corpus/$t"
  fresh="$scratch/new/$t"
  rm -rf "$fresh" && mkdir -p "$fresh"
  limit=(-max_total_time="$seconds")
  [ -n "${FUZZ_RUNS:-}" ] && limit=(-runs="$FUZZ_RUNS")
  # Several jobs write their logs to fuzz-N.log in the working directory (libFuzzer's way).
  [ "${FUZZ_JOBS:-1}" -gt 1 ] && limit+=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
  echo "fuzz-$t: ${FUZZ_RUNS:+$FUZZ_RUNS runs}${FUZZ_RUNS:-$seconds s} on $corpus" >&2
  if ! "$bin/fuzz-$t" "${limit[@]}" -max_len=4096 -artifact_prefix="$scratch/artifacts/$t-" \
       -print_final_stats=1 "$fresh" "$corpus" 2> "$scratch/$t.log"; then
    status=1
    echo "fuzz-$t FOUND A CRASH: $(ls "$scratch/artifacts" | grep "^$t-" | head -3)" >&2
    grep -E "ERROR|Fatal|Precondition|SUMMARY" "$scratch/$t.log" | head -5 >&2
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|cov:" "$scratch/$t.log" | tail -3 >&2 || true
  # Keep the corpus minimal: merge what was found into it.
  if [ "${FUZZ_MERGE:-0}" = 1 ] && [ -n "$(ls -A "$fresh")" ]; then
    "$bin/fuzz-$t" -merge=1 "$corpus" "$fresh" 2>/dev/null >/dev/null || true
  fi
done
exit $status

#!/usr/bin/env bash
# The dist tarball without the Swift toolchain: unpacks it, then in a private mount namespace
# with the toolchain's directory covered by an empty tmpfs (and no swift on PATH) runs the
# tarball's learner and two rollout workers until CartPole reaches its target, and evaluates the
# result with the tarball's `tributary eval`. Needs root (unshare, mount). `make test` runs it on
# the tarball `make dist` built:
#   scripts/test-dist.sh dist/tributary-<version>-linux-x86_64.tar.gz
set -euo pipefail
tarball=$(readlink -f "$1")
work=$(mktemp -d /tmp/tributary-dist-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xzf "$tarball"
dist=$(echo "$work"/tributary-*)
toolchain=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")   # /opt/swift/usr/bin/swift -> /opt/swift
echo "test-dist: $(basename "$tarball"), hiding the toolchain at $toolchain" >&2
export dist work toolchain
unshare --mount --propagation private bash -euo pipefail -c '
  mount -t tmpfs -o size=1m,mode=0755 none "$toolchain"
  export PATH=/usr/sbin:/usr/bin:/sbin:/bin
  # Nothing of Swift is left to load: no swift, no runtime library anywhere the loader looks.
  if command -v swift >/dev/null; then echo "test-dist: swift is still on PATH" >&2; exit 1; fi
  if [ -n "$(ls -A "$toolchain")" ]; then echo "test-dist: $toolchain is not hidden" >&2; exit 1; fi
  for b in learner rollout-worker tributary; do
    if ldd "$dist/bin/$b" | grep -E "not found|swift" >&2; then echo "test-dist: $b needs what is not here" >&2; exit 1; fi
    "$dist/bin/$b" --version
  done
  endpoints=(--data "ipc://$work/data" --weights "ipc://$work/weights" --control "ipc://$work/control")
  "$dist/bin/learner" --env CartPole-v1 "${endpoints[@]}" --no-metrics --runs "$work/runs" --run-id dist \
      --target-return 475 --log-level warning > "$work/learner.out" &
  learner=$!
  workers=()
  for i in 1 2; do
    "$dist/bin/rollout-worker" --env CartPole-v1 --num-envs 16 "${endpoints[@]}" --worker-id "dist-$i" --log-level error > /dev/null &
    workers+=($!)
  done
  # The learner stops at the target; the workers then find it gone and are stopped here.
  if ! timeout 300 tail --pid=$learner -f /dev/null; then echo "test-dist: the learner did not reach the target in 300 s" >&2; kill $learner; exit 1; fi
  wait $learner
  kill -TERM "${workers[@]}"
  for w in "${workers[@]}"; do
    timeout 20 tail --pid=$w -f /dev/null || { echo "test-dist: worker $w did not stop on SIGTERM" >&2; kill -KILL $w; exit 1; }
  done
  grep -q "\"solved\"" "$work/learner.out" || { echo "test-dist: no solved run in the summary" >&2; tail -c 2000 "$work/learner.out" >&2; exit 1; }
  "$dist/bin/tributary" eval "$work/runs/dist" --episodes 10 --greedy
'
echo "test-dist: ok: the tarball trained and evaluated CartPole with $toolchain hidden" >&2

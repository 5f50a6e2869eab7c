#!/usr/bin/env bash
# Tests deploy/systemd without a running systemd (docs/deployment.md, "How each is tested"):
#   1. `systemd-analyze verify` of both units, against a root directory with the binaries at their
#      ExecStart paths: any complaint fails;
#   2. `systemd-analyze security --offline=true`: each unit's exposure must be <= SECURITY_MAX (4.0);
#   3. the process test (deploy/test/run_units.py): the learner unit and tributary-worker@0/@1 run
#      as systemd would start them (their ExecStart, Environment/EnvironmentFile, LoadCredential,
#      StateDirectory, UMask, a user of their own, NoNewPrivileges, MemoryDenyWriteExecute as the
#      kernel's PR_SET_MDWE), with deploy/config as /etc/tributary and fresh CURVE keys, until the
#      learner reaches CartPole's target; plus the exit codes of RestartPreventExitStatus.
# Usage (as root: the services run as users of their own, in a private mount namespace):
#   TRIBUTARY_BIN_DIR=/path/to/release/bin deploy/test/systemd.sh
# The units read their settings with `--config` (TRIBUTARY_CONFIG); binaries without it fail the test.
# deploy/test/systemd-nspawn.sh runs the same units under a real systemd.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
deploy="$(dirname "$here")"
. "$here/common.sh"
SECURITY_MAX="${SECURITY_MAX:-4.0}"
need_binaries learner rollout-worker tributary
need_root "services run as users of their own in a mount namespace"
need_commands systemd systemd-analyze
command -v python3 >/dev/null || { echo "systemd.sh: python3 is needed" >&2; exit 2; }

start=$(date +%s.%N)
work="$(mktemp -d /tmp/tributary-systemd-test.XXXXXX)"
chmod 755 "$work"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
failed=0 static_passed=0

echo "== systemd-analyze verify ($(systemd-analyze --version | head -1))"
root="$work/verify-root"
mkdir -p "$root/usr/local/bin" "$root/usr/lib/systemd" "$root/usr/bin" "$root/etc/systemd/system"
ln -s usr/bin "$root/bin"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp /bin/kill "$root/usr/bin/kill"
for b in learner rollout-worker tributary; do
    ln "$bin/$b" "$root/usr/local/bin/$b" 2>/dev/null || cp "$bin/$b" "$root/usr/local/bin/$b"
done
cp "$deploy"/systemd/*.service "$root/etc/systemd/system/"
if out="$(systemd-analyze verify --man=no --root="$root" tributary-learner.service tributary-worker@0.service 2>&1)" && [[ -z "$out" ]]; then
    echo "  ok   both units verify with no complaint"; static_passed=$((static_passed + 1))
else
    echo "  FAIL systemd-analyze verify:"; echo "$out" | sed 's/^/       /'; failed=1
fi

echo "== systemd-analyze security --offline=true (must be <= $SECURITY_MAX)"
for unit in tributary-learner.service tributary-worker@.service; do
    line="$(systemd-analyze security --offline=true --no-pager "$deploy/systemd/$unit" 2>&1 | grep 'Overall exposure level' || true)"
    score="$(sed -E 's/.*: ([0-9.]+) .*/\1/' <<<"$line")"
    if [[ "$score" =~ ^[0-9.]+$ ]] && awk -v s="$score" -v m="$SECURITY_MAX" 'BEGIN{exit !(s <= m)}'; then
        echo "  ok   $unit: $score"; static_passed=$((static_passed + 1))
    else
        echo "  FAIL $unit: ${line:-no score}"; failed=1
    fi
done

echo "== process test: the units' ExecStart lines with the shipped config, CartPole"
# /etc/tributary as the units' comments install it, with fresh keys; /usr/local/bin = the binaries.
etc="$work/etc"
cp -a /etc "$etc"
rm -rf "$etc/tributary"
install -d -m 0755 "$etc/tributary" "$etc/tributary/allowed-keys"
install -d -m 0700 "$etc/tributary/keys"
install -m 0644 "$deploy"/config/learner.yaml "$deploy"/config/learner.env \
    "$deploy"/config/worker.yaml "$deploy"/config/worker.env "$etc/tributary/"
"$bin/tributary" keys generate learner --dir "$etc/tributary/keys" >/dev/null
"$bin/tributary" keys generate deploy-test-worker --dir "$work/worker-keys" >/dev/null
mv "$work/worker-keys/deploy-test-worker.key_secret" "$etc/tributary/keys/worker.key_secret"
cp "$work/worker-keys/deploy-test-worker.key" "$etc/tributary/allowed-keys/"
"$bin/tributary" keys generate stray --dir "$work/stray-keys" >/dev/null   # never enrolled
localbin="$work/usr-local-bin"
mkdir -p "$localbin"
for b in learner rollout-worker tributary; do
    ln "$bin/$b" "$localbin/$b" 2>/dev/null || cp "$bin/$b" "$localbin/$b"
done
chmod 755 "$localbin"
set +e
log="$work/run_units.log"
unshare --mount --propagation private -- /bin/sh -c '
    mount --bind "$1" /etc && mount --bind "$2" /usr/local/bin && shift 2 && exec "$@"' sh \
    "$etc" "$localbin" \
    python3 "$here/run_units.py" --units "$deploy/systemd" --work "$work/run" \
        --stray-key "$work/stray-keys/stray.key_secret" --worker-key-name deploy-test-worker \
        --learner-timeout "${LEARNER_TIMEOUT:-120}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
if [[ $rc -ne 0 ]]; then
    failed=1
    for f in "$work"/run/*.stderr; do echo "--- tail of $(basename "$f")"; tail -5 "$f"; done
fi
read -r p f < <(sed -n 's/^process test: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$log" | tail -1)
p=${p:-0} f=${f:-1}
[[ $rc -ne 0 && $f -eq 0 ]] && f=1
awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "systemd.sh: %.1f s\n", b - a}'
total_failed=$(( f + (3 - static_passed) ))
echo "systemd units: $((static_passed + p)) passed, $total_failed failed"
[[ $total_failed -eq 0 ]]

#!/usr/bin/env bash
# docs/deployment.md, "Two machines by hand", rehearsed: two network namespaces joined by a veth
# pair stand for host A (10.0.0.5, the learner) and host B (10.0.0.6, two workers; it also has
# 10.0.0.7, an address the firewall must keep out). Nothing else is reachable from them. The code
# blocks of that section that start with "# on host A" or "# on host B" run as they are written,
# in that host's namespace and directory, with TRIBUTARY_BIN_DIR on PATH (the status command and the
# firewall checks run before the workers start, so that they do not race the learner's end); the copies of public keys
# between the hosts (scp in the docs) are done with cp. Checks: the learner reaches its target
# with both workers of host B under CURVE, `tributary status` answers from host B, host B reaches
# port 5555 and 10.0.0.7 does not (nftables), Ctrl-C stops the workers.
# Usage (root; installs nftables when nft is missing):
#   TRIBUTARY_BIN_DIR=/path/to/release/bin deploy/test/two-hosts.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
doc="$(cd "$here/../.." && pwd)/docs/deployment.md"
. "$here/common.sh"
need_binaries learner rollout-worker tributary
need_root "network namespaces"
need_commands nftables nft
start=$(date +%s.%N)
work="$(mktemp -d /tmp/tributary-two-hosts.XXXXXX)"
A="trib-a-$$" B="trib-b-$$"
pgids=()
cleanup() {
    for g in "${pgids[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$A"
ip netns add "$B"
ip link add "a-$$" netns "$A" type veth peer name "b-$$" netns "$B"
ip -n "$A" addr add 10.0.0.5/24 dev "a-$$"
ip -n "$B" addr add 10.0.0.6/24 dev "b-$$"
ip -n "$B" addr add 10.0.0.7/24 dev "b-$$"
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link set "a-$$" up
ip -n "$B" link set "b-$$" up
mkdir -p "$work/hostA" "$work/hostB"

block() { python3 "$here/doc_blocks.py" "$doc" "$1"; }
on() {  # on A|B "first line of the block": run it there, in the foreground
    local ns dir; [[ $1 == A ]] && { ns=$A; dir=$work/hostA; } || { ns=$B; dir=$work/hostB; }
    (cd "$dir" && ip netns exec "$ns" env PATH="$bin:$PATH" bash -e -c "$(block "$2")")
}
on_bg() {  # on_bg A|B "first line" OUTFILE: in the background, in a process group of its own
    local ns dir; [[ $1 == A ]] && { ns=$A; dir=$work/hostA; } || { ns=$B; dir=$work/hostB; }
    local code; code="$(block "$2")"
    (cd "$dir" && exec setsid ip netns exec "$ns" env PATH="$bin:$PATH" bash -e -c "$code" >"$3" 2>"$3.err") &
    BG=$!
    pgids+=("$BG")
}
passed=0 failed=0
check() {
    if [[ "$1" == 1 ]]; then passed=$((passed + 1)); echo "  ok   $2${3:+: $3}"
    else failed=$((failed + 1)); echo "  FAIL $2${3:+: $3}"; fi
}
connects() {  # connects SOURCE: can SOURCE (on host B) open TCP 10.0.0.5:5555?
    ip netns exec "$B" python3 -c '
import socket, sys
s = socket.socket(); s.settimeout(2); s.bind((sys.argv[1], 0))
try:
    s.connect(("10.0.0.5", 5555)); print(1)
except OSError:
    print(0)' "$1"
}

echo "== docs/deployment.md, two machines by hand: host A $A (10.0.0.5), host B $B (10.0.0.6, 10.0.0.7)"
on A "# on host A (10.0.0.5): the learner's keys"
on B "# on host B (10.0.0.6): the workers' keys"
cp "$work/hostB/keys/worker-b.key" "$work/hostA/keys/allowed/"      # scp keys/worker-b.key 10.0.0.5:keys/allowed/
cp "$work/hostA/keys/learner/learner.key" "$work/hostB/keys/"       # scp 10.0.0.5:keys/learner/learner.key keys/
on A "# on host A (10.0.0.5): only host B reaches the learner's ports"
on_bg A "# on host A (10.0.0.5): the learner" "$work/learner.out"
learner=$BG
for _ in $(seq 100); do grep -q '"event":"ready"' "$work/learner.out" 2>/dev/null && break; sleep 0.1; done
check "$(grep -q '"data":\["tcp://0.0.0.0:5555"\]' "$work/learner.out" && echo 1)" "host A: the learner is up on 0.0.0.0:5555" "$(head -c 200 "$work/learner.out")"
check "$(connects 10.0.0.6)" "host B (10.0.0.6) reaches 10.0.0.5:5555"
check "$([[ $(connects 10.0.0.7) == 0 ]] && echo 1)" "10.0.0.7 does not reach 10.0.0.5:5555 (the nftables rule drops it)"
status="$(on B "# on host B (10.0.0.6): the learner's status" 2>&1)" && status_rc=0 || status_rc=$?
check "$([[ $status_rc -eq 0 ]] && grep -q '^run ' <<<"$status" && echo 1)" "host B: tributary status answers" "rc=$status_rc; $(head -2 <<<"$status" | tr '\n' ' ')"
# (Checked before the workers start: with them, CartPole is solved in about 5 s, and a status
# request that arrives while the learner is stopping gets no answer.)
on_bg B "# on host B (10.0.0.6): two workers" "$work/workers.out"
workers=$BG

set +e
for _ in $(seq 1200); do kill -0 "$learner" 2>/dev/null || break; sleep 0.1; done
wait "$learner"; rc=$?
set -e
check "$([[ $rc -eq 0 ]] && echo 1)" "host A: the learner stopped by itself, exit 0" "rc=$rc"
verdict="$(python3 -c '
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if "\"summary\"" in l][-1]; st = s["status"]
w = {x["worker_id"]: (x["key_name"], x["peer_address"]) for x in st["workers"]}
ok = s.get("solved") is not None and s["solved"].get("mean_return_100", 0) >= 475 and st["security"] == "curve" \
     and w.get("worker-b/0") == ("worker-b", "10.0.0.6") and w.get("worker-b/1") == ("worker-b", "10.0.0.6")
print(("1" if ok else "0") + " mean_return_100 at the target=%s (at the end %s) security=%s workers=%s" % (s["solved"].get("mean_return_100") if s.get("solved") else None, st["mean_return_100"], st["security"], w))
' "$work/learner.out" 2>&1 || echo "0 no summary")"
check "${verdict%% *}" "CartPole solved under CURVE by worker-b/0 and worker-b/1 from 10.0.0.6 with key worker-b" "${verdict#* }"
t0=$(date +%s.%N)
kill -INT -- "-$workers" 2>/dev/null || true      # Ctrl-C in host B's terminal
wait "$workers" || true
# The shell returns at once; the workers (same process group) finish their goodbye and exit.
for _ in $(seq 200); do pgrep -g "$workers" >/dev/null || break; sleep 0.1; done
left=$(pgrep -g "$workers" | wc -l || true)
summaries=$(grep -c '"event":"summary"' "$work/workers.out" || true)
check "$([[ $left -eq 0 && $summaries -eq 2 ]] && echo 1)" "host B: Ctrl-C stopped both workers cleanly (each printed its summary)" \
    "$summaries summaries, $left processes left, $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
if [[ $failed -ne 0 ]]; then
    echo "--- learner stderr"; tail -5 "$work/learner.out.err"; echo "--- workers stderr"; tail -5 "$work/workers.out.err"
fi
awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "two-hosts.sh: %.1f s\n", b - a}'
echo "two hosts by hand: $passed passed, $failed failed"
[[ $failed -eq 0 ]]

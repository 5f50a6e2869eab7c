#!/usr/bin/env bash
# The learner's /metrics as Prometheus's own tools read it (make test):
#   - `promtool check metrics` on a scrape of a learner that trains: no complaint at all
#     (HELP and TYPE on every family, names and units by the conventions);
#   - every metric the alert rules and the Grafana dashboard use is in that scrape;
#   - `promtool check rules` and `promtool test rules` on deploy/prometheus;
#   - /healthz numbers are JSON numbers, / is an index page.
# Usage: scripts/test-prometheus.sh BIN_DIR   (installs apt `prometheus` for promtool if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: scripts/test-prometheus.sh BIN_DIR}
if ! command -v promtool >/dev/null; then
  echo "installing prometheus (for promtool)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null </dev/null
fi
work=$(mktemp -d /tmp/tributary-prom.XXXXXX)
learner=""
cleanup() { [ -n "$learner" ] && kill "$learner" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "test-prometheus: FAIL: $*" >&2; exit 1; }

"$bin/learner" --env CartPole-v1 --local-workers 1 --bind 127.0.0.1 --data-port 0 --weights-port 0 --control-port 0 \
    --metrics-port 0 --runs "$work/runs" --log-level warning > "$work/out" 2> "$work/err" &
learner=$!
for _ in $(seq 1 100); do grep -q '"ready"' "$work/out" 2>/dev/null && break; sleep 0.2; done
url=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["metrics"])' "$work/out") || fail "no ready line: $(cat "$work/err")"
# Wait for trained updates and counted steps, so the per-update gauges, the counters and the
# histograms have values. (Once, under CI load, a scrape had the loss gauge but not yet
# tributary_env_steps_total; not reproduced since, so the wait asks for both.)
for _ in $(seq 1 100); do
  curl -sf "$url/metrics" > "$work/metrics" && grep -q '^tributary_loss{' "$work/metrics" \
    && grep -q '^tributary_env_steps_total [1-9]' "$work/metrics" && break
  sleep 0.3
done
grep -q '^tributary_loss{' "$work/metrics" || fail "no update was logged: $(tail -c 500 "$work/err")"
grep -q '^tributary_env_steps_total [1-9]' "$work/metrics" || fail "no env steps counted: $(grep -c . "$work/metrics") lines"

out=$(promtool check metrics < "$work/metrics" 2>&1) || fail "promtool check metrics: $out"
[ -z "$out" ] || fail "promtool check metrics complained: $out"
echo "promtool check metrics: clean ($(grep -c '^# TYPE' "$work/metrics") metric families)"

families=$(sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' "$work/metrics" | sort -u)
used=$( (grep -ho 'tributary_[a-z0-9_]*\|process_[a-z_]*' deploy/prometheus/alerts.yml deploy/grafana/tributary-learner.json) | sort -u)
for name in $used; do
  base=$(echo "$name" | sed -E 's/_(bucket|sum|count)$//')
  echo "$families" | grep -qx "$base" || fail "$name is used by the alerts or the dashboard but not exported"
done
echo "alerts and dashboard: all $(echo "$used" | wc -w) metric names are exported"
(cd deploy/prometheus && promtool check rules alerts.yml && promtool test rules alerts_test.yml) >/dev/null || fail "promtool rules"
echo "promtool check rules, test rules: ok"
python3 -m json.tool deploy/grafana/tributary-learner.json > /dev/null || fail "the dashboard is not JSON"

health=$(curl -s "$url/healthz")
python3 - "$health" <<'PY' || fail "/healthz: $health"
import json, sys
h = json.loads(sys.argv[1])
assert h["status"] == "ok", h
for k in ("policy_version", "uptime_s", "workers_connected"):
    assert isinstance(h[k], (int, float)) and not isinstance(h[k], bool), (k, h[k])
PY
curl -sf "$url/" | grep -q '/metrics' || fail "/ is not an index"
echo "/healthz numbers are numbers; / is an index: ok"

#!/usr/bin/env bash
# The main job: a learner and two rollout workers (separate processes, ZeroMQ over
# loopback), with a live progress line and a summary. Called by `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(swift build -c release --show-bin-path)"
exec "$bin/tributary" demo --workers "${DEMO_WORKERS:-2}" --seconds "${DEMO_SECONDS:-10}"

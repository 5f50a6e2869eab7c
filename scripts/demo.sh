#!/usr/bin/env bash
# The main job: a learner and two rollout workers (separate processes, ZeroMQ over
# loopback) learning CartPole-v1 until the mean return of the last 100 episodes reaches 475
# (or DEMO_SECONDS run out), with a live progress line and a summary. Called by `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(swift build -c release --show-bin-path)"
exec "$bin/tributary" demo --workers "${DEMO_WORKERS:-2}" --env "${DEMO_ENV:-CartPole-v1}" --seconds "${DEMO_SECONDS:-120}"

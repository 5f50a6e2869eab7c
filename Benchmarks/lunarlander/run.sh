#!/usr/bin/env bash
# LunarLander-v3 from Python workers: Tributary's learner (release build) with 2 tributary-worker
# processes against Stable-Baselines3 PPO with the rl-zoo hyper-parameters, 3 seeds each,
# interleaved, on this machine; then a Python worker's rollout speed against SB3's own
# collect_rollouts. Takes about 30 minutes on 2 cores (SB3 is most of it).
#
#   Benchmarks/lunarlander/run.sh [OUT_DIR]     (default /tmp/tributary-lunarlander)
#
# Writes OUT_DIR/results.md (printed too), results.json and curves.svg; docs/benchmarks.md
# quotes them. Environment: PEERS_VENV (default .venv-peers: torch, stable-baselines3, gymnasium,
# box2d, pygame at Benchmarks/peers/requirements.txt's pins, plus the SDK from ./python),
# SEEDS (default "0 1 2"), SKIP_BUILD=1 to reuse .build-release.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:-/tmp/tributary-lunarlander}"
PEERS_VENV="${PEERS_VENV:-$ROOT/.venv-peers}"
REQUIREMENTS="$ROOT/Benchmarks/peers/requirements.txt"
cd "$ROOT"
if [[ ! -x "$PEERS_VENV/bin/python" ]]; then python3 -m venv "$PEERS_VENV"; fi
if ! cmp -s "$REQUIREMENTS" "$PEERS_VENV/tributary-peers-requirements.txt"; then
    echo "installing $REQUIREMENTS into $PEERS_VENV (a few GB, a few minutes)" >&2
    "$PEERS_VENV/bin/pip" install -q -r "$REQUIREMENTS"
    cp "$REQUIREMENTS" "$PEERS_VENV/tributary-peers-requirements.txt"
fi
"$PEERS_VENV/bin/pip" install -q --disable-pip-version-check ./python
if [[ -z "${SKIP_BUILD:-}" ]]; then
    ./scripts/install-deps.sh
    swift build -c release --scratch-path .build-release >&2
fi
# shellcheck disable=SC2086
exec "$PEERS_VENV/bin/python" Benchmarks/lunarlander/run.py --bin-dir "$ROOT/.build-release/release" --out "$OUT" --seeds ${SEEDS:-0 1 2}

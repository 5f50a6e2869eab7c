#!/usr/bin/env bash
# Creates .venv-tensorboard with the pip packages `tensorboard` and `safetensors`, if they are
# not there yet, and prints the path of its python. Used by `make test` (the TensorBoard
# read-back integration test reads the learner's event files with TensorBoard's own reader; the
# export test loads a policy with `safetensors`) and by hand:
#   "$(scripts/tensorboard-venv.sh)" scripts/read-tfevents.py runs/<run-id>
#   "$(scripts/tensorboard-venv.sh)" scripts/load-policy.py policy.safetensors
# Quiet, idempotent, never reads stdin. Needs python3 with venv (apt: python3-venv) and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
version=2.21.0
safetensors_version=0.8.0
venv=.venv-tensorboard
python="$PWD/$venv/bin/python"
if ! "$python" -c "import tensorboard, sys; sys.exit(tensorboard.__version__ != '$version')" 2>/dev/null; then
  echo "creating $venv (tensorboard==$version)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" </dev/null >&2
  "$python" -m pip install --quiet --disable-pip-version-check --no-input "tensorboard==$version" </dev/null >&2
fi
if ! "$python" -c "import safetensors, sys; sys.exit(safetensors.__version__ != '$safetensors_version')" 2>/dev/null; then
  echo "installing safetensors==$safetensors_version into $venv" >&2
  "$python" -m pip install --quiet --disable-pip-version-check --no-input "safetensors==$safetensors_version" </dev/null >&2
fi
echo "$python"

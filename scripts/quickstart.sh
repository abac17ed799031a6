#!/usr/bin/env bash
# Sets up everything, builds, and runs the main job on the embedded local backend: creates a
# project with quotas and shows it, from the CLI and from Python. State goes to
# $MLC_BACKEND if set, else local://$XDG_DATA_HOME/mlcore (~/.local/share/mlcore).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh dev >/dev/null
.venv/bin/python -m pip install -q --no-build-isolation .
echo "--- from the CLI (build/dev/cli/mlc)"
examples/quickstart.sh "$PWD/build/dev/cli/mlc"
echo "--- from Python (.venv/bin/python)"
.venv/bin/python examples/quickstart.py

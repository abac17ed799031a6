#!/usr/bin/env bash
# Creates or updates the benchmark virtual environment .venv-bench: the peers' Python packages
# (MLflow from PyPI and its many dependencies) live there, never in the project's .venv.
# The mlcore package is not installed into it: .venv-bench sees the package that
# `pip install .` put into .venv (scripts/test.sh and scripts/bench.sh do that, incrementally)
# through a .pth file naming a folder that holds only a link to it, so nothing else of .venv
# (its numpy, pytest, ...) leaks in. Safe to run again; quiet when nothing is missing.
#
#   scripts/bench-env.sh             # then: .venv-bench/bin/python bench/tracking_bench.py
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
VENV="$ROOT/.venv-bench"

BENCH_PACKAGES=(pip "mlflow==3.17.2" numpy)
stamp="$VENV/.mlcore-bench-$(printf '%s\n' "${BENCH_PACKAGES[@]}" | sha256sum | cut -c1-16)"
if [ ! -x "$VENV/bin/python" ]; then
  echo "bench-env: creating .venv-bench"
  python3 -m venv "$VENV"
fi
if [ ! -f "$stamp" ]; then
  echo "bench-env: installing into .venv-bench: ${BENCH_PACKAGES[*]} (takes a minute or two)"
  "$VENV/bin/python" -m pip install -q --upgrade "${BENCH_PACKAGES[@]}"
  rm -f "$VENV"/.mlcore-bench-*
  touch "$stamp"
fi

# mlcore from .venv: .venv-bench/mlcore-link/mlcore -> .venv/lib/pythonX.Y/site-packages/mlcore.
# Both venvs come from the same python3, so the compiled module's ABI tag matches.
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
pyver=$("$VENV/bin/python" -c 'import sys; print("python%d.%d" % sys.version_info[:2])')
mkdir -p "$VENV/mlcore-link"
ln -sfn "$ROOT/.venv/lib/$pyver/site-packages/mlcore" "$VENV/mlcore-link/mlcore"
echo "$VENV/mlcore-link" > "$site/mlcore-from-dot-venv.pth"

#!/usr/bin/env bash
# Sets up .venv-airflow: a separate virtual environment with a real Apache Airflow from PyPI, pytest,
# and the mlcore wheel that scripts/test.sh builds into build/wheel/ (installed with --no-deps: the
# C++ extension is not rebuilt). The Airflow provider's tests (tests/airflow) run under it.
# Idempotent and quick when already set up: Airflow is installed once per version (a stamp file
# keyed on the version), the wheel again only when it changed.
# Usage: scripts/airflow-env.sh [WHEEL]   (default: the one wheel in build/wheel/)
# Exit status: 0 ready; 77 Apache Airflow could not be installed from PyPI (no network: callers
# skip, visibly); anything else is an error (e.g. no mlcore wheel: run the wheel build first).
set -euo pipefail
cd "$(dirname "$0")/.."

# 2.10.x installs on Python 3.9-3.12. Airflow's own constraint files are not on PyPI: the
# versions of a tested install are kept in scripts/airflow-constraints-VERSION-pyX.Y.txt (made by
# `pip freeze --exclude mlcore --exclude pip` in .venv-airflow) and used when they match this
# Airflow and Python; otherwise pip resolves freely. MLC_AIRFLOW_VERSION picks another version.
AIRFLOW_VERSION="${MLC_AIRFLOW_VERSION:-2.10.5}"
VENV=".venv-airflow"
PY="$VENV/bin/python"
PY_VERSION="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
CONSTRAINTS="scripts/airflow-constraints-$AIRFLOW_VERSION-py$PY_VERSION.txt"

wheel="${1:-}"
if [ -z "$wheel" ]; then
  shopt -s nullglob
  wheels=(build/wheel/mlcore-*.whl)
  shopt -u nullglob
  if ((${#wheels[@]} != 1)); then
    echo "airflow-env: expected one mlcore wheel in build/wheel/, found ${#wheels[@]};" \
      "build it first: .venv/bin/python -m build --wheel --no-isolation -o build/wheel ." >&2
    exit 2
  fi
  wheel="${wheels[0]}"
fi

if [ ! -x "$PY" ]; then
  echo "airflow-env: creating $VENV"
  python3 -m venv "$VENV"
fi

constraint_args=()
constraints_sum=none
if [ -f "$CONSTRAINTS" ]; then
  constraint_args=(-c "$CONSTRAINTS")
  constraints_sum="$(sha256sum "$CONSTRAINTS" | cut -c1-12)"
fi
stamp="$VENV/.mlcore-airflow-$AIRFLOW_VERSION-$constraints_sum"
if [ ! -f "$stamp" ]; then
  echo "airflow-env: installing apache-airflow==$AIRFLOW_VERSION into $VENV" \
    "(constraints: ${constraint_args[1]:-none, pip resolves}; first time: about a minute)"
  start=$SECONDS
  if ! "$PY" -m pip install -q --disable-pip-version-check --upgrade pip ||
    ! "$PY" -m pip install -q --disable-pip-version-check "${constraint_args[@]}" \
      "apache-airflow==$AIRFLOW_VERSION" "pytest>=7"; then
    echo "airflow-env: could not install apache-airflow==$AIRFLOW_VERSION from PyPI" >&2
    exit 77
  fi
  rm -f "$VENV"/.mlcore-airflow-[0-9]*
  touch "$stamp"
  echo "airflow-env: apache-airflow $AIRFLOW_VERSION installed in $((SECONDS - start))s"
fi

# mlcore itself: the wheel, reinstalled only when it is not the one installed last.
wheel_sum="$(sha256sum "$wheel" | cut -c1-16)"
wheel_stamp="$VENV/.mlcore-wheel-$wheel_sum"
if [ ! -f "$wheel_stamp" ]; then
  echo "airflow-env: installing $wheel into $VENV"
  "$PY" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "$wheel"
  rm -f "$VENV"/.mlcore-wheel-*
  touch "$wheel_stamp"
fi
"$PY" -c 'import airflow, mlcore; print(f"airflow-env: ready (apache-airflow {airflow.__version__}, mlcore {mlcore.__version__})")' 2>/dev/null ||
  "$PY" -c 'import airflow, mlcore; print(f"airflow-env: ready (apache-airflow {airflow.__version__})")'

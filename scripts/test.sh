#!/usr/bin/env bash
# Sets up everything and runs every test: C++ unit + conformance (ctest; also against a local
# Slurm dev cluster, scripts/slurm-dev-cluster.sh), the plain-C ABI test,
# Python (pytest over the installed package), the Airflow provider (against a real Apache Airflow
# in .venv-airflow), the CLI as a black box, Go, the web UI end to end (headless Chromium), the
# examples, the format check, and the whole C++/C suite again under ASan+UBSan.
# Usage: scripts/test.sh [--quick]   (--quick skips the sanitizer build)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
quick=0
[ "${1:-}" = "--quick" ] && quick=1

scripts/setup.sh || { echo "setup failed"; exit 1; }

passed=0
failed=0
failed_steps=()
declare -a timings=()
step() {
  local name="$1"
  shift
  local start=$SECONDS
  echo
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1))
    timings+=("$name: $((SECONDS - start))s ok")
  else
    failed=$((failed + 1))
    failed_steps+=("$name")
    timings+=("$name: $((SECONDS - start))s FAILED")
  fi
}

export MLC_TEST_TMP="$ROOT/build/test-tmp"
rm -rf "$MLC_TEST_TMP" && mkdir -p "$MLC_TEST_TMP"
# Tests never read the developer's own configuration or state.
export MLC_CONFIG="$MLC_TEST_TMP/config.yaml" XDG_DATA_HOME="$MLC_TEST_TMP/data" \
  XDG_CACHE_HOME="$MLC_TEST_TMP/cache"
unset MLC_BACKEND MLC_PROJECT MLC_CONTEXT MLC_DIGEST_CACHE

# The web UI (docs/web-ui.md): built before mlc, so the dev build embeds it; then driven in
# headless Chromium against a real `mlc server --http`.
build_web() { scripts/build-web.sh; }
web_tests() { node --test tests/web/; }
# The web UI benchmark once in its tiny configuration (100 vs 10 jobs, 10,000 vs 100 points, one
# run): only its JSON lines are checked, never a speed (bench/check_bench_output.cmake).
web_bench_tiny() {
  MLC_BIN="$ROOT/build/dev/cli/mlc" cmake -DBENCH=node "-DBENCH_ARGS=bench/web_bench.mjs;--tiny" \
    -DMIN_LINES=2 -P bench/check_bench_output.cmake
}
build_dev() { scripts/build.sh dev; }
ctest_dev() { ctest --preset dev -j2; }
python_install() { .venv/bin/python -m pip install -q --no-build-isolation "$ROOT"; }
# A wheel as `python -m build` makes it (same build directory as pip's: incremental), checked to
# carry the extension, its stubs, py.typed and the bundled CLI.
wheel_build() {
  rm -rf build/wheel &&
    .venv/bin/python -m build --wheel --no-isolation -o build/wheel "$ROOT" >/dev/null &&
    .venv/bin/python - build/wheel/*.whl <<'PY'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
need = ["mlcore/_mlcore.pyi", "mlcore/py.typed", "mlcore/mlc", "mlcore/mlc-supervisor",
        "mlcore/__init__.py"]
missing = [n for n in need if n not in names]
if not any(n.startswith("mlcore/_mlcore.") and n.endswith(".so") for n in names):
    missing.append("mlcore/_mlcore*.so")
print(f"{sys.argv[1]}: {len(names)} files" + (f", missing {missing}" if missing else ", complete"))
sys.exit(1 if missing else 0)
PY
}
# The Airflow provider (mlcore.airflow) against a real Apache Airflow from PyPI, in its own
# virtual environment (.venv-airflow, scripts/airflow-env.sh) with the wheel built above; skipped,
# visibly, when Airflow cannot be installed (no network).
airflow_tests() {
  local rc=0
  scripts/airflow-env.sh || rc=$?
  if ((rc == 77)); then
    echo "airflow tests: SKIPPED, apache-airflow could not be installed from PyPI (see above)"
    return 0
  fi
  ((rc == 0)) && .venv-airflow/bin/python -m pytest -q -rs tests/airflow
}
pytest_all() { MLC_BIN="$ROOT/build/dev/cli/mlc" .venv/bin/python -m pytest -q tests; }
# The Python suite again, each test against a fresh `mlc server` over grpc:// (tests/conftest.py).
pytest_remote() {
  MLC_TEST_REMOTE=1 MLC_BIN="$ROOT/build/dev/cli/mlc" .venv/bin/python -m pytest -q tests/python
}
go_tests() {
  local lib="$ROOT/build/dev/libmlcore"
  scripts/gen-go.sh --check &&
    (cd go && CGO_LDFLAGS="-L$lib -Wl,-rpath,$lib" go vet ./... &&
      CGO_LDFLAGS="-L$lib -Wl,-rpath,$lib" go test -count=1 ./... &&
      slurm_go_test "$lib")
}
# Go on the Slurm dev cluster (TestJobsOnSlurm; skipped, visibly, where Slurm cannot run).
slurm_go_test() {
  local rc=0
  CGO_LDFLAGS="-L$1 -Wl,-rpath,$1" ../tests/slurm/with-cluster.sh \
    go test -count=1 -run TestJobsOnSlurm ./mlcore || rc=$?
  ((rc == 77)) && echo "go TestJobsOnSlurm: skipped, no Slurm here" && rc=0
  return $rc
}
format_check() { scripts/lint.sh --format-only; }
build_sanitize() { scripts/build.sh sanitize; }
ctest_sanitize() { ctest --preset sanitize -j2; }
cli_sanitize() {
  ASAN_OPTIONS=detect_leaks=1 MLC_BIN="$ROOT/build/sanitize/cli/mlc" \
    .venv/bin/python -m pytest -q tests/cli
}

# The Slurm backend's tests (slurm_conformance_test in ctest, tests/slurm in pytest) start the
# single-node dev cluster when it is not running (or skip, visibly, where Slurm cannot be
# installed); a cluster this run started is stopped at the end.
slurm_was_up=0
scripts/slurm-dev-cluster.sh status && slurm_was_up=1

step "web UI build (npm ci, tsc, esbuild)" build_web
step "build (dev preset)" build_dev
step "ctest: unit, conformance, C ABI, C example" ctest_dev
step "pip install . (Python package)" python_install
step "python -m build --wheel (contents checked)" wheel_build
step "airflow: provider against a real Apache Airflow" airflow_tests
step "pytest: Python API, CLI black box, examples" pytest_all
step "pytest: Python API over grpc:// (a real mlc server per test)" pytest_remote
step "go test (cgo over libmlcore.so)" go_tests
step "web UI end-to-end (node --test tests/web, chromium)" web_tests
step "web UI benchmark, tiny (node bench/web_bench.mjs --tiny)" web_bench_tiny
step "clang-format check" format_check
if [ $quick -eq 0 ]; then
  step "build (sanitize preset: ASan+UBSan)" build_sanitize
  step "ctest under ASan+UBSan" ctest_sanitize
  step "CLI black box under ASan+UBSan" cli_sanitize
fi

((slurm_was_up)) || scripts/slurm-dev-cluster.sh down

echo
echo "=== summary (wall time per step)"
printf '  %s\n' "${timings[@]}"
((failed)) && printf 'failed: %s\n' "${failed_steps[@]}"
echo "test suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

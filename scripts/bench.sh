#!/usr/bin/env bash
# Builds Release (the `release` preset: -O3, no sanitizers, benchmarks on) and runs the named
# benchmarks (all by default), appending their JSON lines to bench/results/latest.jsonl.
#
#   scripts/bench.sh                 # everything
#   scripts/bench.sh sched           # the scheduling core: sched.pass, sched.packing,
#                                    #   sched.utilization
#   scripts/bench.sh jobs            # jobs on the local backend: jobs.submit, jobs.latency,
#                                    #   jobs.supervision
#   scripts/bench.sh tracking        # experiment tracking against MLflow (bench/tracking_bench.py
#                                    #   in .venv-bench, see scripts/bench-env.sh):
#                                    #   tracking.log_metric, tracking.log_batch, tracking.read,
#                                    #   tracking.train_loop, tracking.cpp (runs
#                                    #   build/release/bench/tracking_bench_cpp if built)
#   scripts/bench.sh data            # the data-load cache and the artifact store (issue 6):
#                                    #   data.hot_read (vs cat), data.cold_fetch (vs curl),
#                                    #   artifacts.upload, artifacts.download (vs cp -r),
#                                    #   artifacts.reupload (vs hashing); `artifacts` = the last 3
#   scripts/bench.sh server          # mlc server (issue 8): server.unary.resolve and
#                                    #   server.unary.get_job, calls/s from 8 clients over loopback
#                                    #   vs the same calls in process; server.ingest.stream (metric
#                                    #   points/s through the IngestMetrics stream vs local://);
#                                    #   server.artifact.upload_1g/download_1g (vs local://);
#                                    #   server.tracking_server (vs MLflow's tracking server over
#                                    #   HTTP, bench/server_bench_mlflow.py in .venv-bench);
#                                    #   server.http.list_jobs (issue 12: ListJobs as HTTP/JSON
#                                    #   vs the same call over gRPC)
#   scripts/bench.sh slurm           # jobs on Slurm (issue 10), on the dev cluster
#                                    #   (scripts/slurm-dev-cluster.sh, started when not running):
#                                    #   slurm.submit (200 jobs/s vs an sbatch loop, target >=2x),
#                                    #   slurm.submit.vs_curl, slurm.to_running(.vs_curl)
#   scripts/bench.sh python          # python.import: `import mlcore` vs `import mlflow`, each in
#                                    #   a fresh interpreter (bench/python_bench.py)
#   scripts/bench.sh pipeline        # pipeline.step_overhead (issue 11): ms from a step's inputs
#                                    #   ready to its job RUNNING on a 1,000-step fan-out, vs the
#                                    #   same jobs submitted directly (bench/pipeline_bench.py)
#   scripts/bench.sh registry        # the model registry (issue 7) against MLflow's registry on
#                                    #   sqlite (bench/registry_bench_mlflow.py in .venv-bench):
#                                    #   registry.resolve (p50, p99), registry.register (p50,
#                                    #   p99), registry.search
#   scripts/bench.sh web             # the web UI (issue 12) in headless Chromium against a real
#                                    #   `mlc server --http` (bench/web_bench.mjs; builds the UI
#                                    #   with scripts/build-web.sh first so mlc embeds it):
#                                    #   web.jobs.first_render_10k (vs the same page with 100 jobs),
#                                    #   web.chart.first_render_1m (vs a 1,000-point metric)
# Environment: BENCH_JOBS (jobs in the packing trace, default 30000), BENCH_SEED (default 1),
# BENCH_SUBMITS (jobs per submit-throughput run, default 10000), BENCH_PY_INSTALL=0 (tracking: use
# the mlcore already installed in .venv instead of `pip install .` into it first), BENCH_TMP (data:
# scratch directory, default build/bench-tmp), BENCH_DATA_SIZE_MIB (data: big object, default
# 1024), BENCH_DATA_SMALL_FILES (default 10000), BENCH_DATA_ARGS (extra data_bench flags, e.g.
# --drop-caches), BENCH_REGISTRY_MODELS (registry: registered models, default 10000),
# BENCH_REGISTRY_VERSIONS (versions per model, default 10), BENCH_REGISTRY_ARGS (extra
# registry_bench flags, e.g. --samples 20000 --peer-api-models 500), BENCH_SERVER_ARGS (extra
# server_bench flags, e.g. --steps 500000 --artifact-mib 256), BENCH_WEB_ARGS (extra web_bench
# flags, e.g. --runs 9 --jobs 20000).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BUILD="$ROOT/build/release"

scripts/setup.sh
cmake --preset release >/dev/null
targets=(sched_bench jobs_bench mlc mlc-supervisor)
grep -q tracking_bench_cpp bench/CMakeLists.txt && targets+=(tracking_bench_cpp)
grep -q data_bench bench/CMakeLists.txt && targets+=(data_bench)
grep -q registry_bench bench/CMakeLists.txt && targets+=(registry_bench)
grep -q server_bench bench/CMakeLists.txt && targets+=(server_bench)
grep -q slurm_bench bench/CMakeLists.txt && targets+=(slurm_bench)
default_names="sched jobs tracking data registry server python pipeline slurm web"
# The web UI is embedded into mlc when it is built, so it is built first.
case " ${*:-$default_names} " in *" web"*) scripts/build-web.sh ;; esac
cmake --build "$BUILD" --target "${targets[@]}" -j "${BENCH_BUILD_JOBS:-2}"

sched=()
jobs=()
tracking=()
data=()
registry=()
server_only=()
python_only=()
pipeline_only=0
slurm_only=0
web_only=()
for name in "${@:-$default_names}"; do
  for n in $name; do
    case "$n" in
      sched) sched+=(pass packing utilization) ;;
      sched.pass) sched+=(pass) ;;
      sched.packing) sched+=(packing) ;;
      sched.utilization) sched+=(utilization) ;;
      jobs) jobs+=(submit latency supervision) ;;
      jobs.submit) jobs+=(submit) ;;
      jobs.latency) jobs+=(latency) ;;
      jobs.supervision) jobs+=(supervision) ;;
      tracking) tracking+=(log_metric log_batch read train_loop cpp) ;;
      tracking.log_metric | tracking.log_batch | tracking.read | tracking.train_loop | tracking.cpp)
        tracking+=("${n#tracking.}") ;;
      data) data+=(hot_read cold_fetch upload download reupload) ;;
      data.hot_read | data.cold_fetch) data+=("${n#data.}") ;;
      artifacts) data+=(upload download reupload) ;;
      artifacts.upload*) data+=(upload) ;;  # also the line names: artifacts.upload_large, ...
      artifacts.download*) data+=(download) ;;
      artifacts.reupload*) data+=(reupload) ;;
      registry) registry+=(resolve register search) ;;
      registry.resolve*) registry+=(resolve) ;;  # also the line names: registry.resolve.p99, ...
      registry.register*) registry+=(register) ;;
      registry.search) registry+=(search) ;;
      server) server_only+=(unary http ingest artifact tracking_server) ;;
      server.unary*) server_only+=(unary) ;;
      server.http*) server_only+=(http) ;;
      server.ingest*) server_only+=(ingest) ;;
      server.artifact*) server_only+=(artifact) ;;
      server.tracking_server) server_only+=(tracking_server) ;;
      python | python.import) python_only+=(import) ;;
      pipeline | pipeline.*) pipeline_only=1 ;;
      slurm | slurm.*) slurm_only=1 ;;
      web) web_only+=(jobs chart) ;;
      web.jobs*) web_only+=(jobs) ;;
      web.chart*) web_only+=(chart) ;;
      *) echo "bench.sh: unknown benchmark \"$n\"; known: sched, sched.pass, sched.packing," \
              "sched.utilization, jobs, jobs.submit, jobs.latency, jobs.supervision, tracking," \
              "tracking.log_metric, tracking.log_batch, tracking.read, tracking.train_loop," \
              "tracking.cpp, data, data.hot_read, data.cold_fetch, artifacts, artifacts.upload," \
              "artifacts.download, artifacts.reupload, registry, registry.resolve," \
              "registry.register, registry.search, server, python, python.import, pipeline, slurm, web, web.jobs, web.chart (or their lines' names, e.g." \
              "artifacts.upload_large, registry.resolve.p99)" >&2
         exit 2 ;;
    esac
  done
done

if ((${#tracking[@]} + ${#registry[@]} + ${#server_only[@]} + ${#python_only[@]})); then
  # Peers' Python packages (MLflow) live in .venv-bench; it sees the mlcore that `pip install .`
  # puts into .venv (incremental, as scripts/test.sh does; only the tracking benchmark uses it).
  scripts/bench-env.sh
fi
if ((${#tracking[@]})); then
  if [ "${BENCH_PY_INSTALL:-1}" != 0 ]; then
    .venv/bin/python -m pip install -q --no-build-isolation "$ROOT"
  fi
fi

mkdir -p "$ROOT/bench/results"
out="$ROOT/bench/results/latest.jsonl"
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" \
     "nproc=$(nproc) cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')\"" \
     "mem=$(awk '/MemTotal/ {printf "%.1fGiB", $2/1048576}' /proc/meminfo)" >> "$out"
if ((slurm_only)); then
  # N trivial jobs by mlcore's slurm+http:// backend vs `sbatch` in a loop vs `curl` per job, on
  # the same single-node dev cluster (BENCH_SLURM_JOBS, default 200; BENCH_SLURM_RUNS, default 3).
  scripts/slurm-dev-cluster.sh up >/dev/null
  eval "$(scripts/slurm-dev-cluster.sh env | sed 's/^/export /')"
  "$BUILD/bench/slurm_bench" --uri "$MLC_SLURM_URI" --jobs "${BENCH_SLURM_JOBS:-200}" \
    --runs "${BENCH_SLURM_RUNS:-3}" | tee -a "$out"
fi
if ((${#sched[@]})); then
  list=$(IFS=,; echo "${sched[*]}")
  "$BUILD/bench/sched_bench" --only "$list" --jobs "${BENCH_JOBS:-30000}" --seed "${BENCH_SEED:-1}" \
    | tee -a "$out"
fi
if ((${#jobs[@]})); then
  list=$(IFS=,; echo "${jobs[*]}")
  "$BUILD/bench/jobs_bench" --only "$list" --jobs "${BENCH_SUBMITS:-10000}" \
    --mlc "$BUILD/cli/mlc" | tee -a "$out"
fi
if ((${#tracking[@]})); then
  list=$(IFS=,; echo "${tracking[*]}")
  .venv-bench/bin/python bench/tracking_bench.py --only "$list" \
    --cpp "$BUILD/bench/tracking_bench_cpp" | tee -a "$out"
fi
if ((${#data[@]})); then
  # Scratch data (a 1 GiB object, 10,000 small files, their copies) lives on the build's
  # filesystem and is removed afterwards; data_bench sizes down when less than 8 GiB is free.
  list=$(IFS=,; echo "${data[*]}")
  read -r -a data_args <<< "${BENCH_DATA_ARGS:-}"
  BENCH_TMP="${BENCH_TMP:-$ROOT/build/bench-tmp}" "$BUILD/bench/data_bench" --only "$list" \
    "${data_args[@]}" | tee -a "$out"
fi
if ((${#registry[@]})); then
  # Both registries are populated on tmpfs (/dev/shm) and copied to BENCH_TMP, where they are
  # measured; the MLflow peer runs as registry_bench's child process, driven round by round.
  list=$(IFS=,; echo "${registry[*]}")
  read -r -a registry_args <<< "${BENCH_REGISTRY_ARGS:-}"
  BENCH_TMP="${BENCH_TMP:-$ROOT/build/bench-tmp}" "$BUILD/bench/registry_bench" --only "$list" \
    --models "${BENCH_REGISTRY_MODELS:-10000}" --versions "${BENCH_REGISTRY_VERSIONS:-10}" \
    --peer "$ROOT/.venv-bench/bin/python" --peer-script "$ROOT/bench/registry_bench_mlflow.py" \
    "${registry_args[@]}" | tee -a "$out"
fi
if ((${#server_only[@]})); then
  # The unary lines call `mlc server` processes (--mlc); the other lines a server in
  # server_bench's process. MLflow's tracking server (server.tracking_server) is started by
  # bench/server_bench_mlflow.py, server_bench's child process.
  list=$(IFS=,; echo "${server_only[*]}")
  read -r -a server_args <<< "${BENCH_SERVER_ARGS:-}"
  BENCH_TMP="${BENCH_TMP:-$ROOT/build/bench-tmp}" "$BUILD/bench/server_bench" --only "$list" \
    --mlc "$BUILD/cli/mlc" --peer "$ROOT/.venv-bench/bin/python" --peer-script "$ROOT/bench/server_bench_mlflow.py" \
    "${server_args[@]}" | tee -a "$out"
fi
if ((${#python_only[@]})); then
  # `import mlcore` in .venv (the installed package) against `import mlflow` in .venv-bench,
  # each a fresh interpreter minus the interpreter's own start.
  if [ "${BENCH_PY_INSTALL:-1}" != 0 ]; then
    .venv/bin/python -m pip install -q --no-build-isolation "$ROOT"
  fi
  .venv/bin/python bench/python_bench.py --ours "$ROOT/.venv/bin/python" \
    --peer "$ROOT/.venv-bench/bin/python" | tee -a "$out"
fi
if ((pipeline_only)); then
  # The installed package's own mlc-supervisor drives the runs (pip builds it in Release).
  if [ "${BENCH_PY_INSTALL:-1}" != 0 ] && ((${#python_only[@]} == 0)); then
    .venv/bin/python -m pip install -q --no-build-isolation "$ROOT"
  fi
  .venv/bin/python bench/pipeline_bench.py --steps "${BENCH_PIPELINE_STEPS:-1000}" | tee -a "$out"
fi
if ((${#web_only[@]})); then
  # A real `mlc server --http` (the release mlc, with the UI embedded) and Debian's chromium
  # through playwright-core (installed by scripts/build-web.sh's npm ci).
  list=$(IFS=,; echo "${web_only[*]}")
  read -r -a web_args <<< "${BENCH_WEB_ARGS:-}"
  MLC_BIN="$BUILD/cli/mlc" node bench/web_bench.mjs --only "$list" "${web_args[@]}" | tee -a "$out"
fi

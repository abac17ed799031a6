#!/usr/bin/env bash
# Builds Release (the `release` preset: -O3, no sanitizers, benchmarks on) and runs the named
# benchmarks (all by default), appending their JSON lines to bench/results/latest.jsonl.
#
#   scripts/bench.sh                 # everything
#   scripts/bench.sh sched           # the scheduling core: sched.pass, sched.packing,
#                                    #   sched.utilization
#   scripts/bench.sh jobs            # jobs on the local backend: jobs.submit, jobs.latency,
#                                    #   jobs.supervision
# Environment: BENCH_JOBS (jobs in the packing trace, default 30000), BENCH_SEED (default 1),
# BENCH_SUBMITS (jobs per submit-throughput run, default 10000).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BUILD="$ROOT/build/release"

scripts/setup.sh
cmake --preset release >/dev/null
cmake --build "$BUILD" --target sched_bench jobs_bench mlc mlc-supervisor -j "${BENCH_BUILD_JOBS:-2}"

sched=()
jobs=()
for name in "${@:-sched jobs}"; do
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
      *) echo "bench.sh: unknown benchmark \"$n\"; known: sched, sched.pass, sched.packing," \
              "sched.utilization, jobs, jobs.submit, jobs.latency, jobs.supervision" >&2
         exit 2 ;;
    esac
  done
done

mkdir -p "$ROOT/bench/results"
out="$ROOT/bench/results/latest.jsonl"
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" \
     "nproc=$(nproc) cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')\"" \
     "mem=$(awk '/MemTotal/ {printf "%.1fGiB", $2/1048576}' /proc/meminfo)" >> "$out"
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

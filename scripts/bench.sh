#!/usr/bin/env bash
# Builds Release (the `release` preset: -O3, no sanitizers, benchmarks on) and runs the named
# benchmarks (all by default), appending their JSON lines to bench/results/latest.jsonl.
#
#   scripts/bench.sh                 # everything
#   scripts/bench.sh sched.pass      # one benchmark (names: sched.pass, sched.packing,
#                                    #   sched.utilization; sched = all three)
# Environment: BENCH_JOBS (jobs in the packing trace, default 30000), BENCH_SEED (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BUILD="$ROOT/build/release"

cmake --preset release >/dev/null
cmake --build "$BUILD" --target sched_bench -j "${BENCH_BUILD_JOBS:-2}"

only=()
for name in "${@:-sched}"; do
  case "$name" in
    sched) only+=(pass packing utilization) ;;
    sched.pass) only+=(pass) ;;
    sched.packing) only+=(packing) ;;
    sched.utilization) only+=(utilization) ;;
    *) echo "bench.sh: unknown benchmark \"$name\"; known: sched, sched.pass, sched.packing, sched.utilization" >&2
       exit 2 ;;
  esac
done
list=$(IFS=,; echo "${only[*]}")

mkdir -p "$ROOT/bench/results"
out="$ROOT/bench/results/latest.jsonl"
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" \
     "nproc=$(nproc) cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')\"" \
     "mem=$(awk '/MemTotal/ {printf "%.1fGiB", $2/1048576}' /proc/meminfo)" >> "$out"
"$BUILD/bench/sched_bench" --only "$list" --jobs "${BENCH_JOBS:-30000}" --seed "${BENCH_SEED:-1}" \
  | tee -a "$out"

#!/usr/bin/env bash
# Runs a command against the Slurm dev cluster: starts it when it is not running
# (scripts/slurm-dev-cluster.sh up), exports what `up` prints (MLC_SLURM_URI, SLURM_JWT, ...),
# then execs the command. Exits 77 (a skip, for ctest and for the callers' own checks) where Slurm
# cannot be installed or started here. Usage: tests/slurm/with-cluster.sh COMMAND [ARGS...]
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$("$root/scripts/slurm-dev-cluster.sh" up 2>/tmp/with-cluster.$$.err)"
rc=$?
if ((rc == 3)); then
  echo "SKIPPED: no Slurm dev cluster here: $(cat /tmp/with-cluster.$$.err)"
  rm -f /tmp/with-cluster.$$.err
  exit 77
fi
if ((rc != 0)); then
  echo "the Slurm dev cluster did not start (exit $rc):" >&2
  cat /tmp/with-cluster.$$.err >&2
  rm -f /tmp/with-cluster.$$.err
  exit 1
fi
rm -f /tmp/with-cluster.$$.err
while IFS= read -r line; do
  case "$line" in
    [A-Z_]*=*) export "${line%%=*}=${line#*=}" ;;
  esac
done <<<"$out"
exec "$@"

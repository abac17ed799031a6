#!/usr/bin/env bash
# The main job on the embedded local backend, from the shell: create a project with quotas and
# show it. (Later: submit a tracked training job into it.)
# Usage: examples/quickstart.sh [path/to/mlc]   (MLC_BACKEND selects the state directory)
set -euo pipefail
MLC="${1:-${MLC_BIN:-mlc}}"

"$MLC" version
"$MLC" project get demo >/dev/null 2>&1 ||
  "$MLC" project create demo --description "quick-start project" \
    --guaranteed cpu=2,memory=4Gi --limit cpu=4,memory=8Gi
"$MLC" project ls
"$MLC" project get demo

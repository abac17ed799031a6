#!/usr/bin/env bash
# The main job on the embedded local backend, from the shell: a project with quotas, then a
# tracked-by-the-platform training job (examples/train.yaml) submitted, followed to its end, and
# shown. Usage: examples/quickstart.sh [path/to/mlc]   (MLC_BACKEND selects the state directory)
set -euo pipefail
MLC="${1:-${MLC_BIN:-mlc}}"
cd "$(dirname "$0")"

"$MLC" version
"$MLC" project get demo >/dev/null 2>&1 ||
  "$MLC" project create demo --description "quick-start project" \
    --guaranteed cpu=2,memory=4Gi --limit cpu=4,memory=16Gi
"$MLC" project ls
"$MLC" -p demo job lint train.yaml
"$MLC" -p demo job submit -f train.yaml --name "train-$(date +%s)" --follow
"$MLC" -p demo job ls --limit 5
"$MLC" -p demo quota

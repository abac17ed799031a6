#!/usr/bin/env bash
# Generates the Go types of proto/mlcore/v1 into go/apiv1 (committed, so `go get` users need no
# protoc). With --check, fails when the committed files differ from a fresh generation.
set -euo pipefail
cd "$(dirname "$0")/.."
PROTOC_GEN_GO_VERSION=v1.36.6
MODULE=github.com/mlcore/mlcore/go
bin="$PWD/build/tools/bin"
if [ ! -x "$bin/protoc-gen-go" ] || ! "$bin/protoc-gen-go" --version 2>/dev/null | grep -q "${PROTOC_GEN_GO_VERSION#v}"; then
  GOBIN="$bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@${PROTOC_GEN_GO_VERSION}"
fi
out="go"
if [ "${1:-}" = "--check" ]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
maps=()
for f in proto/mlcore/v1/*.proto; do
  maps+=("--go_opt=M${f#proto/}=${MODULE}/apiv1")
done
mkdir -p "$out/apiv1"
PATH="$bin:$PATH" protoc -I proto --go_out="$out" --go_opt=module="$MODULE" "${maps[@]}" proto/mlcore/v1/*.proto
if [ "${1:-}" = "--check" ]; then
  if ! diff -r -q "$out/apiv1" go/apiv1 >/dev/null; then
    echo "gen-go: go/apiv1 is out of date with proto/; run scripts/gen-go.sh and commit" >&2
    diff -r -q "$out/apiv1" go/apiv1 >&2 || true
    exit 1
  fi
fi

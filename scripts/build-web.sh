#!/usr/bin/env bash
# Builds the web UI (libmlcore/src/server/web) into build/web/dist: `npm ci` from the committed
# package-lock.json, the routes extracted from the proto's (mlcore.v1.http) options, a type check
# (`tsc --noEmit`) and the esbuild bundle (index.html, app.js, app.css). Then checks the C++
# embedding (scripts/embed-web.py -> build/web/web_assets_embedded.cc); the next CMake build
# (scripts/build.sh, or ninja -C build/dev mlc) compiles the UI into `mlc server`.
# Without this step the server builds with no UI (libmlcore/src/server/web_assets_none.cc).
# Usage: scripts/build-web.sh [--no-install]   (--no-install: keep node_modules as it is)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
WEB="$ROOT/libmlcore/src/server/web"
DIST="$ROOT/build/web/dist"

die() { echo "build-web: $*" >&2; exit 1; }
command -v node >/dev/null 2>&1 || die "node is not installed (Debian: apt-get install nodejs npm; scripts/setup.sh installs them)"
command -v npm >/dev/null 2>&1 || die "npm is not installed (Debian: apt-get install npm; scripts/setup.sh installs it)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
((node_major >= 18)) || die "node $(node --version) is too old: 18 or newer is needed"
command -v python3 >/dev/null 2>&1 || die "python3 is not installed (it writes the C++ embedding)"

cd "$WEB"
if [[ "${1:-}" != "--no-install" ]]; then
  # Reinstall only when the lock file changed since the last install.
  stamp="node_modules/.mlcore-lock-$(sha256sum package-lock.json | cut -c1-16)"
  if [[ ! -f "$stamp" ]]; then
    echo "build-web: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    touch "$stamp"
  fi
fi
[[ -x node_modules/.bin/esbuild && -x node_modules/.bin/tsc ]] || die "node_modules is incomplete: run without --no-install"

node gen-routes.mjs
node_modules/.bin/tsc --noEmit -p tsconfig.json || die "type check failed"
node build.mjs "$DIST"
python3 "$ROOT/scripts/embed-web.py" "$DIST" "$ROOT/build/web/web_assets_embedded.cc"
ls -l "$DIST"

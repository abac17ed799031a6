#!/usr/bin/env bash
# Installs everything mlcore needs to build and test, skipping what is already there:
# Debian packages by name, a Python virtual environment (.venv) with packages from PyPI, and Go
# (from Debian when no Go toolchain is on PATH). Safe to run again; quiet when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  protobuf-compiler libprotobuf-dev protobuf-compiler-grpc libgrpc++-dev
  libcurl4-openssl-dev libsqlite3-dev nlohmann-json3-dev libcli11-dev doctest-dev libcpp-httplib-dev
  pybind11-dev libspdlog-dev libyaml-cpp-dev zlib1g-dev libssl-dev
  python3 python3-dev python3-venv
  clang-tidy clang-format
  util-linux faketime curl openssl
  graphviz
  chromium
)
command -v go >/dev/null 2>&1 || APT_PACKAGES+=(golang-go)
# The web UI (scripts/build-web.sh) needs node and npm; its e2e tests drive Debian's chromium.
command -v node >/dev/null 2>&1 || APT_PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python: a project-local virtual environment with the build and test tools.
PY_PACKAGES=(pip "scikit-build-core>=0.8" "pybind11>=2.10" "pytest>=7" build cloudpickle numpy pandas tqdm
  matplotlib nbformat nbclient ipykernel jsonschema)
stamp=".venv/.mlcore-setup-$(printf '%s\n' "${PY_PACKAGES[@]}" | sha256sum | cut -c1-16)"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python packages into .venv: ${PY_PACKAGES[*]}"
  .venv/bin/python -m pip install -q --upgrade "${PY_PACKAGES[@]}"
  rm -f .venv/.mlcore-setup-*
  touch "$stamp"
fi

#!/usr/bin/env bash
# Style checks of mlcore's own C/C++ sources: clang-format (always) and clang-tidy (unless
# --format-only; needs the dev build's compile_commands.json). Generated code is never checked.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files 'libmlcore/*.cc' 'libmlcore/*.h' 'cli/*.cc' 'cli/*.h' \
  'python/src/*.cc' 'python/src/*.h' 'tests/*.cc' 'tests/*.h' 'tests/*.c' 'examples/*.c' \
  'bench/*.cc' 'bench/*.h')
clang-format --dry-run -Werror "${files[@]}"
echo "clang-format: ${#files[@]} files clean"
[ "${1:-}" = "--format-only" ] && exit 0
mapfile -t sources < <(printf '%s\n' "${files[@]}" | grep -E '^(libmlcore|cli)/.*\.cc$')
clang-tidy -p build/dev --quiet --extra-arg=-Wno-unknown-warning-option "${sources[@]}"
echo "clang-tidy: ${#sources[@]} files clean"

"""The `mlc` console script of the Python package: runs the `mlc` binary bundled in the wheel."""

from __future__ import annotations

import os
import sys


def binary() -> str | None:
    """Path of the bundled `mlc` executable, or None when the package was built without it."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mlc")
    return path if os.access(path, os.X_OK) else None


def main() -> None:
    path = binary()
    if path is None:
        sys.stderr.write("mlc: this mlcore package was built without the CLI; build it with CMake "
                         "(scripts/build.sh) and put build/dev/cli on PATH\n")
        raise SystemExit(1)
    os.execv(path, [path, *sys.argv[1:]])


if __name__ == "__main__":
    main()

"""Shared pytest fixtures: an isolated environment so tests never touch the user's config/state."""

from __future__ import annotations

import os
import pathlib

import pytest


@pytest.fixture
def isolated(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """A temporary HOME-like directory with mlcore's environment cleared."""
    for var in ("MLC_BACKEND", "MLC_PROJECT", "MLC_CONTEXT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MLC_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return tmp_path


@pytest.fixture
def backend(isolated: pathlib.Path) -> str:
    """A fresh local:// backend URI."""
    return f"local://{isolated}/state"


def mlc_binary() -> str:
    """The built `mlc` (MLC_BIN, else the dev build)."""
    root = pathlib.Path(__file__).resolve().parents[1]
    return os.path.abspath(os.environ.get("MLC_BIN", str(root / "build" / "dev" / "cli" / "mlc")))

"""Shared pytest fixtures: an isolated environment so tests never touch the user's config/state."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import subprocess

import pytest



def _has_airflow() -> bool:
    # tests/ is on sys.path, so tests/airflow itself is found as a namespace package ("airflow",
    # no origin): only a real Apache Airflow counts.
    spec = importlib.util.find_spec("airflow")
    return spec is not None and spec.origin is not None


# tests/airflow runs under .venv-airflow, which has Apache Airflow (scripts/test.sh's airflow
# step, scripts/airflow-env.sh); an interpreter without Airflow does not collect it.
collect_ignore = [] if _has_airflow() else ["airflow"]


@pytest.fixture
def isolated(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """A temporary HOME-like directory with mlcore's environment cleared."""
    for var in ("MLC_BACKEND", "MLC_PROJECT", "MLC_CONTEXT", "MLC_DIGEST_CACHE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MLC_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path


@pytest.fixture
def backend(isolated: pathlib.Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh backend URI: local:// by default; with MLC_TEST_REMOTE=1, a real `mlc server` on
    127.0.0.1 serving a fresh state directory, so the same tests run over grpc://. The server
    checks tokens and roles: the tests run as a server administrator (MLC_TOKEN), so every call
    also goes through authentication and the authorization table."""
    if os.environ.get("MLC_TEST_REMOTE") != "1":
        yield f"local://{isolated}/state"
        return
    env = dict(os.environ, MLC_NODE_CAPACITY="cpu=4,memory=8Gi,gpu=0")
    state = str(isolated / "state")
    token = subprocess.run([mlc_binary(), "server", "user", "add", "ci-admin", "--admin",
                            "--token", "--state", state], capture_output=True, text=True,
                           check=True, timeout=60, env=env).stdout.strip()
    monkeypatch.setenv("MLC_TOKEN", token)
    server = subprocess.Popen(
        [mlc_binary(), "server", "--listen", "127.0.0.1:0", "--state", state],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env=env)
    line = server.stdout.readline()
    assert line.startswith("serving grpc://"), (line, server.stderr.read())
    yield line.split()[1]
    server.terminate()
    assert server.wait(timeout=30) == 0, server.stderr.read()


def mlc_binary() -> str:
    """The built `mlc` (MLC_BIN, else the dev build)."""
    root = pathlib.Path(__file__).resolve().parents[1]
    return os.path.abspath(os.environ.get("MLC_BIN", str(root / "build" / "dev" / "cli" / "mlc")))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "local_only(reason): the test needs local:// (skipped, visibly, over grpc://)")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("MLC_TEST_REMOTE") != "1":
        return
    for item in items:
        marker = item.get_closest_marker("local_only")
        if marker is not None:
            reason = marker.args[0] if marker.args else "needs local://"
            item.add_marker(pytest.mark.skip(reason=f"local:// only: {reason}"))

"""The examples in examples/ run as a user would run them, so they cannot rot."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from conftest import mlc_binary

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_quickstart_py(backend, monkeypatch):
    monkeypatch.setenv("MLC_BACKEND", backend)
    run = lambda: subprocess.run([sys.executable, str(ROOT / "examples/quickstart.py")],
                                 capture_output=True, text=True, timeout=60)
    first, second = run(), run()  # idempotent: the second run finds the project
    for proc in (first, second):
        assert proc.returncode == 0, proc.stderr
        assert "SUCCEEDED, exit code 0" in proc.stdout
        assert "done: y = " in proc.stdout and "epoch  10" in proc.stdout
        assert "RUN_STATUS_FINISHED, params {'epochs': '10', 'lr': '0.05'}" in proc.stdout
        assert "over 10 epochs" in proc.stdout


@pytest.mark.skipif(not os.path.exists(mlc_binary()), reason="mlc not built")
def test_quickstart_sh(backend, monkeypatch):
    monkeypatch.setenv("MLC_BACKEND", backend)
    proc = subprocess.run(["bash", str(ROOT / "examples/quickstart.sh"), mlc_binary()],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "demo" in proc.stdout and "cpu=2 memory=4Gi" in proc.stdout
    assert "train.yaml: ok" in proc.stdout
    assert "done: y = 3.00x + 1.99" in proc.stdout
    assert "SUCCEEDED" in proc.stdout

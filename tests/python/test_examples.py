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


@pytest.mark.skipif(not os.path.exists(mlc_binary()), reason="mlc not built")
def test_pipeline_py(backend, monkeypatch, tmp_path):
    monkeypatch.setenv("MLC_BACKEND", backend)
    out = tmp_path / "linear.yaml"
    proc = subprocess.run([sys.executable, str(ROOT / "examples/pipeline.py"), str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"wrote {out}: pipeline linear-fit, steps make-data, fit, report", "y = 3.00x + 2.00"]
    lint = subprocess.run([mlc_binary(), "pipeline", "lint", str(out)], capture_output=True,
                          text=True, timeout=60)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert lint.stdout.endswith("ok (pipeline linear-fit, 3 steps, 7 edges)\n")
    # The fit step's function, run by the component runner as its job would run it.
    data = tmp_path / "data.csv"
    data.write_text("0,2\n1,5\n-1,-1\n")
    env = dict(os.environ, MLC_INPUT_DATA=str(data), MLC_INPUT_EPOCHS="500",
               MLC_OUTPUT_DIR=str(tmp_path / "fit"), PYTHONPATH=str(ROOT / "examples"))
    run = subprocess.run([sys.executable, "-m", "mlcore._component_runner", "pipeline:fit"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert round(float((tmp_path / "fit" / "slope").read_text()), 2) == 3.0
    assert round(float((tmp_path / "fit" / "intercept").read_text()), 2) == 2.0

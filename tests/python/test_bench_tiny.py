"""The Python benchmarks run once, tiny, so they cannot rot (no speed is asserted here)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_tracking_bench_tiny_prints_valid_lines(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "tracking_bench.py"), "--tiny", "--skip-mlflow",
         "--only", "log_metric,log_batch,read,train_loop", "--tmp", str(tmp_path)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(l) for l in proc.stdout.splitlines() if l.strip()]
    assert {l["bench"] for l in lines} >= {"tracking.log_metric.python", "tracking.log_batch.python",
                                           "tracking.read_history", "tracking.read_downsampled",
                                           "tracking.train_loop_overhead"}
    for line in lines:
        assert {"bench", "unit", "value", "target", "met", "runs"} <= line.keys()


def test_python_import_bench_tiny_prints_a_valid_line():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "python_bench.py"), "--runs", "1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (line,) = [json.loads(l) for l in proc.stdout.splitlines() if l.strip()]
    assert line["bench"] == "python.import" and line["unit"] == "ms" and line["runs"] == 1
    assert {"value", "target", "met", "min", "max"} <= line.keys()


def test_pipeline_bench_tiny_prints_a_valid_line():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "pipeline_bench.py"), "--steps", "5",
                           "--runs", "1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    line = json.loads(proc.stdout)
    assert line["bench"] == "pipeline.step_overhead" and line["params"]["steps"] == 5
    assert line["value"] > 0 and line["peer_value"] > 0

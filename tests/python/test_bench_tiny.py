"""The tracking benchmark runs once, tiny, so it cannot rot (no speed is asserted here)."""

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

#!/usr/bin/env python3
"""MLflow's tracking server over HTTP as the peer of bench/server_bench.cc (server.tracking_server).

server_bench runs this script as a child process (--peer PYTHON --peer-script THIS). It starts
`mlflow server` (sqlite backend store in --store, 127.0.0.1, a free port, --workers worker
processes) and waits for its /health, then drives it one command at a time so that the two sides'
runs interleave. The client is MlflowClient over HTTP (the REST API), in this process.

Protocol: one JSON line on stdout when ready
  {"ready": true, "mlflow": VERSION, "startup_s": ...}
then, per command line on stdin, one JSON line:
  {"op": "log", "keys": K, "steps": S}
      creates a run and logs K metrics x S steps with MlflowClient.log_batch, 1,000 metrics per
      call (the REST API's ceiling), step-major like a training loop; the server commits each
      request to sqlite before it answers, so when the last call returns everything is durable.
      Answer: {"seconds": ..., "points": K*S, "calls": N}; the points are read back and counted
      after the timing (a wrong count is an error).
  {"op": "quit"}   stops the server and exits.
Errors answer {"error": "..."}. Anything MLflow prints goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

_OUT = sys.stdout
sys.stdout = sys.stderr

BATCH = 1000  # MLflow's REST log-batch limit on metrics per request


def emit(obj: dict) -> None:
    _OUT.write(json.dumps(obj) + "\n")
    _OUT.flush()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True, help="directory for the server's sqlite store")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    os.makedirs(args.store, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    start = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server",
         "--backend-store-uri", f"sqlite:///{args.store}/mlflow.db",
         "--default-artifact-root", f"{args.store}/artifacts",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)],
        stdout=sys.stderr, stderr=sys.stderr, start_new_session=True)
    try:
        deadline = time.time() + 180
        while True:
            if server.poll() is not None:
                emit({"error": f"mlflow server exited with {server.returncode}"})
                return 1
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                emit({"error": "mlflow server did not answer /health within 180 s"})
                return 1
            time.sleep(0.2)

        import mlflow
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=url)
        experiment = client.create_experiment("server-bench")
        emit({"ready": True, "mlflow": mlflow.__version__,
              "startup_s": round(time.perf_counter() - start, 2)})
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd.get("op") == "quit":
                break
            try:
                keys, steps = int(cmd["keys"]), int(cmd["steps"])
                run = client.create_run(experiment).info.run_id
                now = int(time.time() * 1000)
                metrics = [Metric(f"m{k}", float(s), now, s)
                           for s in range(steps) for k in range(keys)]
                t0 = time.perf_counter()
                calls = 0
                for i in range(0, len(metrics), BATCH):
                    client.log_batch(run, metrics=metrics[i:i + BATCH])
                    calls += 1
                seconds = time.perf_counter() - t0
                got = sum(len(client.get_metric_history(run, f"m{k}")) for k in range(keys))
                if got != keys * steps:
                    emit({"error": f"read back {got} points, logged {keys * steps}"})
                    continue
                emit({"seconds": seconds, "points": keys * steps, "calls": calls})
            except Exception as e:  # noqa: BLE001 - reported to the driver
                emit({"error": f"{type(e).__name__}: {e}"})
        return 0
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())

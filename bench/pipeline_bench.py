"""pipeline.step_overhead: the scheduling overhead of a pipeline step on the local backend — the
time from a step's inputs being ready (its StepRun.ready_time) to its job RUNNING (start_time) —
on a fan-out of N steps (a parallel-for over an N-element list, N = 1000 by default); target
under 10 ms per step (issue 11).

The peer is the jobs API itself: the same N jobs submitted directly, one after another, from one
process (`mlcore.jobs.submit`), timed from the submit call to RUNNING. Both are per-step means:
total span (first ready / first submit -> last RUNNING) / N, which counts queueing of the steps
behind each other; the median of the per-step delays is reported too. Each step asks for 1
millicore and 1 MiB, so all fit on the machine at once and nothing waits for capacity. Both run
in a scratch directory outside any git repository.

    python bench/pipeline_bench.py --steps 1000 [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import time

import mlcore


def ts(value) -> float:
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def fan_out_spec(n: int) -> dict:
    job = {"command": ["true"], "resources": {"cpu_millis": 1, "memory_bytes": 1 << 20}}
    return {
        "name": "fan",
        "inputs": [{"name": "items", "type": "IO_TYPE_PARAMETER",
                    "parameter_type": "PARAMETER_TYPE_LIST"}],
        "cache": "CACHE_POLICY_DISABLED",
        "steps": [{"name": "work", "job": job,
                   "parallel_for": {"input": "item"},
                   "inputs": [{"name": "item", "type": "IO_TYPE_PARAMETER",
                               "parameter_type": "PARAMETER_TYPE_LIST"}]}],
        "edges": [{"source_name": "items", "target_step": "work", "target_name": "item"}],
    }


def pipeline_once(client, n: int) -> tuple[float, float]:
    run = mlcore.run_pipeline(fan_out_spec(n), {"items": list(range(n))}, client=client)
    run.wait(timeout=1800)
    if run.state != "SUCCEEDED":
        raise SystemExit(f"pipeline run {run.id} ended {run.state}: {run.message}")
    steps = [s for s in run.data["steps"] if "iteration" in s]
    assert len(steps) == n, len(steps)
    delays = [ts(s["start_time"]) - ts(s["ready_time"]) for s in steps]
    span = max(ts(s["start_time"]) for s in steps) - min(ts(s["ready_time"]) for s in steps)
    return 1000 * span / n, 1000 * statistics.median(delays)


def jobs_once(client, n: int) -> tuple[float, float]:
    submitted = []
    for i in range(n):
        t = time.time()
        job = mlcore.jobs.submit(["true"], resources="cpu=1m,memory=1Mi",
                                 name=f"direct-{os.getpid()}-{time.monotonic_ns()}-{i}",
                                 client=client)
        submitted.append((t, job))
    delays, last = [], 0.0
    for t, job in submitted:
        job.wait(timeout=1800)
        start = job.data.get("start_time")
        if not start:
            raise SystemExit(f"job {job.id} never ran: {job.state} {job.message}")
        delays.append(ts(start) - t)
        last = max(last, ts(start))
    return 1000 * (last - submitted[0][0]) / n, 1000 * statistics.median(delays)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlc-pipeline-bench-") as tmp:
        # Steps and jobs start in a directory that is not a git repository, as jobs_bench does:
        # in one, every submit also records the git state (a few `git` processes).
        os.chdir(tmp)
        client = mlcore.Client(f"local://{tmp}/state", project="bench")
        client.invoke("ProjectService/CreateProject", {"project": {"name": "bench"}})
        pipeline_once(client, 20)  # warm-up
        ours, ours_med, peer, peer_med = [], [], [], []
        for _ in range(args.runs):
            per_step, median = pipeline_once(client, args.steps)
            ours.append(per_step)
            ours_med.append(median)
            per_step, median = jobs_once(client, args.steps)
            peer.append(per_step)
            peer_med.append(median)
        value, peer_value = statistics.median(ours), statistics.median(peer)
        print(json.dumps({
            "bench": "pipeline.step_overhead", "unit": "ms/step", "value": round(value, 3),
            "peer": "jobs.submit.direct", "peer_value": round(peer_value, 3),
            "ratio": round(peer_value / value, 3) if value else None,
            "target": "< 10 ms/step", "met": value < 10, "runs": args.runs, "stat": "median",
            "min": round(min(ours), 3), "max": round(max(ours), 3),
            "params": {"steps": args.steps, "median_step_delay_ms": round(statistics.median(ours_med), 3),
                       "peer_median_delay_ms": round(statistics.median(peer_med), 3)}}))
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

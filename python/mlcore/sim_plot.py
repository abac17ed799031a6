"""Plots a simulation's utilization and queue length over time (``mlc sim --plot``).

    python3 -m mlcore.sim_plot SUMMARY.json OUT.png

SUMMARY.json is what ``mlc sim --json`` writes (a ``mlcore.v1.SimulateResponse`` in JSON, with
its timeline). matplotlib is optional for mlcore: it is imported only here, and a clear error
says how to install it when it is missing.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Mapping


def _seconds(value: Any) -> float:
    """Proto JSON renders durations as "3600s"."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.endswith("s"):
        return float(value[:-1])
    return 0.0


def plot(response: Mapping[str, Any], out_png: str, *, title: str | None = None) -> None:
    """Writes a PNG with two panels: utilization per resource, and queue length/running jobs.

    Raises ImportError (with the pip command) when matplotlib is not installed, and ValueError
    when the response has no timeline (run the simulation with a timeline: ``mlc sim --json``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install matplotlib") from e
    timeline = response.get("timeline") or []
    if not timeline:
        raise ValueError("the simulation has no timeline; run it with a timeline (mlc sim --json)")
    hours = [_seconds(s.get("offset", 0)) / 3600 for s in timeline]
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(11, 6))
    for key, label in (("cpu", "CPU"), ("memory", "memory"), ("gpu", "GPU")):
        top.plot(hours, [100 * s.get(key, 0.0) for s in timeline], label=label, linewidth=1)
    top.set_ylabel("utilization, %")
    top.set_ylim(0, 105)
    top.legend(loc="upper right")
    summary = response.get("summary", {})
    top.set_title(title or f"{summary.get('nodes', '?')} nodes, "
                           f"{summary.get('jobs_submitted', '?')} jobs, "
                           f"{summary.get('preemptions', 0)} preemptions, "
                           f"{summary.get('quota_violations', 0)} quota violations")
    bottom.plot(hours, [s.get("queue_length", 0) for s in timeline], label="queued", linewidth=1)
    bottom.plot(hours, [s.get("running_jobs", 0) for s in timeline], label="running", linewidth=1)
    bottom.set_ylabel("jobs")
    bottom.set_xlabel("hours since the first submit")
    bottom.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python3 -m mlcore.sim_plot SUMMARY.json OUT.png", file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as f:
        response = json.load(f)
    try:
        plot(response, args[1])
    except (ImportError, ValueError) as e:
        print(f"mlcore.sim_plot: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

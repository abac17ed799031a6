"""Replaying job traces through the scheduling core from Python.

The simulation runs in the C++ core (the same scheduler the backends use); this module only
prepares the request and shapes the answer::

    from mlcore import sim
    result = sim.simulate("day.csv", nodes=120, node_flavor="gpu-8-96-1024")
    print(result.summary["mean_gpu_utilization"], result.summary["quota_violations"])
    result.timeline_frame()          # pandas DataFrame, when pandas is installed
    result.plot("day.png")           # needs matplotlib

It drives the ``mlc sim`` command (``$MLC_CLI``, else the one bundled in the package, else PATH) so it works wherever the CLI
is installed; once the backend serves ``SchedulingService/Simulate`` the same request can be sent
with ``client.invoke("SchedulingService/Simulate", request)``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Any, Mapping

from mlcore.errors import MlcoreError


@dataclass
class SimulationResult:
    """A ``mlcore.v1.SimulateResponse`` as dicts: ``summary`` and ``timeline``."""

    summary: dict[str, Any]
    timeline: list[dict[str, Any]] = field(default_factory=list)

    def wait_stats(self) -> dict[str, dict[str, Any]]:
        """Wait percentiles per project name."""
        return {w["project"]: w for w in self.summary.get("wait_stats", [])}

    def timeline_frame(self):
        """The timeline as a pandas DataFrame indexed by hours since the first submit."""
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("timeline_frame() needs pandas: pip install pandas") from e
        from mlcore.sim_plot import _seconds

        rows = [dict(s, hours=_seconds(s.get("offset", 0)) / 3600) for s in self.timeline]
        return pd.DataFrame(rows).set_index("hours")

    def plot(self, out_png: str) -> None:
        """Writes the utilization/queue PNG (needs matplotlib)."""
        from mlcore.sim_plot import plot

        plot({"summary": self.summary, "timeline": self.timeline}, out_png)


def _cli() -> str:
    from mlcore._cli import binary

    path = os.environ.get("MLC_CLI") or binary() or shutil.which("mlc")
    if not path:
        raise MlcoreError("mlcore.sim needs the mlc command: put it on PATH or set MLC_CLI")
    return path


def simulate(
    trace: str | os.PathLike[str],
    *,
    nodes: int | None = None,
    node_flavor: str | None = None,
    node_resources: str | None = None,
    world: Mapping[str, Any] | None = None,
    placement: str = "best-fit",
    pass_interval: float | None = None,
    horizon: float | None = None,
) -> SimulationResult:
    """Replays ``trace`` (CSV or JSONL, see ``mlc sim --help``) and returns the result.

    ``world`` is a ``mlcore.v1.SimulationConfig`` as a dict (nodes, projects with quotas,
    priority classes, catalog, scheduler tunables); ``nodes`` adds that many identical nodes of
    ``node_flavor`` or ``node_resources`` ("cpu=128,memory=1536Gi,gpu=8", the default).
    Raises MlcoreError with the core's message when the trace or world is invalid.
    """
    with tempfile.TemporaryDirectory(prefix="mlcore-sim-") as tmp:
        out = os.path.join(tmp, "result.json")
        cmd = [_cli(), "sim", os.fspath(trace), "--json", out, "--placement", placement]
        if nodes:
            cmd += ["--nodes", str(nodes)]
        if node_flavor:
            cmd += ["--node-flavor", node_flavor]
        if node_resources:
            cmd += ["--node-resources", node_resources]
        if pass_interval:
            cmd += ["--pass-interval", str(pass_interval)]
        if horizon:
            cmd += ["--horizon", str(horizon)]
        if world is not None:
            world_path = os.path.join(tmp, "world.json")
            with open(world_path, "w", encoding="utf-8") as f:
                json.dump(dict(world), f)
            cmd += ["--world", world_path]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            message = proc.stderr.strip().removeprefix("mlc: error: ")
            raise MlcoreError(message or f"mlc sim exited with {proc.returncode}")
        with open(out, encoding="utf-8") as f:
            response = json.load(f)
    return SimulationResult(summary=response.get("summary", {}),
                            timeline=response.get("timeline", []))

"""Components used by test_pipelines.py; a module of its own so that the component runner, run as
a real subprocess, imports them as a step's job would (PYTHONPATH = this directory)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple, Optional

import mlcore
from mlcore import Input, Metrics, Output


@mlcore.component(flavor="cpu-2-8")
def prep(rows: int, data: Output[Path], prefix: str = "row"):
    """Writes `rows` lines."""
    data.write_text("".join(f"{prefix}-{i}\n" for i in range(rows)))


@mlcore.component
def train(data: Input[Path], lr: float, epochs: int = 2, tags: Optional[list] = None,
          model: Output[Path] = None, scores: Output[Metrics] = None) -> float:
    rows = data.read_text().splitlines()
    model.mkdir()
    (model / "weights.json").write_text(json.dumps({"rows": len(rows), "lr": lr, "tags": tags}))
    scores["rows"] = len(rows)
    scores["lr_x_epochs"] = lr * epochs
    return len(rows) * lr


class Summary(NamedTuple):
    best: float
    note: str


@mlcore.component
def compare(a: float, b: float, verbose: bool = False) -> Summary:
    return Summary(max(a, b), f"verbose={verbose}")


@mlcore.component
def split(n: int) -> list:
    return [f"shard-{i}" for i in range(n)]


@mlcore.component
def per_shard(shard: str) -> int:
    return len(shard)


@mlcore.component
def pick(sizes: list) -> int:
    return max(sizes)


@mlcore.component
def fails(x: int) -> int:
    raise RuntimeError(f"boom {x}")


@mlcore.component
def forgets(out: Output[Path]):
    """Declares an output and does not write it."""


notify = mlcore.pipelines.container_component(
    "notify", image="alpine:3", command=["sh", "-c", "echo state=$MLC_PIPELINE_STATE"])

resize = mlcore.pipelines.container_component(
    "resize", image="ghcr.io/acme/resize:1",
    command=["resize", "--size", "{{inputs.size}}", "--out", "/out"],
    inputs={"images": Input[Path], "size": int}, outputs={"small": Output[Path], "count": int})

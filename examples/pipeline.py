"""A training pipeline in plain Python: three components, one pipeline, compiled to YAML and
checked by the same linter as `mlc pipeline lint` (docs/pipelines.md).

    python examples/pipeline.py [OUT.yaml]      # writes the pipeline (default: pipeline.yaml)
    mlc pipeline lint pipeline.yaml

Each step's job runs `python -m mlcore._component_runner ...:FUNCTION`, which passes the inputs
from MLC_INPUT_<NAME> and stores what the function returns under $MLC_OUTPUT_DIR.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import NamedTuple

import mlcore
from mlcore import Input, Metrics, Output


@mlcore.component(flavor="cpu-2-8")
def make_data(rows: int, seed: int, data: Output[Path]):
    """y = 3x + 2 with noise, one "x,y" line per row."""
    rng = random.Random(seed)
    lines = []
    for _ in range(rows):
        x = rng.uniform(-1, 1)
        lines.append(f"{x},{3 * x + 2 + rng.gauss(0, 0.1)}")
    data.write_text("\n".join(lines) + "\n")


class Fit(NamedTuple):
    slope: float
    intercept: float


@mlcore.component(flavor="cpu-2-8", retries=1)
def fit(data: Input[Path], epochs: int = 50, lr: float = 0.1,
        metrics: Output[Metrics] = None) -> Fit:
    """Least squares by gradient descent."""
    points = [tuple(map(float, line.split(","))) for line in data.read_text().split()]
    w = b = 0.0
    for _ in range(epochs):
        gw = sum(2 * (w * x + b - y) * x for x, y in points) / len(points)
        gb = sum(2 * (w * x + b - y) for x, y in points) / len(points)
        w, b = w - lr * gw, b - lr * gb
    metrics["mse"] = sum((w * x + b - y) ** 2 for x, y in points) / len(points)
    return Fit(w, b)


@mlcore.component(flavor="cpu-2-8")
def report(slope: float, intercept: float) -> str:
    return f"y = {slope:.2f}x + {intercept:.2f}"


@mlcore.pipeline(name="linear-fit")
def linear_fit(rows: int = 200, lr: float = 0.1):
    """Make data, fit a line, report it when the fit is good."""
    data = make_data(rows=rows, seed=7)
    fitted = fit(data=data, lr=lr, epochs=200)
    summary = report(slope=fitted.outputs.slope, intercept=fitted.outputs.intercept)
    summary.when(f"{fitted.outputs.metrics['mse']} < 0.5")
    return {"summary": summary, "data": data}


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "pipeline.yaml"
    mlcore.compile(linear_fit, out)  # lints first: raises InvalidArgumentError listing problems
    spec = linear_fit.spec()
    print(f"wrote {out}: pipeline {spec['name']}, steps "
          f"{', '.join(s['name'] for s in spec['steps'])}")
    # The functions are plain Python outside a pipeline:
    print(report(3.0, 2.0))

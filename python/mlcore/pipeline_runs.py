"""Running pipelines: ``mlcore.run_pipeline(p, inputs)`` and the ``PipelineRun`` it returns.

A run is driven by mlcore, not by this process: each step becomes a job once its inputs are
ready (see docs/pipelines.md), so the run goes on when the notebook or script that started it
ends. ``PipelineRun.wait()`` follows it; ``cancel()`` and ``resume()`` act on it.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Mapping

from mlcore._record import Record

_TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}


def _word(value: str | None, prefix: str) -> str:
    return (value or "").removeprefix(prefix)


class StepRun(Record):
    """One execution of a step (one per iteration of a parallel-for): ``step``, ``iteration``,
    ``state`` (PENDING, RUNNING, SUCCEEDED, CACHED, FAILED, SKIPPED, UPSTREAM_FAILED, CANCELLED),
    ``job_id``, ``run_id``, ``inputs``, ``outputs``, ``message``."""


class PipelineRun:
    """A pipeline run. ``state`` is PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLING or
    CANCELLED; ``steps`` lists the step runs; ``outputs`` maps the pipeline's outputs to their
    values (parameters decoded from JSON; artifacts as artifact ids)."""

    def __init__(self, client: Any, data: Mapping[str, Any]):
        self._client = client
        self._data = dict(data)

    @property
    def id(self) -> str:
        return self._data["id"]

    @property
    def data(self) -> Record:
        """The whole PipelineRun message."""
        return Record(self._data)

    @property
    def name(self) -> str:
        return self._data.get("spec", {}).get("name", "")

    @property
    def state(self) -> str:
        return _word(self._data.get("state"), "PIPELINE_RUN_STATE_")

    @property
    def failed_step(self) -> str | None:
        return self._data.get("failed_step") or None

    @property
    def message(self) -> str | None:
        return self._data.get("message") or None

    @property
    def run_id(self) -> str | None:
        """The parent tracking run (each step's job run is its child)."""
        return self._data.get("run_id") or None

    @property
    def steps(self) -> list[StepRun]:
        out = []
        for s in self._data.get("steps", []):
            d = dict(s)
            d["state"] = _word(d.get("state"), "STEP_STATE_")
            out.append(StepRun(d))
        return out

    def step(self, name: str) -> StepRun:
        """The run of step ``name`` (the first iteration of a parallel-for)."""
        for s in self.steps:
            if s.get("step") == name:
                return s
        raise KeyError(f"pipeline run {self.id} has no step {name!r}")

    @property
    def outputs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for v in self._data.get("outputs", []):
            if v.get("artifact_id"):
                out[v["name"]] = v["artifact_id"]
            elif v.get("parameter_json"):
                out[v["name"]] = json.loads(v["parameter_json"])
            elif v.get("metrics"):
                out[v["name"]] = dict(v["metrics"])
            elif v.get("dataset"):
                out[v["name"]] = v["dataset"].get("uri")
        return out

    @property
    def done(self) -> bool:
        return self.state in _TERMINAL

    def refresh(self) -> "PipelineRun":
        self._data = self._client.invoke("PipelineService/GetPipelineRun", {"id": self.id})
        return self

    def wait(self, timeout: float | None = None, poll: float = 0.05) -> "PipelineRun":
        """Blocks until the run ends (TimeoutError after ``timeout`` seconds) and returns it.
        Ctrl-C stops waiting; the run goes on."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = min(poll, 0.01)
        while not self.refresh().done:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"pipeline run {self.id} is still {self.state} after {timeout} s")
            time.sleep(delay)
            delay = min(delay * 2, max(poll, 0.25))
        return self

    def cancel(self, reason: str = "", *, wait: bool = False,
               timeout: float | None = None) -> "PipelineRun":
        """Cancels the run: active steps' jobs are cancelled, then the exit handler runs."""
        self._data = self._client.invoke("PipelineService/CancelPipelineRun",
                                         {"id": self.id, "reason": reason})
        return self.wait(timeout) if wait else self

    def resume(self, *, cache: bool = True) -> "PipelineRun":
        """Runs a FAILED or CANCELLED run again from the steps that did not succeed."""
        self._data = self._client.invoke("PipelineService/ResumePipelineRun",
                                         {"id": self.id, "disable_cache": not cache})
        return self

    def __repr__(self) -> str:
        return f"<PipelineRun {self.id} {self.name} {self.state}>"


def _input_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return json.dumps(value)


def run_pipeline(pipeline: Any, inputs: Mapping[str, Any] | None = None, *, cache: bool = True,
                 wait: bool = False, timeout: float | None = None, client: Any = None,
                 request_id: str = "") -> PipelineRun:
    """Runs a pipeline on the client's backend and returns its ``PipelineRun``.

    ``pipeline`` is a ``@mlcore.pipeline`` function, a PipelineSpec dict, or a YAML/JSON file.
    It is linted first (InvalidArgumentError lists every problem). ``inputs`` are the pipeline's
    inputs (strings as they are, other values as JSON). ``cache=False`` reruns every step
    (``--no-cache``). With ``wait`` it returns once the run has ended."""
    from mlcore.jobs import _client
    from mlcore.pipelines import lint
    c = _client(client)
    report = lint(None, client=c, **_lint_source(pipeline))
    report.raise_for_errors()
    request: dict[str, Any] = {"spec": report.resolved_spec,
                               "input_values": {k: _input_text(v) for k, v in (inputs or {}).items()},
                               "disable_cache": not cache}
    if request_id:
        request["request_id"] = request_id
    run = PipelineRun(c, c.invoke("PipelineService/RunPipeline", request))
    return run.wait(timeout) if wait else run


def _lint_source(pipeline: Any) -> dict[str, Any]:
    from mlcore.pipelines import Pipeline
    if isinstance(pipeline, Pipeline):
        return {"text": json.dumps(pipeline.spec()), "file": f"<pipeline {getattr(pipeline, 'name', '')}>"}
    if isinstance(pipeline, Mapping):
        return {"text": json.dumps(dict(pipeline)), "file": "<spec>"}
    if isinstance(pipeline, (str, os.PathLike)):
        path = os.fspath(pipeline)
        try:
            with open(path, encoding="utf-8") as f:
                return {"text": f.read(), "file": path}
        except FileNotFoundError:
            from mlcore.errors import NotFoundError
            raise NotFoundError(f"cannot read pipeline file {path}") from None
    raise TypeError(f"run_pipeline takes a @pipeline, a spec dict or a file path, "
                    f"not {type(pipeline).__name__}")


def get_pipeline_run(id: str, *, client: Any = None) -> PipelineRun:  # noqa: A002
    """The pipeline run ``id``."""
    from mlcore.jobs import _client
    c = _client(client)
    return PipelineRun(c, c.invoke("PipelineService/GetPipelineRun", {"id": id}))


def list_pipeline_runs(*, project: str | None = None, name: str = "", states: Any = (),
                       limit: int = 100, client: Any = None) -> list[PipelineRun]:
    """Pipeline runs of the project, newest first."""
    from mlcore.jobs import _client
    c = _client(client)
    request: dict[str, Any] = {"pipeline_name": name, "page_size": limit,
                               "states": [s if s.startswith("PIPELINE_RUN_STATE_")
                                          else "PIPELINE_RUN_STATE_" + s.upper() for s in states]}
    if project:
        request["project"] = project
    response = c.invoke("PipelineService/ListPipelineRuns", request)
    return [PipelineRun(c, r) for r in response.get("runs", [])]


__all__ = ["PipelineRun", "StepRun", "get_pipeline_run", "list_pipeline_runs", "run_pipeline"]

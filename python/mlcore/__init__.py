"""mlcore: run ML jobs, track experiments, move artifacts and register models.

Quick start::

    import mlcore
    client = mlcore.Client()                  # backend and project from env / config / default
    client.create_project("ml-research")
    print(client.projects())

    mlcore.init(project="ml-research")
    with mlcore.start_run(name="baseline", params={"lr": 0.01}) as run:
        for step in range(1000):
            run.log_metric("loss", 1 / (step + 1), step=step)

Every call goes through the C++ core (``mlcore._mlcore``); errors raise subclasses of
:class:`MlcoreError` such as :class:`NotFoundError`.
"""

from __future__ import annotations

from mlcore import _mlcore
from typing import TYPE_CHECKING

from mlcore import config, errors, tracking
from mlcore.client import BackendInfo, Client, Project
from mlcore.errors import *  # noqa: F401,F403 - the exception hierarchy is public API
from mlcore.errors import MlcoreError
from mlcore._record import Record
from mlcore._views import QuotaReport, RecordList
from mlcore.tracking import (Run, RunInfo, active_run, compare_runs, end_run, experiments, get_run, log_metric,
                             log_metrics, log_param, log_params, metric_history, search_runs,
                             set_tag, set_tags, start_run, sync)

__version__: str = _mlcore.version()

# Imported on first use, so `import mlcore` stays fast (they pull pickle, tempfile, shutil, ...):
# `mlcore.jobs`, `from mlcore import models` and `mlcore.save_checkpoint` work as usual.
if TYPE_CHECKING:  # IDEs and type checkers see them as plain imports
    from mlcore import artifacts, checkpoints, data, jobs, models, pipelines  # noqa: F401
    from mlcore.checkpoints import checkpoint, restore_latest_checkpoint, save_checkpoint  # noqa: F401
    from mlcore.pipelines import (Dataset, Input, Metrics, Output, compile, component,  # noqa: F401
                                  pipeline)
    from mlcore.pipeline_runs import (PipelineRun, get_pipeline_run,  # noqa: F401
                                      list_pipeline_runs, run_pipeline)

_LAZY_MODULES = {"artifacts", "checkpoints", "data", "jobs", "models", "pipelines",
                 "pipeline_runs"}
_LAZY_NAMES = {"checkpoint": "checkpoints", "restore_latest_checkpoint": "checkpoints",
               "save_checkpoint": "checkpoints",
               # Pipelines: @mlcore.component, @mlcore.pipeline, mlcore.compile(p, "p.yaml").
               "component": "pipelines", "pipeline": "pipelines", "compile": "pipelines",
               "Input": "pipelines", "Output": "pipelines", "Dataset": "pipelines",
               "Metrics": "pipelines",
               # mlcore.run_pipeline(p, inputs, wait=True) -> PipelineRun
               "run_pipeline": "pipeline_runs", "get_pipeline_run": "pipeline_runs",
               "list_pipeline_runs": "pipeline_runs", "PipelineRun": "pipeline_runs"}


def __getattr__(name: str):
    import importlib
    if name in _LAZY_MODULES:
        return importlib.import_module(f"mlcore.{name}")
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f"mlcore.{_LAZY_NAMES[name]}"), name)
    raise AttributeError(f"module 'mlcore' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY_MODULES | set(_LAZY_NAMES))

_default_client: Client | None = None


def init(backend: str | None = None, *, project: str | None = None,
         context: str | None = None, config: str | None = None) -> Client:
    """Opens the default client used by module-level helpers and returns it."""
    global _default_client
    if _default_client is not None:
        _default_client.close()
    _default_client = Client(backend, project=project, context=context, config=config)
    return _default_client


def client() -> Client:
    """The default client (opened from env/config on first use)."""
    global _default_client
    if _default_client is None:
        _default_client = Client()
    return _default_client


def projects() -> list[Project]:
    """All projects of the default client."""
    return client().projects()


def quota(project: str | None = None, *, users: bool = False) -> QuotaReport:
    """Each project's guaranteed/limit quota and current usage (like ``mlc quota``): a list of
    records, drawn in notebooks as usage bars per resource."""
    response = client().invoke("SchedulingService/GetQuotaUsage",
                               {"project": project or "", "include_sub_projects": bool(project),
                                "per_user": users})
    return QuotaReport((Record(u) for u in response.get("usages", [])), caption="quota usage")


__all__ = [
    "BackendInfo",
    "artifacts",
    "models",
    "Run",
    "RunInfo",
    "active_run",
    "compare_runs",
    "end_run",
    "experiments",
    "get_run",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "metric_history",
    "search_runs",
    "set_tag",
    "set_tags",
    "start_run",
    "sync",
    "tracking",
    "Client",
    "MlcoreError",
    "Project",
    "QuotaReport",
    "Record",
    "RecordList",
    "client",
    "config",
    "checkpoint",
    "checkpoints",
    "compile",
    "component",
    "Dataset",
    "Input",
    "Metrics",
    "Output",
    "pipeline",
    "pipelines",
    "pipeline_runs",
    "PipelineRun",
    "get_pipeline_run",
    "list_pipeline_runs",
    "run_pipeline",
    "data",
    "restore_latest_checkpoint",
    "save_checkpoint",
    "init",
    "jobs",
    "projects",
    "quota",
    *errors.__all__,
]

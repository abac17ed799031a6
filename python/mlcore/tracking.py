"""Experiment tracking: runs, params, metrics, queries — invisible in the training loop.

Fluent use (MLflow-like)::

    import mlcore
    mlcore.init(project="ml-research")
    with mlcore.start_run(name="baseline", params={"lr": 0.01}) as run:
        for step in range(100_000):
            run.log_metric("loss", loss, step=step)      # ~0.3 us: appended to a buffer
        run.log_metric_series("val/acc", steps, values)  # numpy arrays, no per-point Python
    df = mlcore.search_runs("params.lr < 0.1 and metrics.loss < 0.3", order_by=["metrics.loss"])

A log call appends to an in-memory buffer of the C++ core and returns; a background thread
writes batches (every ``flush_interval`` seconds, default 1), so a crash loses at most that
interval. ``run.flush()`` and the end of the run make everything durable. Inside a job started
by mlcore, ``start_run()`` attaches to the job's run (``MLC_RUN_ID``); the job's end ends it.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Iterable, Mapping, Sequence

from mlcore import _html, _mlcore
from mlcore._record import Record
from mlcore._views import RecordList
from mlcore.errors import FailedPreconditionError, InvalidArgumentError

_STATUS = {"scheduled": 1, "running": 2, "finished": 3, "failed": 4, "killed": 5}
_METHODS = {None: 0, "none": 1, "minmax": 2, "lttb": 3}

__all__ = [
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
]


class RunInfo(Record):
    """A run as stored (``mlcore.v1.Run``): id, name, status, params, tags, metric summaries."""

    @property
    def latest(self) -> dict[str, float]:
        """Latest value of every metric key."""
        return {m["key"]: m.get("latest_value", 0.0) for m in self._data.get("metrics", [])}

    def metric_history(self, key: str, **kwargs: Any) -> Any:
        """The key's points: ``(steps, values, times_us)`` numpy arrays, or a DataFrame with
        ``output="pandas"``; see :func:`mlcore.metric_history`."""
        return metric_history(self._data["id"], key, **kwargs)

    def plot(self, *keys: str, ax: Any = None, max_points: int = 2000, x: str = "step",
             client: Any = None) -> Any:
        """Draws metrics of this run with matplotlib (``run.plot("loss", "val_loss")``), each
        read as a shape-keeping view of at most ``max_points`` points; returns the axes."""
        from mlcore._views import plot_metrics
        return plot_metrics(self._data["id"], keys, client=_client(client), ax=ax,
                            max_points=max_points, x=x, title=self._data.get("name"))

    def _repr_html_(self) -> str:
        d = self._data
        params = ", ".join(f"{k}={v}" for k, v in sorted((d.get("params") or {}).items()))
        metrics = ", ".join(f"{k}={v:.6g}" for k, v in sorted(self.latest.items()))
        return _html.fields([("run", d.get("name")), ("id", d.get("id")),
                             ("status", _html.raw(_html.state_badge(d.get("status")))),
                             ("project", d.get("project")), ("experiment", d.get("experiment_id")),
                             ("started", d.get("start_time")), ("ended", d.get("end_time")),
                             ("params", params), ("latest metrics", metrics),
                             ("tags", d.get("tags"))])


def _client(client: Any = None) -> Any:
    if client is not None:
        return client
    import mlcore
    return mlcore.client()


def _str_map(values: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): v if isinstance(v, str) else repr(v) if isinstance(v, float) else str(v)
            for k, v in (values or {}).items()}


class Run:
    """A run being logged to. Thread-safe; use as a context manager or call :meth:`end`.

    ``log_metric`` and friends buffer; errors that can only be known at write time (a limit, a
    dead backend) surface from :meth:`flush` / :meth:`end`, and the points are kept in the
    offline spool (``mlc sync`` uploads them) rather than lost.
    """

    def __init__(self, logger: Any, info: dict[str, Any] | None, client: Any, *, owned: bool):
        self._logger = logger
        self._info = info or {"id": logger.run_id}
        self._client = client
        self._owned = owned  # False for a job's run: the job's end ends it
        self._ended = False
        # The hot path: the compiled method itself, no Python frame in between.
        self.log_metric = logger.log_metric

    # Declared for documentation and type checkers; replaced per instance in __init__.
    def log_metric(self, key: str, value: float, step: int | None = None, time_us: int = 0) -> None:  # type: ignore[no-redef]  # noqa: E501
        """Logs one point; ``step=None`` continues the key's steps (0, 1, 2, ...)."""

    @property
    def id(self) -> str:
        return self._logger.run_id

    @property
    def name(self) -> str | None:
        return self._info.get("name")

    @property
    def info(self) -> RunInfo:
        """The run as stored now (reads the backend)."""
        if self._client is None:
            return RunInfo(dict(self._info))
        return RunInfo(self._client.invoke("TrackingService/GetRun", {"id": self.id}))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Logs several keys at one step."""
        self._logger.log_metrics(dict(metrics), step)

    def log_metric_series(self, key: str, steps: Any, values: Any, times_us: Any = None) -> None:
        """Logs many points of one key from arrays (numpy int64/float64 pass without copies in
        Python; lists and other dtypes are converted)."""
        self._logger.log_series(key, steps, values, times_us)

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Sets params (immutable: re-setting a different value raises FailedPreconditionError
        naming both values). Values are stored as strings."""
        self._logger.log_params(_str_map(params))

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._logger.set_tags(_str_map(tags))

    def log_artifact(self, path: Any, name: str | None = None, kind: str | None = None,
                     labels: Mapping[str, Any] | None = None, progress: Any = None) -> Record:
        """Uploads the file or directory ``path`` as artifact ``name`` (default: its base name) of
        this run (a job's run too); returns the Artifact record. See :mod:`mlcore.artifacts`.
        Offline runs have no backend to store it in: FailedPreconditionError."""
        if self._client is None:
            raise FailedPreconditionError(
                f"run {self.name or self.id!r} is offline: artifacts need a backend; log the "
                "artifact after `mlc sync` (with mlcore.artifacts.log(path, run=RUN_ID))")
        from mlcore import artifacts
        return artifacts.log(path, run=self.id, name=name, kind=kind, labels=labels,
                             progress=progress, client=self._client)

    def flush(self) -> None:
        """Returns once everything logged so far is durable (or kept in the spool: then raises)."""
        self._logger.flush()

    def stats(self) -> dict[str, int]:
        """Points logged, written, dropped, spooled; batches written; retries."""
        return self._logger.stats()

    def end(self, status: str = "finished") -> None:
        """Flushes and ends the run (finished, failed or killed). A job's run is only flushed."""
        if self._ended:
            return
        self._ended = True
        _pop(self)
        code = _STATUS.get(status.lower())
        if code is None or code < 3:
            raise InvalidArgumentError(f"run status must be finished, failed or killed, not {status!r}")
        self._logger.close(code if self._owned else 0)

    def history(self, key: str, **kwargs: Any) -> Any:
        """The key's points as (steps, values, times_us) numpy arrays; see metric_history."""
        return metric_history(self.id, key, client=self._client, **kwargs)

    def metric_history(self, key: str, **kwargs: Any) -> Any:
        """The key's points: ``(steps, values, times_us)`` numpy arrays, or a DataFrame with
        ``output="pandas"``. Flush first to include points still buffered."""
        return metric_history(self.id, key, client=self._client, **kwargs)

    def plot(self, *keys: str, ax: Any = None, max_points: int = 2000, x: str = "step") -> Any:
        """Draws metrics of this run with matplotlib (``run.plot("loss")``); flushes first so the
        latest points show. Returns the axes."""
        from mlcore._views import plot_metrics
        if not self._ended:
            self.flush()
        return plot_metrics(self.id, keys, client=self._client, ax=ax, max_points=max_points, x=x,
                            title=self.name)

    def _repr_html_(self) -> str:
        if self._client is None:
            return RunInfo(dict(self._info))._repr_html_()
        return self.info._repr_html_()

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.end("finished")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.end("killed")
        else:
            self.end("failed")

    def __repr__(self) -> str:
        return f"mlcore.Run(id={self.id!r}, name={self.name!r})"


# -- the active-run stack (shared by threads, like MLflow's fluent API) -------------------------
_lock = threading.Lock()
_stack: list[Run] = []


def _pop(run: Run) -> None:
    with _lock:
        if run in _stack:
            _stack.remove(run)


def active_run() -> Run | None:
    """The innermost run started with start_run() and not ended yet."""
    with _lock:
        return _stack[-1] if _stack else None


def start_run(
    name: str | None = None,
    *,
    experiment: str | None = None,
    project: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    nested: bool = False,
    parent: Run | str | None = None,
    run_id: str | None = None,
    system_metrics: bool = True,
    system_metrics_interval: float = 10.0,
    flush_interval: float = 1.0,
    max_buffered_points: int = 0,
    backpressure: str = "block",
    offline: bool = False,
    client: Any = None,
) -> Run:
    """Starts (or attaches to) a run and makes it the active one.

    - Inside a job, with no ``run_id`` given, attaches to the job's run (``MLC_RUN_ID``).
    - ``nested=True`` makes the new run a child of the active run (sweeps); or pass ``parent``.
    - ``backpressure="drop"`` drops points (counted in ``stats()``) instead of blocking the loop
      when the buffer is full.
    - ``offline=True`` writes only to the local spool; ``mlc sync`` (or ``mlcore.sync()``) uploads
      the run later, exactly once.
    """
    if backpressure not in ("block", "drop"):
        raise InvalidArgumentError(f"backpressure must be 'block' or 'drop', not {backpressure!r}")
    client = _client(client)
    drop = backpressure == "drop"
    attach_to = run_id or (os.environ.get("MLC_RUN_ID") if not nested and parent is None else None)
    if attach_to:
        in_job = attach_to == os.environ.get("MLC_RUN_ID")
        logger = _mlcore.RunLogger(client._core, attach_to, flush_interval, max_buffered_points,
                                   drop, system_metrics and not in_job, system_metrics_interval)
        run = Run(logger, None, client, owned=not in_job)
        if params:
            run.log_params(params)
        if tags:
            run.set_tags(tags)
    else:
        parent_id = parent.id if isinstance(parent, Run) else parent
        if nested and parent_id is None:
            current = active_run()
            if current is None:
                raise InvalidArgumentError("nested=True needs an active run to nest under")
            parent_id = current.id
        spec: dict[str, Any] = {"name": name or "", "params": _str_map(params),
                                "tags": _str_map(tags)}
        if project or client.project:
            spec["project"] = project or client.project
        if experiment:
            spec["experiment_id"] = experiment
        if parent_id:
            spec["parent_run_id"] = parent_id
        if offline:
            import uuid
            logger = _mlcore.RunLogger.offline(client.backend, {"run": spec,
                                                                "request_id": str(uuid.uuid4())},
                                               flush_interval, max_buffered_points, drop,
                                               system_metrics, system_metrics_interval)
            run = Run(logger, spec, None, owned=True)
        else:
            info = client.invoke("TrackingService/CreateRun", {"run": spec})
            logger = _mlcore.RunLogger(client._core, info["id"], flush_interval,
                                       max_buffered_points, drop, system_metrics,
                                       system_metrics_interval)
            run = Run(logger, info, client, owned=True)
    with _lock:
        _stack.append(run)
    return run


def end_run(status: str = "finished") -> None:
    """Ends the active run."""
    run = active_run()
    if run is not None:
        run.end(status)


def _active() -> Run:
    run = active_run()
    if run is None:
        raise InvalidArgumentError("no active run: call mlcore.start_run() first")
    return run


def log_metric(key: str, value: float, step: int | None = None) -> None:
    _active().log_metric(key, value, step)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    _active().log_metrics(metrics, step)


def log_param(key: str, value: Any) -> None:
    _active().log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    _active().log_params(params)


def set_tag(key: str, value: Any) -> None:
    _active().set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    _active().set_tags(tags)


# -- queries ------------------------------------------------------------------------------------
def get_run(id_or_name: str, *, client: Any = None) -> RunInfo:
    """A run by id, or by name within the client's project."""
    return RunInfo(_client(client).invoke("TrackingService/GetRun", {"id": id_or_name}))


def search_runs(
    filter: str = "",
    *,
    order_by: Sequence[str] = (),
    experiments: Iterable[str] = (),
    project: str | None = None,
    max_results: int | None = None,
    output: str = "pandas",
    client: Any = None,
) -> Any:
    """Runs matching ``filter`` (``params.lr < 0.01 and metrics.loss < 0.3 and tags.team =
    "recsys"``), ordered by ``order_by`` (``["metrics.loss asc"]``).

    ``output="pandas"`` (default, when pandas is installed) gives a DataFrame with one row per
    run and columns ``run_id, name, status, start_time, end_time, params.*, metrics.*, tags.*``;
    ``output="list"`` gives RunInfo records.
    """
    client = _client(client)
    experiment_ids = []
    for e in experiments:
        experiment_ids.append(e if _looks_like_id(e, "e") else client.invoke(
            "TrackingService/GetExperiment", {"project": project or client.project or "",
                                              "name": e})["id"])
    runs: list[RunInfo] = []
    token = ""
    while True:
        page = client.invoke("TrackingService/SearchRuns", {
            "project": project or "", "filter": filter, "order_by": list(order_by),
            "experiment_ids": experiment_ids, "include_metrics": True, "page_token": token,
            "page_size": 1000})
        runs.extend(RunInfo(r) for r in page.get("runs", []))
        token = page.get("next_page_token", "")
        if not token or (max_results is not None and len(runs) >= max_results):
            break
    if max_results is not None:
        runs = runs[:max_results]
    if output == "list":
        return RecordList(runs, caption="runs")
    if output != "pandas":
        raise InvalidArgumentError(f"output must be 'pandas' or 'list', not {output!r}")
    try:
        import pandas as pd
    except ImportError:
        return RecordList(runs, caption="runs")
    rows = []
    for r in runs:
        d = r.to_dict()
        row: dict[str, Any] = {"run_id": d["id"], "name": d.get("name"),
                               "status": d.get("status"), "start_time": d.get("start_time"),
                               "end_time": d.get("end_time")}
        row.update({f"params.{k}": v for k, v in d.get("params", {}).items()})
        row.update({f"metrics.{m['key']}": m.get("latest_value") for m in d.get("metrics", [])})
        row.update({f"tags.{k}": v for k, v in d.get("tags", {}).items()})
        rows.append(row)
    return pd.DataFrame(rows)


def compare_runs(*runs: Any, client: Any = None) -> Any:
    """Runs side by side (like ``mlc run compare``): one column per run, rows ``status``,
    ``params.*`` and ``metrics.*`` (latest values). A DataFrame when pandas is installed, else a
    dict of columns. Runs are ids, names, Run or RunInfo objects."""
    infos = [r if isinstance(r, RunInfo) else get_run(r.id if isinstance(r, Run) else r,
                                                     client=client) for r in runs]
    if len(infos) < 2:
        raise InvalidArgumentError("compare_runs needs at least two runs")
    names = [i.name or i.id for i in infos]
    if len(set(names)) < len(names):
        names = [f"{i.name} ({i.id})" for i in infos]
    columns: dict[str, dict[str, Any]] = {}
    for name, info in zip(names, infos):
        col: dict[str, Any] = {"status": (info.status or "").replace("RUN_STATUS_", "")}
        col.update({f"params.{k}": v for k, v in sorted((info.params or {}).items())})
        col.update({f"metrics.{k}": v for k, v in sorted(info.latest.items())})
        columns[name] = col
    try:
        import pandas as pd
    except ImportError:
        return columns
    return pd.DataFrame(columns)


def _looks_like_id(text: str, prefix: str) -> bool:
    return len(text) == 13 and text.startswith(prefix) and all(c in "0123456789abcdef" for c in text[1:])


def metric_history(
    run_id: str,
    key: str,
    *,
    min_step: int | None = None,
    max_step: int | None = None,
    max_points: int | None = None,
    method: str | None = None,
    output: str = "numpy",
    client: Any = None,
) -> Any:
    """A metric's points. Returns ``(steps, values, times_us)`` numpy arrays; with
    ``output="pandas"`` a DataFrame (step, value, time).

    ``max_points`` (with ``method`` "lttb", the default then, or "minmax") returns a view of
    at most that many points keeping the series' shape; reading it from a 10M-point series
    touches chunk summaries, not every point.
    """
    if max_points is not None and method is None:
        method = "lttb"
    if method not in _METHODS:
        raise InvalidArgumentError(f"method must be 'lttb', 'minmax' or 'none', not {method!r}")
    steps, values, times, _total = _mlcore.metric_history(
        _client(client)._core, run_id, key, min_step, max_step, _METHODS[method], max_points or 0)
    if output == "pandas":
        import pandas as pd
        return pd.DataFrame({"step": steps, "value": values,
                             "time": pd.to_datetime(times, unit="us", utc=True)})
    return steps, values, times


def experiments(project: str | None = None, *, client: Any = None) -> list[Record]:
    """The project's experiments ("default" always exists)."""
    client = _client(client)
    out: list[Record] = []
    token = ""
    while True:
        page = client.invoke("TrackingService/ListExperiments",
                             {"project": project or "", "page_token": token})
        out.extend(Record(e) for e in page.get("experiments", []))
        token = page.get("next_page_token", "")
        if not token:
            return RecordList(out, caption="experiments")


def sync(spool_dir: str | None = None, *, client: Any = None) -> dict[str, Any]:
    """Uploads offline and spooled runs of this client's backend (like ``mlc sync``)."""
    return _mlcore.sync_spool(_client(client)._core, spool_dir or "")

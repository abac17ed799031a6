"""Jobs from Python: submit commands or Python functions, wait, follow logs, cancel.

    import mlcore
    job = mlcore.jobs.submit(["python", "train.py", "--lr", "0.01"], flavor="cpu-2-8")
    for line in job.logs(follow=True):
        print(line.text)
    job.wait()
    print(job.state, job.exit_code)

Every call goes through the C++ core; jobs outlive the Python process that submitted them.
"""

from __future__ import annotations

import builtins
import os
import pickle
import sys
import tempfile
import time
import uuid
from typing import Any, Callable, Iterator, Mapping, Sequence

from mlcore import _html, _stream
from mlcore._record import Record
from mlcore.errors import (CancelledError, DeadlineExceededError, FailedPreconditionError,
                           InvalidArgumentError)

#: States a job never leaves.
FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "LOST", "PREEMPTED"})

def _state_name(value: str | None) -> str:
    return _html.short_state(value or "JOB_STATE_UNSPECIFIED")


class LogLine(Record):
    """One line of a job's output: ``time`` (datetime), ``stream`` and ``text``."""

    def __str__(self) -> str:
        return self.text or ""


def _exec_result_type() -> type:
    import subprocess

    class ExecResult(subprocess.CompletedProcess):
        """What Job.exec returns: a CompletedProcess (``returncode``, ``stdout``, ``stderr``)
        that also unpacks as ``exit_code, stdout, stderr``."""

        @property
        def exit_code(self) -> int:
            return self.returncode

        def __iter__(self) -> Iterator[Any]:
            return iter((self.returncode, self.stdout, self.stderr))

    return ExecResult


ExecResult = _exec_result_type()


class JobTransition(Record):
    """One job state transition from :func:`watch`: ``job_id``, ``event`` (time, from_state,
    to_state, reason) and ``job`` (the job after it, without events)."""

    def __str__(self) -> str:
        e = self.event
        return f"{e.time} {self.job.spec.name} {e.from_state} -> {e.to_state} {e.reason or ''}"


class Job:
    """A job on a backend. Attributes read the last fetched state; ``refresh()`` fetches anew
    (``state`` and ``wait()`` always fetch)."""

    def __init__(self, client: Any, data: Mapping[str, Any]):
        self._client = client
        self._data = Record(dict(data))

    # -- identity and state ---------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._data.id

    @property
    def name(self) -> str:
        return self._data.spec.name

    @property
    def project(self) -> str:
        return self._data.spec.project

    @property
    def data(self) -> Record:
        """The full job record (spec, events, usage, reproducibility) as last fetched."""
        return self._data

    @property
    def state(self) -> str:
        """The current state ("PENDING", "RUNNING", "SUCCEEDED", ...), fetched now."""
        return _state_name(self.refresh()._data.state)

    @property
    def exit_code(self) -> int | None:
        return self._data.get("exit_code")

    @property
    def waiting_reason(self) -> str | None:
        return self._data.waiting_reason

    @property
    def message(self) -> str | None:
        return self._data.message

    def refresh(self) -> "Job":
        self._data = Record(self._client.invoke("JobService/GetJob", {"id": self.id}))
        return self

    # -- control ----------------------------------------------------------------------------------
    def wait(self, timeout: float | None = None, poll: float = 0.05) -> "Job":
        """Blocks until the job ends (Ctrl-C interrupts the wait, not the job).

        Raises DeadlineExceededError after ``timeout`` seconds."""
        start = time.monotonic()
        delay = poll
        while True:
            self.refresh()
            if _state_name(self._data.state) in FINAL_STATES:
                return self
            if timeout is not None and time.monotonic() - start > timeout:
                raise DeadlineExceededError(
                    f"job {self.name} is still {_state_name(self._data.state)} after {timeout} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def cancel(self, reason: str = "", *, wait: bool = True, timeout: float | None = None) -> "Job":
        """Stops the job (SIGTERM, then SIGKILL after its grace period).

        With ``wait=True`` (the default) returns once the job has ended, so its state is final;
        ``wait=False`` returns as soon as the stop is requested."""
        self._data = Record(self._client.invoke("JobService/CancelJob", {"id": self.id, "reason": reason}))
        if wait:
            self.wait(timeout=timeout)
        return self

    def preempt(self, reason: str = "") -> "Job":
        self._data = Record(self._client.invoke("JobService/PreemptJob", {"id": self.id, "reason": reason}))
        return self

    def rerun(self, name: str = "") -> "Job":
        return Job(self._client, self._client.invoke("JobService/RerunJob", {"id": self.id, "name": name}))

    def logs(self, *, follow: bool = False, tail: int = 0, since: Any = None, grep: str = "",
             streams: Sequence[str] = ("stdout", "stderr")) -> Iterator[LogLine]:
        """Yields the job's log lines; with ``follow=True`` until the job ends.

        ``streams`` picks "stdout", "stderr" and/or "system" (mlcore's own messages). Breaking
        out of the loop (or Ctrl-C) stops following; the job keeps running."""
        request: dict[str, Any] = {
            "id": self.id, "follow": follow, "tail": tail, "grep": grep,
            "streams": [f"LOG_STREAM_{s.upper()}" for s in streams],
        }
        if since is not None:
            request["since"] = since
        with _stream.Stream(self._client._core, "JobService/StreamJobLogs", request,
                            name=f"mlcore-logs-{self.id}") as responses:
            for response in responses:
                for line in response.get("lines") or []:
                    yield LogLine(line)

    def exec(self, command: Sequence[str], *, input: bytes | str | None = None,  # noqa: A002
             check: bool = False, capture_output: bool = True, text: bool = True,
             tty: bool = False, timeout: float | None = None) -> "ExecResult":
        """Runs ``command`` in this running job's working directory and environment, on the
        machine that runs the job (like ``mlc job exec``; over ``grpc://`` the server's).

        Returns an :class:`ExecResult`: a ``subprocess.CompletedProcess`` that also unpacks as
        ``exit_code, stdout, stderr``. ``input`` is the command's standard input (else it reads
        end-of-file); ``text=False`` keeps bytes; ``check=True`` raises CalledProcessError on a
        non-zero exit; ``timeout`` (seconds) or Ctrl-C kills the command (TimeoutExpired /
        KeyboardInterrupt). ``capture_output=False`` also writes the output to sys.stdout and
        sys.stderr. Errors: FailedPreconditionError (job not RUNNING), NotFoundError (job, or a
        program not in the job's PATH), InvalidArgumentError (empty command)."""
        import subprocess

        from mlcore.artifacts import _mlcore

        args = [*command]
        data = input.encode() if isinstance(input, str) else input
        deadline = None if timeout is None else time.monotonic() + timeout
        expired: builtins.list[bool] = []

        def keep_going() -> bool:
            if deadline is not None and time.monotonic() > deadline:
                expired.append(True)
                return False
            return True

        try:
            code, out, err = _mlcore().job_exec(self._client._core, self.id, args, data, tty,
                                                keep_going)
        except CancelledError:
            if expired:
                raise subprocess.TimeoutExpired(args, timeout or 0) from None
            raise
        stdout: Any = out.decode(errors="replace") if text else out
        stderr: Any = err.decode(errors="replace") if text else err
        if not capture_output:
            (sys.stdout.write if text else sys.stdout.buffer.write)(stdout)
            (sys.stderr.write if text else sys.stderr.buffer.write)(stderr)
        result = ExecResult(args, code, stdout, stderr)
        if check:
            result.check_returncode()
        return result

    def result(self, timeout: float | None = None) -> Any:
        """For jobs made by submit_function: waits and returns the function's return value
        (re-raising its exception)."""
        self.wait(timeout)
        path = os.path.join(self._data.spec.working_dir, "result.pkl")
        if not os.path.exists(path):
            raise InvalidArgumentError(
                f"job {self.name} has no function result (state {_state_name(self._data.state)}; "
                f"see job.logs())")
        with open(path, "rb") as f:
            ok, value = pickle.load(f)
        if not ok:
            raise value
        return value

    # -- display ----------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"Job({self.name!r}, id={self.id!r}, state={_state_name(self._data.state)!r})"

    def _repr_html_(self) -> str:
        d = self._data
        spec = d.spec or Record({})
        return _html.fields([
            ("job", d.name or spec.name), ("id", d.id), ("project", spec.project),
            ("state", _html.raw(_html.state_badge(d.state))), ("message", d.message),
            ("waiting", d.waiting_reason), ("user", d.user), ("flavor", spec.flavor),
            ("created", d.create_time), ("started", d.start_time), ("ended", d.end_time),
            ("run", d.run_id),
            ("command", " ".join([*(spec.command or []), *(spec.args or [])])),
        ])


class JobList(builtins.list):
    """Jobs that draw themselves as a table in notebooks (state coloured)."""

    def _repr_html_(self) -> str:
        rows = [{"name": j.name, "id": j.id, "state": j._data.state, "flavor": j._data.spec.flavor,
                 "user": j._data.user, "created": j._data.create_time,
                 "waiting": j._data.waiting_reason} for j in self]
        return _html.table(rows, caption="jobs")


def _resources(value: Any) -> dict[str, Any] | None:
    from mlcore.client import _resources as parse
    return parse(value, "resources")


def _duration(value: Any) -> Any:
    return value  # timedelta, seconds, or "90s"/"1h30m" text: converted by the core


def build_spec(command: Sequence[str] | str | None = None, *, name: str | None = None,
               project: str | None = None, flavor: str | None = None, resources: Any = None,
               env: Mapping[str, str] | None = None, secrets: Mapping[str, str] | Sequence[str] | None = None,
               datasets: Sequence[str] | None = None, outputs: Sequence[str] | None = None,
               priority: str | None = None, preemptible: bool = False, deadline: Any = None,
               ttl: Any = None, retries: int | None = None, working_dir: str | None = None,
               snapshot: bool = False, labels: Mapping[str, str] | None = None,
               replicas: int | None = None, image: str | None = None,
               experiment: str | None = None,
               spec: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A JobSpec dict from keyword arguments (``spec`` gives a base to override)."""
    out: dict[str, Any] = dict(spec or {})
    if command is not None:
        if isinstance(command, str):
            raise InvalidArgumentError(
                "command must be a list of arguments, e.g. ['python', 'train.py'] (no shell is "
                "involved; use ['sh', '-c', '...'] for shell syntax)")
        items = [str(c) for c in command]
        out["command"], out["args"] = items[:1], items[1:]
    for key, value in (("name", name), ("project", project), ("flavor", flavor),
                       ("priority_class", priority), ("working_dir", working_dir), ("image", image),
                       ("experiment", experiment)):
        if value:
            out[key] = value
    if resources is not None:
        out["resources"] = _resources(resources)
    if env:
        out["env"] = {str(k): str(v) for k, v in env.items()}
    if secrets:
        pairs = secrets.items() if isinstance(secrets, Mapping) else ((s, s) for s in secrets)
        out["secrets"] = [{"name": n, "key": k, "source": "SECRET_SOURCE_ENV"} for n, k in pairs]
    if datasets:
        out["input_datasets"] = [{"uri": d} for d in datasets]
    if outputs:
        out["output_paths"] = [*outputs]
    if preemptible:
        out["preemptible"] = True
    if deadline is not None:
        out["deadline"] = _duration(deadline)
    if ttl is not None:
        out["ttl"] = _duration(ttl)
    if retries is not None:
        out.setdefault("retry", {})["max_restarts"] = int(retries)
    if snapshot:
        out["snapshot_working_dir"] = True
    if labels:
        out["labels"] = {str(k): str(v) for k, v in labels.items()}
    if replicas:
        out["replicas"] = int(replicas)
    return out


def _client(client: Any) -> Any:
    if client is not None:
        return client
    import mlcore
    return mlcore.client()


def submit(command: Sequence[str] | None = None, *, client: Any = None, request_id: str = "",
           **spec_fields: Any) -> Job:
    """Queues a job; see build_spec for the keyword arguments. Returns at once with a Job."""
    c = _client(client)
    spec = build_spec(command, **spec_fields)
    return Job(c, c.invoke("JobService/SubmitJob", {"spec": spec, "request_id": request_id}))


_RUNNER = r"""
def _mlcore_run():
    import os, pickle, sys, traceback
    try:
        import cloudpickle as pickler
    except ImportError:
        pickler = pickle
    with open("payload.pkl", "rb") as payload:
        fn, args, kwargs = pickler.load(payload)
    try:
        outcome, code = (True, fn(*args, **kwargs)), 0
    except BaseException as error:
        traceback.print_exc()
        outcome, code = (False, error), 1
    with open("result.pkl.tmp", "wb") as out:
        pickler.dump(outcome, out)
    os.replace("result.pkl.tmp", "result.pkl")
    return code
raise SystemExit(_mlcore_run())
"""


def submit_function(fn: Callable[..., Any], *args: Any, client: Any = None,
                    job_options: Mapping[str, Any] | None = None, **kwargs: Any) -> Job:
    """Runs ``fn(*args, **kwargs)`` as a job with this Python interpreter; ``job.result()``
    returns its value. The function and arguments are pickled into the job's own working
    directory (cloudpickle is used when installed, so notebook functions work too)."""
    try:
        import cloudpickle as pickler  # type: ignore[import-not-found]
    except ImportError:
        pickler = pickle
        if getattr(fn, "__module__", None) == "__main__":
            raise InvalidArgumentError(
                f"{getattr(fn, '__name__', fn)!r} is defined in __main__ (a notebook or script), "
                f"which a job cannot import; `pip install cloudpickle` (or mlcore[functions]) or "
                f"move the function into a module")
    base = os.environ.get("MLC_FUNCTION_DIR") or os.path.join(tempfile.gettempdir(), "mlcore-functions")
    workdir = os.path.join(base, uuid.uuid4().hex[:12])
    os.makedirs(workdir, mode=0o700)
    try:
        with open(os.path.join(workdir, "payload.pkl"), "wb") as f:
            pickler.dump((fn, args, kwargs), f)
    except (pickle.PicklingError, AttributeError, TypeError) as e:
        raise InvalidArgumentError(
            f"cannot pickle {getattr(fn, '__name__', fn)!r} with its arguments: {e}; define the "
            f"function in an importable module or `pip install cloudpickle`") from e
    options = dict(job_options or {})
    name = options.pop("name", None)
    if not name:
        base = "".join(ch if ch.isalnum() else "-" for ch in getattr(fn, "__name__", "fn").lower())
        base = "-".join(part for part in base.split("-") if part)[:40] or "fn"
        name = f"{base if base[0].isalpha() else 'fn-' + base}-{uuid.uuid4().hex[:6]}"
    env = dict(options.pop("env", {}) or {})
    # The job imports the submitter's modules: give it the same import path.
    env.setdefault("PYTHONPATH", os.pathsep.join(p for p in sys.path if p))
    return submit([sys.executable, "-c", _RUNNER], client=client, name=name, working_dir=workdir,
                  env=env, **options)


def get(id_or_name: str, *, client: Any = None) -> Job:
    """A job by id, or by name (in the client's project)."""
    c = _client(client)
    return Job(c, c.invoke("JobService/GetJob", {"id": id_or_name}))


def list(*, project: str | None = None, states: Sequence[str] = (), labels: Mapping[str, str] | None = None,
         user: str | None = None, all_projects: bool = False, limit: int = 100,
         client: Any = None) -> "builtins.list[Job]":  # noqa: A001 - mirrors `mlc job ls`
    """Jobs newest first, filtered like ``mlc job ls``."""
    c = _client(client)
    request: dict[str, Any] = {
        "project": "*" if all_projects else (project or ""),
        "states": [s if s.startswith("JOB_STATE_") else f"JOB_STATE_{s.upper()}" for s in states],
        "labels": dict(labels or {}), "user": user or "", "page_size": min(limit, 1000),
    }
    response = c.invoke("JobService/ListJobs", request)
    return JobList(Job(c, j) for j in response.get("jobs", []))

def watch(ids: Sequence[str] = (), *, project: str | None = None, since: Any = None,
          client: Any = None) -> "_stream.Stream":
    """Iterates over job state transitions as they happen (:class:`JobTransition`), until the
    loop breaks, ``close()`` or Ctrl-C. ``project`` limits them to one project (default: every
    project you can see), ``ids`` to some jobs (ids or names); ``since`` (a datetime or RFC 3339
    text) replays the transitions from then first::

        with mlcore.jobs.watch(project="ml") as transitions:
            for t in transitions:
                print(t.job.spec.name, t.event.to_state)
    """
    c = _client(client)
    request: dict[str, Any] = {"project": project or "", "ids": [*ids]}
    if since is not None:
        request["since"] = since
    return _stream.Stream(c._core, "JobService/WatchJobs", request, convert=JobTransition,
                          name="mlcore-watch-jobs")


__all__ = ["FINAL_STATES", "ExecResult", "Job", "JobList", "JobTransition", "LogLine", "build_spec",
           "get", "list", "submit", "submit_function", "watch"]

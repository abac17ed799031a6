"""Airflow operators that run mlcore jobs and pipelines (see docs/airflow.md)."""

from __future__ import annotations

import os
import time
from typing import Any, Mapping, Sequence

from airflow.exceptions import AirflowException
from airflow.models import BaseOperator

import mlcore
from mlcore.airflow._common import (PIPELINE_FINAL_STATES, airflow_labels, default_job_name,
                                    describe_job_end, last_log_lines, open_client,
                                    request_id_for)


def _load_spec_file(client: mlcore.Client, path: str) -> dict[str, Any]:
    """A job spec YAML/JSON file (the format of ``mlc job submit -f``), checked and resolved by
    the backend like the CLI does."""
    from mlcore import _mlcore

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise AirflowException(f"cannot read the job spec file {path}: {e.strerror}") from e
    lint = client.invoke("JobService/LintJobSpec", {"text": text, "file": path})
    problems = lint.get("problems") or []
    if not lint.get("resolved_spec"):
        raise AirflowException(f"job spec {path} has errors (check it with `mlc job lint {path}`):\n"
                               + _mlcore.format_lint_problems(problems))
    return dict(lint["resolved_spec"])


class MLCoreJobSubmitOperator(BaseOperator):
    """Submits an mlcore job and (by default) waits for it to end.

    The job comes from ``spec`` (a JobSpec dict, or the path of a job spec YAML/JSON file as
    ``mlc job submit -f`` reads), ``command`` (a list of arguments, no shell), or both (the
    command replaces the spec's); ``name``, ``env``, ``labels`` and ``job_options`` (keyword
    arguments of :func:`mlcore.jobs.build_spec`: ``flavor``, ``resources``, ``working_dir``,
    ``deadline``, ...) refine it. ``spec``, ``command``, ``name``, ``env``, ``labels``,
    ``job_options``, ``backend``, ``project`` and ``request_id`` are Jinja-templated.

    Without a name (here or in the spec) the job is named ``<task_id>-<8 hex>``, one name per
    attempt: mlcore never reuses a job name, so a fixed ``name`` makes the DAG's second run (and
    any retry) fail with AlreadyExistsError; template it per attempt if you set one. The job also
    gets labels naming the task instance (``airflow-dag``, ``airflow-task``,
    ``airflow-run``, ``airflow-try``). ``backend``/``project`` default to mlcore's own
    resolution (MLC_BACKEND / MLC_PROJECT, then the config file's context).

    XCom: ``job_id`` (also the return value) and ``run_id`` (the job's tracking run).

    With ``wait_for_completion`` the task polls every ``poll_interval`` seconds and fails with
    the job's state, exit code, message and last ``log_lines`` log lines when the job ends
    FAILED, CANCELLED, TIMED_OUT, LOST or PREEMPTED; after ``timeout`` seconds it cancels the job
    and fails. Killing the task (``on_kill``: marked failed in the UI, execution_timeout, ...)
    cancels the job.

    ``request_id`` makes the submit idempotent: the default is derived from the DAG, task, run,
    map index and try number, so a repeated submit within one attempt returns the job already
    created instead of starting a second one, while an Airflow retry (next try) runs a new job.
    """

    template_fields: Sequence[str] = ("spec", "command", "name", "env", "labels", "job_options",
                                      "backend", "project", "request_id")
    template_fields_renderers = {"spec": "json", "env": "json", "labels": "json",
                                 "job_options": "json"}
    ui_color = "#d8e8f8"

    def __init__(self, *, spec: Mapping[str, Any] | str | None = None,
                 command: Sequence[str] | None = None, name: str | None = None,
                 env: Mapping[str, str] | None = None, labels: Mapping[str, str] | None = None,
                 job_options: Mapping[str, Any] | None = None, backend: str | None = None,
                 project: str | None = None, wait_for_completion: bool = True,
                 poll_interval: float = 5.0, timeout: float | None = None,
                 request_id: str | None = None, log_lines: int = 20, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if spec is None and command is None:
            raise ValueError(f"{self.task_id}: pass spec= (a job spec dict or YAML file path) "
                             f"and/or command= (a list of arguments)")
        if isinstance(command, str):
            raise ValueError(f"{self.task_id}: command must be a list of arguments, e.g. "
                             f"['python', 'train.py'] (use ['sh', '-c', '...'] for shell syntax)")
        if poll_interval <= 0:
            raise ValueError(f"{self.task_id}: poll_interval must be positive, not {poll_interval}")
        self.spec = spec
        self.command = command
        self.name = name
        self.env = env
        self.labels = labels
        self.job_options = job_options
        self.backend = backend
        self.project = project
        self.wait_for_completion = wait_for_completion
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.request_id = request_id
        self.log_lines = log_lines
        self._job: mlcore.jobs.Job | None = None

    def build_job_spec(self, client: mlcore.Client, context: Mapping[str, Any],
                       request_id: str = "") -> dict[str, Any]:
        """The JobSpec dict this task submits (after templating)."""
        base: dict[str, Any] = {}
        if isinstance(self.spec, (str, os.PathLike)):
            base = _load_spec_file(client, os.fspath(self.spec))
        elif self.spec is not None:
            base = dict(self.spec)
        options = dict(self.job_options or {})
        env = {**(base.get("env") or {}), **(options.pop("env", None) or {}), **(self.env or {})}
        labels = {**airflow_labels(context), **(base.get("labels") or {}),
                  **(options.pop("labels", None) or {}), **(self.labels or {})}
        command = list(self.command) if self.command is not None else None
        name = self.name or options.pop("name", None) or base.get("name") or \
            default_job_name(self.task_id, request_id or request_id_for(context))
        return mlcore.jobs.build_spec(command, name=name, env=env, labels=labels, spec=base,
                                      **options)

    def execute(self, context: Any) -> str:
        client = open_client(self.backend, self.project)
        try:
            return self._submit(client, context)
        finally:
            self._job = None  # on_kill has nothing left to cancel once the task is done
            client.close()

    def _submit(self, client: mlcore.Client, context: Any) -> str:
        request_id = self.request_id or request_id_for(context)
        spec = self.build_job_spec(client, context, request_id)
        job = mlcore.jobs.submit(client=client, request_id=request_id, spec=spec)
        self._job = job
        self.log.info("mlcore job %s (%s) submitted on %s (request id %s); state %s", job.name,
                      job.id, client.backend, request_id, job.state)
        ti = context["ti"]
        ti.xcom_push(key="job_id", value=job.id)
        ti.xcom_push(key="run_id", value=job.data.get("run_id") or "")
        if not self.wait_for_completion:
            return job.id
        self._wait(job)
        return job.id

    def _wait(self, job: mlcore.jobs.Job) -> None:
        start = time.monotonic()
        last = ""
        while True:
            state = job.state  # fetches
            if state != last:
                self.log.info("mlcore job %s: %s", job.id, state)
                last = state
            if state == "SUCCEEDED":
                for line in last_log_lines(job, self.log_lines):
                    self.log.info("  %s", line)
                return
            if state in mlcore.jobs.FINAL_STATES:
                raise AirflowException(describe_job_end(job, self.log_lines))
            if self.timeout is not None and time.monotonic() - start > self.timeout:
                job.cancel(f"Airflow task {self.task_id} timed out after {self.timeout} s",
                           wait=True, timeout=60)
                raise AirflowException(
                    f"mlcore job {job.name} ({job.id}) still {state} after {self.timeout} s; "
                    f"cancelled it (now {job.state})")
            time.sleep(self.poll_interval)

    def on_kill(self) -> None:
        """Cancels the job this task submitted (Airflow calls it when the task is killed)."""
        job = self._job
        if job is None:
            return
        try:
            job.cancel(f"Airflow task {self.task_id} was killed", wait=True, timeout=60)
            self.log.info("mlcore job %s (%s) cancelled: %s", job.name, job.id, job.state)
        except mlcore.MlcoreError as e:
            self.log.error("could not cancel mlcore job %s: %s (cancel it with `mlc job cancel "
                           "%s`)", job.id, e, job.id)


class MLCorePipelineOperator(BaseOperator):
    """Runs an mlcore pipeline and waits for it to end.

    ``pipeline`` is an ``@mlcore.pipeline`` object, the path of a compiled pipeline YAML/JSON
    file, or a pipeline spec dict; ``inputs`` are its parameters (templated, like ``pipeline``
    when it is a path or dict, ``backend`` and ``project``). ``cache=False`` reruns every step
    even when a cached result exists.

    XCom: ``pipeline_run_id`` (also the return value) and ``run_id`` (the pipeline's tracking
    run). The task fails with the failed step and its message when the pipeline run does not
    succeed; after ``timeout`` seconds it cancels the run and fails; killing the task cancels
    the run.

    Needs an mlcore with the pipeline executor (``mlcore.run_pipeline``).
    """

    template_fields: Sequence[str] = ("pipeline", "inputs", "backend", "project")
    template_fields_renderers = {"inputs": "json"}
    ui_color = "#e0f0d8"

    def __init__(self, *, pipeline: Any, inputs: Mapping[str, Any] | None = None,
                 cache: bool = True, backend: str | None = None, project: str | None = None,
                 poll_interval: float = 5.0, timeout: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if poll_interval <= 0:
            raise ValueError(f"{self.task_id}: poll_interval must be positive, not {poll_interval}")
        # Airflow calls callables found in template fields while rendering, and an
        # @mlcore.pipeline object is callable: only a path or a spec dict is templated.
        if isinstance(pipeline, (str, os.PathLike, Mapping)):
            self.pipeline: Any = os.fspath(pipeline) if isinstance(pipeline, os.PathLike) \
                else pipeline
            self.pipeline_object: Any = None
        elif pipeline is None:
            raise ValueError(f"{self.task_id}: pass pipeline= (an @mlcore.pipeline, a compiled "
                             f"pipeline file path or a pipeline spec dict)")
        else:
            self.pipeline, self.pipeline_object = None, pipeline
        self.inputs = inputs
        self.cache = cache
        self.backend = backend
        self.project = project
        self.poll_interval = poll_interval
        self.timeout = timeout
        self._run: Any = None

    def execute(self, context: Any) -> str:
        run_pipeline = getattr(mlcore, "run_pipeline", None)
        if run_pipeline is None:
            raise AirflowException(
                f"this mlcore ({mlcore.__version__}) has no pipeline executor "
                f"(mlcore.run_pipeline); install an mlcore that has it to run pipelines from Airflow")
        client = open_client(self.backend, self.project)
        try:
            return self._run_pipeline(run_pipeline, client, context)
        finally:
            self._run = None
            client.close()

    def _run_pipeline(self, run_pipeline: Any, client: mlcore.Client, context: Any) -> str:
        pipeline = self.pipeline_object if self.pipeline_object is not None else self.pipeline
        run = run_pipeline(pipeline, dict(self.inputs or {}), cache=self.cache, wait=False,
                           client=client)
        self._run = run
        self.log.info("mlcore pipeline run %s started (state %s)", run.id, run.state)
        ti = context["ti"]
        ti.xcom_push(key="pipeline_run_id", value=run.id)
        start = time.monotonic()
        last = ""
        pushed_run_id = False
        while True:
            run.refresh()
            state = run.state
            if not pushed_run_id and run.run_id:
                # The parent tracking run exists once the run's driver has started it.
                ti.xcom_push(key="run_id", value=run.run_id)
                pushed_run_id = True
            if state != last:
                self.log.info("mlcore pipeline run %s: %s", run.id, state)
                last = state
            if state == "SUCCEEDED":
                return run.id
            if state in PIPELINE_FINAL_STATES:
                step = f" at step {run.failed_step}" if run.failed_step else ""
                message = f": {run.message}" if run.message else ""
                raise AirflowException(f"mlcore pipeline run {run.id} ended {state}{step}{message}")
            if self.timeout is not None and time.monotonic() - start > self.timeout:
                run.cancel(f"Airflow task {self.task_id} timed out after {self.timeout} s")
                raise AirflowException(f"mlcore pipeline run {run.id} still {state} after "
                                       f"{self.timeout} s; cancelled it")
            time.sleep(self.poll_interval)

    def on_kill(self) -> None:
        """Cancels the pipeline run this task started."""
        run = self._run
        if run is None:
            return
        try:
            run.cancel(f"Airflow task {self.task_id} was killed")
            self.log.info("mlcore pipeline run %s cancelled: %s", run.id, run.state)
        except mlcore.MlcoreError as e:
            self.log.error("could not cancel mlcore pipeline run %s: %s", run.id, e)


__all__ = ["MLCoreJobSubmitOperator", "MLCorePipelineOperator"]

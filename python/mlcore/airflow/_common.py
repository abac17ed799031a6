"""Helpers shared by the operators and the sensor (no Airflow import here)."""

from __future__ import annotations

import re
import uuid
from typing import Any, Mapping

import mlcore

#: Job states that end a job without success (everything final but SUCCEEDED).
JOB_FAILURE_STATES = frozenset({"FAILED", "CANCELLED", "TIMED_OUT", "LOST", "PREEMPTED"})
#: Pipeline run states that never change again.
PIPELINE_FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


def open_client(backend: str | None, project: str | None) -> mlcore.Client:
    """A client on ``backend``/``project``; None resolves like the CLI (MLC_BACKEND, MLC_PROJECT,
    then the mlcore config file's context, then the local default)."""
    return mlcore.Client(backend or None, project=project or None)


def request_id_for(context: Mapping[str, Any]) -> str:
    """A request id that is the same for one attempt of one task instance (dag, task, run, map
    index, try number), so submitting again within that attempt returns the job it already
    created, while an Airflow retry (a new try number) submits a new job."""
    ti = context["ti"]
    key = "/".join(str(part) for part in (
        ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1), ti.try_number))
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"airflow://{key}"))


def default_job_name(task_id: str, request_id: str) -> str:
    """``<task id>-<8 hex of the request id>``, as a job name (lowercase letters, digits, '-',
    starting with a letter, at most 63 characters): mlcore never reuses a job name, so each
    attempt gets its own, the same for the same request id."""
    base = re.sub(r"[^a-z0-9]+", "-", task_id.lower()).strip("-")[:50].strip("-")
    if not base or not base[0].isalpha():
        base = f"task-{base}".rstrip("-")
    return f"{base}-{request_id.replace('-', '')[:8]}"


def _label_value(text: str) -> str:
    """``text`` as a job label value: letters, digits, '-', '_', '.', alphanumeric at both ends,
    at most 63 characters."""
    value = re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:63]
    return value.strip("._-")


def airflow_labels(context: Mapping[str, Any]) -> dict[str, str]:
    """Labels naming the Airflow task instance that submitted a job (for ``mlc job ls -l``)."""
    ti = context["ti"]
    labels = {"airflow-dag": _label_value(ti.dag_id), "airflow-task": _label_value(ti.task_id),
              "airflow-run": _label_value(ti.run_id), "airflow-try": str(ti.try_number)}
    return {k: v for k, v in labels.items() if v}


def last_log_lines(job: Any, count: int) -> list[str]:
    """The job's last ``count`` stdout/stderr lines; empty when they cannot be read."""
    if count <= 0:
        return []
    try:
        return [line.text or "" for line in job.logs(tail=count)]
    except mlcore.MlcoreError:
        return []


def describe_job_end(job: Any, log_lines: int) -> str:
    """Why a job did not succeed: its state, exit code, message and last log lines."""
    data = job.data
    state = job.state
    parts = [f"mlcore job {job.name} ({job.id}) ended {state}"]
    if data.get("exit_code") is not None:
        parts.append(f"exit code {data.get('exit_code')}")
    text = ", ".join(parts)
    if job.message:
        text += f": {job.message}"
    lines = last_log_lines(job, log_lines)
    if lines:
        text += f"\nlast {len(lines)} log lines:\n" + "\n".join(f"  {line}" for line in lines)
    return text + f"\n(`mlc job logs {job.id}` shows the full output)"

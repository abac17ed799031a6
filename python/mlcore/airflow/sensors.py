"""An Airflow sensor that waits for an mlcore job (see docs/airflow.md)."""

from __future__ import annotations

from typing import Any, Sequence

from airflow.exceptions import AirflowFailException
from airflow.sensors.base import BaseSensorOperator

import mlcore
from mlcore.airflow._common import describe_job_end, open_client


class MLCoreJobStatusSensor(BaseSensorOperator):
    """Waits until an mlcore job ends: succeeds when it SUCCEEDED, fails (without Airflow
    retries: the job's end is final) when it ended FAILED, CANCELLED, TIMED_OUT, LOST or
    PREEMPTED, with the job's state, exit code, message and last ``log_lines`` log lines.

    ``job_id`` (templated) is typically the XCom of a submit task that does not wait::

        MLCoreJobStatusSensor(task_id="wait_prepare",
                              job_id="{{ ti.xcom_pull(task_ids='prepare', key='job_id') }}")

    The default ``mode="reschedule"`` frees the worker slot between pokes. ``backend`` and
    ``project`` (templated) default to mlcore's own resolution, like the operators.
    """

    template_fields: Sequence[str] = ("job_id", "backend", "project")
    ui_color = "#f0e8d0"

    def __init__(self, *, job_id: str, backend: str | None = None, project: str | None = None,
                 log_lines: int = 20, mode: str = "reschedule", **kwargs: Any) -> None:
        super().__init__(mode=mode, **kwargs)
        self.job_id = job_id
        self.backend = backend
        self.project = project
        self.log_lines = log_lines

    def poke(self, context: Any) -> bool:
        if not self.job_id or self.job_id == "None":
            raise AirflowFailException(
                f"{self.task_id}: job_id is empty; pass the id of a job, e.g. "
                "\"{{ ti.xcom_pull(task_ids='submit', key='job_id') }}\"")
        with open_client(self.backend, self.project) as client:
            try:
                job = mlcore.jobs.get(self.job_id, client=client)
            except mlcore.NotFoundError as e:
                raise AirflowFailException(f"mlcore job {self.job_id} not found on "
                                           f"{client.backend}: {e}") from e
            state = job.state
            self.log.info("mlcore job %s (%s): %s", job.name, job.id, state)
            if state == "SUCCEEDED":
                return True
            if state in mlcore.jobs.FINAL_STATES:
                raise AirflowFailException(describe_job_end(job, self.log_lines))
            return False


__all__ = ["MLCoreJobStatusSensor"]

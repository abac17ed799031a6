"""A DAG for tests/airflow only: one task whose job runs until it is cancelled, to kill the task
the way Airflow does (SIGTERM -> on_kill)."""

from __future__ import annotations

import datetime

from airflow import DAG

from mlcore.airflow import MLCoreJobSubmitOperator

with DAG(dag_id="mlcore_kill", schedule=None, start_date=datetime.datetime(2026, 1, 1),
         catchup=False) as dag:
    MLCoreJobSubmitOperator(task_id="long", command=["sh", "-c", "echo started; exec sleep 600"],
                            poll_interval=0.5)

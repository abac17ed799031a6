"""An Airflow DAG running mlcore jobs (see docs/airflow.md).

prepare (submit, does not wait) -> wait_prepare (sensor, reschedule mode) -> train (submit, waits)

Each job's command is Jinja-templated: ``{{ ds }}`` is the run's date, and the exit codes come
from the run's conf, so a failing job can be tried without editing the DAG::

    airflow dags test mlcore_jobs                          # both jobs succeed
    airflow dags test mlcore_jobs -c '{"train_exit": 3}'   # train fails with the job's message

mlcore's backend and project come from the environment (MLC_BACKEND / MLC_PROJECT) or the mlcore
config file, as for `mlc`; pass backend=/project= to the operators to pin them.
"""

from __future__ import annotations

import datetime

from airflow import DAG

from mlcore.airflow import MLCoreJobStatusSensor, MLCoreJobSubmitOperator

with DAG(
    dag_id="mlcore_jobs",
    description="Prepare data and train a model as mlcore jobs",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    tags=["mlcore", "example"],
) as dag:
    prepare = MLCoreJobSubmitOperator(
        task_id="prepare",
        command=["sh", "-c",
                 "echo preparing data for {{ ds }}; exit {{ dag_run.conf.get('prepare_exit', 0) }}"],
        env={"AIRFLOW_DS": "{{ ds }}"},
        labels={"stage": "prepare"},
        wait_for_completion=False,  # the sensor below waits, freeing the worker slot meanwhile
    )
    wait_prepare = MLCoreJobStatusSensor(
        task_id="wait_prepare",
        job_id="{{ ti.xcom_pull(task_ids='prepare', key='job_id') }}",
        poke_interval=2,
        timeout=600,
    )
    train = MLCoreJobSubmitOperator(
        task_id="train",
        command=["sh", "-c",
                 "echo training on $AIRFLOW_DS; echo loss=0.25; "
                 "exit {{ dag_run.conf.get('train_exit', 0) }}"],
        env={"AIRFLOW_DS": "{{ ds }}"},
        labels={"stage": "train"},
        job_options={"flavor": "cpu-2-8"},
        poll_interval=1,
        timeout=3600,
    )
    prepare >> wait_prepare >> train

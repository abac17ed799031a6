"""An Airflow DAG running an mlcore pipeline (see docs/airflow.md).

The pipeline is two command components (so the steps' jobs need no module of this DAG folder):
``make`` writes a number, ``double`` reads it and writes twice that. Its ``count`` input is
templated from the run's conf::

    airflow dags test mlcore_pipeline -c '{"count": 21}'

Needs an mlcore with the pipeline executor (mlcore.run_pipeline).
"""

from __future__ import annotations

import datetime
from pathlib import Path

from airflow import DAG

import mlcore
from mlcore import Input, Output
from mlcore.airflow import MLCorePipelineOperator

make = mlcore.pipelines.container_component(
    "make", command=["sh", "-c", "echo {{inputs.count}} > $MLC_OUTPUT_DIR/number"],
    inputs={"count": int}, outputs={"number": Output[Path]})
double = mlcore.pipelines.container_component(
    "double", command=["sh", "-c", "echo $(( $(cat $MLC_INPUT_NUMBER) * 2 )) > $MLC_OUTPUT_DIR/doubled"],
    inputs={"number": Input[Path]}, outputs={"doubled": Output[Path]})


@mlcore.pipeline(name="airflow-doubling")
def doubling(count: int = 1):
    return double(number=make(count=count))


with DAG(
    dag_id="mlcore_pipeline",
    description="Run an mlcore pipeline and wait for it",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    tags=["mlcore", "example"],
    render_template_as_native_obj=True,  # templated inputs keep their types (count is an int)
) as dag:
    MLCorePipelineOperator(
        task_id="doubling",
        pipeline=doubling,
        inputs={"count": "{{ dag_run.conf.get('count', 1) }}"},
        cache=True,
        poll_interval=1,
        timeout=3600,
    )

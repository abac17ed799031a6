"""Apache Airflow provider for mlcore: run mlcore jobs and pipelines as Airflow tasks.

    from mlcore.airflow import (MLCoreJobStatusSensor, MLCoreJobSubmitOperator,
                                MLCorePipelineOperator)

    train = MLCoreJobSubmitOperator(
        task_id="train", command=["python", "train.py", "--date", "{{ ds }}"],
        job_options={"flavor": "cpu-2-8"})

* :class:`MLCoreJobSubmitOperator` submits a job (a spec dict, a command, or a job YAML file),
  pushes ``job_id`` and ``run_id`` to XCom, and by default waits for it (the task fails when the
  job does not succeed; killing the task cancels the job).
* :class:`MLCoreJobStatusSensor` waits for a job submitted elsewhere (``mode="reschedule"``).
* :class:`MLCorePipelineOperator` runs an mlcore pipeline and waits for it.

Only this subpackage imports Airflow (``import mlcore`` never does); Airflow finds the provider
through the ``apache_airflow_provider`` entry point (:func:`get_provider_info`). See
docs/airflow.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported on first use, so get_provider_info() does not import Airflow
    from mlcore.airflow.operators import (MLCoreJobSubmitOperator,  # noqa: F401
                                          MLCorePipelineOperator)
    from mlcore.airflow.sensors import MLCoreJobStatusSensor  # noqa: F401

_EXPORTS = {
    "MLCoreJobSubmitOperator": "mlcore.airflow.operators",
    "MLCorePipelineOperator": "mlcore.airflow.operators",
    "MLCoreJobStatusSensor": "mlcore.airflow.sensors",
}


def get_provider_info() -> dict[str, Any]:
    """What Airflow's ProvidersManager reads through the ``apache_airflow_provider`` entry point
    (``airflow providers list`` shows it)."""
    from mlcore import _mlcore

    return {
        "package-name": "mlcore",
        "name": "mlcore",
        "description": "Run mlcore jobs and pipelines from Airflow: submit operator, job status "
                       "sensor, pipeline operator.",
        "versions": [_mlcore.version()],
        "operators": [{"integration-name": "mlcore",
                       "python-modules": ["mlcore.airflow.operators"]}],
        "sensors": [{"integration-name": "mlcore", "python-modules": ["mlcore.airflow.sensors"]}],
        "integrations": [{"integration-name": "mlcore",
                          "how-to-guide": [],
                          "tags": ["software"]}],
    }


def __getattr__(name: str) -> Any:
    import importlib

    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mlcore.airflow' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = ["MLCoreJobStatusSensor", "MLCoreJobSubmitOperator", "MLCorePipelineOperator",
           "get_provider_info"]

"""The Airflow provider's tests run under .venv-airflow (scripts/airflow-env.sh), against a real
Apache Airflow (SQLite metadata database in a temporary AIRFLOW_HOME) and a real local:// mlcore
backend in the same isolated state the rest of the suite uses (see airflow_env.py)."""

from __future__ import annotations

import os
import pathlib
import sys

import pytest

from airflow_env import AIRFLOW, BACKEND, PROJECT, airflow  # first: sets the environment


@pytest.fixture(scope="session")
def airflow_db() -> pathlib.Path:
    """An Airflow metadata database (SQLite) migrated to this Airflow's schema."""
    if not os.path.exists(AIRFLOW):
        pytest.skip(f"no airflow CLI next to {sys.executable}: run these tests with "
                    f".venv-airflow/bin/python (scripts/airflow-env.sh sets it up)")
    airflow("db", "migrate")
    return pathlib.Path(os.environ["AIRFLOW_HOME"])


@pytest.fixture(scope="session")
def mlcore_client():
    """A client of the tests' local:// backend, with the project the DAGs submit to."""
    import mlcore

    client = mlcore.Client(BACKEND, project=PROJECT)
    client.create_project(PROJECT)
    yield client
    client.close()

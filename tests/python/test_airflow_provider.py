"""The Airflow provider's packaging, without Airflow: `import mlcore` and Airflow's provider
discovery (the entry point, get_provider_info) never import Airflow. Its behaviour is tested
against a real Airflow in tests/airflow (under .venv-airflow)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import mlcore


def test_importing_mlcore_and_its_provider_info_does_not_import_airflow():
    code = ("import sys, mlcore, mlcore.airflow\n"
            "info = mlcore.airflow.get_provider_info()\n"
            "assert info['package-name'] == 'mlcore', info\n"
            "assert 'mlcore.airflow.operators' in str(info['operators'])\n"
            "print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert proc.stdout.strip() == "[]", proc.stdout


def test_airflow_finds_the_provider_through_its_entry_point():
    points = [e for e in importlib.metadata.entry_points(group="apache_airflow_provider")
              if e.value.startswith("mlcore.")]
    assert [e.value for e in points] == ["mlcore.airflow:get_provider_info"]
    info = points[0].load()()
    assert info["versions"] == [mlcore.__version__]

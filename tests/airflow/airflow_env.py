"""The environment of the Airflow provider's tests, set when first imported (by conftest.py,
before any test module imports airflow, which reads AIRFLOW_HOME and its configuration at import
time): a fresh local:// mlcore backend and project under MLC_TEST_TMP (or a temporary directory),
no user configuration, and an AIRFLOW_HOME with its own SQLite database whose DAGs folder is
examples/airflow plus tests/airflow/dags. `airflow` subprocesses (`airflow dags test`) inherit it."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
DAGS = ROOT / "examples" / "airflow"

_base = os.environ.get("MLC_TEST_TMP")
if _base:
    os.makedirs(_base, exist_ok=True)
TMP = pathlib.Path(tempfile.mkdtemp(prefix="airflow-", dir=_base or None))
STATE = TMP / "mlcore-state"
BACKEND = f"local://{STATE}"
PROJECT = "ml"

# The DAGs folder: the example DAGs (examples/airflow) and the tests' own (tests/airflow/dags).
DAGS_FOLDER = TMP / "dags"
DAGS_FOLDER.mkdir()
for _dag in [*DAGS.glob("*.py"), *(pathlib.Path(__file__).parent / "dags").glob("*.py")]:
    (DAGS_FOLDER / _dag.name).symlink_to(_dag)

for _var in ("MLC_CONTEXT", "MLC_DIGEST_CACHE", "MLC_TOKEN"):
    os.environ.pop(_var, None)
os.environ.update({
    # mlcore: a fresh local backend and project, no user configuration.
    "MLC_BACKEND": BACKEND, "MLC_PROJECT": PROJECT,
    "MLC_CONFIG": str(TMP / "mlcore-config.yaml"), "XDG_DATA_HOME": str(TMP / "data"),
    "XDG_CONFIG_HOME": str(TMP / "xdg-config"), "XDG_CACHE_HOME": str(TMP / "cache"),
    "MLC_NODE_CAPACITY": "cpu=4,memory=8Gi,gpu=0",
    # Airflow: its own home and SQLite database, the example DAGs, nothing else.
    "AIRFLOW_HOME": str(TMP / "airflow-home"),
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
})

AIRFLOW = str(pathlib.Path(sys.executable).parent / "airflow")


def airflow(*args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    """Runs the `airflow` CLI of this interpreter's environment; output captured as text."""
    proc = subprocess.run([AIRFLOW, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(f"airflow {' '.join(args)} exited {proc.returncode}\n"
                             f"--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}")
    return proc

"""Notebook use: the quickstart notebook executed headlessly, rich HTML output, plots, and the
Python and CLI views of the same state agreeing."""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess

import numpy as np
import pytest

import mlcore
from conftest import mlc_binary

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _outputs(cell: dict) -> str:
    text = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            text.append("".join(out["text"]))
        elif out.get("output_type") in ("execute_result", "display_data"):
            data = out.get("data", {})
            text.append("".join(data.get("text/html", data.get("text/plain", ""))))
    return "\n".join(text)


def test_quickstart_notebook_runs_headless(backend, monkeypatch, tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="scripts/setup.sh installs nbformat")
    nbclient = pytest.importorskip("nbclient", reason="scripts/setup.sh installs nbclient")
    monkeypatch.setenv("MLC_BACKEND", backend)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(ROOT / "examples/notebooks/quickstart.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any failure
    outputs = [_outputs(c) for c in nb.cells if c.cell_type == "code"]
    joined = "\n".join(outputs)
    assert re.search(r"reloaded champion: accuracy 0\.9\d\d", joined), joined[-2000:]
    assert "best: logreg-lr0.5" in joined
    # A notebook is interactive though stderr is no terminal: uploads and loads show tqdm bars.
    assert "upload:" in joined and "load:" in joined and "B/s" in joined
    # Rich output: the comparison DataFrame, the run's record, the quota bars.
    assert "metrics.accuracy" in joined
    assert "quota usage" in outputs[-1] and "notebook-demo" in outputs[-1]
    # The state the notebook left is there for every other surface.
    with mlcore.Client(backend) as c:
        version = c.invoke("RegistryService/ResolveModelUri",
                           {"uri": "models:/logreg@champion", "project": "notebook-demo"})
        assert int(version["version"]) == 1


def _job_fixture(backend):
    mlcore.init(backend, project="nb")
    client = mlcore.client()
    client.create_project("nb", limit="cpu=2,memory=4Gi", guaranteed="cpu=1,memory=2Gi")
    job = mlcore.jobs.submit(["sh", "-c", "echo hi"], name="hello", project="nb",
                             resources="cpu=1,memory=1Gi")
    job.wait(timeout=60)
    with mlcore.start_run(name="r1", params={"lr": 0.1}, system_metrics=False) as run:
        run.log_metric_series("loss", np.arange(100), np.linspace(1.0, 0.01, 100))
        run.log_metric("accuracy", 0.93, step=99)
    return client, job, run


def test_rich_html_for_runs_jobs_models_and_quota(backend, tmp_path):
    client, job, run = _job_fixture(backend)
    info = mlcore.get_run(run.id)
    html = info._repr_html_()
    assert "r1" in html and "lr=0.1" in html and "accuracy=0.93" in html
    assert "color:#859900" in html  # FINISHED in green
    assert run._repr_html_() == html

    jobs = mlcore.jobs.list(project="nb")
    table = jobs._repr_html_()
    assert "<table>" in table and "hello" in table and "SUCCEEDED" in table
    assert "jobs (1)" in table
    assert "SUCCEEDED" in job._repr_html_()

    runs = mlcore.search_runs("params.lr = 0.1", output="list")
    assert isinstance(runs, mlcore.RecordList) and [r.id for r in runs] == [run.id]
    assert run.id in runs._repr_html_()

    (tmp_path / "m").mkdir()
    (tmp_path / "m/w.bin").write_bytes(b"weights")
    mlcore.artifacts.log(tmp_path / "m", run=run.id, name="model")
    mlcore.models.create("clf")
    mlcore.models.register("clf", run=run.id, path="model")
    assert "clf" in mlcore.models.list()._repr_html_()
    versions = mlcore.models.versions("clf")._repr_html_()
    assert "READY" in versions and "versions of clf" in versions

    quota = mlcore.quota("nb")
    assert isinstance(quota, list) and quota[0].project == "nb"
    bars = quota._repr_html_()
    assert "quota usage" in bars and "nb" in bars
    # 0 of 2 cores used (the job ended), guaranteed 1: the limit and the guarantee are shown.
    assert "0 / 2 cores, guaranteed 1" in bars
    assert "0 / 4 GiB, guaranteed 2" in bars
    assert "GPU" in bars and "0 (no limit)" in bars


def test_run_plot_draws_the_logged_points(backend):
    matplotlib = pytest.importorskip("matplotlib", reason="scripts/setup.sh installs matplotlib")
    matplotlib.use("Agg")
    mlcore.init(backend, project="plots").create_project("plots")
    with mlcore.start_run(name="plotted", system_metrics=False) as run:
        run.log_metric_series("loss", np.arange(50), np.linspace(2.0, 0.5, 50))
        run.log_metric_series("val_loss", np.arange(50), np.linspace(2.5, 0.7, 50))
        ax = run.plot("loss", "val_loss")  # flushes first: every point is drawn
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"loss", "val_loss"}
    np.testing.assert_allclose(lines["loss"].get_ydata(), np.linspace(2.0, 0.5, 50))
    np.testing.assert_array_equal(lines["val_loss"].get_xdata(), np.arange(50))
    assert ax.get_title() == "plotted"
    # Over max_points, a shape-keeping view is drawn (first and last points kept).
    ax2 = mlcore.get_run(run.id).plot("loss", max_points=10)
    y = ax2.get_lines()[0].get_ydata()
    assert len(y) == 10 and y[0] == 2.0 and y[-1] == 0.5
    with pytest.raises(mlcore.InvalidArgumentError):
        run.plot()
    # metric_history on the run: numpy arrays, or a DataFrame.
    steps, values, _ = run.metric_history("loss")
    assert len(steps) == 50
    assert list(run.metric_history("val_loss", output="pandas").columns) == ["step", "value", "time"]


@pytest.mark.skipif(not os.path.exists(mlc_binary()), reason="mlc not built")
def test_python_and_cli_views_agree(backend):
    client, job, run = _job_fixture(backend)
    env = dict(os.environ, MLC_BACKEND=backend)

    def mlc(*args: str):
        proc = subprocess.run([mlc_binary(), *args, "-o", "json"], capture_output=True, text=True,
                              timeout=60, env=env)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    cli_jobs = mlc("job", "ls", "--project", "nb")
    py_jobs = mlcore.jobs.list(project="nb")
    cli_list = cli_jobs.get("jobs", cli_jobs) if isinstance(cli_jobs, dict) else cli_jobs
    assert [(j["id"], j["state"]) for j in cli_list] == [(j.id, j._data.state) for j in py_jobs]

    cli_job = mlc("job", "get", job.id)
    assert cli_job["id"] == job.id and cli_job["state"] == job.refresh()._data.state
    py_spec = job.refresh()._data.spec
    assert cli_job["spec"]["command"] + cli_job["spec"].get("args", []) == \
        [*py_spec.command, *(py_spec.args or [])] == ["sh", "-c", "echo hi"]

    cli_run = mlc("run", "get", run.id)
    py_run = mlcore.get_run(run.id)
    assert cli_run["id"] == py_run.id and cli_run["status"] == py_run.status
    assert cli_run["params"] == {"lr": "0.1"} == dict(py_run.params)
    cli_latest = {m["key"]: m.get("latestValue", m.get("latest_value", 0.0))
                  for m in cli_run["metrics"]}
    assert cli_latest == py_run.latest

    cli_projects = mlc("project", "ls")
    names = [p["name"] for p in cli_projects.get("projects", [])] if isinstance(cli_projects, dict) \
        else [p["name"] for p in cli_projects]
    assert names == [p.name for p in client.projects()]

"""Experiment tracking from Python: the fluent API, numpy paths, queries, jobs' runs, offline sync."""

from __future__ import annotations

import math
import os
import sys
import threading

import numpy as np
import pytest

import mlcore

WAIT = 60


@pytest.fixture
def client(backend, monkeypatch, tmp_path):
    monkeypatch.setenv("MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0")
    monkeypatch.setenv("MLC_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.delenv("MLC_RUN_ID", raising=False)
    c = mlcore.init(backend, project="ml")
    c.create_project("ml")
    yield c
    while mlcore.active_run() is not None:
        mlcore.end_run()
    c.close()


class Torchish:
    """Stands in for a torch scalar: converts through __float__."""

    def __init__(self, v: float):
        self.v = v

    def __float__(self) -> float:
        return self.v


def test_fluent_run_logs_params_metrics_and_ends(client):
    with mlcore.start_run(name="baseline", params={"lr": 0.01, "layers": 4},
                          tags={"team": "recsys"}, system_metrics=False) as run:
        for step in range(1000):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metrics({"acc": np.float32(0.5), "f1": Torchish(0.25)}, step=999)
        for _ in range(3):
            mlcore.log_metric("auto", 1.5)  # steps continue per key: 0, 1, 2
        run.log_param("optimizer", "adam")
        with pytest.raises(mlcore.FailedPreconditionError, match=r'"0.01".*"0.02"'):
            run.log_param("lr", 0.02)
        run.log_param("lr", 0.01)  # the same value again is fine
        with pytest.raises(mlcore.InvalidArgumentError, match="'!'"):
            run.log_metric("bad key!", 1.0)
    info = mlcore.get_run(run.id)
    assert info.status == "RUN_STATUS_FINISHED"
    assert info.params == {"lr": "0.01", "layers": "4", "optimizer": "adam"}
    assert info.tags["team"] == "recsys"
    assert info.latest["loss"] == pytest.approx(1 / 1000)
    assert info.latest["f1"] == 0.25
    steps, values, times = client.get_metric_history(run.id, "loss")
    assert steps.dtype == np.int64 and values.dtype == np.float64
    assert list(steps[:3]) == [0, 1, 2] and values[1] == 0.5 and len(times) == 1000
    assert list(client.get_metric_history(run.id, "auto")[0]) == [0, 1, 2]
    assert run.stats()["points_written"] == run.stats()["points_logged"] == 1005
    assert mlcore.active_run() is None


def test_exceptions_fail_the_run_and_nested_runs_have_parents(client):
    with pytest.raises(ZeroDivisionError):
        with mlcore.start_run(name="crash", system_metrics=False) as run:
            1 / 0
    assert mlcore.get_run(run.id).status == "RUN_STATUS_FAILED"
    with mlcore.start_run(name="sweep", system_metrics=False) as parent:
        for lr in (0.1, 0.01):
            with mlcore.start_run(nested=True, params={"lr": lr}, system_metrics=False) as child:
                child.log_metric("loss", lr * 10)
    children = mlcore.search_runs(f'parent_run_id = "{parent.id}"', output="list")
    assert sorted(c.params["lr"] for c in children) == ["0.01", "0.1"]
    with pytest.raises(mlcore.InvalidArgumentError, match="nested"):
        mlcore.start_run(nested=True)


def test_numpy_series_and_downsampled_history(client):
    run = mlcore.start_run(name="series", system_metrics=False)
    steps = np.arange(300_000, dtype=np.int64)
    values = np.sin(steps / 1000.0)
    values[123_456] = 100.0
    run.log_metric_series("wave", steps, values)
    run.log_metric_series("ints", [1, 2, 3], [4, 5, 6])  # lists convert
    with pytest.raises(mlcore.InvalidArgumentError, match="same length"):
        run.log_metric_series("bad", np.arange(3), np.zeros(2))
    run.end()
    s, v, _ = mlcore.metric_history(run.id, "wave")
    assert np.array_equal(s, steps) and np.array_equal(v, values)
    s, v, _ = mlcore.metric_history(run.id, "wave", max_points=500)
    assert len(s) == 500 and s[0] == 0 and s[-1] == 299_999 and 100.0 in v
    s, v, _ = mlcore.metric_history(run.id, "wave", method="minmax", max_points=400)
    assert len(s) <= 400 and 100.0 in v
    s, v, _ = mlcore.metric_history(run.id, "wave", min_step=10, max_step=19)
    assert list(s) == list(range(10, 20))
    df = mlcore.metric_history(run.id, "ints", output="pandas")
    assert list(df["value"]) == [4.0, 5.0, 6.0]
    with pytest.raises(mlcore.NotFoundError, match="it has: ints, wave"):
        mlcore.metric_history(run.id, "nope")


def test_search_runs_dataframe_order_and_parse_errors(client):
    for i in range(6):
        with mlcore.start_run(name=f"r{i}", params={"lr": 10 ** -i}, system_metrics=False) as r:
            r.log_metric("val_loss", 1.0 - i / 10)
            r.set_tag("team", "recsys" if i % 2 else "nlp")
    df = mlcore.search_runs('params.lr < 0.01 and tags.team = "recsys"',
                            order_by=["metrics.val_loss asc"])
    assert list(df["name"]) == ["r5", "r3"]
    assert set(df.columns) >= {"run_id", "params.lr", "metrics.val_loss", "tags.team"}
    assert len(mlcore.search_runs(max_results=4, output="list")) == 4
    with pytest.raises(mlcore.InvalidArgumentError, match="column 11"):
        mlcore.search_runs("params.lr lr 3")
    assert [e.name for e in mlcore.experiments()] == ["default"]
    side = mlcore.compare_runs("r1", "r2")
    assert list(side.columns) == ["r1", "r2"]
    assert side.loc["params.lr", "r1"] == "0.1" and side.loc["metrics.val_loss", "r2"] == 0.8
    assert side.loc["status", "r1"] == "FINISHED"


def test_threads_share_one_run(client):
    run = mlcore.start_run(name="threads", system_metrics=False)

    def work(k: int) -> None:
        for step in range(20_000):
            run.log_metric(f"t{k}", step, step)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.end()
    for k in range(4):
        assert len(mlcore.metric_history(run.id, f"t{k}")[0]) == 20_000


def test_system_metrics_are_sampled(client):
    run = mlcore.start_run(name="sys", system_metrics=True, system_metrics_interval=0.1)
    x = 0
    for i in range(3_000_000):  # some CPU to sample
        x += i
    run.end()
    keys = [m.key for m in mlcore.get_run(run.id).metrics]
    assert "system/cpu_percent" in keys and "system/rss_bytes" in keys
    rss = mlcore.metric_history(run.id, "system/rss_bytes")[1]
    assert rss.max() > 10 * 1024 * 1024  # a Python process holds more than 10 MiB


def test_offline_run_syncs_exactly_once(client, tmp_path):
    with mlcore.start_run(name="plane", offline=True, params={"lr": 0.5},
                          system_metrics=False) as run:
        assert run.id.startswith("offline-")
        for step in range(2000):
            run.log_metric("loss", step, step)
    assert len(mlcore.search_runs(output="list")) == 0
    report = mlcore.sync()
    assert report["files"] == 1 and report["runs_created"] == 1 and report["files_left"] == 0
    assert mlcore.sync()["files"] == 0  # nothing left to upload
    (found,) = mlcore.search_runs(output="list")
    assert found.name == "plane" and found.status == "RUN_STATUS_FINISHED"
    assert len(mlcore.metric_history(found.id, "loss")[0]) == 2000


def test_a_job_gets_a_run_and_code_inside_attaches_to_it(client, tmp_path, monkeypatch):
    monkeypatch.setenv("MLC_SYSTEM_METRICS_INTERVAL", "0.1")
    script = tmp_path / "train.py"
    script.write_text(
        "import mlcore, time\n"
        "with mlcore.start_run(params={'epochs': 3}) as run:\n"
        "    for step in range(100):\n"
        "        run.log_metric('loss', 1 / (step + 1), step=step)\n"
        "    print('run', run.id)\n"
        "    time.sleep(0.3)\n")
    job = client.submit_job([sys.executable, str(script)], name="train", experiment="mnist",
                            working_dir=str(tmp_path))
    assert job.data.run_id
    job.wait(timeout=WAIT)
    assert job.state == "SUCCEEDED", [l.text for l in job.logs()]
    assert [l.text for l in job.logs()] == [f"run {job.data.run_id}"]
    run = mlcore.get_run(job.data.run_id)
    assert run.status == "RUN_STATUS_FINISHED"
    assert run.job_id == job.id and run.params["epochs"] == "3" and run.tags["mlc.job"] == "train"
    assert run.latest["loss"] == pytest.approx(0.01)
    assert "system/cpu_percent" in run.latest  # sampled by the job's supervisor
    (exp,) = [e for e in mlcore.experiments() if e.name == "mnist"]
    assert exp.id == run.experiment_id
    # A job cancelled while pending: its run ends KILLED at the next read.
    blocker = client.submit_job(["sleep", "60"], name="blocker", resources="cpu=4",
                                working_dir=str(tmp_path))
    waiting = client.submit_job(["true"], name="waiting", resources="cpu=4",
                                working_dir=str(tmp_path))
    waiting.cancel()
    assert mlcore.get_run(waiting.data.run_id).status == "RUN_STATUS_KILLED"
    blocker.cancel()
    assert mlcore.get_run(blocker.data.run_id).status == "RUN_STATUS_KILLED"

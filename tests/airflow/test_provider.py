"""The mlcore Airflow provider end to end: a real Apache Airflow (`airflow dags test` over the
example DAGs in examples/airflow, real task instances in its SQLite database) driving real jobs
on a local:// mlcore backend."""

from __future__ import annotations

import datetime
import json
import signal
import subprocess
import threading
import time

import pytest

import mlcore
from airflow_env import AIRFLOW, PROJECT, airflow

WAIT = 60  # seconds; generous for shared CI machines


def label(text: str) -> str:
    """An Airflow run id as the provider writes it into the `airflow-run` job label."""
    from mlcore.airflow._common import _label_value
    return _label_value(text)


def jobs_of(client: mlcore.Client, run_id: str, task_id: str) -> list:
    return mlcore.jobs.list(labels={"airflow-dag": "mlcore_jobs", "airflow-task": task_id,
                                    "airflow-run": label(run_id)}, client=client)


def task_states(dag_id: str, run_id: str) -> dict[str, str]:
    from airflow.models import DagRun

    (run,) = DagRun.find(dag_id=dag_id, run_id=run_id)
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def xcom(dag_id: str, run_id: str, task_id: str, key: str):
    from airflow.models import XCom

    return XCom.get_one(dag_id=dag_id, run_id=run_id, task_id=task_id, key=key)


def test_provider_is_registered(airflow_db):
    proc = airflow("providers", "list", "-o", "json")
    providers = {p["package_name"]: p for p in json.loads(proc.stdout)}
    assert "mlcore" in providers, proc.stdout
    assert providers["mlcore"]["version"] == mlcore.__version__


def test_example_dags_load(airflow_db):
    from airflow.models import DagBag

    from airflow_env import DAGS

    bag = DagBag(dag_folder=str(DAGS), include_examples=False)
    assert bag.import_errors == {}
    assert {"mlcore_jobs", "mlcore_pipeline"} <= set(bag.dag_ids)
    assert [t.task_id for t in bag.get_dag("mlcore_jobs").topological_sort()] == [
        "prepare", "wait_prepare", "train"]


def test_jobs_dag_runs_real_jobs(airflow_db, mlcore_client):
    """submit (no wait) -> sensor -> submit (waits): every job really ran, XComs name them."""
    proc = airflow("dags", "test", "mlcore_jobs", "2026-02-01")
    run_id = "manual__2026-02-01T00:00:00+00:00"
    assert task_states("mlcore_jobs", run_id) == {
        "prepare": "success", "wait_prepare": "success", "train": "success"}, proc.stdout[-4000:]

    (prepare,) = jobs_of(mlcore_client, run_id, "prepare")
    (train,) = jobs_of(mlcore_client, run_id, "train")
    assert xcom("mlcore_jobs", run_id, "prepare", "job_id") == prepare.id
    assert xcom("mlcore_jobs", run_id, "train", "job_id") == train.id
    assert xcom("mlcore_jobs", run_id, "train", "return_value") == train.id
    assert train.data.run_id and xcom("mlcore_jobs", run_id, "train", "run_id") == train.data.run_id
    assert mlcore_client.get_run(train.data.run_id)  # the job's tracking run exists

    assert prepare.state == "SUCCEEDED" and train.state == "SUCCEEDED"
    assert train.exit_code == 0
    assert [l.text for l in prepare.logs()] == ["preparing data for 2026-02-01"]
    assert [l.text for l in train.logs()] == ["training on 2026-02-01", "loss=0.25"]
    assert train.name.startswith("train-") and train.project == PROJECT
    assert train.data.spec.labels["stage"] == "train"
    assert train.data.spec.labels["airflow-try"] == "1"
    assert train.data.spec.flavor == "cpu-2-8"
    # The waiting task logged the job's state and output into the Airflow task log.
    assert f"mlcore job {train.name} ({train.id}) submitted" in proc.stdout + proc.stderr


def test_failing_job_fails_the_task_with_its_message(airflow_db, mlcore_client):
    proc = airflow("dags", "test", "mlcore_jobs", "2026-02-02", "-c", '{"train_exit": 3}',
                   check=False)
    run_id = "manual__2026-02-02T00:00:00+00:00"
    assert proc.returncode != 0 and "DagRun failed" in proc.stderr + proc.stdout
    assert task_states("mlcore_jobs", run_id) == {
        "prepare": "success", "wait_prepare": "success", "train": "failed"}
    (train,) = jobs_of(mlcore_client, run_id, "train")
    assert train.state == "FAILED" and train.exit_code == 3
    output = proc.stdout + proc.stderr
    assert f"AirflowException: mlcore job {train.name} ({train.id}) ended FAILED, exit code 3" in output
    assert train.message and train.message in output
    assert "  loss=0.25" in output  # the job's last log lines are in the task's error


def test_sensor_fails_on_a_failed_job(airflow_db, mlcore_client):
    proc = airflow("dags", "test", "mlcore_jobs", "2026-02-03", "-c", '{"prepare_exit": 2}',
                   check=False)
    run_id = "manual__2026-02-03T00:00:00+00:00"
    assert proc.returncode != 0
    assert task_states("mlcore_jobs", run_id) == {
        "prepare": "success", "wait_prepare": "failed", "train": "upstream_failed"}
    (prepare,) = jobs_of(mlcore_client, run_id, "prepare")
    assert prepare.state == "FAILED" and prepare.exit_code == 2
    assert not jobs_of(mlcore_client, run_id, "train")
    output = proc.stdout + proc.stderr
    assert f"AirflowFailException: mlcore job {prepare.name} ({prepare.id}) ended FAILED, exit code 2" \
        in output


def test_killing_the_task_cancels_the_job(airflow_db, mlcore_client):
    """SIGTERM to a running `airflow tasks test`: Airflow's handler calls on_kill, which cancels
    the job."""
    proc = subprocess.Popen([AIRFLOW, "tasks", "test", "mlcore_kill", "long", "2026-02-06"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        running = []
        while not running and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read()[-4000:]
            running = [j for j in mlcore.jobs.list(labels={"airflow-dag": "mlcore_kill"},
                                                   client=mlcore_client) if j.state == "RUNNING"]
            time.sleep(0.2)
        assert len(running) == 1, "the task's job never ran"
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    job = mlcore.jobs.get(running[0].id, client=mlcore_client)
    assert job.state == "CANCELLED", output[-4000:]
    assert "Received SIGTERM" in output
    assert f"mlcore job {job.name} ({job.id}) cancelled: CANCELLED" in output
    assert proc.returncode != 0


# -- the operator in this process, on real task instances --------------------------------------

@pytest.fixture
def task_context(airflow_db):
    """Makes a one-task DAG and a real DagRun/TaskInstance for an operator; returns a function
    (operator) -> the task instance's template context."""
    from airflow import DAG
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType

    counter = iter(range(1000))

    def make(build):
        n = next(counter)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d%H%M%S%f")
        dag = DAG(f"mlcore_inproc_{stamp}_{n}", schedule=None,
                  start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))
        op = build(dag)
        when = datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc)
        run = dag.create_dagrun(state=DagRunState.RUNNING, execution_date=when,
                                run_id=f"inproc_{n}", run_type=DagRunType.MANUAL,
                                data_interval=(when, when))
        ti = run.get_task_instance(op.task_id)
        ti.refresh_from_task(op)
        return op, ti.get_template_context()

    return make


def test_on_kill_cancels_the_running_job(task_context, mlcore_client):
    from airflow.exceptions import AirflowException

    from mlcore.airflow import MLCoreJobSubmitOperator

    op, context = task_context(lambda dag: MLCoreJobSubmitOperator(
        task_id="long", dag=dag, command=["sh", "-c", "echo started; exec sleep 300"],
        poll_interval=0.2))
    # Airflow calls on_kill while execute() is waiting (from its SIGTERM handler); here a second
    # thread calls it once the job runs (execute() itself must stay on the main thread).
    seen: list[str] = []

    def kill_when_running() -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            job = op._job
            if job is not None and job.state == "RUNNING":
                seen.append(job.id)
                op.on_kill()
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_when_running)
    killer.start()
    with pytest.raises(AirflowException) as failure:
        op.execute(context)
    killer.join(WAIT)
    assert len(seen) == 1, "the job never ran"
    job_id = seen[0]
    after = mlcore.jobs.get(job_id, client=mlcore_client)
    assert after.state == "CANCELLED"
    assert f"({job_id}) ended CANCELLED" in str(failure.value)
    assert "Airflow task long was killed" in str(after.data)
    assert context["ti"].xcom_pull(task_ids="long", key="job_id") == job_id


def test_same_attempt_submits_once(task_context, mlcore_client):
    """The default request id: executing the same attempt again returns the job it created."""
    from mlcore.airflow import MLCoreJobSubmitOperator

    op, context = task_context(lambda dag: MLCoreJobSubmitOperator(
        task_id="once", dag=dag, spec={"command": ["true"], "labels": {"k": "v"}},
        wait_for_completion=False))
    first = op.execute(context)
    again = op.execute(context)
    assert first == again
    job = mlcore.jobs.get(first, client=mlcore_client).wait(timeout=WAIT)
    assert job.state == "SUCCEEDED" and job.data.spec.labels["k"] == "v"

    context["ti"].try_number += 1  # an Airflow retry is a new attempt: a new job
    assert op.execute(context) != first


def test_spec_file_and_timeout(task_context, mlcore_client, tmp_path):
    """A job YAML file (as `mlc job submit -f` reads), and `timeout` cancelling the job."""
    from airflow.exceptions import AirflowException

    from mlcore.airflow import MLCoreJobSubmitOperator

    spec = tmp_path / "job.yaml"
    spec.write_text("name: from-file\ncommand: [sh, -c, 'echo from file; exec sleep 300']\n"
                    "env:\n  A: one\n")
    op, context = task_context(lambda dag: MLCoreJobSubmitOperator(
        task_id="file", dag=dag, spec=str(spec), env={"B": "two"}, poll_interval=0.2,
        timeout=1.5))
    with pytest.raises(AirflowException, match="after 1.5 s; cancelled it"):
        op.execute(context)
    job = mlcore.jobs.get(context["ti"].xcom_pull(task_ids="file", key="job_id"),
                          client=mlcore_client)
    assert job.name == "from-file" and job.state == "CANCELLED"
    assert job.data.spec.env == {"A": "one", "B": "two"}

    bad = tmp_path / "bad.yaml"
    bad.write_text("command: [true]\nflavor: no-such-flavor\n")
    op, context = task_context(lambda dag: MLCoreJobSubmitOperator(
        task_id="bad", dag=dag, spec=str(bad)))
    with pytest.raises(AirflowException, match="no-such-flavor"):
        op.execute(context)


def test_arguments_are_checked():
    from mlcore.airflow import MLCoreJobStatusSensor, MLCoreJobSubmitOperator

    with pytest.raises(ValueError, match="list of arguments"):
        MLCoreJobSubmitOperator(task_id="t", command="python train.py")
    with pytest.raises(ValueError, match="spec="):
        MLCoreJobSubmitOperator(task_id="t")
    assert MLCoreJobStatusSensor(task_id="s", job_id="j1").mode == "reschedule"


# -- pipelines -----------------------------------------------------------------------------------

def test_pipeline_dag_runs_the_pipeline(airflow_db, mlcore_client, tmp_path):
    proc = airflow("dags", "test", "mlcore_pipeline", "2026-02-04", "-c", '{"count": 21}',
                   check=False)
    run_id = "manual__2026-02-04T00:00:00+00:00"
    assert task_states("mlcore_pipeline", run_id) == {"doubling": "success"}, proc.stdout[-4000:]
    pipeline_run_id = xcom("mlcore_pipeline", run_id, "doubling", "pipeline_run_id")
    run = mlcore.get_pipeline_run(pipeline_run_id, client=mlcore_client)
    assert run.state == "SUCCEEDED"
    assert xcom("mlcore_pipeline", run_id, "doubling", "run_id") == (run.run_id or "")
    # The steps really ran: make wrote 21, double read it and wrote 42.
    assert [s["state"] for s in run.steps] == ["SUCCEEDED", "SUCCEEDED"]
    (artifact_id,) = run.outputs.values()  # the pipeline's one output: double's file
    mlcore.artifacts.download(artifact_id, tmp_path / "out", client=mlcore_client)
    assert [p.read_text().strip() for p in (tmp_path / "out").rglob("*") if p.is_file()] == ["42"]

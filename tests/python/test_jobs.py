"""Jobs from Python, end to end on the local backend (real supervisors, real processes)."""

from __future__ import annotations

import datetime
import os
import pathlib
import subprocess

import pytest

import mlcore

WAIT = 60  # seconds; generous for shared CI machines


@pytest.fixture
def client(backend, monkeypatch):
    monkeypatch.setenv("MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0")
    c = mlcore.Client(backend, project="ml")
    c.create_project("ml")
    yield c
    c.close()


def test_submit_wait_logs(client, tmp_path):
    job = client.submit_job(["sh", "-c", "echo one; echo two >&2; exit 0"], name="hello",
                            working_dir=str(tmp_path), labels={"team": "recsys"})
    assert job.name == "hello"
    assert job.id.startswith("j")
    job.wait(timeout=WAIT)
    assert job.state == "SUCCEEDED"
    assert job.exit_code == 0
    lines = list(job.logs())
    assert [l.text for l in lines] == ["one", "two"]
    assert [l.stream for l in lines] == ["LOG_STREAM_STDOUT", "LOG_STREAM_STDERR"]
    assert isinstance(lines[0].time, datetime.datetime)
    assert [l.text for l in job.logs(streams=["stderr"])] == ["two"]
    assert any("exited with code 0" in l.text for l in job.logs(streams=["system"]))
    assert job.data.spec.labels == {"team": "recsys"}
    assert "SUCCEEDED" in job._repr_html_()
    assert mlcore.jobs.get("hello", client=client).id == job.id


def test_follow_streams_until_the_end(client):
    job = client.submit_job(["sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 0.1; done"])
    texts = [l.text for l in job.logs(follow=True)]
    assert texts == ["tick 1", "tick 2", "tick 3"]
    assert job.state == "SUCCEEDED"


def test_breaking_out_of_follow_leaves_the_job_running(client):
    job = client.submit_job(["sh", "-c", "echo first; exec sleep 60"])
    for line in job.logs(follow=True):
        assert line.text == "first"
        break
    assert job.state == "RUNNING"
    job.cancel("done with it")
    job.wait(timeout=WAIT)
    assert job.state == "CANCELLED"


def test_failures_and_errors(client):
    failed = client.submit_job(["sh", "-c", "exit 4"]).wait(timeout=WAIT)
    assert failed.state == "FAILED" and failed.exit_code == 4
    missing = client.submit_job(["definitely-not-a-command"]).wait(timeout=WAIT)
    assert missing.state == "FAILED"
    assert "not found" in missing.message
    with pytest.raises(mlcore.InvalidArgumentError, match="cpu-2-8"):
        client.submit_job(["true"], flavor="gpu-huge")
    with pytest.raises(mlcore.QuotaExceededError, match="could never start"):
        client.submit_job(["true"], resources={"cpu": 64})
    with pytest.raises(mlcore.NotFoundError, match="project"):
        client.submit_job(["true"], project="nope")
    with pytest.raises(mlcore.InvalidArgumentError, match="list of arguments"):
        client.submit_job("python train.py")
    with pytest.raises(mlcore.NotFoundError):
        client.get_job("absent")
    with pytest.raises(mlcore.DeadlineExceededError):
        client.submit_job(["sleep", "30"], name="slow").wait(timeout=0.2)
    client.get_job("slow").cancel()


def test_deadline_and_retries(client, tmp_path):
    timed = client.submit_job(["sleep", "30"], deadline=0.3).wait(timeout=WAIT)
    assert timed.state == "TIMED_OUT"
    script = "if [ -f marker ]; then echo again; exit 0; fi; touch marker; exit 9"
    retried = client.submit_job(["sh", "-c", script], working_dir=str(tmp_path), retries=2,
                                spec={"retry": {"initial_backoff": "0.1s"}})
    retried.wait(timeout=WAIT)
    assert retried.state == "SUCCEEDED"
    assert retried.data.restarts == 1


def test_queueing_and_quota(client, tmp_path):
    hold = ["sh", "-c", 'while [ ! -f release ] && [ -d "$PWD" ]; do sleep 0.05; done']
    a = client.submit_job(hold, resources="cpu=2", working_dir=str(tmp_path))
    b = client.submit_job(hold, resources="cpu=2", working_dir=str(tmp_path))
    c = client.submit_job(hold, resources="cpu=2", working_dir=str(tmp_path))
    try:
        assert c.state == "PENDING"
        assert "waiting" in c.refresh().waiting_reason
        mlcore.init(client.backend)
        usage = {u.project: u for u in mlcore.quota()}
        assert usage["ml"].used.cpu_millis == 4000
        assert usage["ml"].pending_jobs == 1
    finally:
        (tmp_path / "release").write_text("")  # never leave jobs behind, even on failure
    for job in (a, b, c):
        assert job.wait(timeout=WAIT).state == "SUCCEEDED"


def test_rerun_and_listing(client):
    job = client.submit_job(["sh", "-c", "echo $WHO"], env={"WHO": "me"}, name="who")
    job.wait(timeout=WAIT)
    again = job.rerun().wait(timeout=WAIT)
    assert again.data.rerun_of == job.id
    assert [l.text for l in again.logs()] == ["me"]
    names = [j.name for j in client.jobs()]
    assert names[0] == again.name and "who" in names
    assert [j.name for j in client.jobs(states=["succeeded"])] == names
    assert client.jobs(states=["failed"]) == []


def test_secrets_from_environment(client, monkeypatch):
    monkeypatch.setenv("MY_API_TOKEN", "tok-123-secret")
    job = client.submit_job(["sh", "-c", "echo ${#HF_TOKEN}"], secrets={"HF_TOKEN": "MY_API_TOKEN"})
    job.wait(timeout=WAIT)
    assert [l.text for l in job.logs()] == ["14"]
    assert "tok-123-secret" not in job.data.to_json()


def helper_square(x):  # module-level: importable by the job
    return x * x


def test_submit_function(client):
    job = mlcore.jobs.submit_function(helper_square, 12, client=client)
    assert job.name.startswith("helper-square-")
    assert job.result(timeout=WAIT) == 144

    def local_fn(a, b=1):  # a closure: needs cloudpickle, which the test environment has
        return {"sum": a + b}

    assert mlcore.jobs.submit_function(local_fn, 2, b=5, client=client).result(timeout=WAIT) == {"sum": 7}

    def broken():
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        mlcore.jobs.submit_function(broken, client=client).result(timeout=WAIT)


def test_quota_helper_and_module_functions(client, backend):
    mlcore.init(backend, project="ml")
    job = mlcore.jobs.submit(["true"], name="via-module")
    job.wait(timeout=WAIT)
    assert [j.name for j in mlcore.jobs.list()] == ["via-module"]
    assert [u.project for u in mlcore.quota()] == ["ml"]


def test_exec_in_a_running_job(client, tmp_path):
    # Over grpc:// the command runs on the server's machine (here the same one), through the core.
    job = client.submit_job(["sh", "-c", "echo ready; exec sleep 60"], working_dir=str(tmp_path),
                            env={"STAGE": "train"})
    for line in job.logs(follow=True):
        break  # running and printing
    out = job.exec(["sh", "-c", "echo $STAGE $MLC_JOB_NAME; pwd"])
    assert out.returncode == 0
    assert out.stdout.splitlines() == [f"train {job.name}", str(tmp_path)]
    code, stdout, stderr = job.exec(["sh", "-c", "cat; echo err >&2; exit 4"], input="fed\n")
    assert (code, stdout, stderr) == (4, "fed\n", "err\n")
    raw = job.exec(["head", "-c", "3"], input=b"\x00\x01\x02\x03", text=False)
    assert raw.stdout == b"\x00\x01\x02"
    with pytest.raises(subprocess.CalledProcessError):
        job.exec(["false"], check=True)
    with pytest.raises(subprocess.TimeoutExpired):
        job.exec(["sleep", "60"], timeout=0.5)
    with pytest.raises(mlcore.NotFoundError, match="no-such-program"):
        job.exec(["no-such-program"])
    with pytest.raises(mlcore.InvalidArgumentError):
        job.exec([])
    job.cancel()
    job.wait(timeout=WAIT)
    with pytest.raises(mlcore.FailedPreconditionError, match="not RUNNING"):
        job.exec(["true"])


def test_watch_yields_transitions(client):
    since = datetime.datetime.now(datetime.timezone.utc)
    job = client.submit_job(["true"], name="watched")
    states = []
    with mlcore.jobs.watch(project="ml", since=since, client=client) as transitions:
        for t in transitions:
            assert t.job_id == job.id and t.job.spec.name == "watched"
            states.append(t.event.to_state)
            if t.event.to_state in ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED"):
                break
    assert states == ["JOB_STATE_PENDING", "JOB_STATE_STARTING", "JOB_STATE_RUNNING",
                      "JOB_STATE_SUCCEEDED"]
    # By name, replayed from the start.
    replay = mlcore.jobs.watch(["watched"], since=since, client=client)
    assert next(replay).event.to_state == "JOB_STATE_PENDING"
    replay.close()
    with pytest.raises(mlcore.NotFoundError):
        mlcore.jobs.watch(project="no-such-project", client=client)

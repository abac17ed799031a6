"""Checkpoints from Python on a real local backend: save and restore in a run, restore on another
machine (an empty hot tier) from the artifact store, and a job that checkpoints, fails, is
restarted by its retry policy and resumes from its checkpoint, then a rerun that resumes too."""

from __future__ import annotations

import sys

import pytest

import mlcore
from mlcore import checkpoints as ckpt

WAIT = 120


@pytest.fixture
def client(backend, monkeypatch, tmp_path):
    monkeypatch.setenv("MLC_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0")
    for var in ("MLC_RUN_ID", "MLC_JOB_ID", "MLC_CHECKPOINT_KEY", "MLC_CHECKPOINT_DIR"):
        monkeypatch.delenv(var, raising=False)
    c = mlcore.init(backend, project="ml")
    c.create_project("ml")
    yield c
    ckpt._close_default()
    while mlcore.active_run() is not None:
        mlcore.end_run()
    c.close()


def test_save_restore_in_a_run_and_on_another_machine(client, tmp_path):
    with mlcore.start_run(name="train", system_metrics=False) as run:
        assert mlcore.restore_latest_checkpoint() is None
        (tmp_path / "state.txt").write_text("step 5")
        saved = mlcore.save_checkpoint(tmp_path / "state.txt", 5)
        assert saved.step == 5 and (saved.path / "state.txt").read_text() == "step 5"
        with mlcore.checkpoint(9) as d:
            (d / "state.txt").write_text("step 9")
        with pytest.raises(mlcore.AlreadyExistsError):
            mlcore.save_checkpoint(tmp_path / "state.txt", 5)
        ckpt.flush()
        latest = mlcore.restore_latest_checkpoint()
        assert latest.step == 9 and latest.from_hot_tier and latest.artifact_id
        stored = mlcore.artifacts.list(run=run.id, kind="checkpoint")
        assert sorted(a.path for a in stored) == [
            f"checkpoints/{run.id}/step-000000000005", f"checkpoints/{run.id}/step-000000000009"]
        # Another machine: nothing on its hot tier, the same run.
        with ckpt.Checkpoints(run=run.id, dir=tmp_path / "other-hot") as other:
            restored = other.restore_latest()
            assert restored.step == 9 and not restored.from_hot_tier
            assert (restored.path / "state.txt").read_text() == "step 9"


def test_a_failed_block_publishes_nothing(client, tmp_path):
    with mlcore.start_run(name="train", system_metrics=False) as run:
        c = ckpt.Checkpoints(run=run.id, dir=tmp_path / "hot")
        with pytest.raises(RuntimeError):
            with c.step(3) as d:
                (d / "half.bin").write_bytes(b"x")
                raise RuntimeError("crashed while writing")
        assert c.restore_latest() is None
        c.close()
    with pytest.raises(mlcore.InvalidArgumentError):
        ckpt.Checkpoints(key="../x", run=run.id)


def test_a_restarted_job_and_a_rerun_resume_from_the_checkpoint(client, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        "import os, sys, mlcore\n"
        "latest = mlcore.restore_latest_checkpoint()\n"
        "start = 0 if latest is None else int((latest.path / 'step').read_text()) + 1\n"
        "print('resumed at', start, 'from hot tier' if latest and latest.from_hot_tier else '')\n"
        "for step in range(start, start + 3):\n"
        "    with mlcore.checkpoint(step) as d:\n"
        "        (d / 'step').write_text(str(step))\n"
        "mlcore.checkpoints.flush()\n"
        "sys.exit(1 if os.environ['MLC_ATTEMPT'] == '0' and start == 0 else 0)\n")
    job = client.submit_job([sys.executable, str(script)], name="train", working_dir=str(tmp_path),
                            spec={"retry": {"max_restarts": 1, "initial_backoff": "0.05s"}})
    job.wait(timeout=WAIT)
    lines = [l.text for l in job.logs()]
    assert job.state == "SUCCEEDED", lines
    assert lines[0].startswith("resumed at 0")
    assert lines[1] == "resumed at 3 from hot tier"
    rerun = job.rerun("train-again")
    rerun.wait(timeout=WAIT)
    assert rerun.state == "SUCCEEDED", [l.text for l in rerun.logs()]
    assert [l.text for l in rerun.logs()] == ["resumed at 6 from hot tier"]
    stored = mlcore.artifacts.list(kind="checkpoint")
    assert len(stored) == 9
    assert {a.path.split("/")[1] for a in stored} == {job.id}

"""Running pipelines from Python: mlcore.run_pipeline on a @pipeline of function components whose
steps are real jobs running the component runner, with caching (by code digest too), failure,
resume and cancel."""

from __future__ import annotations

import pathlib
import shutil
import sys
import textwrap
import time

import pytest

import mlcore
from mlcore.errors import InvalidArgumentError, NotFoundError

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import pipeline_components as pc  # noqa: E402


@pytest.fixture
def client(backend, monkeypatch):
    # The steps' jobs import pipeline_components (their environment comes from the driver's,
    # which comes from this process).
    monkeypatch.setenv("PYTHONPATH", str(HERE))
    c = mlcore.Client(backend, project="ml")
    c.create_project("ml")
    yield c
    c.close()


@mlcore.pipeline
def diamond(rows: int = 10, lr: float = 0.1):
    data = pc.prep(rows=rows)
    fast = pc.train(data=data, lr=lr)
    slow = pc.train(data=data.outputs.data, lr=0.01, epochs=5, tags=["slow"])
    best = pc.compare(a=fast.outputs.output, b=slow.outputs.output)
    return {"best": best.outputs.best, "model": fast.outputs.model}


def states(run: mlcore.PipelineRun) -> list[str]:
    return sorted(s["state"] for s in run.steps)


def test_a_python_pipeline_runs_and_is_cached(client, tmp_path):
    run = mlcore.run_pipeline(diamond, {"rows": 10, "lr": 0.1}, client=client, wait=True,
                              timeout=120)
    assert run.state == "SUCCEEDED", (run.message, run.steps)
    assert run.outputs["best"] == pytest.approx(1.0)  # max(10 rows * 0.1, 10 rows * 0.01)
    assert run.outputs["model"].startswith("a")  # an artifact id
    assert states(run) == ["SUCCEEDED"] * 4
    assert mlcore.get_pipeline_run(run.id, client=client).state == "SUCCEEDED"
    assert run.id in [r.id for r in mlcore.list_pipeline_runs(client=client, project="ml")]
    # The parent tracking run holds the inputs as params; each step's run is its child.
    parent = client.get_run(run.run_id)
    assert parent.params["rows"] == "10"
    for s in run.steps:
        assert client.get_run(s["run_id"]).parent_run_id == run.run_id

    again = mlcore.run_pipeline(diamond, {"rows": 10, "lr": 0.1}, client=client, wait=True,
                                timeout=120)
    assert states(again) == ["CACHED"] * 4 and again.outputs == run.outputs
    forced = mlcore.run_pipeline(diamond, {"rows": 10, "lr": 0.1}, client=client, cache=False,
                                 wait=True, timeout=120)
    assert states(forced) == ["SUCCEEDED"] * 4


def test_a_changed_component_misses_the_cache(client, tmp_path, monkeypatch):
    module = tmp_path / "flowmod.py"

    def write(factor: int) -> None:
        module.write_text(textwrap.dedent(f"""\
            import mlcore

            @mlcore.component
            def scale(x: int) -> int:
                return x * {factor}

            @mlcore.pipeline
            def flow(x: int = 2):
                return {{"y": scale(x=x).output}}
            """))
        sys.modules.pop("flowmod", None)
        shutil.rmtree(tmp_path / "__pycache__", ignore_errors=True)  # no stale bytecode

    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}:{HERE}")
    monkeypatch.syspath_prepend(str(tmp_path))
    write(3)
    import flowmod
    first = mlcore.run_pipeline(flowmod.flow, {"x": 2}, client=client, wait=True, timeout=120)
    assert first.state == "SUCCEEDED" and first.outputs == {"y": 6}
    hit = mlcore.run_pipeline(flowmod.flow, {"x": 2}, client=client, wait=True, timeout=120)
    assert states(hit) == ["CACHED"]
    write(10)
    import flowmod as changed  # noqa: F811 - the module again, with the new code
    miss = mlcore.run_pipeline(changed.flow, {"x": 2}, client=client, wait=True, timeout=120)
    assert states(miss) == ["SUCCEEDED"] and miss.outputs == {"y": 20}


@mlcore.pipeline
def failing(x: int = 7):
    pc.fails(x=x)


def test_a_failing_step_is_reported_and_bad_runs_refused(client):
    run = mlcore.run_pipeline(failing, {"x": 7}, client=client, wait=True, timeout=120)
    assert run.state == "FAILED" and run.failed_step == "fails"
    assert "exit code 1" in run.message
    with pytest.raises(InvalidArgumentError, match='has no input "y"'):
        mlcore.run_pipeline(failing, {"y": 1}, client=client)
    with pytest.raises(NotFoundError, match="no pipeline run"):
        mlcore.get_pipeline_run("pmissing", client=client)
    resumed = run.resume()
    assert resumed.state in ("RUNNING", "PENDING")
    assert resumed.wait(timeout=120).state == "FAILED"
    assert resumed.data["resumes"] == 1


def test_cancel_from_python(client, tmp_path):
    spec = {"name": "sleepy", "steps": [{"name": "nap", "job": {"command": ["sleep", "300"]}}]}
    run = mlcore.run_pipeline(spec, client=client)
    deadline = time.monotonic() + 60
    while run.refresh().step("nap")["state"] != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    run.cancel("test", wait=True, timeout=60)
    assert run.state == "CANCELLED" and run.step("nap")["state"] == "CANCELLED"

"""Pipelines from Python: the DSL (components, pipelines, compile), lint through the client, and the
component runner run as a real subprocess the way a step's job runs it."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

import mlcore
from mlcore import pipelines
from conftest import mlc_binary

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import pipeline_components as pc  # noqa: E402


@pytest.fixture
def client(backend):
    c = mlcore.Client(backend, project="ml")
    yield c
    c.close()


@mlcore.pipeline
def diamond(rows: int = 10, lr: float = 0.1):
    """Prep once, train twice, compare."""
    data = pc.prep(rows=rows)
    fast = pc.train(data=data, lr=lr)
    slow = pc.train(data=data.outputs.data, lr=0.01, epochs=5, tags=["slow"])
    best = pc.compare(a=fast.outputs.output, b=slow.outputs.output)
    return {"best": best.outputs.best, "model": fast.outputs.model}


def test_components_declare_typed_inputs_and_outputs():
    ins = {d.name: (d.kind, d.parameter_type, d.optional) for d in pc.train.inputs}
    assert ins == {"data": ("artifact", "", False),
                   "lr": ("parameter", "PARAMETER_TYPE_DOUBLE", False),
                   "epochs": ("parameter", "PARAMETER_TYPE_INT", False),
                   "tags": ("parameter", "PARAMETER_TYPE_LIST", True)}
    assert [(d.name, d.kind) for d in pc.train.outputs] == [
        ("model", "artifact"), ("scores", "metrics"), ("output", "parameter")]
    assert [d.name for d in pc.compare.outputs] == ["best", "note"]
    job = pc.prep.job
    assert job["flavor"] == "cpu-2-8"
    assert job["command"] == [sys.executable]
    assert job["args"] == ["-m", "mlcore._component_runner", "pipeline_components:prep"]
    # Outside a pipeline a component is its plain function.
    assert pc.compare(1.0, 2.0) == pc.Summary(2.0, "verbose=False")


def test_calls_build_the_dag():
    spec = diamond.spec()
    assert spec["name"] == "diamond"
    assert spec["description"] == "Prep once, train twice, compare."
    assert [s["name"] for s in spec["steps"]] == ["prep", "train", "train-2", "compare"]
    assert [i["name"] for i in spec["inputs"]] == ["rows", "lr"]
    assert spec["inputs"][0]["default_value"] == "10"
    edges = {(e.get("source_step", ""), e["source_name"], e.get("target_step", ""), e["target_name"])
             for e in spec["edges"]}
    assert edges == {
        ("", "rows", "prep", "rows"), ("prep", "data", "train", "data"), ("", "lr", "train", "lr"),
        ("prep", "data", "train-2", "data"), ("train", "output", "compare", "a"),
        ("train-2", "output", "compare", "b"), ("compare", "best", "", "best"),
        ("train", "model", "", "model")}
    slow = spec["steps"][2]
    # Constants become the step's input defaults (strings as text, anything else as JSON).
    defaults = {i["name"]: i.get("default_value") for i in slow["inputs"]}
    assert defaults == {"data": None, "lr": "0.01", "epochs": "5", "tags": '["slow"]'}
    assert [o["name"] for o in spec["outputs"]] == ["best", "model"]


def test_compile_writes_yaml_that_mlc_pipeline_lint_accepts(client, tmp_path, monkeypatch):
    path = tmp_path / "diamond.yaml"
    text = mlcore.compile(diamond, path, client=client)
    assert path.read_text() == text
    assert text.startswith("name: diamond\n")
    assert "mlcore._component_runner" in text
    monkeypatch.setenv("MLC_BACKEND", client.backend)
    proc = subprocess.run([mlc_binary(), "pipeline", "lint", str(path)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.endswith("ok (pipeline diamond, 4 steps, 8 edges)\n")
    # JSON too, by the file name.
    json_path = tmp_path / "diamond.json"
    mlcore.compile(diamond, json_path, client=client)
    assert json.loads(json_path.read_text())["name"] == "diamond"
    report = client.lint_pipeline(json_path)
    assert report.ok and report.problems == []
    assert report.resolved_spec["cache"] == "CACHE_POLICY_ENABLED"


def test_fan_out_conditions_dependencies_and_containers(client, tmp_path):
    @mlcore.pipeline(name="fan", cache=False, exit_handler=pc.notify)
    def fan(n: int = 3):
        shards = pc.split(n=n)
        sizes = pc.per_shard(shard=shards).parallel_for("shard", max_parallelism=2)
        best = pc.pick(sizes=sizes).when(f"{shards.output.ref} != null").set_retry(2)
        small = pc.resize(images=pc.prep(rows=n).outputs.data, size=64).after(best)
        return small.outputs.count

    spec = fan.spec()
    steps = {s["name"]: s for s in spec["steps"]}
    assert steps["per-shard"]["parallel_for"] == {"input": "shard", "max_parallelism": 2}
    assert steps["per-shard"]["inputs"][0]["parameter_type"] == "PARAMETER_TYPE_LIST"
    assert steps["pick"]["condition"] == "steps.split.outputs.output != null"
    assert steps["pick"]["retry"] == {"max_restarts": 2}
    assert steps["resize"]["depends_on"] == ["pick"]
    assert steps["resize"]["job"]["image"] == "ghcr.io/acme/resize:1"
    assert steps["resize"]["job"]["command"] == ["resize"]
    assert spec["cache"] == "CACHE_POLICY_DISABLED"
    assert spec["exit_handler"]["name"] == "notify"
    report = fan.lint(client=client)
    assert report.ok, str(report)
    path = tmp_path / "fan.yaml"
    mlcore.compile(fan, path, client=client)
    assert client.lint_pipeline(path).ok


def test_lint_reports_every_problem_and_compile_refuses_errors(client, tmp_path):
    @mlcore.pipeline
    def broken(lr: str = "fast"):
        data = pc.prep()  # rows is required and fed by nothing
        pc.train(data=data, lr=lr)  # a string into a double

    report = broken.lint(client=client)
    assert not report.ok
    assert sorted(p.code for p in report.errors) == ["missing_input", "type_mismatch"]
    assert 'step "prep" needs input "rows"' in str(report)
    with pytest.raises(mlcore.InvalidArgumentError) as e:
        mlcore.compile(broken, tmp_path / "broken.yaml", client=client)
    assert "2 error(s)" in str(e.value) and "type_mismatch" not in str(e.value)
    assert 'edges[1] connects pipeline input "lr" (string)' in str(e.value)
    assert not (tmp_path / "broken.yaml").exists()

    (tmp_path / "cycle.yaml").write_text(
        "name: cycle\nsteps:\n  - {name: a, job: {command: [x]}, depends_on: [b]}\n"
        "  - {name: b, job: {command: [x]}, depends_on: [a]}\n")
    report = client.lint_pipeline(tmp_path / "cycle.yaml")
    assert [(p.code, p.line) for p in report.problems] == [("cycle", 3)]
    assert str(report) == (f"{tmp_path}/cycle.yaml:3:5: error: steps \"a\" and \"b\" form a cycle: "
                           f"a -> b -> a (a pipeline must be acyclic; remove one of these "
                           f"dependencies: b waits for a through depends_on; a waits for b "
                           f"through depends_on)")
    assert client.lint_pipeline(text="name: t\nsteps: []\n").ok
    with pytest.raises(mlcore.NotFoundError):
        client.lint_pipeline(tmp_path / "absent.yaml")


def test_dsl_mistakes_raise_at_once():
    with pytest.raises(TypeError, match="has no input 'model'.*is an output"):
        @mlcore.pipeline
        def p1():
            pc.train(data=pc.prep(rows=1), lr=0.1, model="x")
        p1.spec()
    with pytest.raises(TypeError, match="annotated <class 'set'>"):
        @mlcore.component
        def bad(x: set):
            pass
    with pytest.raises(AttributeError, match="has 3 outputs"):
        @mlcore.pipeline
        def p2():
            pc.compare(a=pc.train(data=pc.prep(rows=1), lr=0.1).output, b=1.0)
        p2.spec()
    with pytest.raises(TypeError, match="not called directly"):
        diamond()


def runner(target: str, inputs: dict[str, str], out_dir: pathlib.Path, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLC_INPUT_")}
    env.update({f"MLC_INPUT_{k.upper()}": v for k, v in inputs.items()})
    env["MLC_OUTPUT_DIR"] = str(out_dir)
    env["PYTHONPATH"] = str(HERE)
    return subprocess.run([sys.executable, "-m", "mlcore._component_runner", target], env=env,
                          cwd=cwd or HERE, capture_output=True, text=True, timeout=120)


def test_runner_passes_inputs_and_collects_outputs(tmp_path):
    prep_out = tmp_path / "prep"
    proc = runner("pipeline_components:prep", {"rows": "3"}, prep_out)
    assert proc.returncode == 0, proc.stderr
    assert (prep_out / "data").read_text() == "row-0\nrow-1\nrow-2\n"

    train_out = tmp_path / "train"
    proc = runner("pipeline_components:train",
                  {"data": str(prep_out / "data"), "lr": "0.5", "tags": '["a", "b"]'}, train_out)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((train_out / "output").read_text()) == 1.5
    assert json.loads((train_out / "scores").read_text()) == {"rows": 3, "lr_x_epochs": 1.0}
    assert json.loads((train_out / "model" / "weights.json").read_text()) == {
        "rows": 3, "lr": 0.5, "tags": ["a", "b"]}

    out = tmp_path / "compare"
    proc = runner("pipeline_components:compare", {"a": "1", "b": "2.5", "verbose": "true"}, out)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "best").read_text()) == 2.5
    assert json.loads((out / "note").read_text()) == "verbose=True"

    out = tmp_path / "split"
    assert runner("pipeline_components:split", {"n": "2"}, out).returncode == 0
    assert json.loads((out / "output").read_text()) == ["shard-0", "shard-1"]


def test_runner_exit_codes_say_what_went_wrong(tmp_path):
    proc = runner("pipeline_components:fails", {"x": "7"}, tmp_path / "a")
    assert proc.returncode == 1
    assert "RuntimeError: boom 7" in proc.stderr
    proc = runner("pipeline_components:forgets", {}, tmp_path / "b")
    assert proc.returncode == 1
    assert "did not write output(s) out" in proc.stderr
    proc = runner("pipeline_components:prep", {}, tmp_path / "c")
    assert proc.returncode == 2
    assert "input 'rows' has no value: set MLC_INPUT_ROWS" in proc.stderr
    proc = runner("pipeline_components:prep", {"rows": "many"}, tmp_path / "d")
    assert proc.returncode == 2
    assert "MLC_INPUT_ROWS='many' is not a valid int" in proc.stderr
    proc = runner("pipeline_components:train", {"data": "/nonexistent", "lr": "1"}, tmp_path / "e")
    assert proc.returncode == 2 and "/nonexistent does not exist" in proc.stderr
    proc = runner("no_such_module:f", {}, tmp_path / "f")
    assert proc.returncode == 2 and "cannot import 'no_such_module'" in proc.stderr
    proc = runner("pipeline_components:nope", {}, tmp_path / "g")
    assert proc.returncode == 2 and "has no 'nope'" in proc.stderr


def test_runner_runs_components_of_a_script_by_path(tmp_path):
    script = tmp_path / "flow.py"
    script.write_text(
        "import mlcore\n"
        "@mlcore.component\n"
        "def double(x: int) -> int:\n"
        "    return 2 * x\n"
        "@mlcore.pipeline\n"
        "def flow(x: int = 1):\n"
        "    return double(x=double(x=x))\n"
        "if __name__ == '__main__':\n"
        "    mlcore.compile(flow, 'flow.yaml', check=False)\n")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "flow.yaml").read_text()
    assert f"{script}:double" in text
    proc = runner(f"{script}:double", {"x": "21"}, tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "output").read_text() == "42"

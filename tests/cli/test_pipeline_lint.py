"""Black-box tests of `mlc pipeline lint`: the built binary as a subprocess, on local:// and over a
real `mlc server`."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import mlc_binary
from test_cli_server import MlcServer

MLC = mlc_binary()
pytestmark = pytest.mark.skipif(not os.path.exists(MLC), reason=f"mlc not built at {MLC}")

EXIT_USAGE, EXIT_NOT_FOUND = 2, 3

DIAMOND = """\
name: diamond
steps:
  - name: prep
    job: {command: [python, prep.py], flavor: cpu-2-8}
    outputs: [{name: data, type: artifact}]
  - name: left
    job: {command: [python, left.py]}
    inputs: [{name: data, type: artifact}]
    outputs: [{name: score, type: parameter, parameter_type: double}]
  - name: right
    job: {command: [python, right.py]}
    inputs: [{name: data, type: artifact}]
    outputs: [{name: score, type: parameter, parameter_type: int}]
  - name: join
    job: {command: [python, join.py, "{{inputs.a}}", "{{inputs.b}}"]}
    condition: steps.left.outputs.score > 0.5
    inputs:
      - {name: a, type: parameter, parameter_type: double}
      - {name: b, type: parameter, parameter_type: double}
edges:
  - {source_step: prep, source_name: data, target_step: left, target_name: data}
  - {source_step: prep, source_name: data, target_step: right, target_name: data}
  - {source_step: left, source_name: score, target_step: join, target_name: a}
  - {source_step: right, source_name: score, target_step: join, target_name: b}
"""

BROKEN = """\
name: broken
steps:
  - name: prep
    job: {command: [python, prep.py], flavor: gpu-huge}
    depends_on: [train]
    outputs: [{name: data, type: artifact}]
  - name: train
    job: {command: [python, train.py]}
    condition: steps.prep.outputs.data > 1 and
    inputs:
      - {name: data, type: artifact}
      - {name: epochs, type: parameter, parameter_type: int}
      - {name: shards, type: parameter, parameter_type: list}
edges:
  - {source_step: prep, source_name: data, target_step: train, target_name: data}
  - {source_step: prep, source_name: data, target_step: train, target_name: shards}
"""


def run(*args: str, check: int | None = 0, input: str | None = None):
    proc = subprocess.run([MLC, *args], capture_output=True, text=True, timeout=120, input=input,
                          stdin=None if input is not None else subprocess.DEVNULL)
    if check is not None:
        assert proc.returncode == check, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture
def env(isolated, monkeypatch):
    monkeypatch.setenv("MLC_BACKEND", f"local://{isolated}/state")
    monkeypatch.chdir(isolated)
    return isolated


def test_a_valid_pipeline_is_ok(env):
    (env / "diamond.yaml").write_text(DIAMOND)
    proc = run("pipeline", "lint", "diamond.yaml")
    assert proc.stdout == "diamond.yaml: ok (pipeline diamond, 4 steps, 4 edges)\n"
    assert proc.stderr == ""


def test_every_problem_is_reported_at_once_with_its_step_and_position(env):
    (env / "broken.yaml").write_text(BROKEN)
    proc = run("pipeline", "lint", "broken.yaml", check=EXIT_USAGE)
    lines = proc.stdout.splitlines()
    # In file order, one line per problem, each FILE:LINE:COLUMN: error: ... naming the step.
    assert [line.split(": error: ")[0].split(":")[1] for line in lines] == \
        ["3", "4", "9", "12", "16"], proc.stdout
    assert lines[0].startswith("broken.yaml:3:5: error: steps \"prep\" and \"train\" form a cycle: "
                               "prep -> train -> prep")
    assert 'step "prep": unknown flavor "gpu-huge"' in lines[1] and "cpu-2-8" in lines[1]
    assert 'step "train": condition "steps.prep.outputs.data > 1 and"' in lines[2]
    assert "expected a value" in lines[2]
    assert 'step "train" needs input "epochs" (an int parameter)' in lines[3]
    assert "default" in lines[3] and "optional: true" in lines[3]
    assert ('edges[1] connects output "data" of step "prep" (an artifact) to input "shards" of '
            'step "train" (a list parameter)') in lines[4]
    assert "broken.yaml: 5 errors in the pipeline" in proc.stderr
    assert "[INVALID_ARGUMENT]" in proc.stderr


def test_warnings_alone_pass(env):
    (env / "warn.yaml").write_text(
        "name: warn\ninputs: [{name: unused, type: parameter}]\n"
        "steps: [{name: a, job: {command: [\"true\"], project: other}}]\n")
    proc = run("pipeline", "lint", "warn.yaml")
    assert "warn.yaml:2:10: warning: pipeline input \"unused\" is not used" in proc.stdout
    assert "warning: step \"a\": job.project is ignored" in proc.stdout
    assert proc.stdout.endswith("warn.yaml: ok (pipeline warn, 1 step, 0 edges)\n")


def test_json_output_stdin_and_missing_files(env):
    proc = run("-o", "json", "pipeline", "lint", "-", input=DIAMOND.replace("cpu-2-8", "cpu-9"),
               check=EXIT_USAGE)
    response = json.loads(proc.stdout)
    assert [p["code"] for p in response["problems"]] == ["unknown_flavor"]
    assert response["problems"][0]["file"] == "<stdin>"
    assert response["problems"][0]["fieldPath"] == "steps.prep.job.flavor"
    assert response["problems"][0]["line"] == 4
    assert "resolvedSpec" not in response

    ok = json.loads(run("-o", "json", "pipeline", "lint", "-", input=DIAMOND).stdout)
    assert ok["resolvedSpec"]["cache"] == "CACHE_POLICY_ENABLED"
    assert [s["name"] for s in ok["resolvedSpec"]["steps"]] == ["prep", "left", "right", "join"]

    proc = run("pipeline", "lint", "absent.yaml", check=EXIT_NOT_FOUND)
    assert "cannot read pipeline file absent.yaml" in proc.stderr
    assert run("pipeline", "lint", check=EXIT_USAGE).stderr.startswith("mlc: error:")


def test_lint_over_a_real_server(isolated, monkeypatch):
    monkeypatch.chdir(isolated)
    server = MlcServer(isolated / "server-state")
    try:
        monkeypatch.setenv("MLC_BACKEND", server.uri)
        (isolated / "diamond.yaml").write_text(DIAMOND)
        assert run("pipeline", "lint", "diamond.yaml").stdout.startswith("diamond.yaml: ok")
        (isolated / "broken.yaml").write_text(BROKEN)
        proc = run("pipeline", "lint", "broken.yaml", check=EXIT_USAGE)
        # The flavors listed are the server's catalog.
        assert "unknown flavor \"gpu-huge\"" in proc.stdout and "cpu-2-8" in proc.stdout
        # The rpc itself, by name, as any API client calls it.
        answer = json.loads(run("-o", "json", "api", "call", "PipelineService/LintPipeline",
                                json.dumps({"text": BROKEN, "file": "b.yaml"})).stdout)
        assert len(answer["problems"]) == 5
        assert {p["file"] for p in answer["problems"]} == {"b.yaml"}
    finally:
        assert server.stop() == 0, server.proc.stderr.read()

"""Black-box tests of `mlc pipeline run|ls|get|logs|cancel|resume`: real pipelines whose steps
are real jobs of the local backend (and of a real `mlc server`), passing parameters, artifacts
and metrics."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from conftest import mlc_binary
from test_cli_server import MlcServer

MLC = mlc_binary()
pytestmark = pytest.mark.skipif(not os.path.exists(MLC), reason=f"mlc not built at {MLC}")

EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_CANCELLED = 1, 2, 3, 4, 8

# a doubles n and writes a data directory; b reads it; c reports metrics; d (only when c's auc is
# high enough) adds b's and c's numbers: the pipeline's output.
DIAMOND = """\
name: diamond
inputs:
  - {name: n, type: parameter, parameter_type: int, default_value: "3"}
outputs:
  - {name: total, type: parameter, parameter_type: int}
steps:
  - name: a
    job: {command: [sh, -c, 'echo a ran; echo $((MLC_INPUT_N * 2)) > $MLC_OUTPUT_DIR/x; mkdir $MLC_OUTPUT_DIR/data; echo hello > $MLC_OUTPUT_DIR/data/f.txt']}
    inputs: [{name: n, type: parameter, parameter_type: int}]
    outputs: [{name: x, type: parameter, parameter_type: int}, {name: data, type: artifact}]
  - name: b
    job: {command: [sh, -c, 'echo "b read $(cat $MLC_INPUT_DATA/f.txt)"; echo $((MLC_INPUT_X + 1)) > $MLC_OUTPUT_DIR/y']}
    inputs: [{name: x, type: parameter, parameter_type: int}, {name: data, type: artifact}]
    outputs: [{name: y, type: parameter, parameter_type: int}]
  - name: c
    job: {command: [sh, -c, 'echo "{\\"auc\\": $AUC}" > $MLC_OUTPUT_DIR/m; echo $((MLC_INPUT_X + 2)) > $MLC_OUTPUT_DIR/z', ], env: {AUC: "0.93"}}
    inputs: [{name: x, type: parameter, parameter_type: int}]
    outputs: [{name: z, type: parameter, parameter_type: int}, {name: m, type: metrics}]
  - name: d
    job: {command: [sh, -c, 'echo $(({{inputs.y}} + MLC_INPUT_Z)) > $MLC_OUTPUT_DIR/total']}
    condition: steps.c.outputs.m.auc > 0.9
    inputs: [{name: y, type: parameter, parameter_type: int}, {name: z, type: parameter, parameter_type: int}]
    outputs: [{name: total, type: parameter, parameter_type: int}]
edges:
  - {source_name: n, target_step: a, target_name: n}
  - {source_step: a, source_name: x, target_step: b, target_name: x}
  - {source_step: a, source_name: data, target_step: b, target_name: data}
  - {source_step: a, source_name: x, target_step: c, target_name: x}
  - {source_step: b, source_name: y, target_step: d, target_name: y}
  - {source_step: c, source_name: z, target_step: d, target_name: z}
  - {source_step: d, source_name: total, target_name: total}
"""


def run(*args: str, check: int | None = 0, timeout: float = 120):
    proc = subprocess.run([MLC, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if check is not None:
        assert proc.returncode == check, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def get(run_id: str) -> dict:
    return json.loads(run("-o", "json", "pipeline", "get", run_id).stdout)


def steps(pipeline_run: dict) -> dict[str, str]:
    out = {}
    for s in pipeline_run["steps"]:
        name = s["step"] + (f"[{s['iteration']}]" if "iteration" in s else "")
        out[name] = s["state"].removeprefix("STEP_STATE_")
    return out


def outputs(pipeline_run: dict) -> dict[str, str]:
    return {o["name"]: o.get("parameterJson") for o in pipeline_run.get("outputs", [])}


def start(path: str, *args: str) -> str:
    return json.loads(run("-o", "json", "pipeline", "run", path, *args).stdout)["id"]


def wait(run_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = get(run_id)
        if r["state"] in ("PIPELINE_RUN_STATE_SUCCEEDED", "PIPELINE_RUN_STATE_FAILED",
                          "PIPELINE_RUN_STATE_CANCELLED"):
            return r
        assert time.monotonic() < deadline, f"pipeline run {run_id} still {r['state']}: {steps(r)}"
        time.sleep(0.05)


@pytest.fixture
def env(isolated, monkeypatch):
    monkeypatch.setenv("MLC_BACKEND", f"local://{isolated}/state")
    monkeypatch.setenv("MLC_PROJECT", "demo")
    monkeypatch.chdir(isolated)
    run("project", "create", "demo")
    (isolated / "diamond.yaml").write_text(DIAMOND)
    return isolated


def test_a_diamond_passes_parameters_artifacts_and_metrics(env):
    proc = run("pipeline", "run", "diamond.yaml", "-i", "n=5", "--wait")
    # Each step's transitions as they happen, then the DAG as a table and the output.
    assert "a SUCCEEDED" in proc.stderr and "d SUCCEEDED" in proc.stderr  # RUNNING may be too brief to see
    assert "diamond  SUCCEEDED" in proc.stdout
    assert "output total: 23" in proc.stdout  # (10 + 1) + (10 + 2)
    run_id = proc.stderr.split()[2]
    r = get(run_id)
    assert steps(r) == {"a": "SUCCEEDED", "b": "SUCCEEDED", "c": "SUCCEEDED", "d": "SUCCEEDED"}
    assert outputs(r) == {"total": "23"}
    by = {s["step"]: s for s in r["steps"]}
    # The artifact went through the store, by digest; the metrics were parsed.
    data = [o for o in by["a"]["outputs"] if o["name"] == "data"][0]
    assert data["artifactId"] and len(data["manifestDigest"]) == 64
    assert [i for i in by["b"]["inputs"] if i["name"] == "data"][0]["manifestDigest"] == \
        data["manifestDigest"]
    assert [o for o in by["c"]["outputs"] if o["name"] == "m"][0]["metrics"] == {"auc": 0.93}
    # One parent tracking run; each step's job run is its child, with the step's metrics.
    parent = r["runId"]
    for s in r["steps"]:
        child = json.loads(run("-o", "json", "run", "get", s["runId"]).stdout)
        assert child["parentRunId"] == parent
    assert json.loads(run("-o", "json", "run", "get", parent).stdout)["status"] == "RUN_STATUS_FINISHED"
    logs = run("pipeline", "logs", run_id).stdout
    assert "[a] a ran" in logs and "[b] b read hello" in logs
    assert run("pipeline", "logs", run_id, "--step", "b").stdout.strip() == "[b] b read hello"
    listed = run("pipeline", "ls").stdout
    assert run_id in listed and "SUCCEEDED" in listed and "4/4" in listed
    run("pipeline", "get", run_id, "--plot", "dag.dot")
    dot = (env / "dag.dot").read_text()
    assert '"a" -> "b"' in dot and '"c" -> "d"' in dot and "SUCCEEDED" in dot
    # A picture through Graphviz (installed by scripts/setup.sh).
    run("pipeline", "get", run_id, "--plot", "dag.png")
    assert (env / "dag.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "must end in .png, .svg, .pdf or .dot" in run(
        "pipeline", "get", run_id, "--plot", "dag.jpg", check=EXIT_USAGE).stderr


def test_a_false_condition_skips_the_step(env):
    (env / "low.yaml").write_text(DIAMOND.replace('AUC: "0.93"', 'AUC: "0.5"'))
    r = wait(start("low.yaml"))
    assert r["state"] == "PIPELINE_RUN_STATE_SUCCEEDED"
    assert steps(r)["d"] == "SKIPPED"
    assert [s for s in r["steps"] if s["step"] == "d"][0]["message"] == \
        "condition false: steps.c.outputs.m.auc > 0.9"


def test_identical_steps_are_cached_unless_switched_off(env):
    first = wait(start("diamond.yaml", "-i", "n=4"))
    assert set(steps(first).values()) == {"SUCCEEDED"}
    again = wait(start("diamond.yaml", "-i", "n=4"))
    assert set(steps(again).values()) == {"CACHED"}
    assert outputs(again) == outputs(first) == {"total": "19"}
    by_first = {s["step"]: s["jobId"] for s in first["steps"]}
    assert {s["step"]: s["cachedFromJobId"] for s in again["steps"]} == by_first
    # A different input misses for a and everything downstream of it.
    other = wait(start("diamond.yaml", "-i", "n=7"))
    assert set(steps(other).values()) == {"SUCCEEDED"} and outputs(other) == {"total": "31"}
    # --no-cache forces every step to run (and still records the results).
    forced = wait(start("diamond.yaml", "-i", "n=4", "--no-cache"))
    assert set(steps(forced).values()) == {"SUCCEEDED"} and forced["cacheDisabled"]
    # Per step: c never reuses outputs; the others do.
    (env / "nocache.yaml").write_text(DIAMOND.replace(
        "  - name: c\n", "  - name: c\n    cache: disabled\n"))
    mixed = wait(start("nocache.yaml", "-i", "n=4"))
    assert steps(mixed) == {"a": "CACHED", "b": "CACHED", "c": "SUCCEEDED", "d": "CACHED"}
    # Globally, through the environment of the driver.
    os.environ["MLC_PIPELINE_CACHE"] = "0"
    try:
        off = wait(start("diamond.yaml", "-i", "n=4"))
    finally:
        del os.environ["MLC_PIPELINE_CACHE"]
    assert set(steps(off).values()) == {"SUCCEEDED"}


FLAKY = """\
name: flaky
steps:
  - name: prep
    job: {command: [sh, -c, 'echo 2 > $MLC_OUTPUT_DIR/n']}
    outputs: [{name: n, type: parameter, parameter_type: int}]
  - name: train
    job: {command: [sh, -c, 'test -f GATE || { echo "no gate file" >&2; exit 3; }; echo $((MLC_INPUT_N * 10)) > $MLC_OUTPUT_DIR/score'], working_dir: WORKDIR}
    inputs: [{name: n, type: parameter, parameter_type: int}]
    outputs: [{name: score, type: parameter, parameter_type: int}]
  - name: report
    job: {command: [sh, -c, 'echo report {{inputs.score}}']}
    inputs: [{name: score, type: parameter, parameter_type: int}]
  - name: side
    job: {command: [sh, -c, 'echo independent']}
    depends_on: [prep]
edges:
  - {source_step: prep, source_name: n, target_step: train, target_name: n}
  - {source_step: train, source_name: score, target_step: report, target_name: score}
exit_handler:
  name: notify
  job: {command: [sh, -c, 'echo "state=$MLC_PIPELINE_STATE failed=$MLC_FAILED_STEP"']}
"""


def test_a_failure_stops_dependants_and_resume_reruns_from_the_failed_step(env):
    (env / "flaky.yaml").write_text(FLAKY.replace("WORKDIR", str(env)))
    proc = run("pipeline", "run", "flaky.yaml", "--wait", check=EXIT_ERROR)
    run_id = proc.stderr.split()[2]
    r = get(run_id)
    assert r["state"] == "PIPELINE_RUN_STATE_FAILED" and r["failedStep"] == "train"
    assert steps(r) == {"prep": "SUCCEEDED", "train": "FAILED", "report": "UPSTREAM_FAILED",
                        "side": "SUCCEEDED", "exit_handler": "SUCCEEDED"}
    train = [s for s in r["steps"] if s["step"] == "train"][0]
    assert "FAILED: exit code 3" in train["message"] and train["jobId"] in train["message"]
    assert "step train failed" in r["message"]
    assert "[exit_handler] state=FAILED failed=train" in run("pipeline", "logs", run_id).stdout
    prep_job = [s for s in r["steps"] if s["step"] == "prep"][0]["jobId"]
    assert json.loads(run("-o", "json", "run", "get", r["runId"]).stdout)["status"] == \
        "RUN_STATUS_FAILED"

    # Only FAILED/CANCELLED runs resume; fix the cause, then resume.
    (env / "GATE").write_text("")
    proc = run("pipeline", "resume", run_id, "--wait")
    r = get(run_id)
    assert r["state"] == "PIPELINE_RUN_STATE_SUCCEEDED" and r["resumes"] == 1
    assert steps(r) == {"prep": "SUCCEEDED", "train": "SUCCEEDED", "report": "SUCCEEDED",
                        "side": "SUCCEEDED", "exit_handler": "SUCCEEDED"}
    # prep kept its job; train ran again as a new job.
    assert [s for s in r["steps"] if s["step"] == "prep"][0]["jobId"] == prep_job
    assert "[report] report 20" in run("pipeline", "logs", run_id).stdout
    proc = run("pipeline", "resume", run_id, check=EXIT_CONFLICT)
    assert "only FAILED or CANCELLED runs can be resumed" in proc.stderr


SLOW_TALKER = """\
name: talker
steps:
  - name: a
    job: {command: [sh, -c, 'for i in 1 2 3; do echo a$i; sleep 0.2; done']}
  - name: b
    job: {command: [sh, -c, 'echo b done; exit $B_EXIT'], env: {B_EXIT: "EXIT"}}
    depends_on: [a]
"""


@pytest.mark.parametrize("exit_code", [0, 3])
def test_logs_follow_prints_every_line_once_until_the_run_ends(env, exit_code):
    (env / "talker.yaml").write_text(SLOW_TALKER.replace('"EXIT"', f'"{exit_code}"'))
    run_id = start("talker.yaml")
    proc = run("pipeline", "logs", run_id, "--follow", check=0 if exit_code == 0 else EXIT_ERROR)
    # Started while a was still talking: each line once, in order, then the exit code of the run.
    assert proc.stdout.splitlines() == ["[a] a1", "[a] a2", "[a] a3", "[b] b done"]
    if exit_code:
        assert f"pipeline run {run_id} ended FAILED" in proc.stderr and "step b failed" in proc.stderr
    assert get(run_id)["state"] == ("PIPELINE_RUN_STATE_SUCCEEDED" if exit_code == 0
                                    else "PIPELINE_RUN_STATE_FAILED")


FAN = """\
name: fan
inputs:
  - {name: shards, type: parameter, parameter_type: list}
steps:
  - name: work
    job: {command: [sh, -c, 'echo $((MLC_INPUT_SHARD * MLC_INPUT_SHARD)) > $MLC_OUTPUT_DIR/sq; mkdir $MLC_OUTPUT_DIR/part; echo $MLC_INPUT_SHARD > $MLC_OUTPUT_DIR/part/v']}
    parallel_for: {input: shard, max_parallelism: 2}
    inputs: [{name: shard, type: parameter, parameter_type: list}]
    outputs: [{name: sq, type: parameter, parameter_type: int}, {name: part, type: artifact}]
  - name: join
    job: {command: [sh, -c, 'echo "squares={{inputs.sqs}} parts=$(cat $MLC_INPUT_PARTS/*/v | tr "\\n" ,)"']}
    inputs: [{name: sqs, type: parameter, parameter_type: list}, {name: parts, type: artifact}]
edges:
  - {source_name: shards, target_step: work, target_name: shard}
  - {source_step: work, source_name: sq, target_step: join, target_name: sqs}
  - {source_step: work, source_name: part, target_step: join, target_name: parts}
"""


def test_a_fan_out_runs_one_job_per_element_and_fans_in_lists(env):
    (env / "fan.yaml").write_text(FAN)
    run_id = start("fan.yaml", "-i", "shards=[1,2,3,4,5]")
    r = wait(run_id)
    assert r["state"] == "PIPELINE_RUN_STATE_SUCCEEDED", steps(r)
    assert steps(r) == {**{f"work[{i}]": "SUCCEEDED" for i in range(5)}, "join": "SUCCEEDED"}
    assert "[join] squares=[1,4,9,16,25] parts=1,2,3,4,5," in run("pipeline", "logs", run_id).stdout
    # max_parallelism 2: never more than two iterations running at once.
    spans = sorted((s["startTime"], s["endTime"]) for s in r["steps"] if s["step"] == "work")
    for start_time, _ in spans:
        assert sum(1 for a, b in spans if a <= start_time < b) <= 2
    # An empty list runs nothing and feeds empty lists on.
    empty = wait(start("fan.yaml", "-i", "shards=[]"))
    assert steps(empty)["work"] == "SUCCEEDED" and steps(empty)["join"] == "SUCCEEDED"


def test_cancel_stops_running_jobs_and_runs_the_exit_handler(env):
    (env / "slow.yaml").write_text("""\
name: slow
steps:
  - name: long
    job: {command: [sleep, "300"]}
  - name: after
    job: {command: ["true"]}
    depends_on: [long]
exit_handler:
  name: cleanup
  job: {command: [sh, -c, 'echo cleanup saw $MLC_PIPELINE_STATE']}
""")
    run_id = start("slow.yaml")
    deadline = time.monotonic() + 30
    while steps(get(run_id))["long"] != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc = run("pipeline", "cancel", run_id, "--reason", "changed my mind", "--wait")
    assert f"pipeline run {run_id} CANCELLED" in proc.stdout
    r = get(run_id)
    assert steps(r) == {"long": "CANCELLED", "after": "CANCELLED", "exit_handler": "SUCCEEDED"}
    assert r["message"] == "cancelled: changed my mind"
    job = [s for s in r["steps"] if s["step"] == "long"][0]["jobId"]
    assert json.loads(run("-o", "json", "job", "get", job).stdout)["state"] == "JOB_STATE_CANCELLED"
    assert "[exit_handler] cleanup saw CANCELLED" in run("pipeline", "logs", run_id).stdout
    # A cancelled run can be resumed; cancelling an ended run changes nothing.
    assert run("pipeline", "cancel", run_id).stdout.strip().endswith("CANCELLED")


def test_bad_runs_are_refused_with_what_to_do(env):
    proc = run("pipeline", "run", "diamond.yaml", "-i", "rows=3", check=EXIT_USAGE)
    assert 'has no input "rows"; its inputs: n' in proc.stderr
    proc = run("pipeline", "run", "diamond.yaml", "-i", "n=many", check=EXIT_USAGE)
    assert "input n" in proc.stderr and "INT" in proc.stderr
    proc = run("pipeline", "run", "diamond.yaml", "-i", "novalue", check=EXIT_USAGE)
    assert "expected NAME=VALUE" in proc.stderr
    (env / "bad.yaml").write_text(DIAMOND.replace("source_step: c, source_name: z", "source_step: c, source_name: zz"))
    proc = run("pipeline", "run", "bad.yaml", check=EXIT_USAGE)
    assert "bad.yaml:" in proc.stderr and "zz" in proc.stderr
    assert run("pipeline", "run", "absent.yaml", check=EXIT_NOT_FOUND).stderr.startswith("mlc: error:")
    assert "no pipeline run pnope" in run("pipeline", "get", "pnope", check=EXIT_NOT_FOUND).stderr
    proc = run("--project", "ghost", "pipeline", "run", "diamond.yaml", check=EXIT_NOT_FOUND)
    assert 'project "ghost" does not exist' in proc.stderr
    assert run("pipeline", "ls", "--state", "weird", check=EXIT_USAGE).stderr


def test_pipelines_over_a_real_server(isolated, monkeypatch):
    monkeypatch.chdir(isolated)
    server = MlcServer(isolated / "server-state")
    try:
        monkeypatch.setenv("MLC_BACKEND", server.uri)
        monkeypatch.setenv("MLC_PROJECT", "demo")
        run("project", "create", "demo")
        (isolated / "diamond.yaml").write_text(DIAMOND)
        proc = run("pipeline", "run", "diamond.yaml", "-i", "n=1", "--wait")
        assert "output total: 7" in proc.stdout
        run_id = proc.stderr.split()[2]
        assert run_id in run("pipeline", "ls").stdout
        assert "[b] b read hello" in run("pipeline", "logs", run_id).stdout
        again = wait(start("diamond.yaml", "-i", "n=1"))
        assert set(steps(again).values()) == {"CACHED"}
    finally:
        server.stop()

"""Black-box tests of `mlc job ...`, `mlc quota`, `mlc flavor ls`: the built binary as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from conftest import mlc_binary

MLC = mlc_binary()
pytestmark = pytest.mark.skipif(not os.path.exists(MLC), reason=f"mlc not built at {MLC}")


@pytest.fixture
def env(isolated, monkeypatch):
    monkeypatch.setenv("MLC_BACKEND", f"local://{isolated}/state")
    monkeypatch.setenv("MLC_PROJECT", "ml")
    monkeypatch.setenv("MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0")
    monkeypatch.chdir(isolated)
    run("project", "create", "ml", "--limit", "cpu=4")
    return isolated


def run(*args: str, check: int | None = 0, timeout: float = 120):
    proc = subprocess.run([MLC, *args], capture_output=True, text=True, timeout=timeout)
    if check is not None:
        assert proc.returncode == check, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def job_json(name: str) -> dict:
    return json.loads(run("job", "get", name, "-o", "json").stdout)


def test_submit_follow_propagates_the_exit_code(env):
    proc = run("job", "submit", "-n", "ok", "--follow", "--", "sh", "-c", "echo out; echo err >&2", check=0)
    assert proc.stdout.splitlines()[1:] == ["out"]
    assert "err" in proc.stderr and "job ok SUCCEEDED" in proc.stderr
    proc = run("job", "submit", "-n", "bad", "-F", "--", "sh", "-c", "exit 42", check=42)
    assert "exited with code 42" in proc.stderr
    assert job_json("bad")["exitCode"] == 42


def test_lint_reports_every_problem_with_positions(env):
    (env / "job.yaml").write_text(
        "comand: [python, train.py]\nflavor: gpu-huge\nretry:\n  max_restart: 2\n")
    proc = run("job", "lint", "job.yaml", check=2)
    out = proc.stdout
    assert 'job.yaml:1:1: error: unknown field "comand"' in out and 'did you mean "command"' in out
    assert "job.yaml:2:" in out and "cpu-2-8" in out  # the known flavors are listed
    assert "job.yaml:4:3" in out and "max_restarts" in out
    (env / "good.yaml").write_text("command: [python3, -c, 'print(1)']\nflavor: cpu-2-8\n")
    assert run("job", "lint", "good.yaml").stdout.strip() == "good.yaml: ok"
    assert "command: ok" in run("job", "lint", "--", "true").stdout
    proc = run("job", "submit", "-f", "job.yaml", check=2)
    assert "comand" in proc.stderr  # submit refuses a spec with errors, listing them


def test_ls_get_logs_filters(env):
    run("job", "submit", "-n", "counter", "-l", "team=a", "-F", "--", "sh", "-c",
        "for i in 1 2 3 4 5; do echo n=$i; done")
    run("job", "submit", "-n", "other", "-F", "--", "true")
    table = run("job", "ls").stdout.splitlines()
    assert table[0].split()[:4] == ["NAME", "STATE", "RESOURCES", "QOS"]
    assert table[1].split()[:2] == ["other", "SUCCEEDED"]
    assert table[2].split()[:2] == ["counter", "SUCCEEDED"]
    listed = json.loads(run("job", "ls", "-l", "team=a", "-o", "json").stdout)
    assert [j["spec"]["name"] for j in listed["jobs"]] == ["counter"]
    assert run("job", "ls", "--state", "failed").stderr.startswith("No jobs")
    assert "unknown state" in run("job", "ls", "--state", "weird", check=2).stderr
    assert run("job", "logs", "counter", "--tail", "2").stdout == "n=4\nn=5\n"
    assert run("job", "logs", "counter", "--grep", "n=[13]").stdout == "n=1\nn=3\n"
    stamped = run("job", "logs", "counter", "-t", "--tail", "1").stdout
    assert stamped.startswith("20") and stamped.rstrip().endswith("n=5")
    assert "[mlcore] started sh" in run("job", "logs", "counter", "--system").stderr
    described = run("job", "get", "counter").stdout
    assert "state:         SUCCEEDED (exit code 0)" in described
    assert "events:" in described and "RUNNING" in described
    assert "does not exist" in run("job", "get", "nope", check=3).stderr


def test_queueing_cancel_wait_and_quota(env):
    run("job", "submit", "-n", "big", "--resources", "cpu=3", "--", "sleep", "60")
    proc = run("job", "submit", "-n", "queued", "--resources", "cpu=2", "--", "true")
    assert "PENDING" in proc.stdout
    # A burst of submits is scheduled in batches; any read runs a pass and shows the reason.
    assert "waiting:" in job_json("queued")["waitingReason"]
    quota = run("quota").stdout.splitlines()
    assert quota[0].split() == ["PROJECT", "CPU", "MEMORY", "GPU", "GUARANTEED", "RUNNING", "PENDING"]
    assert quota[1].split()[:2] == ["ml", "3/4"] and quota[1].split()[-2:] == ["1", "1"]
    run("job", "cancel", "big", "--reason", "make room")
    assert "SUCCEEDED" in run("job", "wait", "queued", "--timeout", "60s").stdout
    big = job_json("big")
    assert big["state"] == "JOB_STATE_CANCELLED"
    assert any(e.get("reason") == "make room" or "cancel" in e.get("reason", "") for e in big["events"])
    assert "already ended" in run("job", "cancel", "big", check=4).stderr
    run("job", "submit", "-n", "sleepy", "--", "sleep", "60")
    assert "still" in run("job", "wait", "sleepy", "--timeout", "0.2s", check=7).stderr
    run("job", "cancel", "sleepy")


def test_rejections(env):
    assert "could never start" in run("job", "submit", "--resources", "cpu=64", "--", "true", check=6).stderr
    assert "known flavors" in run("job", "submit", "--flavor", "gpu-huge", "--", "true", check=2).stderr
    assert "nothing to run" in run("job", "submit", check=2).stderr
    assert "does not exist" in run("-p", "ghost", "job", "submit", "--", "true", check=3).stderr


def test_rerun_preempt_download(env):
    (env / "work").mkdir()
    (env / "work" / "script.sh").write_text("mkdir -p out; echo result > out/file.txt; echo made\n")
    run("job", "submit", "-n", "maker", "-w", str(env / "work"), "--output", "out/file.txt",
        "-F", "--", "sh", "script.sh")
    run("job", "download", "artifacts", "maker", "-d", str(env / "dl"))
    assert (env / "dl" / "out" / "file.txt").read_text() == "result\n"
    run("job", "download", "logs", "maker", "-d", str(env / "dl"))
    assert "made" in (env / "dl" / "maker.log").read_text()
    run("job", "download", "presets", "maker", "-d", str(env / "dl"))
    preset = (env / "dl" / "maker.yaml").read_text()
    assert "name: maker" in preset and "script.sh" in preset
    assert run("job", "lint", str(env / "dl" / "maker.yaml")).returncode == 0
    run("job", "download", "attachments", "maker", "-d", str(env / "dl" / "att"))
    assert (env / "dl" / "att" / "spec.yaml").exists()

    proc = run("job", "rerun", "maker", "-n", "maker-again", "-F")
    assert "made" in proc.stdout
    assert job_json("maker-again")["rerunOf"] == job_json("maker")["id"]

    run("job", "submit", "-n", "victim", "--preemptible", "--retries", "1", "--",
        "sh", "-c", "echo attempt; exec sleep 60")
    deadline = time.time() + 60
    while job_json("victim")["state"] != "JOB_STATE_RUNNING" and time.time() < deadline:
        time.sleep(0.05)
    run("job", "preempt", "victim")
    while job_json("victim").get("restarts", 0) < 1 and time.time() < deadline:
        time.sleep(0.05)
    assert job_json("victim")["restarts"] == 1
    run("job", "cancel", "victim")
    assert "already ended" in run("job", "preempt", "maker", check=4).stderr
    run("job", "submit", "-n", "steady", "--", "sleep", "60")
    assert "not preemptible" in run("job", "preempt", "steady", check=4).stderr
    run("job", "cancel", "steady")


def test_flavors_nodes_and_test_queue(env):
    flavors = run("flavor", "ls").stdout
    assert "cpu-2-8" in flavors and "default" in flavors and "test" in flavors
    nodes = json.loads(run("node", "ls", "-o", "json").stdout)
    assert nodes["nodes"][0]["capacity"]["cpuMillis"] == "4000"
    proc = run("job", "test", "--", "sh", "-c", "echo smoke")
    assert "smoke" in proc.stdout
    tested = json.loads(run("job", "ls", "-o", "json").stdout)["jobs"][0]
    assert tested["spec"]["testQueue"] is True and "deadline" in tested["spec"]


def _instrumented(binary: str) -> bool:
    """True for a sanitizer build, which cannot run under faketime's LD_PRELOAD."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    return "libasan" in out or "libubsan" in out


@pytest.mark.skipif(shutil.which("faketime") is None, reason="faketime not installed (scripts/setup.sh installs it)")
@pytest.mark.skipif(_instrumented(os.path.join(os.path.dirname(MLC), "mlc-supervisor")),
                    reason="ASan needs to be the first preloaded library; faketime preloads itself")
def test_supervisors_with_a_jumped_clock(env, monkeypatch, tmp_path):
    """Supervisors whose wall clock is 2 hours ahead (a clock jump) still time deadlines right,
    are not taken for dead, and record sane wall times."""
    real = os.path.join(os.path.dirname(MLC), "mlc-supervisor")
    wrapper = tmp_path / "jumped-supervisor"
    # A supervisor started by one already under faketime inherits its preload: run it directly
    # (faketime refuses to nest). Only the wall clock jumps, as an NTP step does: faking the
    # monotonic clock as well would make the kernel's timed waits last the 2 hours (supervisors
    # then outlived the test).
    wrapper.write_text(f'#!/bin/sh\n[ -n "$FAKETIME" ] && exec {real} "$@"\n'
                       f'FAKETIME_DONT_FAKE_MONOTONIC=1 exec faketime -f "+2h" {real} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("MLC_SUPERVISOR", str(wrapper))
    run("job", "submit", "-n", "quick", "--", "sleep", "0.3")
    run("job", "submit", "-n", "bounded", "--deadline", "1s", "--", "sleep", "30")
    run("job", "submit", "-n", "steady", "--", "sleep", "30")
    deadline = time.time() + 60
    while job_json("steady")["state"] != "JOB_STATE_RUNNING" and time.time() < deadline:
        time.sleep(0.05)
    assert "SUCCEEDED" in run("job", "wait", "quick", "--timeout", "60s").stdout
    bounded = run("job", "wait", "bounded", "--timeout", "60s", check=None)
    assert "TIMED_OUT" in bounded.stdout
    wall = job_json("bounded")["resourcesUsed"]["wallTime"]
    assert 0.9 <= float(wall.rstrip("s")) < 10
    assert job_json("steady")["state"] == "JOB_STATE_RUNNING"  # alive, not LOST
    run("job", "cancel", "steady")
    assert "CANCELLED" in run("job", "wait", "steady", "--timeout", "60s", check=None).stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cancel_waits_for_the_end_and_exec_refuses_a_stopping_job(env):
    (env / "stubborn.yaml").write_text(
        "name: stubborn\ncommand: [sh, -c, 'trap \"\" TERM; echo ready; sleep 60']\n"
        "termination_grace_period: 2s\n")
    run("job", "submit", "-f", "stubborn.yaml")
    deadline = time.time() + 60
    while "ready" not in run("job", "logs", "stubborn").stdout and time.time() < deadline:
        time.sleep(0.05)
    assert "cancelling" in run("job", "cancel", "stubborn", "--no-wait").stdout
    assert job_json("stubborn")["state"] == "JOB_STATE_RUNNING"  # it ignores SIGTERM for 2 s
    assert "being stopped" in run("job", "exec", "stubborn", "--", "true", check=4).stderr
    # A second cancel waits out the grace period; the job ends killed, not before.
    assert "CANCELLED" in run("job", "cancel", "stubborn").stdout
    ended = job_json("stubborn")
    assert ended["state"] == "JOB_STATE_CANCELLED" and ended["signal"] == 9

"""Black-box tests of `mlc job exec`, `mlc job port-forward` and `mlc job watch`, each run twice:
against local:// and against a real `mlc server` subprocess on 127.0.0.1 (grpc://), with the same
commands and the same outcomes."""

from __future__ import annotations

import datetime
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import mlc_binary
from test_cli_server import MlcServer

MLC = mlc_binary()
pytestmark = pytest.mark.skipif(not os.path.exists(MLC), reason=f"mlc not built at {MLC}")

EXIT_USAGE, EXIT_NOT_FOUND, EXIT_CONFLICT = 2, 3, 4
WAIT = 60


@pytest.fixture(params=["local", "server"])
def target(request, isolated, monkeypatch):
    monkeypatch.setenv("MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0")
    monkeypatch.setenv("MLC_PROJECT", "ml")
    monkeypatch.chdir(isolated)
    server = None
    if request.param == "server":
        server = MlcServer(isolated / "server-state")
        monkeypatch.setenv("MLC_BACKEND", server.uri)
    else:
        monkeypatch.setenv("MLC_BACKEND", f"local://{isolated}/state")
    run("project", "create", "ml", "--limit", "cpu=4")
    yield isolated
    if server is not None:
        assert server.stop() == 0, server.proc.stderr.read()


def run(*args: str, check: int | None = 0, timeout: float = 120, input: str | None = None):
    proc = subprocess.run([MLC, *args], capture_output=True, text=True, timeout=timeout,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL)
    if check is not None:
        assert proc.returncode == check, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def wait_running(name: str) -> None:
    deadline = time.time() + WAIT
    while time.time() < deadline:
        state = json.loads(run("job", "get", name, "-o", "json").stdout)["state"]
        if state == "JOB_STATE_RUNNING":
            return
        assert state in ("JOB_STATE_PENDING", "JOB_STATE_STARTING"), state
        time.sleep(0.05)
    pytest.fail(f"job {name} never ran")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_exec_streams_output_stdin_and_exit_code(target):
    run("job", "submit", "-n", "holder", "-e", "GREETING=hi", "--", "sh", "-c", "exec sleep 120")
    wait_running("holder")
    proc = run("job", "exec", "holder", "--", "sh", "-c",
               "echo $GREETING $MLC_JOB_NAME; pwd; echo oops >&2; exit 5", check=5)
    assert proc.stdout.splitlines() == ["hi holder", str(target)]
    assert proc.stderr == "oops\n"
    # Standard input reaches the command; its end closes the command's.
    proc = run("job", "exec", "holder", "--", "tr", "a-z", "A-Z", input="through stdin\n")
    assert proc.stdout == "THROUGH STDIN\n"
    proc = run("job", "exec", "holder", "--", "wc", "-c", input="x" * 300000)
    assert proc.stdout.strip() == "300000"
    # Errors keep their codes over the wire.
    assert "no command" in run("job", "exec", "holder", check=EXIT_USAGE).stderr
    proc = run("job", "exec", "holder", "--", "no-such-program-x", check=EXIT_NOT_FOUND)
    assert "no-such-program-x" in proc.stderr
    run("job", "exec", "nosuch", "--", "true", check=EXIT_NOT_FOUND)
    run("job", "cancel", "holder")
    assert "not RUNNING" in run("job", "exec", "holder", "--", "true", check=EXIT_CONFLICT).stderr


def test_port_forward_opens_one_tunnel_per_connection(target):
    port = free_port()
    (target / "served.txt").write_text("through the tunnel")
    run("job", "submit", "-n", "web", "--", sys.executable, "-m", "http.server", str(port),
        "--bind", "127.0.0.1")
    wait_running("web")
    forward = subprocess.Popen([MLC, "job", "port-forward", "web", f"0:{port}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               stdin=subprocess.DEVNULL)
    try:
        line = forward.stdout.readline()
        assert line.startswith("Forwarding from 127.0.0.1:"), (line, forward.stderr.read())
        local = int(line.split()[2].split(":")[1])
        deadline = time.time() + WAIT
        bodies = []
        while len(bodies) < 3 and time.time() < deadline:  # three connections, one after another
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{local}/served.txt", timeout=10) as r:
                    bodies.append(r.read())
            except OSError:  # the job's server may still be starting
                time.sleep(0.1)
        assert bodies == [b"through the tunnel"] * 3
        # The tunnel ends by itself when the job does.
        run("job", "cancel", "web")
        assert forward.wait(timeout=WAIT) == 0
        assert "ended; stopping" in forward.stdout.read()
    finally:
        if forward.poll() is None:
            forward.terminate()
            forward.wait(timeout=30)
    assert "not RUNNING" in run("job", "port-forward", "web", f"0:{port}",
                                check=EXIT_CONFLICT).stderr
    assert "invalid ports" in run("job", "port-forward", "web", "x:y", check=EXIT_USAGE).stderr


def test_watch_prints_transitions_live_and_replayed(target):
    since = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    watch = subprocess.Popen([MLC, "-p", "ml", "job", "watch", "--since", since, "--count", "4"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL)
    try:
        run("job", "submit", "-n", "brief", "--follow", "--", "true")
        out, err = watch.communicate(timeout=WAIT)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert watch.returncode == 0, err
    lines = out.splitlines()
    assert [line.split()[1] for line in lines] == ["ml/brief"] * 4
    assert [line.split()[4] for line in lines] == ["PENDING", "STARTING", "RUNNING", "SUCCEEDED"]
    # Replayed afterwards, by name, as JSON lines.
    proc = run("-o", "json", "job", "watch", "brief", "--since", "1h", "--count", "4")
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["event"]["toState"] for e in events] == [
        "JOB_STATE_PENDING", "JOB_STATE_STARTING", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED"]
    assert {e["job"]["spec"]["name"] for e in events} == {"brief"}
    assert "nosuch" in run("job", "watch", "nosuch", check=EXIT_NOT_FOUND).stderr
    run("-p", "nosuch", "job", "watch", check=EXIT_NOT_FOUND)

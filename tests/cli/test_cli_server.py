"""Black-box tests of `mlc server` and the grpc:// backend: a real server subprocess on 127.0.0.1
(or a Unix socket), and `mlc --backend grpc://...` commands crossing the wire."""

from __future__ import annotations

import base64
import filecmp
import json
import os
import signal
import socket
import subprocess

import pytest

from conftest import mlc_binary

MLC = mlc_binary()
pytestmark = pytest.mark.skipif(not os.path.exists(MLC), reason=f"mlc not built at {MLC}")

EXIT_USAGE, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_PRECONDITION, EXIT_UNAVAILABLE = 2, 3, 4, 1, 7


class MlcServer:
    """`mlc server` as a subprocess; `uri` is the address it reports."""

    def __init__(self, state, *listen: str, extra=()):
        args = [MLC, "server", "--insecure-local", "--state", str(state), *extra]
        for address in listen or ("127.0.0.1:0",):
            args += ["--listen", address]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, stdin=subprocess.DEVNULL)
        self.uris = []
        for _ in listen or ("127.0.0.1:0",):
            line = self.proc.stdout.readline()
            assert line.startswith("serving "), (line, self.proc.stderr.read())
            self.uris.append(line.split()[1])
        assert self.proc.stdout.readline().startswith("state ")
        self.uri = self.uris[0]

    def stop(self, sig=signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)


@pytest.fixture
def server(isolated, monkeypatch):
    monkeypatch.setenv("MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0")
    monkeypatch.chdir(isolated)
    srv = MlcServer(isolated / "server-state")
    monkeypatch.setenv("MLC_BACKEND", srv.uri)
    monkeypatch.setenv("MLC_PROJECT", "ml")
    run("project", "create", "ml", "--limit", "cpu=4")
    yield srv
    assert srv.stop() == 0, srv.proc.stderr.read()


def run(*args: str, check: int | None = 0, timeout: float = 120, env=None):
    proc = subprocess.run([MLC, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=env)
    if check is not None:
        assert proc.returncode == check, (
            f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_backend_info_and_projects_go_over_the_wire(server):
    info = json.loads(run("-o", "json", "api", "call", "SystemService/GetBackendInfo").stdout)
    assert info["scheme"] == "grpc"
    assert info["target"] == server.uri
    assert "CAPABILITY_JOBS" in info["capabilities"]
    run("project", "create", "ml", check=EXIT_CONFLICT)
    names = [p["name"] for p in json.loads(run("-o", "json", "project", "ls").stdout)["projects"]]
    assert names == ["ml"]
    # The state lives with the server, not the client: a local client of that directory sees it.
    local = run("--backend", f"local://{server.proc.args[4]}", "project", "ls").stdout
    assert "ml" in local


def test_job_submit_follow_logs_exit_code_and_user(server, isolated):
    proc = run("job", "submit", "--name", "hello", "--follow", "--",
               "sh", "-c", "echo out-line; echo err-line >&2; exit 3", check=3)
    assert "out-line" in proc.stdout
    assert "err-line" in proc.stderr
    job = json.loads(run("-o", "json", "job", "get", "hello").stdout)
    assert job["state"] == "JOB_STATE_FAILED"
    assert job["exitCode"] == 3
    assert job["user"] == os.environ.get("USER", job["user"])
    assert job["spec"]["workingDir"] == str(isolated)
    logs = run("job", "logs", "hello").stdout
    assert logs.splitlines() == ["out-line"]
    only_err = run("job", "logs", "hello", "--stderr")
    assert only_err.stdout == "" and only_err.stderr.splitlines() == ["err-line"]


def test_secrets_travel_with_the_submit_and_are_not_stored(server, isolated):
    env = dict(os.environ, API_KEY="s3cr3t-value")
    run("job", "submit", "--name", "sec", "--secret", "API_KEY", "--follow", "--",
        "sh", "-c", 'echo "len=${#API_KEY} tail=${API_KEY#s3cr3t-}"', env=env)
    assert "len=12 tail=value" in run("job", "logs", "sec").stdout
    assert "s3cr3t-value" not in run("-o", "json", "job", "get", "sec").stdout
    # Without the variable the client refuses before anything is sent.
    env.pop("API_KEY")
    proc = run("job", "submit", "--secret", "API_KEY", "--", "true", check=None, env=env)
    assert proc.returncode != 0 and "API_KEY" in proc.stderr


def test_unknown_names_and_bad_specs_keep_their_codes(server):
    proc = run("job", "get", "nosuch", check=EXIT_NOT_FOUND)
    assert "nosuch" in proc.stderr
    proc = run("job", "submit", "--flavor", "gpu-huge", "--", "true", check=EXIT_USAGE)
    assert "gpu-huge" in proc.stderr and "cpu-2-8" in proc.stderr


def test_artifacts_round_trip_and_dedupe(server, isolated):
    model = isolated / "model"
    (model / "weights").mkdir(parents=True)
    (model / "weights" / "big.bin").write_bytes(os.urandom(3 << 20) + b"tail")  # > one chunk
    (model / "config.json").write_text('{"layers": 4}\n')
    (model / "empty.txt").write_bytes(b"")
    run_id = run("run", "create", "train", "-q").stdout.strip()
    first = json.loads(run("-o", "json", "artifact", "log", "--run", run_id, str(model)).stdout)
    artifact_id = first["id"]
    assert int(first["fileCount"]) == 3
    dest = isolated / "back"
    run("artifact", "download", artifact_id, str(dest))
    cmp = filecmp.dircmp(model, dest / "model" if (dest / "model").exists() else dest)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files
    assert filecmp.cmp(model / "weights" / "big.bin",
                       (dest / "model" if (dest / "model").exists() else dest) / "weights" /
                       "big.bin", shallow=False)
    # The same tree again stores nothing new.
    out2 = run("-o", "json", "artifact", "log", "--run", run_id, str(model), "--path",
               "again").stdout
    assert json.loads(out2)["manifestDigest"] == first["manifestDigest"]


def test_metrics_logged_over_the_wire_are_read_back(server):
    run_id = run("run", "create", "fit", "-q").stdout.strip()
    batch = {"batch": {"runId": run_id, "batchId": "b-1",
                       "metrics": [{"key": "loss", "steps": list(range(100)),
                                    "values": [1.0 / (i + 1) for i in range(100)]}]}}
    out = json.loads(run("-o", "json", "api", "call", "TrackingService/LogBatch",
                         json.dumps(batch)).stdout)
    assert int(out["pointsWritten"]) == 100
    again = json.loads(run("-o", "json", "api", "call", "TrackingService/LogBatch",
                           json.dumps(batch)).stdout)
    assert again.get("duplicate") is True
    series = run("run", "metrics", run_id, "loss", "-o", "json").stdout
    assert json.loads(series)["series"]["values"][:2] == [1.0, 0.5]
    assert int(json.loads(series)["totalPoints"]) == 100


def test_models_register_resolve_and_watch(server, isolated):
    weights = isolated / "ranker"
    weights.mkdir()
    (weights / "model.bin").write_bytes(b"\x01" * 1000)
    run("model", "create", "ranker")
    run("model", "register", "ranker", "--dir", str(weights))
    run("model", "alias", "set", "ranker", "champion", "1")
    resolved = json.loads(run("-o", "json", "api", "call", "RegistryService/ResolveModelUri",
                              json.dumps({"project": "ml",
                                          "uri": "models:/ranker@champion"})).stdout)
    assert resolved["version"] == "1" or resolved["version"] == 1
    events = run("model", "watch", "--from-start", "--count", "2", "-o", "json",
                 timeout=30).stdout.splitlines()
    assert len(events) == 2
    assert json.loads(events[0])["type"].endswith("MODEL_CREATED")


def test_unix_socket_and_two_listeners(isolated, monkeypatch):
    sock = isolated / "mlc.sock"
    srv = MlcServer(isolated / "s", f"unix://{sock}", "127.0.0.1:0")
    try:
        assert srv.uris[0] == f"grpc+unix://{sock}"
        assert srv.uris[1].startswith("grpc://127.0.0.1:")
        run("--backend", srv.uris[0], "project", "create", "a")
        assert "a" in run("--backend", srv.uris[1], "project", "ls").stdout
    finally:
        assert srv.stop(signal.SIGINT) == 0


def test_a_dead_server_is_unavailable_naming_the_address(isolated):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once closed; nothing listens there
    # The deadline is well past the retries' ~3 s window, so the answer is UNAVAILABLE (not a
    # deadline) even on a slow sanitizer build.
    proc = run("--backend", f"grpc://127.0.0.1:{port}?timeout_ms=60000", "project", "ls",
               check=EXIT_UNAVAILABLE)
    assert f"127.0.0.1:{port}" in proc.stderr
    assert "mlc server" in proc.stderr


def test_server_refuses_unsafe_or_taken_addresses(isolated):
    proc = run("server", "--insecure-local", "--state", str(isolated / "s"), "--listen",
               "0.0.0.0:0", check=EXIT_USAGE)
    assert "loopback" in proc.stderr
    proc = run("server", "--state", str(isolated / "s"), "--listen", "127.0.0.1:0", check=None)
    assert proc.returncode != 0 and "--insecure-local" in proc.stderr
    srv = MlcServer(isolated / "s")
    try:
        taken = srv.uri.removeprefix("grpc://")
        proc = run("server", "--insecure-local", "--state", str(isolated / "t"), "--listen",
                   taken, check=EXIT_UNAVAILABLE)
        assert taken in proc.stderr
    finally:
        assert srv.stop() == 0


def test_shutdown_ends_a_follow_and_exits_zero(isolated, monkeypatch):
    monkeypatch.setenv("MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0")
    monkeypatch.chdir(isolated)
    srv = MlcServer(isolated / "s", extra=["--grace", "2"])
    env = dict(os.environ, MLC_BACKEND=srv.uri, MLC_PROJECT="p")
    run("project", "create", "p", env=env)
    run("job", "submit", "--name", "long", "--", "sh", "-c", "echo started; sleep 60", env=env)
    follower = subprocess.Popen([MLC, "job", "logs", "-f", "long"], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert follower.stdout.readline().strip() == "started"
    assert srv.stop() == 0
    follower.wait(timeout=30)
    # The job itself belongs to the state directory, not the server: it keeps running.
    local = dict(env, MLC_BACKEND=f"local://{isolated}/s")
    assert json.loads(run("-o", "json", "job", "get", "long", env=local).stdout)["state"] == \
        "JOB_STATE_RUNNING"
    run("job", "cancel", "long", env=local)


def test_data_load_from_another_machine_copies_into_the_client_cache(server, isolated):
    # The server and the client share this machine; MLC_MACHINE_ID makes the client another one,
    # so the server's paths are not usable and the content must cross the wire.
    laptop = dict(os.environ, MLC_MACHINE_ID="laptop-1",
                  XDG_CACHE_HOME=str(isolated / "laptop-cache"))
    laptop.pop("MLC_CACHE_DIR", None)
    cache = isolated / "laptop-cache" / "mlcore" / "data"
    data = isolated / "train.bin"
    data.write_bytes(os.urandom((2 << 20) + 123))  # several ReadData chunks

    def load(uri, environment):
        out = json.loads(run("-o", "json", "data", "load", uri, env=environment).stdout)
        return out["localPath"], out.get("source")

    here, _ = load(str(data), None)  # same machine: the server's own hot tier, no copy
    assert not here.startswith(str(isolated / "laptop-cache"))
    path, source = load(str(data), laptop)
    assert path.startswith(str(cache)), path
    assert filecmp.cmp(path, data, shallow=False)
    assert source == "LOAD_SOURCE_COLD"  # from the server's hot tier, one hop away
    again, source = load(str(data), laptop)
    assert again == path and source == "LOAD_SOURCE_HOT"
    # New content at the same URI: the server revalidates, the client copies the new digest.
    data.write_bytes(b"second version\n")
    newer = json.loads(run("-o", "json", "data", "load", str(data), "--revalidate",
                           env=laptop).stdout)
    assert open(newer["localPath"], "rb").read() == b"second version\n"

    # A directory artifact becomes a tree of links to copied files, equal to the original.
    model = isolated / "model"
    (model / "weights").mkdir(parents=True)
    (model / "weights" / "w.bin").write_bytes(os.urandom(1 << 20))
    (model / "config.json").write_text('{"layers": 4}\n')
    (model / "empty").write_bytes(b"")
    run_id = run("run", "create", "train", "-q").stdout.strip()
    artifact = json.loads(run("-o", "json", "artifact", "log", "--run", run_id,
                              str(model)).stdout)["id"]
    tree, _ = load(f"artifact://{artifact}", laptop)
    assert tree.startswith(str(cache / "trees")), tree
    cmp = filecmp.dircmp(model, tree)
    assert not cmp.left_only and not cmp.right_only
    for rel in ("weights/w.bin", "config.json", "empty"):
        assert filecmp.cmp(model / rel, os.path.join(tree, rel), shallow=False), rel
    # One file of it, by path.
    one, _ = load(f"artifact://{artifact}/config.json", laptop)
    assert open(one).read() == '{"layers": 4}\n'

    # ReadData asked directly: one file of the directory, then a path it does not have.
    lines = run("-o", "json", "api", "stream", "DataService/ReadData",
                json.dumps({"project": "ml", "uri": f"artifact://{artifact}",
                            "path": "config.json"})).stdout.splitlines()
    first = json.loads(lines[0])
    assert int(first["sizeBytes"]) == 14 and len(first["digest"]) == 64
    assert base64.b64decode(first["data"]) == b'{"layers": 4}\n'
    proc = run("api", "stream", "DataService/ReadData",
               json.dumps({"project": "ml", "uri": f"artifact://{artifact}",
                           "path": "nosuch.bin"}), check=EXIT_USAGE)
    assert "nosuch.bin" in proc.stderr and "files" in proc.stderr

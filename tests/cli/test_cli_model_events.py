"""Black-box tests of `mlc model watch`, `mlc model webhook ...` and `mlc api stream`: the built
binary as a subprocess on a fresh local backend, webhooks delivered by the detached deliverer it
starts to a real HTTP receiver in this process."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import mlc_binary

MLC = mlc_binary()
pytestmark = pytest.mark.skipif(not os.path.exists(MLC), reason=f"mlc not built at {MLC}")

EXIT_USAGE, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_UNAVAILABLE = 2, 3, 4, 7
SECRET = "cli-s3cret"


@pytest.fixture
def env(isolated, monkeypatch):
    monkeypatch.setenv("MLC_BACKEND", f"local://{isolated}/state")
    monkeypatch.setenv("MLC_PROJECT", "ml")
    monkeypatch.setenv("HOOK_KEY", SECRET)
    monkeypatch.setenv("MLC_WEBHOOK_RETRY_BASE_MS", "20")
    monkeypatch.setenv("MLC_WEBHOOK_MAX_ATTEMPTS", "2")
    monkeypatch.chdir(isolated)
    run("project", "create", "ml")
    return isolated


@pytest.fixture
def posts():
    got: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got.append({"path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(503 if self.path == "/down" else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    got_url = f"http://127.0.0.1:{server.server_address[1]}"
    yield got_url, got
    server.shutdown()


def run(*args: str, check: int | None = 0, timeout: float = 120):
    proc = subprocess.run([MLC, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if check is not None:
        assert proc.returncode == check, (
            f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.02)
    return predicate()


def test_webhook_create_test_deliver_log_rm(env, posts):
    base, got = posts
    run("model", "create", "ranker")
    created = run("model", "webhook", "create", base + "/hook", "--secret-env", "HOOK_KEY",
                  "--event", "alias_set", "--event", "alias_moved", "--model", "ranker")
    hook_id = created.stdout.strip()
    assert hook_id.startswith("wh-") and "mlc model webhook test" in created.stderr
    listed = run("model", "webhook", "ls").stdout
    assert hook_id in listed and "alias_set,alias_moved of ranker" in listed and "HOOK_KEY" in listed

    ping = run("model", "webhook", "test", hook_id)
    assert "succeeded, HTTP 200" in ping.stdout
    assert got[-1]["headers"]["X-Mlcore-Event"] == "REGISTRY_EVENT_TYPE_PING"

    (env / "m").mkdir()
    (env / "m" / "w.bin").write_bytes(b"w" * 100)
    run("model", "register", "ranker", "--dir", "m")
    run("model", "alias", "set", "ranker", "champion", "1")
    assert wait_for(lambda: len(got) == 2)
    h = got[1]["headers"]
    assert h["X-Mlcore-Event"] == "REGISTRY_EVENT_TYPE_ALIAS_SET"
    mac = hmac.new(SECRET.encode(), h["X-Mlcore-Timestamp"].encode() + b"." + got[1]["body"],
                   hashlib.sha256).hexdigest()
    assert h["X-Mlcore-Signature"] == "sha256=" + mac
    assert json.loads(got[1]["body"])["alias"] == "champion"

    log = run("model", "webhook", "deliveries", hook_id, "-o", "json").stdout
    deliveries = json.loads(log)["deliveries"]
    assert [d["eventType"] for d in deliveries] == ["REGISTRY_EVENT_TYPE_ALIAS_SET",
                                                   "REGISTRY_EVENT_TYPE_PING"]
    assert deliveries[0]["id"] == h["X-Mlcore-Delivery"]
    assert "succeeded" in run("model", "webhook", "deliveries", hook_id).stdout

    run("model", "webhook", "rm", hook_id)
    gone = run("model", "webhook", "test", hook_id, check=EXIT_NOT_FOUND)
    assert hook_id in gone.stderr


def test_webhook_failures_and_errors(env, posts):
    base, got = posts
    down = run("model", "webhook", "create", base + "/down", "--secret-env", "HOOK_KEY").stdout
    hook_id = down.strip()
    failed = run("model", "webhook", "test", hook_id, check=EXIT_UNAVAILABLE)
    assert "failed, HTTP 503" in failed.stdout
    run("model", "create", "ranker")
    assert wait_for(lambda: "failed" in run("model", "webhook", "deliveries", hook_id, "--status",
                                            "failed").stdout.split("ping")[0])
    rows = run("model", "webhook", "deliveries", hook_id, "--status", "failed", "-o", "json")
    model_created = [d for d in json.loads(rows.stdout)["deliveries"]
                     if d["eventType"] == "REGISTRY_EVENT_TYPE_MODEL_CREATED"]
    assert model_created and model_created[0]["attempts"] == 2
    assert model_created[0]["lastError"] == "HTTP 503"

    bad = run("model", "webhook", "create", "http://hooks.example.com/x", "--secret-env",
              "HOOK_KEY", check=EXIT_USAGE)
    assert "loopback" in bad.stderr
    both = run("model", "webhook", "create", "https://x.example.com", check=EXIT_USAGE)
    assert "--secret-env" in both.stderr
    unset = run("model", "webhook", "create", "https://x.example.com", "--secret-env",
                "NO_SUCH_HOOK_VAR", check=EXIT_CONFLICT)
    assert "NO_SUCH_HOOK_VAR" in unset.stderr
    kind = run("model", "webhook", "create", "https://x.example.com", "--secret-env", "HOOK_KEY",
               "--event", "bogus", check=EXIT_USAGE)
    assert "alias_moved" in kind.stderr


def test_watch_and_api_stream(env):
    run("model", "create", "ranker")
    run("model", "create", "other")
    replay = run("model", "watch", "--from-start", "--count", "2").stdout.splitlines()
    assert len(replay) == 2
    assert replay[0].startswith("#1 ") and "model_created  ranker" in replay[0]
    assert "model_created  other" in replay[1]

    as_json = run("model", "watch", "--after", "1", "--count", "1", "-o", "json").stdout
    event = json.loads(as_json)
    assert event["sequence"] == "2" and event["model"] == "other"

    # Following: --after the current last event makes the watch see the next change, whenever
    # the watcher gets going.
    watcher = subprocess.Popen([MLC, "model", "watch", "--after", "2", "--type", "model_renamed",
                                "--count", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        run("model", "rename", "other", "other2")
        out, err = watcher.communicate(timeout=30)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    assert "model_renamed  other -> other2" in out

    # `mlc api stream` prints JSON lines until Ctrl-C, then exits 0.
    streamer = subprocess.Popen([MLC, "api", "stream", "RegistryService/WatchRegistryEvents",
                                 '{"project": "ml", "afterSequence": "0", "models": ["ranker"]}'],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(streamer.stdout.readline())
        assert first["model"] == "ranker" and first["type"] == "REGISTRY_EVENT_TYPE_MODEL_CREATED"
        streamer.send_signal(signal.SIGINT)
        _, err = streamer.communicate(timeout=30)
    finally:
        streamer.kill()
    assert streamer.returncode == 0, err

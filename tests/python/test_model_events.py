"""mlcore.models' events on a real local backend: watching (replay, filters, following), and
webhooks delivered by the detached deliverer to a real HTTP receiver in this process, signed
(checked with mlcore.models.verify_signature and with hmac directly), retried, logged."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import mlcore
from mlcore import models

SECRET = "s3cret-for-tests"


class Receiver:
    """Records POSTs; answers 500 to paths starting with /down, else 204."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.posts.append({"path": self.path, "headers": dict(self.headers),
                                           "body": body})
                self.send_response(500 if self.path.startswith("/down") else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def at(self, path: str) -> list[dict]:
        with self.lock:
            return [p for p in self.posts if p["path"] == path]

    def close(self) -> None:
        self.server.shutdown()


def wait_for(predicate, timeout: float = 30.0):
    """Polls until predicate() is truthy (the deliverer is another process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def client(backend, monkeypatch, tmp_path):
    monkeypatch.setenv("MLC_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0")
    monkeypatch.setenv("HOOK_KEY", SECRET)
    # Inherited by the deliverer this process starts: quick retries.
    monkeypatch.setenv("MLC_WEBHOOK_RETRY_BASE_MS", "20")
    monkeypatch.setenv("MLC_WEBHOOK_RETRY_MAX_MS", "80")
    monkeypatch.setenv("MLC_WEBHOOK_MAX_ATTEMPTS", "3")
    monkeypatch.delenv("MLC_RUN_ID", raising=False)
    for var in ("MLC_CACHE_DIR", "MLC_CACHE_COLD_DIR", "MLC_CACHE_CAPACITY"):
        monkeypatch.delenv(var, raising=False)
    c = mlcore.init(backend, project="ml")
    c.create_project("ml")
    yield c
    c.close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def model_dir(root):
    root.mkdir(parents=True)
    (root / "model.bin").write_bytes(b"m" * 1000)
    return root


def test_webhook_deliveries_are_signed_ordered_and_logged(client, receiver, tmp_path):
    models.create("ranker")
    models.create("other")
    hook = models.create_webhook(receiver.url("/ranker"), secret_env="HOOK_KEY", models="ranker",
                                 description="CI trigger")
    assert hook.id.startswith("wh-") and hook.enabled and hook.secret.name == "HOOK_KEY"
    assert [h.id for h in models.webhooks()] == [hook.id]

    v = models.register("ranker", path=model_dir(tmp_path / "m"))  # an upload: created, ready
    models.set_alias("ranker", "champion", v.version)
    models.register("other", path=tmp_path / "m")  # filtered out

    posts = wait_for(lambda: len(receiver.at("/ranker")) >= 3 and receiver.at("/ranker"))
    assert [p["headers"]["X-Mlcore-Event"] for p in posts] == [
        "REGISTRY_EVENT_TYPE_VERSION_CREATED", "REGISTRY_EVENT_TYPE_VERSION_READY",
        "REGISTRY_EVENT_TYPE_ALIAS_SET"]
    for p in posts:
        h = p["headers"]
        assert h["Content-Type"] == "application/json"
        assert models.verify_signature(SECRET, h["X-Mlcore-Timestamp"], p["body"],
                                       h["X-Mlcore-Signature"])
        expected = hmac.new(SECRET.encode(), h["X-Mlcore-Timestamp"].encode() + b"." + p["body"],
                            hashlib.sha256).hexdigest()
        assert h["X-Mlcore-Signature"] == "sha256=" + expected
        assert not models.verify_signature("wrong", h["X-Mlcore-Timestamp"], p["body"],
                                           h["X-Mlcore-Signature"])
        assert not models.verify_signature(SECRET, h["X-Mlcore-Timestamp"], p["body"] + b" ",
                                           h["X-Mlcore-Signature"])
    bodies = [json.loads(p["body"]) for p in posts]
    assert all(b["model"] == "ranker" and b["project"] == "ml" for b in bodies)
    assert [int(b["sequence"]) for b in bodies] == sorted(int(b["sequence"]) for b in bodies)
    assert bodies[2]["alias"] == "champion" and int(bodies[2]["version"]) == v.version

    # The receiver has all three; the deliverer records each success just after its response.
    log = wait_for(lambda: (lambda done: len(done) >= 3 and done)(
        [d for d in models.webhook_deliveries(hook.id) if d.status.endswith("SUCCEEDED")]))
    assert len(log) == 3
    assert [d.id for d in reversed(log)] == [p["headers"]["X-Mlcore-Delivery"] for p in posts]

    ping = models.test_webhook(hook.id)
    assert ping.status == "WEBHOOK_DELIVERY_STATUS_SUCCEEDED" and ping.last_http_status == 204
    assert receiver.at("/ranker")[-1]["headers"]["X-Mlcore-Event"] == "REGISTRY_EVENT_TYPE_PING"

    models.delete_webhook(hook.id)
    assert models.webhooks() == []
    with pytest.raises(mlcore.NotFoundError):
        models.test_webhook(hook.id)


@pytest.mark.local_only("the fast retry policy set here is read by the delivering process, "
                        "which over grpc:// is the server")
def test_failing_receiver_is_retried_then_failed(client, receiver):
    hook = models.create_webhook(receiver.url("/down"), secret_env="HOOK_KEY",
                                 types=["model_created"])
    models.create("ranker")
    failed = wait_for(lambda: models.webhook_deliveries(hook.id, statuses="failed"))
    assert len(failed) == 1
    d = failed[0]
    assert d.attempts == 3 and d.last_http_status == 500 and d.last_error == "HTTP 500"
    assert len(receiver.at("/down")) == 3
    assert len({p["headers"]["X-Mlcore-Delivery"] for p in receiver.at("/down")}) == 1
    assert models.webhook_deliveries(hook.id, statuses=["succeeded"]) == []


def test_webhook_errors(client, tmp_path, monkeypatch):
    with pytest.raises(mlcore.InvalidArgumentError, match="loopback"):
        models.create_webhook("http://hooks.example.com/x", secret_env="HOOK_KEY")
    with pytest.raises(mlcore.InvalidArgumentError, match="exactly one"):
        models.create_webhook("https://hooks.example.com/x")
    monkeypatch.delenv("UNSET_HOOK_KEY", raising=False)
    with pytest.raises(mlcore.FailedPreconditionError, match="UNSET_HOOK_KEY"):
        models.create_webhook("https://hooks.example.com/x", secret_env="UNSET_HOOK_KEY")
    loose = tmp_path / "hook.env"
    loose.write_text("WEBHOOK_SECRET=abc\n")
    loose.chmod(0o644)
    with pytest.raises(mlcore.FailedPreconditionError, match="chmod 600"):
        models.create_webhook("https://hooks.example.com/x", secret_file=loose)
    with pytest.raises(mlcore.NotFoundError, match="no-such-model"):
        models.create_webhook("https://hooks.example.com/x", secret_env="HOOK_KEY",
                              models=["no-such-model"])
    with pytest.raises(mlcore.InvalidArgumentError):
        models.create_webhook("https://hooks.example.com/x", secret_env="HOOK_KEY",
                              types=["no_such_type"])
    assert not models.verify_signature(SECRET, "not-a-number", b"{}", "sha256=00")
    stale = int(time.time()) - 3600
    sig = "sha256=" + hmac.new(SECRET.encode(), f"{stale}.{{}}".encode(),
                               hashlib.sha256).hexdigest()
    assert not models.verify_signature(SECRET, stale, b"{}", sig)  # a replay, too old
    assert models.verify_signature(SECRET, stale, b"{}", sig, tolerance_s=None)


def test_watch_replays_filters_and_follows(client, tmp_path):
    models.create("ranker")
    models.create("other")
    v = models.register("ranker", path=model_dir(tmp_path / "m"))
    models.set_alias("ranker", "champion", v.version)

    everything = list(itertools.islice(models.watch(after=0), 5))
    assert [e.type for e in everything] == [
        "REGISTRY_EVENT_TYPE_MODEL_CREATED", "REGISTRY_EVENT_TYPE_MODEL_CREATED",
        "REGISTRY_EVENT_TYPE_VERSION_CREATED", "REGISTRY_EVENT_TYPE_VERSION_READY",
        "REGISTRY_EVENT_TYPE_ALIAS_SET"]
    assert everything[4].alias == "champion" and everything[4].version == v.version

    aliases = models.watch(models="ranker", types=["alias_set", "alias_moved"], after=0)
    first = next(aliases)
    assert first.type == "REGISTRY_EVENT_TYPE_ALIAS_SET"
    v2 = models.register("ranker", path=tmp_path / "m")
    models.set_alias("ranker", "champion", v2.version)  # made while the watch is open
    moved = next(aliases)
    assert moved.type == "REGISTRY_EVENT_TYPE_ALIAS_MOVED"
    assert moved.previous_version == v.version and moved.version == v2.version
    aliases.close()  # stops the stream

    # Only new events by default, also through the generic Client.stream.
    stream = client.stream("RegistryService/WatchRegistryEvents", {"project": "ml"})
    models.create("third")
    assert next(stream)["model"] == "third"
    stream.close()

    with pytest.raises(mlcore.NotFoundError):
        next(models.watch(project="nope"))
    with pytest.raises(mlcore.InvalidArgumentError):
        next(models.watch(types="no_such_type"))

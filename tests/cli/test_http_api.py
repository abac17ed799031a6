"""Black-box tests of `mlc server --http`: the HTTP/JSON API (docs/http.md). A real server with
users, tokens and roles; every route of the generated OpenAPI document is called with no token,
with the token of a user without a role on the project, and with one that has the role; answers
are checked against the OpenAPI schemas; error mapping, Server-Sent Events and NDJSON streams."""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import re
import signal
import subprocess
import time
import urllib.parse

import pytest

from conftest import mlc_binary

MLC = mlc_binary()
ROOT = pathlib.Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not os.path.exists(MLC), reason=f"mlc not built at {MLC}")

jsonschema = pytest.importorskip("jsonschema")


class Api:
    """A tiny HTTP/JSON client over http.client (no third-party HTTP library)."""

    def __init__(self, url: str, token: str | None = None):
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.token = token

    def as_user(self, token: str | None) -> "Api":
        other = Api(f"http://{self.host}:{self.port}", token)
        return other

    def raw(self, method: str, path: str, body: str | bytes | None = None,
            headers: dict | None = None, timeout: float = 60, follow: bool = False):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        h = dict(headers or {})
        if self.token is not None:
            h["Authorization"] = f"Bearer {self.token}"
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        if resp.getheader("Content-Type", "").startswith("text/event-stream") and not follow:
            # A watch never ends: take what arrives within a moment.
            conn.sock.settimeout(1.5)
            data = b""
            try:
                while chunk := resp.read1(65536):
                    data += chunk
            except (TimeoutError, OSError):
                pass
        else:
            data = resp.read()
        conn.close()
        return resp.status, resp.getheaders(), data

    def call(self, method: str, path: str, body=None, expect: int | None = 200):
        status, headers, data = self.raw(
            method, path, None if body is None else json.dumps(body),
            {"Content-Type": "application/json"})
        ctype = dict((k.lower(), v) for k, v in headers).get("content-type", "")
        parsed = json.loads(data) if data and ctype.startswith("application/json") else data
        if expect is not None:
            assert status == expect, (method, path, status, parsed)
        return parsed if expect is not None else (status, parsed)

    def events(self, path: str, timeout: float = 60, follow: bool = True):
        """Reads an event stream (to its end, or what comes within a moment unless `follow`):
        a list of (event, data) pairs."""
        status, headers, data = self.raw("GET", path, timeout=timeout, follow=follow)
        assert status == 200, (path, status, data)
        ctype = dict((k.lower(), v) for k, v in headers)["content-type"]
        assert ctype.startswith("text/event-stream"), ctype
        out = []
        for block in data.decode().split("\n\n"):
            if not block.strip() or block.startswith(":"):
                continue
            event, payload = "message", ""
            for line in block.split("\n"):
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    payload += line[6:]
            out.append((event, json.loads(payload)))
        return out


def run_mlc(*args: str, env=None) -> str:
    proc = subprocess.run([MLC, *args], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc.stdout


def add_user(state, name: str, *flags: str) -> str:
    return run_mlc("server", "user", "add", name, "--token", "--state", str(state), *flags).strip()


class HttpServer:
    def __init__(self, state, *extra: str):
        self.proc = subprocess.Popen(
            [MLC, "server", "--state", str(state), "--listen", "127.0.0.1:0", "--http",
             "127.0.0.1:0", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            stdin=subprocess.DEVNULL)
        self.grpc = self.http = None
        while self.http is None:
            line = self.proc.stdout.readline()
            assert line, self.proc.stderr.read()
            if line.startswith("serving "):
                self.grpc = line.split()[1]
            elif line.startswith("http "):
                self.http = line.split()[1]

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A server with ann (admin), bob (no role anywhere) and carol (EDITOR of alpha), and objects
    of project alpha made through the HTTP API: a finished job, an experiment, a run with
    metrics, a model."""
    tmp = tmp_path_factory.mktemp("http")
    env_keep = dict(os.environ)
    os.environ.update(MLC_CONFIG=str(tmp / "config.yaml"), XDG_DATA_HOME=str(tmp / "data"),
                      XDG_CONFIG_HOME=str(tmp / "xdg-config"), XDG_CACHE_HOME=str(tmp / "cache"),
                      MLC_NODE_CAPACITY="cpu=4,memory=8Gi,gpu=0")
    for var in ("MLC_BACKEND", "MLC_PROJECT", "MLC_CONTEXT", "MLC_TOKEN"):
        os.environ.pop(var, None)
    state = tmp / "state"
    tokens = {name: add_user(state, name, *flags)
              for name, flags in (("ann", ("--admin",)), ("bob", ()), ("carol", ()))}
    server = HttpServer(state)
    ann = Api(server.http, tokens["ann"])
    ann.call("POST", "/api/v1/projects", {"project": {"name": "alpha"}})
    ann.call("POST", "/api/v1/auth/role-bindings/grant",
             {"project": "alpha", "user": "carol", "role": "ROLE_EDITOR"})
    job = ann.call("POST", "/api/v1/projects/alpha/jobs", {"spec": {
        "name": "hello", "workingDir": str(tmp), "command": ["sh", "-c", "echo one; echo two"]}})
    experiment = ann.call("POST", "/api/v1/projects/alpha/experiments",
                          {"experiment": {"name": "exp"}})
    run = ann.call("POST", "/api/v1/projects/alpha/runs",
                   {"run": {"experimentId": experiment["id"], "name": "r1"}})
    ann.call("POST", f"/api/v1/runs/{run['id']}/log-batch", {"batch": {
        "runId": run["id"], "batchId": "b1",
        "metrics": [{"key": "train/loss", "steps": [0, 1, 2], "values": [1.0, 0.5, 0.25]}]}})
    model = ann.call("POST", "/api/v1/projects/alpha/models", {"model": {"name": "m1"}})
    world = dict(server=server, url=server.http, tokens=tokens, job=job, run=run, tmp=tmp,
                 experiment=experiment, model=model, state=state)
    yield world
    server.stop()
    os.environ.clear()
    os.environ.update(env_keep)


@pytest.fixture(scope="module")
def openapi(world):
    return Api(world["url"]).call("GET", "/api/v1/openapi.json")


def operations(doc):
    for path, item in sorted(doc["paths"].items()):
        for verb, op in sorted(item.items()):
            yield path, verb.upper(), op


def validator(doc, ref_schema):
    """A validator of one schema of the document, its $refs resolved within the document."""
    schema = dict(ref_schema)
    schema["components"] = doc["components"]
    return jsonschema.Draft202012Validator(schema)


# ---- the document ------------------------------------------------------------------------------

def test_openapi_is_served_committed_and_covers_every_rpc(world, openapi):
    assert openapi["openapi"].startswith("3.1")
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert committed == openapi, "docs/openapi.json is stale: run `mlc server openapi > " \
                                 "docs/openapi.json`"
    printed = json.loads(run_mlc("server", "openapi"))
    assert printed == openapi
    rpcs = set()
    for proto in (ROOT / "proto" / "mlcore" / "v1").glob("*.proto"):
        service = None
        for line in proto.read_text().splitlines():
            if m := re.match(r"service (\w+) \{", line):
                service = m.group(1)
            elif m := re.match(r"\s+rpc (\w+)\(", line):
                rpcs.add(f"{service}_{m.group(1)}")
    routed = {op["operationId"] for _, _, op in operations(openapi)}
    assert routed == rpcs
    jsonschema.Draft202012Validator.check_schema(openapi["components"]["schemas"]["Error"])


# ---- every route x auth -----------------------------------------------------------------------

# Routes not bound to one project: a user without roles still gets an answer about themselves,
# the server or the objects they can see (filtered lists), never another project's data.
UNSCOPED = {
    "SystemService_GetBackendInfo", "AuthService_WhoAmI", "AuthService_ListTokens",
    "AuthService_CreateToken", "AuthService_RevokeToken", "AuthService_ListRoleBindings",
    "ProjectService_ListProjects", "ProjectService_CreateProject",
    "SchedulingService_ListFlavors", "SchedulingService_ListNodes",
    "SchedulingService_ListPriorityClasses", "SchedulingService_GetQuotaUsage",
    "SchedulingService_Simulate", "JobService_LintJobSpec", "PipelineService_LintPipeline",
    "DataService_GetCacheStats", "DataService_Load",
    "DataService_ReadData", "DataService_Pin", "DataService_Unpin", "DataService_Evict",
    "DataService_Prefetch", "RegistryService_ListModelVersionsBuiltFrom",
}
# Routes only a server administrator may call (they act on state every project shares).
SERVER_ADMIN = {"ArtifactService_CollectGarbage", "DataService_ListCacheEntries",
                "DataService_Evict", "ProjectService_CreateProject"}
# Routes that need the ADMIN role on the project (carol is only EDITOR).
PROJECT_ADMIN = {
    "AuthService_ListRoleBindings", "AuthService_GrantRole", "AuthService_RevokeRole",
    "ProjectService_DeleteProject", "TrackingService_UpdateTrackingPolicy",
    "TrackingService_ApplyRetention", "RegistryService_DeleteRegisteredModel",
    "RegistryService_ListWebhooks", "RegistryService_CreateWebhook"}


def fill(path: str, world, real: bool) -> str:
    """The path with its variables set: alpha's real objects, or names that exist nowhere."""
    values = {
        "project": "alpha", "spec.project": "alpha", "experiment.project": "alpha",
        "run.project": "alpha", "artifact.project": "alpha", "model.project": "alpha",
        "webhook.project": "alpha", "policy.project": "alpha", "name": "m1", "model": "m1",
        "version": "1", "alias": "prod", "digest": "sha256:" + "0" * 64, "key": "train/loss",
        "upload_id": "u1", "artifact_id": "a-missing", "webhook_id": "w-missing",
    }
    if path.startswith("/api/v1/jobs/"):
        values["id"] = world["job"]["id"] if real else "j-missing"
    elif path.startswith("/api/v1/runs/"):
        values["id"] = values["run_id"] = values["batch.run_id"] = (
            world["run"]["id"] if real else "r-missing")
    elif path.startswith("/api/v1/experiments/"):
        values["id"] = world["experiment"]["id"] if real else "e-missing"
    else:
        values["id"] = "x-missing"
    if path == "/api/v1/projects/{name}":
        values["name"] = "alpha"
    return re.sub(r"\{([^}]+)\}", lambda m: urllib.parse.quote(values[m.group(1)], safe=""), path)


def body_for(op, world) -> tuple[str | None, dict]:
    content = op.get("requestBody", {}).get("content", {})
    if "application/x-ndjson" in content:
        lines = {
            "ArtifactService_UploadBlob": {"header": {"project": "alpha", "uploadId": "u1",
                                                      "digest": "sha256:" + "0" * 64}},
            "TrackingService_LogMetricsStream": {"batch": {"runId": world["run"]["id"]}},
            "TrackingService_IngestMetrics": {"batch": {"runId": world["run"]["id"]}},
            "JobService_ExecJob": {"id": world["job"]["id"], "command": ["true"]},
            "JobService_PortForward": {"id": world["job"]["id"], "port": 1},
        }[op["operationId"]]
        return json.dumps(lines) + "\n", {"Content-Type": "application/x-ndjson"}
    if op["operationId"] in ("AuthService_GrantRole", "AuthService_RevokeRole"):
        # Making oneself an administrator of a project one has no (or a lesser) role on.
        body = {"project": "alpha", "user": "bob"}
        if op["operationId"] == "AuthService_GrantRole":
            body["role"] = "ROLE_ADMIN"
        return json.dumps(body), {"Content-Type": "application/json"}
    if "application/json" in content:
        return json.dumps({"project": "alpha"} if "project" in json.dumps(content) and
                          op["operationId"].split("_")[1] in (
                              "FindMissingBlobs", "PutManifest", "CollectGarbage")
                          else {}), {"Content-Type": "application/json"}
    return None, {}


def query_for(op) -> str:
    names = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
    return "?project=alpha" if "project" in names else ""


def test_every_route_needs_a_token(world, openapi):
    api = Api(world["url"])
    error = validator(openapi, {"$ref": "#/components/schemas/Error"})
    for path, verb, op in operations(openapi):
        for token in (None, "mlc_00000000_" + "A" * 43):
            status, _, data = api.as_user(token).raw(verb, fill(path, world, True),
                                                     *body_for(op, world))
            assert status == 401, (verb, path, token, status, data)
            error.validate(json.loads(data))


def test_every_route_hides_a_project_from_a_user_without_a_role(world, openapi):
    bob = Api(world["url"], world["tokens"]["bob"])
    wrong = []
    for path, verb, op in operations(openapi):
        status, _, data = bob.raw(verb, fill(path, world, True) + query_for(op),
                                  *body_for(op, world))
        name = op["operationId"]
        if name in SERVER_ADMIN:
            ok = status == 403
        elif name in UNSCOPED:
            ok = status not in (401, 403)
        elif name == "TrackingService_IngestMetrics" and status == 200:
            # Per-batch errors travel in the acknowledgements: each must be a refusal.
            acks = [json.loads(b[6:]) for b in data.decode().split("\n\n") if b.startswith("data")]
            ok = bool(acks) and all(a["errorCode"] in (5, 7) for a in acks)
        else:
            # Hidden exactly like a missing object, or refused; never answered.
            ok = status in (403, 404)
        if not ok:
            wrong.append((verb, path, status, data[:200]))
    assert not wrong, "\n".join(map(str, wrong))


def test_every_route_lets_a_user_with_the_role_in_and_answers_by_the_schema(world, openapi):
    """carol is EDITOR of alpha: no route answers 401/403 but the server administrator's and
    the project administrator's, and every successful answer fits the document's schema.
    Changes target objects that do not exist, so nothing of alpha is lost."""
    carol = Api(world["url"], world["tokens"]["carol"])
    error = validator(openapi, {"$ref": "#/components/schemas/Error"})
    answered, wrong = 0, []
    for path, verb, op in operations(openapi):
        real = verb == "GET"
        status, headers, data = carol.raw(verb, fill(path, world, real) + query_for(op),
                                          *body_for(op, world))
        name = op["operationId"]
        if name in SERVER_ADMIN or name in PROJECT_ADMIN:
            if status != 403:
                wrong.append((verb, path, status, data[:200]))
            continue
        if status in (401, 403):
            wrong.append((verb, path, status, data[:200]))
            continue
        if status != 200:
            error.validate(json.loads(data))
            continue
        answered += 1
        content = op["responses"]["200"]["content"]
        ctype = dict((k.lower(), v) for k, v in headers)["content-type"]
        if "text/event-stream" in content:
            assert ctype.startswith("text/event-stream"), (path, ctype)
            schema = content["text/event-stream"]["schema"]
            for block in data.decode().split("\n\n"):
                if block.startswith("data: "):
                    validator(openapi, schema).validate(json.loads(block[6:]))
        else:
            validator(openapi, content["application/json"]["schema"]).validate(json.loads(data))
    assert not wrong, "\n".join(map(str, wrong))
    assert answered >= 25, answered


# ---- behaviour ----------------------------------------------------------------------------------

def test_jobs_submit_get_list_logs_and_cancel(world):
    ann = Api(world["url"], world["tokens"]["ann"])
    job = world["job"]
    got = ann.call("GET", f"/api/v1/jobs/{job['id']}")
    assert got["id"] == job["id"] and got["spec"]["project"] == "alpha"
    events = ann.events(f"/api/v1/jobs/{job['id']}/logs?follow=true")
    lines = [line["text"] for _, e in events for line in e["lines"]]
    assert lines == ["one", "two"]
    listed = ann.call("GET", "/api/v1/projects/alpha/jobs?state=SUCCEEDED")
    assert [j["id"] for j in listed["jobs"]] == [job["id"]]
    assert ann.call("GET", "/api/v1/projects/alpha/jobs?states=JOB_STATE_RUNNING")["jobs"] == []
    long = ann.call("POST", "/api/v1/projects/alpha/jobs", {"spec": {
        "workingDir": str(world["tmp"]), "command": ["sleep", "600"]}})
    cancelled = ann.call("POST", f"/api/v1/jobs/{long['id']}/cancel", {})
    assert cancelled["id"] == long["id"]
    for _ in range(600):
        state = ann.call("GET", f"/api/v1/jobs/{long['id']}")["state"]
        if state == "JOB_STATE_CANCELLED":
            break
        time.sleep(0.05)
    assert state == "JOB_STATE_CANCELLED"


def test_metric_history_and_ndjson_ingest(world):
    carol = Api(world["url"], world["tokens"]["carol"])
    run_id = world["run"]["id"]
    lines = "\n".join(json.dumps({"batch": {"runId": run_id, "batchId": f"s{i}", "metrics": [
        {"key": "val/acc", "steps": [i], "values": [0.5 + i / 10]}]}}) for i in range(3))
    status, _, data = carol.raw("POST", "/api/v1/runs/log-metrics-stream", lines,
                                {"Content-Type": "application/x-ndjson"})
    assert status == 200, data
    totals = json.loads(data)
    assert totals["batchesReceived"] == "3" and totals["pointsWritten"] == "3", totals
    history = carol.call("GET", f"/api/v1/runs/{run_id}/metrics/val/acc")
    assert json.dumps(history).count("0.7") >= 1, history
    bad = carol.raw("POST", "/api/v1/runs/log-metrics-stream", lines + "\n{not json",
                    {"Content-Type": "application/x-ndjson"})
    assert bad[0] == 400 and b"line 4" in bad[2], bad


def test_metric_updates_stream_as_events(world):
    import threading
    carol = Api(world["url"], world["tokens"]["carol"])
    run = carol.call("POST", "/api/v1/projects/alpha/runs",
                     {"run": {"experimentId": world["experiment"]["id"], "name": "live"}})

    def produce():
        time.sleep(0.3)
        for step in range(3):
            carol.call("POST", f"/api/v1/runs/{run['id']}/log-batch", {"batch": {
                "runId": run["id"], "batchId": f"p{step}",
                "metrics": [{"key": "loss", "steps": [step], "values": [1 / (step + 1)]}]}})
        carol.call("PATCH", f"/api/v1/runs/{run['id']}", {"status": "RUN_STATUS_FINISHED"})

    producer = threading.Thread(target=produce)
    producer.start()
    events = carol.events(f"/api/v1/runs/{run['id']}/metrics-watch")
    producer.join()
    steps = [s for _, e in events for s in e.get("series", {}).get("steps", [])]
    assert steps == ["0", "1", "2"], events
    assert events[-1][1]["runStatus"] == "RUN_STATUS_FINISHED", events
    # Replayed from a step, for one key, on an ended run: the stream ends by itself.
    replay = carol.events(f"/api/v1/runs/{run['id']}/metrics-watch?afterStep=0&keys=loss")
    assert [s for _, e in replay for s in e.get("series", {}).get("steps", [])] == ["1", "2"]


def test_error_mapping(world):
    ann = Api(world["url"], world["tokens"]["ann"])
    cases = [
        ("GET", "/api/v1/jobs/j-none", None, 404, "NOT_FOUND"),
        ("POST", "/api/v1/projects", {"project": {"name": "alpha"}}, 409, "ALREADY_EXISTS"),
        ("POST", "/api/v1/projects", {"project": {"name": "Bad Name"}}, 400, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/projects/alpha/jobs?colour=red", None, 400, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/projects/alpha/jobs?pageSize=ten", None, 400, "INVALID_ARGUMENT"),
        ("GET", "/api/v1/no/such/route", None, 404, "NOT_FOUND"),
    ]
    for verb, path, body, code, name in cases:
        status, out = ann.call(verb, path, body, expect=None)
        assert status == code and out["error"]["status"] == name, (path, status, out)
        assert out["error"]["code"] == code and out["error"]["message"], out
    # Malformed JSON: says where.
    status, _, data = ann.raw("POST", "/api/v1/projects", "{\"project\": ",
                              {"Content-Type": "application/json"})
    assert status == 400 and b"does not fit mlcore.v1.CreateProjectRequest" in data, data
    # A body contradicting the path.
    status, out = ann.call("POST", "/api/v1/projects/alpha/jobs",
                           {"spec": {"project": "beta", "command": ["true"]}}, expect=None)
    assert status == 400 and "in the path" in out["error"]["message"], out
    # The wrong verb: 405 with Allow.
    status, headers, _ = ann.raw("PUT", f"/api/v1/jobs/{world['job']['id']}")
    assert status == 405 and ("Allow", "GET") in headers
    # A stream that fails before its first message answers a plain error, not an event stream.
    status, out = ann.call("GET", "/api/v1/jobs/j-none/logs", expect=None)
    assert status == 404 and out["error"]["status"] == "NOT_FOUND", out


def test_registry_watch_streams_events(world):
    ann = Api(world["url"], world["tokens"]["ann"])
    events = ann.events("/api/v1/projects/alpha/registry-events?afterSequence=0", follow=False)
    kinds = [e["type"] for name, e in events if name == "message"]
    assert "REGISTRY_EVENT_TYPE_MODEL_CREATED" in kinds, events


def test_web_ui_and_health(world):
    api = Api(world["url"])
    status, headers, data = api.raw("GET", "/")
    assert status == 200 and b"<" in data and b"mlcore" in data.lower()
    assert api.raw("GET", "/healthz")[0] == 200


# ---- transport: TLS, refusals, shutdown ---------------------------------------------------------

def test_https_with_the_servers_certificate(world, tmp_path):
    import shutil
    import ssl
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    from test_cli_auth import make_certs
    make_certs(tmp_path)
    state = tmp_path / "state"
    token = add_user(state, "ann", "--admin")
    server = HttpServer(state, "--tls-cert", str(tmp_path / "server.pem"), "--tls-key",
                        str(tmp_path / "server.key"))
    try:
        assert server.http.startswith("https://127.0.0.1:") and server.grpc.startswith("grpcs://")
        parsed = urllib.parse.urlparse(server.http)
        context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        conn = http.client.HTTPSConnection(parsed.hostname, parsed.port, context=context,
                                           timeout=30)
        conn.request("GET", "/api/v1/auth/whoami", headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["user"]["name"] == "ann"
        conn.close()
        # Plain HTTP does not reach it.
        plain = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
        with pytest.raises((http.client.HTTPException, OSError)):
            plain.request("GET", "/api/v1/auth/whoami")
            plain.getresponse().read()
    finally:
        assert server.stop() == 0


def _non_loopback_address() -> str | None:
    """An address of this machine other than loopback (the source of its default route)."""
    import socket
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
            addr = s.getsockname()[0]
    except OSError:
        return None
    return None if addr.startswith("127.") else addr


def test_compression_never_brotli_gzip_for_files_and_for_large_answers_beyond_loopback(
        world, tmp_path):
    import gzip
    import shutil
    import ssl
    api = Api(world["url"], world["tokens"]["ann"])
    accept = {"Accept-Encoding": "gzip, deflate, br"}
    headers_of = lambda hs: {k.lower(): v for k, v in hs}  # noqa: E731
    # On loopback an API answer goes as it is, however large (compressing costs more than it
    # saves): httplib's own brotli (~1 MB/s) is never used.
    status, hs, doc = api.raw("GET", "/api/v1/openapi.json", headers=accept)
    assert status == 200 and "content-encoding" not in headers_of(hs), hs
    assert len(doc) > 32 * 1024 and json.loads(doc)["openapi"].startswith("3.1")
    # The UI's files are compressed once, at build time, and sent gzipped when accepted.
    status, hs, page = api.raw("GET", "/")
    if b"app.js" in page:
        status, hs, zipped = api.raw("GET", "/app.js", headers=accept)
        assert status == 200 and headers_of(hs).get("content-encoding") == "gzip", hs
        assert headers_of(hs).get("vary") == "Accept-Encoding"
        status, hs, plain = api.raw("GET", "/app.js")
        assert status == 200 and "content-encoding" not in headers_of(hs)
        assert gzip.decompress(zipped) == plain and len(zipped) < len(plain) / 2
        status, hs, _ = api.raw("GET", "/app.js", headers={"Accept-Encoding": "gzip;q=0, br"})
        assert "content-encoding" not in headers_of(hs), hs
    # Beyond loopback (HTTPS on this machine's own address) a large answer is gzipped.
    addr = _non_loopback_address()
    if shutil.which("openssl") is None or addr is None:
        pytest.skip("needs openssl and an address other than loopback")
    from test_cli_auth import make_certs
    make_certs(tmp_path)
    state = tmp_path / "state"
    token = add_user(state, "ann", "--admin")
    server = subprocess.Popen(
        [MLC, "server", "--state", str(state), "--listen", "127.0.0.1:0", "--http", f"{addr}:0",
         "--tls-cert", str(tmp_path / "server.pem"), "--tls-key", str(tmp_path / "server.key")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        url = None
        while url is None:
            line = server.stdout.readline()
            assert line, server.stderr.read()
            if line.startswith("http "):
                url = urllib.parse.urlparse(line.split()[1])
        context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        context.check_hostname = False  # the test certificate names 127.0.0.1 only

        def get(path, headers):
            conn = http.client.HTTPSConnection(url.hostname, url.port, context=context,
                                               timeout=30)
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}", **headers})
            resp = conn.getresponse()
            out = resp.status, headers_of(resp.getheaders()), resp.read()
            conn.close()
            return out

        status, hs, zipped = get("/api/v1/openapi.json", accept)
        assert status == 200 and hs.get("content-encoding") == "gzip", hs
        assert gzip.decompress(zipped) == doc and len(zipped) < len(doc) / 4
        status, hs, small = get("/api/v1/auth/whoami", accept)
        assert status == 200 and "content-encoding" not in hs  # small answers go as they are
        assert json.loads(small)["user"]["name"] == "ann"
        status, hs, plain = get("/api/v1/openapi.json", {})
        assert "content-encoding" not in hs and plain == doc
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0


def test_http_beyond_loopback_needs_tls_and_a_taken_port_is_refused(world):
    proc = subprocess.run([MLC, "server", "--state", str(world["state"]), "--listen",
                           "127.0.0.1:0", "--http", "0.0.0.0:0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "--tls-cert" in proc.stderr, proc.stderr
    port = urllib.parse.urlparse(world["url"]).port
    proc = subprocess.run([MLC, "server", "--state", str(world["state"]), "--listen",
                           "127.0.0.1:0", "--http", f"127.0.0.1:{port}"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "cannot listen for HTTP" in proc.stderr, proc.stderr
    proc = subprocess.run([MLC, "server", "--state", str(world["state"]), "--http", "nonsense"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "HOST:PORT" in proc.stderr, proc.stderr


def test_sigterm_ends_open_event_streams(tmp_path):
    """A follow that would never end on its own (a watch) is closed by a graceful stop."""
    import threading
    state = tmp_path / "state"
    token = add_user(state, "ann", "--admin")
    server = HttpServer(state)
    api = Api(server.http, token)
    api.call("POST", "/api/v1/projects", {"project": {"name": "p"}})
    got = {}

    def watch():
        got["events"] = api.events("/api/v1/projects/p/registry-events", timeout=60)

    watcher = threading.Thread(target=watch)
    watcher.start()
    time.sleep(1.5)  # the stream is open (its headers come within a second)
    start = time.monotonic()
    assert server.stop() == 0
    watcher.join(timeout=30)
    assert not watcher.is_alive(), "the event stream outlived the server"
    assert time.monotonic() - start < 20
    assert got["events"] == []

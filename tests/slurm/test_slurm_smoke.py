"""Smoke tests of the slurm+http:// backend from the CLI and from Python, against the single-node
dev cluster (scripts/slurm-dev-cluster.sh, started here when not running). Skipped, visibly, where
Slurm cannot be installed or started."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from conftest import mlc_binary  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster() -> dict[str, str]:
    done = subprocess.run([str(ROOT / "scripts" / "slurm-dev-cluster.sh"), "up"],
                          capture_output=True, text=True, timeout=300)
    if done.returncode == 3:
        pytest.skip(f"no Slurm here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    env = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return env


@pytest.fixture
def uri(cluster: dict[str, str], isolated: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SLURM_JWT", cluster["SLURM_JWT"])
    return f"{cluster['MLC_SLURM_URI']}&state={isolated}/slurm-state"


def mlc(uri: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([mlc_binary(), "--backend", uri, *args], capture_output=True,
                          text=True, timeout=120)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def wait_final(uri: str, name: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = json.loads(mlc(uri, "-p", "ml", "job", "get", name, "-o", "json").stdout)
        if job["state"] in ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED",
                            "JOB_STATE_TIMED_OUT", "JOB_STATE_LOST", "JOB_STATE_PREEMPTED"):
            return job
        assert time.monotonic() < deadline, f"job {name} still {job['state']}"
        time.sleep(0.1)


def test_cli_runs_a_job_on_slurm_and_reads_its_output(uri: str) -> None:
    mlc(uri, "project", "create", "ml")
    mlc(uri, "-p", "ml", "job", "submit", "--name", "hello", "--", "sh", "-c",
        "echo hello from slurm; echo oops >&2; exit 3")
    job = wait_final(uri, "hello")
    assert job["state"] == "JOB_STATE_FAILED"
    assert job["exitCode"] == 3
    assert job["message"] == "exited with code 3"
    assert mlc(uri, "-p", "ml", "job", "logs", "hello").stdout == "hello from slurm\n"
    listed = mlc(uri, "-p", "ml", "job", "ls").stdout
    assert "hello" in listed and "FAILED" in listed


def test_cli_bad_partition_is_refused_with_slurms_text(uri: str) -> None:
    bad = uri + "&partition=no-such-partition"
    mlc(bad, "project", "create", "ml")
    done = mlc(bad, "-p", "ml", "job", "submit", "--", "true", check=False)
    assert done.returncode != 0
    assert "Invalid partition name specified" in done.stderr


def test_cli_bad_token_says_how_to_get_one(uri: str) -> None:
    bad = uri + "&token=not-a-jwt"
    mlc(bad, "project", "create", "ml")
    done = mlc(bad, "-p", "ml", "job", "submit", "--", "true", check=False)
    assert done.returncode != 0
    assert "UNAUTHENTICATED" in done.stderr
    assert "scontrol token" in done.stderr


def test_python_job_logs_metrics_that_reach_the_store(uri: str, tmp_path: pathlib.Path) -> None:
    import mlcore

    mlcore.init(uri)
    mlc(uri, "project", "create", "ml")
    script = tmp_path / "train.py"
    script.write_text("import mlcore\n"
                      "with mlcore.start_run() as run:\n"
                      "    for step in range(3):\n"
                      "        run.log_metric('loss', 1.0 / (step + 1), step=step)\n"
                      "print('trained')\n")
    job = mlcore.jobs.submit([sys.executable, str(script)], project="ml", name="train",
                        working_dir=str(tmp_path))
    done = job.wait(timeout=90)
    assert "SUCCEEDED" in str(done.state), (done.message, mlc(uri, "job", "logs", "train").stdout)
    steps, values, _times = mlcore.metric_history(done.data.run_id, "loss")
    assert list(steps) == [0, 1, 2]
    assert list(values) == pytest.approx([1.0, 0.5, 1.0 / 3])


def test_cli_over_unix_socket_with_a_token_mlcore_mints(cluster: dict[str, str],
                                                        isolated: pathlib.Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # slurm+unix:// to the same slurmrestd, and token=scontrol: mlcore runs `scontrol token`
    # (SLURM_CONF points it at the dev cluster) instead of reading SLURM_JWT.
    monkeypatch.delenv("SLURM_JWT", raising=False)
    monkeypatch.setenv("SLURM_CONF", cluster["SLURM_CONF"])
    uri = f"{cluster['MLC_SLURM_UNIX_URI']}&token=scontrol&state={isolated}/unix-state"
    mlc(uri, "project", "create", "ml")
    mlc(uri, "-p", "ml", "job", "submit", "--name", "viaunix", "--", "echo", "over a socket")
    assert wait_final(uri, "viaunix")["state"] == "JOB_STATE_SUCCEEDED"
    assert mlc(uri, "-p", "ml", "job", "logs", "viaunix").stdout == "over a socket\n"


def test_one_client_outlives_the_tokens_it_mints(cluster: dict[str, str], isolated: pathlib.Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # token=scontrol with a 3 s lifespan: the client mints a token, and a new one before it
    # expires, so calls made after the first token's end still go through.
    import mlcore

    monkeypatch.delenv("SLURM_JWT", raising=False)
    monkeypatch.setenv("SLURM_CONF", cluster["SLURM_CONF"])
    uri = f"{cluster['MLC_SLURM_URI']}&token=scontrol&token_lifespan=3&state={isolated}/renew"
    client = mlcore.Client(uri)
    client.create_project("ml")
    started = time.monotonic()
    job = mlcore.jobs.submit(["sh", "-c", "sleep 4; echo still here"], project="ml",
                             name="outlives", working_dir=str(isolated), client=client)
    done = job.wait(timeout=90)
    assert time.monotonic() - started > 3  # the first token has expired by now
    assert "SUCCEEDED" in str(done.state), done.message
    assert [line.text for line in client.get_job(job.id).logs()] == ["still here"]
    assert "outlives" in [j.name for j in client.jobs(project="ml")]
    with pytest.raises(mlcore.InvalidArgumentError, match="token_lifespan=soon"):
        mlcore.Client(f"{cluster['MLC_SLURM_URI']}&token=scontrol&token_lifespan=soon")


class _TlsProxy:
    """slurmrestd behind TLS (a self-signed certificate for 127.0.0.1), as a site's reverse proxy
    would put it: each request is forwarded to the dev cluster's plain-HTTP port."""

    def __init__(self, upstream: str, tmp: pathlib.Path):
        import http.client
        import http.server
        import ssl
        import threading

        self.cert = tmp / "cert.pem"
        key = tmp / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(self.cert)],
                       check=True, capture_output=True)
        host, port = upstream.split(":")

        class Forward(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_DELETE = _forward

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Forward)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert), str(key))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_https_with_a_private_ca(cluster: dict[str, str], isolated: pathlib.Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLURM_JWT", cluster["SLURM_JWT"])
    upstream = cluster["MLC_SLURM_URI"].split("//", 1)[1].split("?", 1)[0]
    proxy = _TlsProxy(upstream, isolated)
    try:
        base = f"slurm+https://{proxy.address}?user=root&state={isolated}/https-state"
        trusted = f"{base}&ca_file={proxy.cert}"
        mlc(trusted, "project", "create", "ml")
        mlc(trusted, "-p", "ml", "job", "submit", "--name", "overtls", "--", "echo", "over TLS")
        assert wait_final(trusted, "overtls")["state"] == "JOB_STATE_SUCCEEDED"
        assert mlc(trusted, "-p", "ml", "job", "logs", "overtls").stdout == "over TLS\n"
        # Without the CA the certificate is refused, and the error says what to add.
        untrusted = mlc(base, "-p", "ml", "job", "submit", "--", "true", check=False)
        assert untrusted.returncode != 0
        assert "not trusted" in untrusted.stderr and "ca_file=" in untrusted.stderr
        missing = mlc(f"{base}&ca_file={isolated}/absent.pem", "-p", "ml", "job", "ls",
                      check=False)
        assert missing.returncode != 0 and "absent.pem" in missing.stderr
    finally:
        proxy.close()


def test_mlc_server_fronts_the_cluster(cluster: dict[str, str], isolated: pathlib.Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # `mlc server --engine slurm+http://...`: clients speak grpc:// and their jobs run on Slurm;
    # the server's state directory keeps mlcore's job table.
    monkeypatch.setenv("SLURM_JWT", cluster["SLURM_JWT"])
    state = isolated / "server-state"
    server = subprocess.Popen(
        [mlc_binary(), "server", "--insecure-local", "--listen", "127.0.0.1:0", "--state",
         str(state), "--engine", cluster["MLC_SLURM_URI"]],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        line = server.stdout.readline()
        assert line.startswith("serving "), (line, server.stderr.read())
        remote = line.split()[1]
        info = json.loads(mlc(remote, "-o", "json", "api", "call",
                              "SystemService/GetBackendInfo").stdout)
        assert info["scheme"] == "grpc"
        mlc(remote, "project", "create", "ml")
        mlc(remote, "-p", "ml", "job", "submit", "--name", "fronted", "--", "sh", "-c",
            "echo \"slurm job $SLURM_JOB_ID\"")
        job = wait_final(remote, "fronted")
        assert job["state"] == "JOB_STATE_SUCCEEDED", job
        out = mlc(remote, "-p", "ml", "job", "logs", "fronted").stdout
        assert out.startswith("slurm job ") and out.strip() != "slurm job"  # ran under Slurm
        assert (state / "slurm.db").exists()
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0, server.stderr.read()
    # An engine a server cannot front is refused with what to use instead.
    done = subprocess.run([mlc_binary(), "server", "--insecure-local", "--listen", "127.0.0.1:0",
                           "--state", str(state), "--engine", "grpc://127.0.0.1:1"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "slurm+http://" in done.stderr


def test_a_pipeline_runs_its_steps_as_slurm_jobs(uri: str, isolated: pathlib.Path) -> None:
    mlc(uri, "project", "create", "ml")
    (isolated / "p.yaml").write_text("""\
name: on-slurm
steps:
  - name: make
    job: {command: [sh, -c, 'echo 21 > $MLC_OUTPUT_DIR/n']}
    outputs: [{name: n, type: parameter, parameter_type: int}]
  - name: double
    job: {command: [sh, -c, 'echo doubled $((MLC_INPUT_N * 2))']}
    inputs: [{name: n, type: parameter, parameter_type: int}]
edges: [{source_step: make, source_name: n, target_step: double, target_name: n}]
""")
    done = mlc(uri, "-p", "ml", "pipeline", "run", str(isolated / "p.yaml"), "--wait")
    assert "on-slurm  SUCCEEDED" in done.stdout, done.stdout + done.stderr
    run_id = done.stderr.split()[2]
    run = json.loads(mlc(uri, "-p", "ml", "-o", "json", "pipeline", "get", run_id).stdout)
    # The steps' jobs are Slurm jobs (mlcore's job records carry their Slurm ids).
    for step in run["steps"]:
        job = json.loads(mlc(uri, "-p", "ml", "job", "get", step["jobId"], "-o", "json").stdout)
        assert job["state"] == "JOB_STATE_SUCCEEDED"
    assert "[double] doubled 42" in mlc(uri, "-p", "ml", "pipeline", "logs", run_id).stdout

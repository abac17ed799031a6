"""Black-box tests of authentication on `mlc server`: users made out of band, `mlc login` storing
a token with 0600 permissions, roles limiting what each user sees, revocation, and TLS (server
certificate, and client certificates mapped to users) with certificates made by openssl."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess

import pytest

from conftest import mlc_binary

MLC = mlc_binary()
pytestmark = pytest.mark.skipif(not os.path.exists(MLC), reason=f"mlc not built at {MLC}")

EXIT_USAGE, EXIT_NOT_FOUND, EXIT_DENIED, EXIT_UNAVAILABLE = 2, 3, 5, 7


def run(*args: str, check: int | None = 0, stdin: str | None = None, env=None):
    proc = subprocess.run([MLC, *args], capture_output=True, text=True, timeout=120,
                          input=stdin if stdin is not None else "", env=env)
    if check is not None:
        assert proc.returncode == check, (
            f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


class Server:
    def __init__(self, state, *extra: str, listen: str = "127.0.0.1:0"):
        self.proc = subprocess.Popen([MLC, "server", "--state", str(state), "--listen", listen,
                                      *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        assert line.startswith("serving "), (line, self.proc.stderr.read())
        self.uri = line.split()[1]

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def add_user(state, name: str, *flags: str) -> str:
    """Creates a user with a first token; returns the token."""
    out = run("server", "user", "add", name, "--token", "--state", str(state), *flags)
    token = out.stdout.strip()
    assert token.startswith("mlc_") and len(token) == 56, out
    return token


@pytest.fixture
def users(isolated, monkeypatch):
    monkeypatch.setenv("MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0")
    monkeypatch.chdir(isolated)
    state = isolated / "server-state"
    return state, add_user(state, "ann", "--admin"), add_user(state, "bob")


def test_the_server_needs_a_user_first(isolated):
    proc = subprocess.run([MLC, "server", "--state", str(isolated / "empty"), "--listen",
                           "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "mlc server user add" in proc.stderr


def test_login_roles_tenancy_and_revocation(users, isolated, monkeypatch):
    state, ann, bob = users
    srv = Server(state)
    try:
        monkeypatch.setenv("MLC_BACKEND", srv.uri)
        # No token: a clear error saying how to log in.
        denied = run("project", "ls", check=EXIT_DENIED)
        assert "mlc login" in denied.stderr
        # A wrong token is refused by the server, and nothing is stored.
        run("login", stdin="mlc_00000000_" + "A" * 43 + "\n", check=EXIT_DENIED)
        creds = isolated / "xdg-config" / "mlcore" / "credentials"
        assert not creds.exists() or ann not in creds.read_text()

        out = run("login", srv.uri, stdin=ann + "\n").stdout
        assert f"logged in to {srv.uri} as ann (server admin)" in out
        assert stat.S_IMODE(creds.stat().st_mode) == 0o600
        assert ann in creds.read_text()
        assert "ann" in run("whoami").stdout
        run("project", "create", "team-a")
        run("project", "create", "team-b")
        run("role", "grant", "team-a", "bob", "editor")
        run("role", "grant", "team-a", "bob", "boss", check=EXIT_USAGE)
        roles = run("role", "ls", "--project", "team-a").stdout
        assert "bob" in roles and "editor" in roles

        as_bob = {**os.environ, "MLC_TOKEN": bob}
        who = json.loads(run("-o", "json", "whoami", env=as_bob).stdout)
        assert who["user"]["name"] == "bob"
        assert [b["project"] for b in who["bindings"]] == ["team-a"]
        names = [p["name"] for p in
                 json.loads(run("-o", "json", "project", "ls", env=as_bob).stdout)["projects"]]
        assert names == ["team-a"]
        # Another tenant's project looks exactly like one that does not exist.
        hidden = run("project", "get", "team-b", env=as_bob, check=EXIT_NOT_FOUND).stderr
        absent = run("project", "get", "team-zz", env=as_bob, check=EXIT_NOT_FOUND).stderr
        assert hidden.replace("team-b", "X") == absent.replace("team-zz", "X")
        run("-p", "team-b", "job", "submit", "--", "true", env=as_bob, check=EXIT_NOT_FOUND)
        submitted = run("-p", "team-a", "job", "submit", "--", "true", env=as_bob)
        assert "team-a" in submitted.stdout
        jobs = json.loads(run("-o", "json", "job", "ls", "-p", "team-a").stdout)["jobs"]
        assert [j["user"] for j in jobs] == ["bob"]
        # bob may not manage roles or create top-level projects.
        run("role", "grant", "team-a", "bob", "admin", env=as_bob, check=EXIT_DENIED)
        run("project", "create", "mine", env=as_bob, check=EXIT_DENIED)

        # A token bob makes for one project, then revokes.
        token = run("token", "create", "--description", "ci", "--project", "team-a",
                    env=as_bob).stdout.strip()
        listed = run("token", "ls", env=as_bob).stdout
        assert "ci" in listed and token not in listed  # secrets are never listed
        token_id = token.split("_")[1]
        as_ci = {**os.environ, "MLC_TOKEN": token}
        run("project", "get", "team-a", env=as_ci)
        run("token", "revoke", token_id, env=as_bob)
        revoked = run("project", "get", "team-a", env=as_ci, check=EXIT_DENIED)
        assert "revoked" in revoked.stderr

        # Disabling a user stops its tokens.
        run("server", "user", "disable", "bob", "--state", str(state))
        run("project", "ls", env=as_bob, check=EXIT_DENIED)

        run("logout", "--revoke")
        assert ann not in creds.read_text()
        run("project", "ls", check=EXIT_DENIED)
    finally:
        assert srv.stop() == 0, srv.proc.stderr.read()


def openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certs(d):
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate for ann."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj",
            "/CN=mlcore test CA", cwd=d)
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, cn in (("server", "localhost"), ("client", "ann")):
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}",
                cwd=d)
        extra = ["-extfile", "san.ext"] if name == "server" else []
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", *extra, cwd=d)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_tls_server_certificate_and_client_certificates(users, isolated):
    state, ann, _ = users
    d = isolated / "pki"
    d.mkdir()
    make_certs(d)
    srv = Server(state, "--tls-cert", str(d / "server.pem"), "--tls-key", str(d / "server.key"),
                 "--tls-client-ca", str(d / "ca.pem"))
    try:
        assert srv.uri.startswith("grpcs://127.0.0.1:")
        ca = f"ca={d / 'ca.pem'}"
        env = {**os.environ, "MLC_TOKEN": ann}
        who = json.loads(run("--backend", f"{srv.uri}?{ca}", "-o", "json", "whoami",
                             env=env).stdout)
        assert who["user"]["name"] == "ann"
        # A client certificate stands for its common name, with no token.
        cert = f"{ca}&cert={d / 'client.pem'}&key={d / 'client.key'}"
        who = json.loads(run("--backend", f"{srv.uri}?{cert}", "-o", "json", "whoami").stdout)
        assert who["user"]["name"] == "ann" and "token" not in who
        # Without the CA the server is not trusted; plaintext does not reach it.
        run("--backend", srv.uri, "project", "ls", env=env, check=EXIT_UNAVAILABLE)
        plain = srv.uri.replace("grpcs://", "grpc://")
        run("--backend", plain, "project", "ls", env=env, check=EXIT_UNAVAILABLE)
    finally:
        assert srv.stop() == 0, srv.proc.stderr.read()


def test_plaintext_beyond_loopback_is_refused(users):
    state, _, _ = users
    proc = subprocess.run([MLC, "server", "--state", str(state), "--listen", "0.0.0.0:0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == EXIT_USAGE
    assert "--tls-cert" in proc.stderr

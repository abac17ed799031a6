"""Identity from Python against a real `mlc server` with users and roles: tokens given to the
Client, whoami, role grants, tenancy (another project is NotFound, a low role PermissionDenied),
and token lifecycle."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

import mlcore
from conftest import mlc_binary

MLC = mlc_binary()
pytestmark = [pytest.mark.skipif(not os.path.exists(MLC), reason="mlc not built"),
              pytest.mark.local_only("starts its own server with users; runs once")]


@pytest.fixture
def auth_server(isolated, monkeypatch):
    monkeypatch.setenv("MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0")
    state = isolated / "server-state"
    tokens = {}
    for name, flags in (("ann", ["--admin"]), ("bob", [])):
        out = subprocess.run([MLC, "server", "user", "add", name, "--token", "--state", str(state),
                              *flags], capture_output=True, text=True, check=True, timeout=60)
        tokens[name] = out.stdout.strip()
    proc = subprocess.Popen([MLC, "server", "--state", str(state), "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("serving "), (line, proc.stderr.read())
    yield line.split()[1], tokens
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def test_tokens_roles_and_tenancy_from_python(auth_server):
    uri, tokens = auth_server
    with mlcore.Client(uri) as anonymous:
        with pytest.raises(mlcore.UnauthenticatedError, match="mlc login"):
            anonymous.projects()
    ann = mlcore.Client(uri, token=tokens["ann"])
    assert ann.whoami().user.name == "ann"
    assert ann.whoami().user.admin
    ann.create_project("team-a")
    ann.create_project("team-b")
    binding = ann.grant_role("team-a", "bob", "viewer")
    assert binding.role == "ROLE_VIEWER"
    with pytest.raises(ValueError, match="roles: viewer"):
        ann.grant_role("team-a", "bob", "boss")

    bob = mlcore.Client(uri, token=tokens["bob"])
    assert [b.project for b in bob.whoami().bindings] == ["team-a"]
    assert [p.name for p in bob.projects()] == ["team-a"]
    with pytest.raises(mlcore.NotFoundError, match='project "team-b" does not exist'):
        bob.get_project("team-b")
    with pytest.raises(mlcore.PermissionDeniedError, match="editor"):
        mlcore.jobs.submit(command=["true"], project="team-a", client=bob)

    secret, token = bob.create_token("notebook", projects=["team-a"], ttl="1d")
    assert secret.startswith("mlc_" + token.id + "_")
    assert token.projects == ["team-a"]
    assert [t.description for t in bob.tokens()] == ["notebook", "first token"]
    bob.revoke_token(token.id)
    with pytest.raises(mlcore.UnauthenticatedError, match="revoked"):
        mlcore.Client(uri, token=secret).projects()
    assert [b.user for b in ann.role_bindings("team-a")] == ["bob"]
    ann.revoke_role("team-a", "bob")
    assert bob.projects() == []

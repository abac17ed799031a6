"""Black-box tests of the `mlc` binary: run it as a subprocess, check stdout, stderr, exit codes."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess

import pytest

from conftest import mlc_binary

MLC = mlc_binary()

pytestmark = pytest.mark.skipif(not os.path.exists(MLC), reason=f"mlc not built at {MLC}")


def mlc(*args: str, check: int | None = 0, stdin: str | None = None, user: str | None = None):
    cmd = [MLC, *args]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, input=stdin, timeout=60)
    if check is not None:
        assert proc.returncode == check, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_version(isolated):
    out = mlc("version").stdout
    assert out.startswith("mlc 0.")
    data = json.loads(mlc("version", "-o", "json").stdout)
    assert data["apiVersion"] == "v1"


def test_help_and_usage_errors(isolated):
    assert "Examples:" in mlc("--help").stdout
    assert "project" in mlc("--help").stdout
    proc = mlc(check=2)
    assert "mlc: error:" in proc.stderr
    proc = mlc("project", "frobnicate", check=2)
    assert "mlc: error:" in proc.stderr and "--help" in proc.stderr
    proc = mlc("-o", "xml", "project", "ls", check=2)
    assert "xml" in proc.stderr


def test_project_lifecycle(isolated):
    backend = f"--backend=local://{isolated}/state"
    assert "created" in mlc(backend, "project", "create", "ml-research", "-d", "ranking models",
                            "--guaranteed", "cpu=8,memory=32Gi", "--limit", "cpu=32,gpu=4",
                            "-l", "team=recsys").stdout
    mlc(backend, "project", "create", "team-a", "--parent", "ml-research")

    table = mlc(backend, "project", "ls").stdout.splitlines()
    assert table[0].split()[:4] == ["NAME", "PARENT", "GUARANTEED", "LIMIT"]
    assert table[1].startswith("ml-research")
    assert "cpu=8 memory=32Gi" in table[1] and "cpu=32 gpu=4" in table[1]
    assert table[2].split()[:2] == ["team-a", "ml-research"]

    listed = json.loads(mlc(backend, "project", "ls", "-o", "json").stdout)
    assert [p["name"] for p in listed["projects"]] == ["ml-research", "team-a"]
    assert listed["projects"][0]["labels"] == {"team": "recsys"}

    described = mlc(backend, "project", "get", "ml-research").stdout
    assert "name: ml-research" in described and "description: ranking models" in described

    # options may also follow the command (fallthrough to the global options)
    sub = json.loads(mlc("project", "ls", "--parent", "ml-research", "-o", "json", backend).stdout)
    assert [p["name"] for p in sub["projects"]] == ["team-a"]

    proc = mlc(backend, "project", "delete", "ml-research", check=4)
    assert "sub-projects" in proc.stderr and "[FAILED_PRECONDITION]" in proc.stderr
    mlc(backend, "project", "delete", "team-a")
    mlc(backend, "project", "delete", "ml-research")
    proc = mlc(backend, "project", "ls")
    assert proc.stdout == "" and "No projects yet" in proc.stderr


def test_exit_codes_follow_the_status_table(isolated):
    backend = f"--backend=local://{isolated}/state"
    mlc(backend, "project", "create", "dup")
    assert "already exists" in mlc(backend, "project", "create", "dup", check=4).stderr
    assert "does not exist" in mlc(backend, "project", "get", "absent", check=3).stderr
    assert "lowercase" in mlc(backend, "project", "create", "Bad_Name", check=2).stderr
    assert "cpu=4" in mlc(backend, "project", "create", "q", "--limit", "cpu=x", check=2).stderr
    proc = mlc("--backend", "s3://bucket", "project", "ls", check=2)
    assert "unknown backend scheme \"s3\"" in proc.stderr and "known schemes: " in proc.stderr and "local" in proc.stderr


def test_backend_and_project_from_environment_and_contexts(isolated, monkeypatch):
    monkeypatch.setenv("MLC_BACKEND", f"local://{isolated}/from-env")
    mlc("project", "create", "env-project")
    assert (isolated / "from-env" / "mlcore.db").exists()
    monkeypatch.delenv("MLC_BACKEND")

    mlc("config", "set-context", "dev", "--backend", f"local://{isolated}/dev", "--project", "ml-research")
    mlc("config", "set-context", "prod", "--backend", f"local://{isolated}/prod")
    shown = json.loads(mlc("config", "show", "-o", "json").stdout)
    assert shown["context"] == "dev"  # the first context became current
    assert shown["backendSource"] == "context dev"
    assert shown["project"] == "ml-research"
    assert [c["name"] for c in shown["contexts"]] == ["dev", "prod"]

    mlc("config", "use-context", "prod")
    mlc("project", "create", "in-prod")
    assert (isolated / "prod" / "mlcore.db").exists()
    assert json.loads(mlc("--context", "dev", "project", "ls", "-o", "json").stdout) == {}

    contexts = mlc("config", "get-contexts").stdout
    assert "* " in contexts.splitlines()[2] or contexts.splitlines()[2].startswith("*")
    mlc("config", "delete-context", "prod")
    proc = mlc("config", "use-context", "prod", check=3)
    assert "known contexts: dev" in proc.stderr
    assert mlc("config", "path").stdout.strip() == str(isolated / "config.yaml")


def test_malformed_config_names_file_and_line(isolated):
    (isolated / "config.yaml").write_text("current-context: dev\ncontexts:\n  dev:\n    backend: [x\n")
    proc = mlc("project", "ls", check=2)
    assert f"{isolated}/config.yaml:5:1" in proc.stderr or f"{isolated}/config.yaml:4" in proc.stderr
    assert "malformed config file" in proc.stderr


def test_unusable_state_directories(isolated):
    (isolated / "afile").write_text("x")
    proc = mlc("--backend", f"local://{isolated}/afile", "project", "ls", check=4)
    assert "is not a directory" in proc.stderr
    (isolated / "mlcore.db").write_text("my notes, not a database")
    proc = mlc("--backend", f"local://{isolated}", "project", "ls", check=1)
    assert "not a usable mlcore store" in proc.stderr and "[DATA_LOSS]" in proc.stderr
    assert (isolated / "mlcore.db").read_text() == "my notes, not a database"


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root to switch to an unprivileged user")
def test_unreadable_state_directory_as_another_user(isolated):
    locked = isolated / "locked"
    locked.mkdir(mode=0o700)
    os.chmod(isolated, 0o755)
    proc = mlc("--backend", f"local://{locked}", "--config", "/nonexistent/config.yaml",
               "project", "ls", check=5, user="65534")
    assert "PERMISSION_DENIED" in proc.stderr and str(locked) in proc.stderr


def test_newer_schema_is_refused(isolated):
    import sqlite3

    state = isolated / "state"
    mlc(f"--backend=local://{state}", "project", "ls")
    with sqlite3.connect(state / "mlcore.db") as db:
        db.execute("PRAGMA user_version=999")
    proc = mlc(f"--backend=local://{state}", "project", "ls", check=4)
    assert "schema version 999" in proc.stderr and "upgrade mlcore" in proc.stderr


def test_api_call_reaches_every_method_by_name(isolated):
    backend = f"--backend=local://{isolated}/state"
    methods = mlc("api", "methods").stdout.split()
    assert "mlcore.v1.ProjectService/CreateProject" in methods
    mlc(backend, "api", "call", "ProjectService/CreateProject", '{"project": {"name": "via-api"}}')
    out = json.loads(mlc(backend, "api", "call", "ProjectService/ListProjects", "-", stdin="{}").stdout)
    assert out["projects"][0]["name"] == "via-api"
    assert "no pipeline given" in mlc(backend, "api", "call", "PipelineService/RunPipeline",
                                      check=2).stderr


def test_python_and_cli_agree(isolated):
    import mlcore

    backend = f"local://{isolated}/state"
    mlcore.Client(backend).create_project("shared", guaranteed="gpu=2")
    listed = json.loads(mlc(f"--backend={backend}", "project", "ls", "-o", "json").stdout)
    assert listed["projects"][0]["name"] == "shared"
    assert listed["projects"][0]["guaranteed"]["gpu"] == 2
    mlc(f"--backend={backend}", "project", "create", "from-cli")
    assert [p.name for p in mlcore.Client(backend).projects()] == ["from-cli", "shared"]

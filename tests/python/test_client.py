"""The public Python API, end to end on the local backend."""

from __future__ import annotations

import datetime
import os
import threading

import pytest

import mlcore


def test_version_and_import():
    assert mlcore.__version__.count(".") == 2
    assert issubclass(mlcore.NotFoundError, mlcore.MlcoreError)


def test_projects_round_trip(backend):
    with mlcore.Client(backend) as client:
        created = client.create_project(
            "ml-research",
            description="ranking",
            labels={"team": "recsys"},
            guaranteed="cpu=8,memory=32Gi",
            limit={"cpu": 32, "gpu": 4},
        )
        assert created.name == "ml-research"
        assert created.guaranteed.cpu_millis == 8000
        assert created.guaranteed.memory_bytes == 32 * 2**30
        assert created.limit.gpu == 4
        assert isinstance(created.create_time, datetime.datetime)
        assert created.create_time.tzinfo is not None
        assert created.parent is None  # absent fields read as None

        client.create_project("team-a", parent="ml-research")
        assert [p.name for p in client.projects()] == ["ml-research", "team-a"]
        assert [p.name for p in client.projects(parent="ml-research")] == ["team-a"]
        got = client.get_project("ml-research")
        assert got == created
        assert got["labels"] == {"team": "recsys"}
        assert got.to_dict()["description"] == "ranking"
        assert "ml-research" in repr(got)
        assert "<table>" in got._repr_html_()

        client.delete_project("team-a")
        assert [p.name for p in client.projects()] == ["ml-research"]


def test_paging_yields_every_project_once(backend):
    client = mlcore.Client(backend)
    names = [f"p{i:02d}" for i in range(25)]
    for name in names:
        client.create_project(name)
    assert [p.name for p in client.iter_projects(page_size=4)] == names


def test_errors_map_to_the_exception_hierarchy(backend):
    client = mlcore.Client(backend)
    with pytest.raises(mlcore.NotFoundError) as info:
        client.get_project("absent")
    assert info.value.code == 5
    assert '"absent" does not exist' in info.value.message
    assert isinstance(info.value, LookupError)

    client.create_project("dup")
    with pytest.raises(mlcore.AlreadyExistsError):
        client.create_project("dup")
    with pytest.raises(mlcore.InvalidArgumentError, match="lowercase letters"):
        client.create_project("Bad_Name")
    with pytest.raises(ValueError):  # InvalidArgumentError is also a ValueError
        client.create_project("ok", guaranteed="cpu=lots")
    with pytest.raises(mlcore.FailedPreconditionError):
        client.create_project("child", parent="dup")
        client.delete_project("dup")
    with pytest.raises(mlcore.InvalidArgumentError, match="unknown backend scheme"):
        mlcore.Client("s3://bucket")
    with pytest.raises(mlcore.UnimplementedError):
        client.invoke("JobService/ExecJob", {})  # bidirectional: no JSON form
    with pytest.raises(mlcore.NotFoundError, match="its methods"):
        client.invoke("ProjectService/Nope", {})


def test_generic_conversion_reports_bad_requests(backend):
    client = mlcore.Client(backend)
    with pytest.raises(mlcore.InvalidArgumentError, match=r'unknown field "project.colour"'):
        client.invoke("ProjectService/CreateProject", {"project": {"name": "x", "colour": 1}})
    with pytest.raises(mlcore.InvalidArgumentError, match=r'"project.limit.gpu": expected an integer'):
        client.invoke("ProjectService/CreateProject", {"project": {"name": "x", "limit": {"gpu": "2"}}})
    with pytest.raises(mlcore.InvalidArgumentError, match="naive datetime"):
        client.invoke(
            "ProjectService/CreateProject",
            {"project": {"name": "x", "create_time": datetime.datetime(2026, 1, 1)}},
        )
    # camelCase keys and numpy-like ints are accepted
    out = client.invoke("ProjectService/CreateProject", {"project": {"name": "y", "guaranteed": {"cpuMillis": 500}}})
    assert out["guaranteed"]["cpu_millis"] == 500
    info = client.backend_info()
    assert info.scheme == ("grpc" if os.environ.get("MLC_TEST_REMOTE") == "1" else "local")
    assert "CAPABILITY_PROJECTS" in info.capabilities


def test_closed_client_raises(backend):
    client = mlcore.Client(backend)
    client.close()
    with pytest.raises(mlcore.FailedPreconditionError, match="closed"):
        client.projects()


def test_threads_share_a_client(backend):
    client = mlcore.Client(backend)
    errors: list[BaseException] = []

    def work(prefix: str) -> None:
        try:
            for i in range(15):
                client.create_project(f"{prefix}-{i}")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(p,)) for p in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(client.projects()) == 60


def test_config_resolution_and_contexts(isolated):
    resolved = mlcore.config.resolve()
    assert resolved["backend_source"] == "default"
    assert resolved["backend"] == f"local://{isolated}/data/mlcore"

    mlcore.config.set_context("dev", backend=f"local://{isolated}/dev", project="ml-research", use=True)
    client = mlcore.Client()
    assert client.project == "ml-research"
    assert client.config["backend_source"] == "context dev"
    assert mlcore.config.load()["current_context"] == "dev"

    mlcore.config.set_context("other", backend=f"local://{isolated}/other")
    assert mlcore.Client(context="other").backend == f"local://{isolated}/other"
    mlcore.config.delete_context("other")
    with pytest.raises(mlcore.NotFoundError, match="known contexts: dev"):
        mlcore.Client(context="other")

    (isolated / "config.yaml").write_text("contexts:\n  dev: [oops\n")
    with pytest.raises(mlcore.InvalidArgumentError, match=r"config.yaml:3:1"):
        mlcore.Client()


def test_module_level_default_client(backend):
    mlcore.init(backend, project="demo")
    assert mlcore.client().project == "demo"
    mlcore.client().create_project("demo")
    assert [p.name for p in mlcore.projects()] == ["demo"]


def test_the_package_bundles_the_cli(backend):
    import subprocess
    import sys

    from mlcore import _cli

    assert _cli.binary() is not None
    proc = subprocess.run([sys.executable, "-m", "mlcore._cli", "--backend", backend, "project", "ls",
                           "-o", "json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "{}"

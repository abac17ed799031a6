"""Black-box tests of `mlc model ...`: the built binary as a subprocess on a fresh local backend
(per-test state directory and data cache): models, versions from a run artifact and from a local
directory, aliases, URIs, lineage and downloads through the data cache."""

from __future__ import annotations

import filecmp
import json
import os
import subprocess

import pytest

from conftest import mlc_binary

MLC = mlc_binary()
pytestmark = pytest.mark.skipif(not os.path.exists(MLC), reason=f"mlc not built at {MLC}")

EXIT_USAGE, EXIT_NOT_FOUND, EXIT_CONFLICT = 2, 3, 4


@pytest.fixture
def env(isolated, monkeypatch):
    monkeypatch.setenv("MLC_BACKEND", f"local://{isolated}/state")
    monkeypatch.setenv("MLC_PROJECT", "ml")
    monkeypatch.setenv("MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0")
    for var in ("MLC_CACHE_DIR", "MLC_CACHE_COLD_DIR", "MLC_CACHE_CAPACITY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(isolated)
    run("project", "create", "ml")
    return isolated


def run(*args: str, check: int | None = 0, timeout: float = 120):
    proc = subprocess.run([MLC, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if check is not None:
        assert proc.returncode == check, (
            f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def run_json(*args: str, check: int = 0):
    return json.loads(run("-o", "json", *args, check=check).stdout)


def same_tree(a, b) -> bool:
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(
        same_tree(os.path.join(a, d), os.path.join(b, d)) for d in cmp.common_dirs)


def make_model_dir(root, seed: bytes = b"w"):
    (root / "weights").mkdir(parents=True)
    (root / "config.json").write_text('{"layers": 4}\n')
    (root / "weights" / "w.bin").write_bytes(seed * 50_000)
    return root


def register_from_run(env, name: str = "ranker") -> dict:
    """Logs ./model as artifact "model" of run "train" and registers it."""
    run("run", "create", "train", "-q")
    make_model_dir(env / "model")
    run("artifact", "log", "--run", "train", str(env / "model"), "--kind", "model")
    return run_json("model", "register", name, "--run", "train", "--path", "model",
                    "--metric", "val_auc=0.91", "--framework", "pytorch")


def test_create_list_filter_get_update_rename_delete(env):
    out = run("model", "create", "ranker", "--description", "CTR ranker", "--tag", "task=ranking")
    assert "model ranker created" in out.stdout
    run("model", "create", "resnet50", "--tag", "task=vision")
    assert run("model", "create", "ranker", check=EXIT_CONFLICT).returncode == EXIT_CONFLICT
    bad = run("model", "create", "9bad", check=EXIT_USAGE)
    assert "letter" in bad.stderr

    names = [m["name"] for m in run_json("model", "ls").get("models", [])]
    assert names == ["ranker", "resnet50"]
    table = run("model", "ls").stdout.splitlines()
    assert table[0].split()[:3] == ["NAME", "LATEST", "ALIASES"]
    filtered = run_json("model", "ls", "--filter", 'tags.task = "vision"')
    assert [m["name"] for m in filtered["models"]] == ["resnet50"]
    ordered = run_json("model", "ls", "--order-by", "name desc")
    assert [m["name"] for m in ordered["models"]] == ["resnet50", "ranker"]
    err = run("model", "ls", "--filter", "nonsense ==", check=EXIT_USAGE)
    assert "filter" in err.stderr.lower()

    got = run("model", "get", "ranker").stdout
    assert "CTR ranker" in got and "task=ranking" in got and "latest:" in got
    assert "aliases:     none" in got

    run("model", "update", "ranker", "--description", "new text", "--tag", "owner=ann",
        "--remove-tag", "task")
    m = run_json("model", "get", "ranker")
    assert m["description"] == "new text" and m["tags"] == {"owner": "ann"}

    assert "renamed to ranker2" in run("model", "rename", "ranker", "ranker2").stdout
    run("model", "get", "ranker", check=EXIT_NOT_FOUND)
    assert run_json("model", "get", "ranker2")["description"] == "new text"

    # No terminal to ask on: refuses without --yes.
    run("model", "rm", "ranker2", check=EXIT_USAGE)
    assert "deleted" in run("model", "rm", "ranker2", "--yes").stdout
    run("model", "get", "ranker2", check=EXIT_NOT_FOUND)


def test_delete_with_aliases_needs_force(env):
    run("model", "create", "ranker")
    register_from_run(env)
    run("model", "alias", "set", "ranker", "champion", "1")
    err = run("model", "rm", "ranker", "--yes", check=EXIT_CONFLICT)
    assert "champion" in err.stderr
    run("model", "rm", "ranker", "--yes", "--force")
    assert run_json("model", "ls").get("models", []) == []


def test_register_from_run_and_local_dir(env):
    run("model", "create", "ranker")
    v1 = register_from_run(env)
    assert int(v1["version"]) == 1 and v1["status"] == "MODEL_VERSION_STATUS_READY"
    assert v1["metrics"] == {"val_auc": 0.91}
    assert v1["metadata"]["framework"] == "pytorch"

    other = make_model_dir(env / "other", b"x")
    out = run("model", "register", "ranker", "--dir", str(other), "--format", "safetensors",
              "--parent", "ranker/1", "--description", "fine-tuned")
    assert out.stdout.strip() == "registered ranker version 2"
    v2 = run_json("model", "version", "ranker/2")
    assert v2["status"] == "MODEL_VERSION_STATUS_READY"
    assert v2["source"]["kind"] == "MODEL_SOURCE_KIND_UPLOAD"
    assert len(v2["manifestDigest"]) == 64
    assert v2["parentModelVersion"]["id"] == "ranker/1"

    versions = run_json("model", "versions", "ranker")["versions"]
    assert [int(v["version"]) for v in versions] == [2, 1]
    lines = run("model", "versions", "ranker").stdout.splitlines()
    assert lines[0].split()[:2] == ["VERSION", "STATUS"]
    assert [line.split()[:2] for line in lines[1:]] == [["2", "ready"], ["1", "ready"]]

    # Exactly one source.
    run("model", "register", "ranker", check=EXIT_USAGE)
    run("model", "register", "ranker", "--run", "train", "--dir", str(other), check=EXIT_USAGE)
    run("model", "register", "ranker", "--dir", str(env / "missing"), check=EXIT_NOT_FOUND)
    run("model", "register", "nosuch", "--dir", str(other), check=EXIT_NOT_FOUND)


def test_aliases_resolve_and_errors(env):
    run("model", "create", "ranker")
    register_from_run(env)
    run("model", "register", "ranker", "--dir", str(make_model_dir(env / "v2", b"2")))
    assert run("model", "alias", "set", "ranker", "champion", "1").stdout.strip() == (
        "ranker@champion -> version 1")
    moved = run("model", "alias", "set", "ranker", "champion", "2").stdout
    assert "moved from version 1" in moved
    run("model", "alias", "set", "ranker", "challenger", "1")

    m = run_json("model", "get", "ranker")
    assert {a["alias"]: int(a["version"]) for a in m["aliases"]} == {
        "challenger": 1, "champion": 2}
    got = run("model", "get", "ranker").stdout
    assert "ALIAS" in got and "champion" in got

    assert run("model", "resolve", "models:/ranker@champion").stdout.strip() == (
        "models:/ml/ranker/2")
    assert run("model", "resolve", "models:/ranker@latest").stdout.strip() == (
        "models:/ml/ranker/2")
    assert run("model", "resolve", "models:/ranker/1").stdout.strip() == "models:/ml/ranker/1"
    assert int(run_json("model", "version", "ranker@challenger")["version"]) == 1
    assert "aliases:     champion" in run("model", "version", "ranker/2").stdout

    err = run("model", "resolve", "models:/ranker@nope", check=EXIT_NOT_FOUND).stderr
    assert "challenger" in err and "champion" in err
    run("model", "resolve", "models:/ranker/9", check=EXIT_NOT_FOUND)
    run("model", "resolve", "not-a-uri", check=EXIT_USAGE)
    run("model", "alias", "set", "ranker", "latest", "1", check=EXIT_USAGE)
    run("model", "alias", "set", "ranker", "champion", "7", check=EXIT_NOT_FOUND)

    out = run("model", "alias", "rm", "ranker", "champion").stdout
    assert "pointed at version 2" in out
    m = run_json("model", "get", "ranker")
    assert [a["alias"] for a in m["aliases"]] == ["challenger"]
    run("model", "resolve", "models:/ranker@champion", check=EXIT_NOT_FOUND)
    run("model", "alias", "rm", "ranker", "champion", check=EXIT_NOT_FOUND)


def test_lineage_tree(env):
    run("model", "create", "ranker")
    register_from_run(env)
    run("model", "register", "ranker", "--dir", str(make_model_dir(env / "v2", b"2")),
        "--parent", "ranker/1")
    out = run("model", "lineage", "ranker/2").stdout
    lines = out.splitlines()
    assert lines[0] == "ranker/2 (ready)"
    assert any(line.startswith("└── parent: ranker/1 (ready)") for line in lines), out
    # The parent's run is below the parent, indented.
    assert any(line.startswith("    ") and "run: train" in line for line in lines), out
    top = run("model", "lineage", "ranker/1").stdout
    assert "run: train" in top and "artifact:" in top
    data = run_json("model", "lineage", "ranker/2")
    assert int(data["parent"]["version"]["version"]) == 1


def test_download_twice_second_from_hot_tier(env):
    run("model", "create", "ranker")
    register_from_run(env)
    run("model", "alias", "set", "ranker", "champion", "1")
    first = run("model", "download", "models:/ranker@champion", str(env / "out1"))
    assert "from origin" in first.stderr
    second = run("model", "download", "models:/ranker@champion", str(env / "out2"))
    assert "from hot" in second.stderr
    assert same_tree(env / "model", env / "out1")
    assert same_tree(env / "out1", env / "out2")
    # Real files, not links into the cache.
    assert not os.path.islink(env / "out2" / "config.json")
    run("model", "download", "models:/ranker@nope", str(env / "out3"), check=EXIT_NOT_FOUND)

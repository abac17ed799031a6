"""Black-box tests of `mlc artifact ...`: the built binary as a subprocess, on a fresh local
backend."""

from __future__ import annotations

import filecmp
import json
import os
import re
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


def create_run(name: str) -> str:
    run_id = run("run", "create", name, "-q").stdout.strip()
    assert re.fullmatch(r"r[0-9a-f]{12}", run_id), run_id
    return run_id


def make_model(root) -> str:
    model = root / "model"
    (model / "weights").mkdir(parents=True)
    (model / "config.json").write_text('{"layers": 4}\n')
    (model / "weights" / "w.bin").write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    (model / "weights" / "b.bin").write_bytes(b"\x00\x01" * 1000)
    return str(model)


def log_json(*args: str) -> dict:
    return json.loads(run("-o", "json", "artifact", "log", *args).stdout)


def same_tree(a, b) -> bool:
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(
        same_tree(os.path.join(a, d), os.path.join(b, d)) for d in cmp.common_dirs)


def test_log_ls_get_and_download_whole_and_partial(env):
    run_id = create_run("train")
    model = make_model(env)
    out = run("artifact", "log", "--run", "train", model, "--kind", "model", "--label",
              "step=100").stdout
    m = re.match(r"artifact (\S+) logged for run train \(" + run_id + r"\): model \(model, 3 files, "
                 r"1\.0 MiB\)", out)
    assert m, out
    artifact_id = m.group(1)

    table = [line.split() for line in run("artifact", "ls").stdout.splitlines()]
    assert table[0] == ["ID", "OWNER", "PATH", "KIND", "FILES", "SIZE", "CREATED"]
    assert table[1][:5] == [artifact_id, "run/train", "model", "model", "3"]
    assert table[1][5:7] == ["1.0", "MiB"]
    listed = json.loads(run("-o", "json", "artifact", "ls", "--run", run_id).stdout)
    assert [a["id"] for a in listed["artifacts"]] == [artifact_id]
    assert listed["artifacts"][0]["labels"] == {"step": "100"}
    assert run("artifact", "ls", "--prefix", "nope").stdout == ""
    assert run("artifact", "ls", "--kind", "checkpoint").stdout == ""

    got = run("artifact", "get", artifact_id).stdout
    assert re.search(r"^owner:\s+run train \(" + run_id + r"\)$", got, re.M), got
    assert re.search(r"^kind:\s+model$", got, re.M)
    assert re.search(r"^labels:\s+step=100$", got, re.M)
    files = [line.split() for line in got.split("entries:\n", 1)[1].splitlines()]
    assert files[0] == ["PATH", "SIZE", "MODE", "DIGEST"]
    assert [f[0] for f in files[1:]] == ["config.json", "weights/b.bin", "weights/w.bin"]
    assert all(re.fullmatch(r"0[0-7]{3}", f[-2]) and re.fullmatch(r"[0-9a-f]{12}", f[-1])
               for f in files[1:])

    out = run("artifact", "download", artifact_id, "restored").stdout
    assert out.startswith("downloaded 3 files, 1.0 MiB to restored"), out
    assert same_tree(model, env / "restored")
    run("artifact", "download", artifact_id, "part", "--path", "weights")
    assert sorted(os.listdir(env / "part")) == ["weights"]
    assert same_tree(os.path.join(model, "weights"), env / "part" / "weights")
    assert run("artifact", "get", artifact_id, "-o", "json").stdout.count('"path"') >= 4


def test_lineage_duplicate_unsafe_rm_and_gc(env):
    producer = create_run("train")
    consumer = create_run("eval")
    model = make_model(env)
    artifact_id = log_json("--run", producer, model)["id"]

    lineage = run("artifact", "lineage", artifact_id).stdout
    assert f"producer:  run train ({producer})" in lineage
    assert "consumers: none" in lineage
    out = run("artifact", "download", artifact_id, "in", "--for-run", "eval").stdout
    assert f"used by run eval ({consumer})" in out
    lineage = run("artifact", "lineage", artifact_id).stdout
    rows = [line.split() for line in lineage.split("consumers:\n", 1)[1].splitlines()]
    assert rows[0] == ["KIND", "ID", "NAME"] and rows[1][:2] == ["run", consumer]

    # Another tree at the same path of the same owner: ALREADY_EXISTS, the core's message.
    (env / "model" / "config.json").write_text("{}")
    dup = run("artifact", "log", "--run", producer, model, check=EXIT_CONFLICT)
    assert "[ALREADY_EXISTS]" in dup.stderr and "model" in dup.stderr

    evil = env / "evil"
    evil.mkdir()
    os.symlink("/etc/passwd", evil / "link")
    bad = run("artifact", "log", "--run", producer, str(evil), check=EXIT_USAGE)
    assert "[INVALID_ARGUMENT]" in bad.stderr and "link" in bad.stderr
    assert "outside the tree" in bad.stderr

    neither = run("artifact", "log", model, check=EXIT_USAGE)
    assert "--run RUN or --job JOB" in neither.stderr
    run("artifact", "log", "--run", producer, model, "--kind", "weird", check=EXIT_USAGE)

    refused = run("artifact", "rm", artifact_id, check=EXIT_USAGE)
    assert "--yes" in refused.stderr
    assert "deleted" in run("artifact", "rm", artifact_id, "--yes").stdout
    gone = run("artifact", "get", artifact_id, check=EXIT_NOT_FOUND)
    assert "[NOT_FOUND]" in gone.stderr

    report = run("artifact", "gc", "--dry-run").stdout
    assert re.search(r"^blobs scanned:\s+\d+$", report, re.M), report
    assert re.search(r"^blobs removed:\s+0$", report, re.M)  # younger than the 1 h grace
    assert re.search(r"^bytes freed:\s+0 B$", report, re.M)
    assert "dry run" in report
    as_json = json.loads(run("-o", "json", "artifact", "gc", "--dry-run", "--min-age", "1m").stdout)
    assert as_json["dryRun"] is True
    run("artifact", "gc", "--min-age", "1s", check=EXIT_USAGE)  # below 1 min

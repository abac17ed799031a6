"""Black-box tests of `mlc data ...` (and the data side of `mlc job`): the built binary as a
subprocess, on a fresh local backend whose cache lives under its state directory, with a real
HTTP origin (http.server in a thread)."""

from __future__ import annotations

import filecmp
import functools
import hashlib
import http.server
import json
import os
import re
import subprocess
import threading

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


@pytest.fixture
def origin(tmp_path, monkeypatch):
    """(directory, base URL) of a real HTTP server on 127.0.0.1 serving the directory."""
    root = tmp_path / "origin"
    root.mkdir()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def run(*args: str, check: int | None = 0, timeout: float = 120):
    proc = subprocess.run([MLC, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if check is not None:
        assert proc.returncode == check, (
            f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def run_json(*args: str, check: int = 0):
    return json.loads(run("-o", "json", *args, check=check).stdout)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load(uri: str, *flags: str):
    """(local path, summary line) of `mlc data load`."""
    proc = run("data", "load", uri, *flags)
    assert proc.stdout.endswith("\n") and proc.stdout.count("\n") == 1, proc.stdout
    return proc.stdout[:-1], proc.stderr.strip()


def table(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()]


def log_artifact(path, run_name: str = "train") -> str:
    return run_json("artifact", "log", "--run", run_name, str(path))["id"]


def same_tree(a, b) -> bool:
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(
        same_tree(os.path.join(a, d), os.path.join(b, d)) for d in cmp.common_dirs)


def test_load_a_file_fetches_once_then_hits_the_hot_tier(env):
    data = b"id,label\n" + b"1,cat\n" * 5000
    (env / "train.csv").write_bytes(data)
    path, summary = load("train.csv")
    assert path != str(env / "train.csv") and path.startswith(str(env / "state"))
    assert open(path, "rb").read() == data
    assert summary == f"loaded from origin: 29.3 KiB, digest {sha256(data)[:12]}", summary

    again, summary = load(f"file://{env}/train.csv", "--digest", sha256(data))
    assert again == path
    assert summary.startswith("loaded from hot: ")
    response = run_json("data", "load", "train.csv")
    assert response.pop("machineId")  # where localPath is: this machine
    assert response == {"localPath": path, "digest": sha256(data), "sizeBytes": str(len(data)),
                        "source": "LOAD_SOURCE_HOT"}


def test_load_over_http_from_a_real_origin(env, origin):
    root, base = origin
    blob = os.urandom(3 << 20)
    (root / "blob.bin").write_bytes(blob)
    path, summary = load(f"{base}/blob.bin")
    assert open(path, "rb").read() == blob
    assert summary == f"loaded from origin: 3.0 MiB, digest {sha256(blob)[:12]}"
    again, summary = load(f"{base}/blob.bin", "--digest", sha256(blob))
    assert again == path and summary.startswith("loaded from hot")
    stats = run_json("data", "stats")
    assert stats["originFetches"] == "1" and stats["originBytes"] == str(len(blob))

    proc = run("data", "load", f"{base}/absent.bin", check=EXIT_NOT_FOUND)
    assert proc.stdout == "" and "[NOT_FOUND]" in proc.stderr


def test_load_artifacts_a_file_and_a_directory_tree(env):
    run("run", "create", "train", "-q")
    (env / "weights.bin").write_bytes(bytes(range(256)) * 100)
    model = env / "model"
    (model / "weights").mkdir(parents=True)
    (model / "config.json").write_text('{"layers": 4}\n')
    (model / "weights" / "w.bin").write_bytes(os.urandom(100_000))
    (model / "weights" / "b.bin").write_bytes(b"bias" * 10)
    file_id = log_artifact(env / "weights.bin")
    dir_id = log_artifact(model)

    path, summary = load(f"artifact://{file_id}")
    assert open(path, "rb").read() == (env / "weights.bin").read_bytes()
    assert summary.startswith("loaded from origin")

    tree, summary = load(f"artifact://{dir_id}")
    assert os.path.isdir(tree) and same_tree(model, tree)
    assert summary.startswith("loaded from origin: ")
    again, summary = load(f"artifact://{dir_id}")
    assert again == tree and summary.startswith("loaded from hot")
    sub, _ = load(f"artifact://{dir_id}/weights")
    assert sorted(os.listdir(sub)) == ["b.bin", "w.bin"]
    assert same_tree(model / "weights", sub)
    one, _ = load(f"artifact://{dir_id}/config.json")
    assert open(one).read() == '{"layers": 4}\n'
    # Each file is its own cache entry, listed under its artifact URI.
    uris = {e["uri"] for e in run_json("data", "ls")["entries"]}
    assert f"artifact://{dir_id}/weights/w.bin" in uris and f"artifact://{file_id}" in uris


def test_errors_are_clear_and_nothing_wrong_is_served(env):
    (env / "a.txt").write_text("the real content\n")
    proc = run("data", "load", "a.txt", "--digest", "0" * 64, check=EXIT_CONFLICT)
    assert proc.stdout == ""
    assert "[FAILED_PRECONDITION]" in proc.stderr and "0" * 64 in proc.stderr
    assert run_json("data", "ls").get("entries", []) == []

    proc = run("data", "load", "artifact://a0123456789ab", check=EXIT_NOT_FOUND)
    assert "artifact a0123456789ab not found" in proc.stderr and "mlc artifact ls" in proc.stderr
    proc = run("data", "load", "s3://bucket/key", check=EXIT_USAGE)
    assert re.search(r'unsupported scheme "s3".*supported schemes: file, http, https, artifact',
                     proc.stderr), proc.stderr
    assert "malformed digest" in run("data", "load", "a.txt", "--digest", "abc",
                                     check=EXIT_USAGE).stderr
    assert "[NOT_FOUND]" in run("data", "load", "missing.txt", check=EXIT_NOT_FOUND).stderr
    assert "not cached" in run("data", "pin", "a.txt", check=EXIT_NOT_FOUND).stderr
    assert "not cached" in run("data", "evict", "a.txt", check=EXIT_NOT_FOUND).stderr
    assert run("data", "ls", "--tier", "warm", check=EXIT_USAGE).stderr.startswith("mlc: error:")


def test_pin_unpin_and_evict(env):
    (env / "a.txt").write_text("pinned data\n")
    path, _ = load("a.txt")
    out = run("data", "pin", "a.txt", "--owner", "user:ann").stdout
    assert out == f"pinned file://{env}/a.txt; pinned by user:ann\n"
    pinned = table(run("data", "ls", "--pinned").stdout)
    assert pinned[0] == ["URI", "TIER", "SIZE", "PINNED-BY", "LAST-USED", "HITS"]
    assert pinned[1][:2] == [f"file://{env}/a.txt", "hot"] and pinned[1][4] == "user:ann"

    proc = run("data", "evict", "a.txt", check=EXIT_CONFLICT)
    assert "user:ann" in proc.stderr and "[FAILED_PRECONDITION]" in proc.stderr
    assert os.path.exists(path)

    entry = run_json("data", "pin", "a.txt", "--owner", "job:j0123456789ab", "--ttl", "2h")
    assert {p["owner"] for p in entry["pins"]} == {"user:ann", "job:j0123456789ab"}
    assert [p for p in entry["pins"] if p["owner"] == "job:j0123456789ab"][0]["expireTime"]
    run("data", "unpin", "a.txt", "--owner", "job:j0123456789ab")
    out = run("data", "unpin", "a.txt", "--owner", "user:ann").stdout
    assert out.endswith("; pinned by nobody\n")
    assert run("data", "ls", "--pinned").stdout == ""

    out = run("data", "evict", "a.txt").stdout
    assert out == f"evicted a.txt: 1 entry, 12 B freed (12 bytes)\n"
    assert not os.path.exists(path)
    assert run("data", "evict", "a.txt", check=EXIT_NOT_FOUND).returncode == EXIT_NOT_FOUND

    # --pin on load (the default owner), then --force evicts anyway and drops the pin.
    _, summary = load("a.txt", "--pin")
    assert re.search(r", pinned by user:\S+$", summary), summary
    _, summary = load("a.txt", "--pin=job:j0123456789ab")
    assert summary.endswith(", pinned by job:j0123456789ab")
    freed = run_json("data", "evict", "a.txt", "--force")
    assert freed == {"entriesEvicted": "1", "bytesFreed": "12"}
    assert run_json("data", "ls", "--all").get("entries", []) == []


def test_a_refused_eviction_keeps_a_pinned_directory_tree(env):
    run("run", "create", "train", "-q")
    (env / "d" / "sub").mkdir(parents=True)
    (env / "d" / "x.txt").write_text("x\n")
    (env / "d" / "sub" / "y.txt").write_text("y\n")
    dir_id = log_artifact(env / "d")
    tree, summary = load(f"artifact://{dir_id}", "--pin=job:j0123456789ab")
    assert summary.endswith("pinned by job:j0123456789ab")
    proc = run("data", "evict", f"artifact://{dir_id}", check=EXIT_CONFLICT)
    assert "job:j0123456789ab" in proc.stderr
    assert same_tree(env / "d", tree)  # a job reading it keeps its input
    run("data", "evict", f"artifact://{dir_id}", "--tier", "cold", check=EXIT_CONFLICT)
    assert same_tree(env / "d", tree)
    run("data", "unpin", f"artifact://{dir_id}", "--owner", "job:j0123456789ab")
    run("data", "evict", f"artifact://{dir_id}", "--tier", "cold", check=EXIT_NOT_FOUND)
    assert same_tree(env / "d", tree)  # only the (empty) cold tier was asked for
    freed = run_json("data", "evict", f"artifact://{dir_id}")
    assert freed == {"entriesEvicted": "2", "bytesFreed": "4"}
    assert not os.path.exists(tree)
    again, summary = load(f"artifact://{dir_id}")
    assert again == tree and summary.startswith("loaded from origin") and same_tree(env / "d", tree)


def test_ls_is_scoped_to_the_project_unless_all(env, monkeypatch):
    run("project", "create", "other")
    (env / "mine.txt").write_text("ml's\n")
    (env / "theirs.txt").write_text("other's\n")
    load("mine.txt")
    run("-p", "other", "data", "load", "theirs.txt")
    assert [r[0] for r in table(run("data", "ls").stdout)[1:]] == [f"file://{env}/mine.txt"]
    assert [r[0] for r in table(run("-p", "other", "data", "ls").stdout)[1:]] == [
        f"file://{env}/theirs.txt"]
    listed = [r[0] for r in table(run("data", "ls", "--all").stdout)[1:]]
    assert sorted(listed) == [f"file://{env}/mine.txt", f"file://{env}/theirs.txt"]
    assert run("data", "ls", "--all", "--prefix", f"file://{env}/th").stdout.count("\n") == 2
    assert run("data", "ls", "--tier", "cold").stdout == ""
    assert run("data", "ls", "--tier", "hot", "--all").stdout.count("\n") == 3
    monkeypatch.delenv("MLC_PROJECT")
    assert "--all" in run("data", "ls", check=EXIT_USAGE).stderr


def test_stats_counters_move(env):
    data = b"x" * 2048
    (env / "a.bin").write_bytes(data)
    load("a.bin")
    load("a.bin")
    load("a.bin")
    stats = run_json("data", "stats")
    hot = stats["tiers"][0]
    assert hot["tier"] == "CACHE_TIER_HOT"
    assert (hot["hits"], hot["misses"], hot["entries"], hot["usedBytes"]) == ("2", "1", "1", "2048")
    assert stats["originFetches"] == "1" and stats["originBytes"] == "2048"
    assert "verificationFailures" not in stats and int(hot["capacityBytes"]) > 0
    text = run("data", "stats").stdout
    rows = table(text)
    assert rows[0] == ["TIER", "HITS", "MISSES", "HIT-RATIO", "USED", "CAPACITY", "PINNED",
                       "ENTRIES", "EVICTIONS"]
    assert rows[1][:5] == ["hot", "2", "1", "66.7%", "2.0"]
    assert "origin fetches:        1 (2.0 KiB)" in text
    assert "single-flight waits:   0" in text and "verification failures: 0" in text
    assert yaml_field(run("-o", "yaml", "data", "stats").stdout, "originFetches") == "1"


def yaml_field(text: str, key: str) -> str:
    m = re.search(rf"^{key}: (\S+)$", text, re.M)
    return m.group(1).strip('"') if m else ""


def test_prefetch_reports_each_item_and_fails_if_any_failed(env):
    good = b"good data\n"
    (env / "good.txt").write_bytes(good)
    (env / "other.txt").write_text("other\n")
    proc = run("data", "prefetch", "good.txt", "missing.txt", f"other.txt@{'0' * 64}",
               check=EXIT_NOT_FOUND)
    rows = table(proc.stdout)
    assert rows[0] == ["URI", "STATUS", "DIGEST"]
    assert rows[1] == ["good.txt", "OK", sha256(good)[:12]]
    assert rows[2] == ["missing.txt", "NOT_FOUND", "-"]
    assert rows[3] == ["other.txt", "FAILED_PRECONDITION", "-"]
    assert "cannot prefetch missing.txt" in proc.stderr and "2 of 3 failed" in proc.stderr
    _, summary = load("good.txt")
    assert summary.startswith("loaded from hot")
    assert run("data", "prefetch", "good.txt").stdout.splitlines()[1].split()[1] == "OK"
    results = run_json("data", "prefetch", "good.txt", "missing.txt", check=EXIT_NOT_FOUND)
    assert [r.get("code", 0) for r in results["results"]] == [0, 5]


def test_prefetch_without_waiting_starts_the_loads(env):
    (env / "later.txt").write_text("later\n")
    proc = run("data", "prefetch", "later.txt", "--no-wait")
    assert table(proc.stdout)[1] == ["later.txt", "STARTED", "-"]
    assert "loading in the background" in proc.stderr
    # Whether the background load has finished, is in flight (single flight: wait for it) or has
    # not begun, a load now serves the content.
    path, _ = load("later.txt")
    assert open(path).read() == "later\n"


def test_job_reads_its_input_dataset_and_get_shows_the_digest(env):
    data = b"alpha\nbeta\n"
    (env / "input.txt").write_bytes(data)
    (env / "reader.yaml").write_text(
        "name: reader\n"
        "command: [sh, -c, 'cat \"$MLC_INPUT_DATASET_0\"; echo \"n=$MLC_INPUT_DATASETS\"']\n"
        "input_datasets:\n"
        f"  - uri: file://{env}/input.txt\n")
    proc = run("job", "submit", "-f", "reader.yaml", "--follow")
    assert "alpha\nbeta\n" in proc.stdout
    assert re.search(r"^n=/\S+$", proc.stdout, re.M), proc.stdout

    got = run("job", "get", "reader").stdout
    inputs = table(got.split("inputs:\n", 1)[1])
    assert inputs[0] == ["URI", "DIGEST", "SIZE"]
    assert inputs[1] == [f"file://{env}/input.txt", sha256(data)[:12], "11", "B"]
    job = run_json("job", "get", "reader")
    assert job["reproducibility"]["inputDatasets"] == [
        {"uri": f"file://{env}/input.txt", "digest": sha256(data), "sizeBytes": "11"}]
    # The job's pin is released once it has ended; the entry stays cached.
    entries = run_json("data", "ls")["entries"]
    assert [e["uri"] for e in entries] == [f"file://{env}/input.txt"]
    assert not entries[0].get("pinned")


def test_job_with_a_wrong_input_digest_fails_before_running(env):
    (env / "input.txt").write_text("data\n")
    (env / "bad.yaml").write_text(
        "name: bad\ncommand: [sh, -c, 'echo ran']\ninput_datasets:\n"
        f"  - uri: file://{env}/input.txt\n    digest: {'0' * 64}\n")
    proc = run("job", "submit", "-f", "bad.yaml", "--follow", check=None)
    assert proc.returncode != 0 and "ran" not in proc.stdout
    job = run_json("job", "get", "bad")
    assert job["state"] == "JOB_STATE_FAILED"
    assert "cannot load input dataset" in job["message"]


def test_job_outputs_become_artifacts_of_the_job(env):
    work = env / "work"
    work.mkdir()
    (env / "writer.yaml").write_text(
        "name: writer\n"
        f"working_dir: {work}\n"
        "command: [sh, -c, 'mkdir -p logs; echo model > model.txt; echo a > logs/a.txt; "
        "echo b > logs/b.txt']\n"
        "output_paths: [model.txt, 'logs/*.txt']\n")
    run("job", "submit", "-f", "writer.yaml", "--follow")
    rows = table(run("artifact", "ls", "--job", "writer").stdout)
    assert rows[0][:3] == ["ID", "OWNER", "PATH"]
    assert sorted(r[2] for r in rows[1:]) == ["logs/a.txt", "logs/b.txt", "model.txt"]
    assert {r[1] for r in rows[1:]} == {"job/writer"}
    model_id = [r[0] for r in rows[1:] if r[2] == "model.txt"][0]
    path, _ = load(f"artifact://{model_id}")
    assert open(path).read() == "model\n"
    got = run("job", "get", "writer").stdout
    assert re.search(r"^outputs:\s+model.txt, logs/\*.txt$", got, re.M), got

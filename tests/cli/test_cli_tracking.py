"""Black-box tests of `mlc run ...`, `mlc exp ...`, `mlc sync`, `mlc gc`, `mlc tracking-policy`:
the built binary as a subprocess, on a fresh local backend."""

from __future__ import annotations

import datetime
import json
import math
import os
import random
import re
import struct
import subprocess
import zlib

import pytest

from conftest import mlc_binary

MLC = mlc_binary()
pytestmark = pytest.mark.skipif(not os.path.exists(MLC), reason=f"mlc not built at {MLC}")

EPOCH = datetime.datetime(1970, 1, 1)
EXIT_USAGE, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_UNAVAILABLE = 2, 3, 4, 7


@pytest.fixture
def env(isolated, monkeypatch):
    monkeypatch.setenv("MLC_BACKEND", f"local://{isolated}/state")
    monkeypatch.setenv("MLC_PROJECT", "ml")
    monkeypatch.chdir(isolated)
    run("project", "create", "ml")
    return isolated


def run(*args: str, check: int | None = 0, input: str | None = None, timeout: float = 120):
    proc = subprocess.run([MLC, *args], capture_output=True, text=True, input=input,
                          timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)
    if check is not None:
        assert proc.returncode == check, (
            f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def api(method: str, request: dict) -> dict:
    return json.loads(run("api", "call", f"TrackingService/{method}", "-",
                          input=json.dumps(request)).stdout)


def create_run(name: str, *, params: dict | None = None, tags: dict | None = None,
               experiment: str | None = None) -> str:
    args = ["run", "create", name, "-q"]
    for k, v in (params or {}).items():
        args += ["--param", f"{k}={v}"]
    for k, v in (tags or {}).items():
        args += ["--tag", f"{k}={v}"]
    if experiment:
        args += ["-e", experiment]
    run_id = run(*args).stdout.strip()
    assert re.fullmatch(r"r[0-9a-f]{12}", run_id), run_id
    return run_id


def log(run_id: str, key: str, steps, values, times=None, batch: str = "b1") -> None:
    series = {"key": key, "steps": [str(s) for s in steps], "values": list(values)}
    if times is not None:
        series["timesUnixMicros"] = [str(t) for t in times]
    response = api("LogBatch", {"batch": {"runId": run_id, "batchId": batch, "metrics": [series]}})
    assert int(response.get("pointsWritten", 0)) == len(series["steps"])


def end_long_ago(run_id: str) -> None:
    """Ends a run with an old end time, so retention sees it as old without waiting."""
    api("UpdateRun", {"id": run_id, "status": "RUN_STATUS_FINISHED",
                      "endTime": "2020-01-01T00:00:00Z"})


def rows(table: str) -> list[list[str]]:
    return [line.split() for line in table.splitlines()]


def parse_iso_micros(text: str) -> int:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", text), text
    moment = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return (moment - EPOCH) // datetime.timedelta(microseconds=1)


def read_csv(text: str) -> tuple[list[int], list[float], list[int]]:
    lines = text.splitlines()
    assert lines[0] == "step,value,time"
    steps, values, times = [], [], []
    for line in lines[1:]:
        step, value, time = line.split(",")
        steps.append(int(step))
        values.append(float(value))
        times.append(parse_iso_micros(time))
    return steps, values, times


def two_runs(env) -> tuple[str, str]:
    a = create_run("a", params={"lr": "0.01", "batch": "32"}, tags={"team": "recsys"})
    b = create_run("b", params={"lr": "0.1", "batch": "32"})
    log(a, "loss", [0, 1, 2], [1.0, 0.5, 0.25])
    log(a, "acc", [0], [0.75], batch="b2")
    log(b, "loss", [0, 1], [0.9, 0.6])
    return a, b


# ---- run ls / get / params / metrics ----------------------------------------------------------

def test_ls_get_params_and_metric_summaries(env):
    a, b = two_runs(env)
    table = rows(run("run", "ls").stdout)
    assert table[0] == ["ID", "NAME", "STATUS", "EXPERIMENT", "START", "DURATION", "metrics.loss",
                        "metrics.acc"]
    # Newest first; START is relative ("0s ago"), the latest loss is a default column.
    assert table[1][:4] == [b, "b", "RUNNING", "default"] and table[1][-2:] == ["0.6", "-"]
    assert table[2][:4] == [a, "a", "RUNNING", "default"] and table[2][-2:] == ["0.25", "0.75"]
    assert table[1][5] == "ago"

    desc = run("run", "get", "a").stdout
    assert re.search(rf"^id:\s+{a}$", desc, re.M)
    assert re.search(r"^status:\s+RUNNING$", desc, re.M)
    assert re.search(r"^experiment:\s+default \(e[0-9a-f]{12}\)$", desc, re.M)
    assert re.search(r"^params:\n  batch  32\n  lr     0\.01\n", desc, re.M)
    assert re.search(r"^tags:\n  team  recsys\n", desc, re.M)
    metrics = desc[desc.index("metrics:\n"):].splitlines()
    assert metrics[1].split() == ["KEY", "LATEST", "STEP", "MIN", "MAX", "COUNT"]
    assert metrics[2].split() == ["acc", "0.75", "0", "0.75", "0.75", "1"]
    assert metrics[3].split() == ["loss", "0.25", "2", "0.25", "1", "3"]
    assert json.loads(run("run", "get", a, "-o", "json").stdout)["params"] == {
        "lr": "0.01", "batch": "32"}  # by id too

    assert run("run", "params", "a").stdout == "KEY    VALUE\nbatch  32\nlr     0.01\n"
    assert json.loads(run("run", "params", "b", "-o", "json").stdout)["params"] == {
        "batch": "32", "lr": "0.1"}

    summary = rows(run("run", "metrics", "a").stdout)
    assert summary == [["KEY", "LATEST", "STEP", "MIN", "MAX", "COUNT"],
                       ["acc", "0.75", "0", "0.75", "0.75", "1"],
                       ["loss", "0.25", "2", "0.25", "1", "3"]]
    listed = json.loads(run("run", "metrics", "a", "-o", "json").stdout)
    assert [m["key"] for m in listed["metrics"]] == ["acc", "loss"]

    series = rows(run("run", "metrics", "a", "loss").stdout)
    assert series[0] == ["STEP", "VALUE", "TIME"]
    assert [r[:2] for r in series[1:]] == [["0", "1"], ["1", "0.5"], ["2", "0.25"]]


def test_ls_output_formats_columns_and_limit(env):
    a, b = two_runs(env)
    listed = json.loads(run("run", "ls", "-o", "json").stdout)
    assert [r["name"] for r in listed["runs"]] == ["b", "a"]
    assert {m["key"] for m in listed["runs"][1]["metrics"]} == {"acc", "loss"}
    assert "name: a" in run("run", "ls", "-o", "yaml").stdout
    table = rows(run("run", "ls", "--columns", "params.lr,tags.team,user").stdout)
    assert table[0][-3:] == ["params.lr", "tags.team", "user"]
    assert table[1][-3:-1] == ["0.1", "-"] and table[2][-3:-1] == ["0.01", "recsys"]
    assert rows(run("run", "ls", "--columns", "none").stdout)[0][-1] == "DURATION"
    proc = run("run", "ls", "--limit", "1")
    assert len(rows(proc.stdout)) == 2 and "--all-pages" in proc.stderr
    assert len(rows(run("run", "ls", "--limit", "1", "--all-pages").stdout)) == 3
    assert "unknown column" in run("run", "ls", "--columns", "bogus", check=EXIT_USAGE).stderr


def test_filter_selects_one_run_and_order_by_sorts(env):
    a, b = two_runs(env)
    table = rows(run("run", "ls", "--filter", "params.lr < 0.05").stdout)
    assert [r[0] for r in table[1:]] == [a]
    table = rows(run("run", "ls", "-f", 'tags.team = "recsys" and metrics.loss < 0.3').stdout)
    assert [r[0] for r in table[1:]] == [a]
    proc = run("run", "ls", "-f", "metrics.loss > 5")
    assert proc.stdout == "" and proc.stderr.startswith("No runs match the filter")
    def ids(*order_by: str) -> list[str]:
        args = [arg for key in order_by for arg in ("--order-by", key)]
        return [r[0] for r in rows(run("run", "ls", *args).stdout)[1:]]

    assert ids("metrics.loss asc") == [a, b]
    assert ids("metrics.loss desc") == [b, a]
    assert ids("params.batch", "params.lr desc") == [b, a]  # ties fall to the second key


def test_filter_parse_error_shows_the_column_and_exits_2(env):
    two_runs(env)
    proc = run("run", "ls", "--filter", "params.lr lr", check=EXIT_USAGE)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0] == ('mlc: error: filter column 11: expected operator, got "lr" '
                        '[INVALID_ARGUMENT]')
    assert lines[1] == "  params.lr lr"
    assert lines[2] == "  " + " " * 10 + "^"  # under column 11
    proc = run("run", "ls", "--order-by", "metrics.loss upward", check=EXIT_USAGE)
    assert "order_by[0] column 14:" in proc.stderr
    assert proc.stderr.splitlines()[2] == "  " + " " * 13 + "^"


# ---- series: CSV, JSON, downsampling, paging, plots ------------------------------------------

def test_csv_round_trips_a_100k_point_series_exactly(env):
    rng = random.Random(7)
    run_id = create_run("big")
    n = 100_000
    steps = list(range(0, 2 * n, 2))
    values = [rng.uniform(-1, 1) * 10.0 ** rng.randint(-30, 30) for _ in range(n)]
    values[:6] = [0.1, 1 / 3, -0.0, 5e-324, 1.7976931348623157e308, 123456789.00000001]
    start = 1_700_000_000_123_456
    times = [start + i * 1_013 for i in range(n)]
    for part in range(4):  # several batches
        sl = slice(part * n // 4, (part + 1) * n // 4)
        log(run_id, "loss", steps[sl], values[sl], times[sl], batch=f"b{part}")
    out = run("run", "metrics", "big", "loss", "-o", "csv").stdout
    got_steps, got_values, got_times = read_csv(out)
    assert got_steps == steps
    assert got_times == times
    assert all(x == y for x, y in zip(got_values, values)) and len(got_values) == n
    assert math.copysign(1, got_values[2]) == -1  # -0.0 keeps its sign
    # Step bounds.
    got_steps, _, _ = read_csv(run("run", "metrics", run_id, "loss", "--min-step", "10",
                                   "--max-step", "20", "-o", "csv").stdout)
    assert got_steps == [10, 12, 14, 16, 18, 20]
    # JSON: the proto3 JSON of the history.
    doc = json.loads(run("run", "metrics", "big", "loss", "--max-step", "4", "-o", "json").stdout)
    assert doc["series"]["steps"] == ["0", "2", "4"] and doc["series"]["values"] == values[:3]


def test_series_of_more_than_one_page_is_read_whole(env):
    run_id = create_run("huge")
    n = 1_000_003  # the backend's pages hold 1,000,000 points
    half = 600_000
    log(run_id, "x", range(half), [float(i) for i in range(half)], batch="b1")
    log(run_id, "x", range(half, n), [float(i) for i in range(half, n)], batch="b2")
    lines = run("run", "metrics", "huge", "x", "-o", "csv").stdout.splitlines()
    assert len(lines) == n + 1
    assert lines[-1].startswith("1000002,1000002,")
    assert run("run", "metrics", "huge", "x", "--plot", "x.png").stdout == (
        f"wrote x.png ({n} points)\n")


def test_downsampling(env):
    run_id = create_run("ds")
    n = 5000
    log(run_id, "loss", range(n), [math.sin(i / 100) for i in range(n)])
    proc = run("run", "metrics", "ds", "loss", "--downsample", "lttb", "--max-points", "100")
    table = rows(proc.stdout)
    assert len(table) == 101 and table[1][0] == "0" and table[-1][0] == str(n - 1)
    assert "100 of 5000 points" in proc.stderr
    steps, _, _ = read_csv(run("run", "metrics", run_id, "loss", "--downsample", "minmax",
                               "--max-points", "40", "-o", "csv").stdout)
    assert 2 <= len(steps) <= 40 and steps == sorted(steps)
    assert "max-points must be" in run("run", "metrics", "ds", "loss", "--max-points", "2",
                                       check=EXIT_USAGE).stderr


def test_plot_writes_png_and_svg(env):
    run_id = create_run("plotted")
    log(run_id, "loss", range(300), [1 / (1 + i) for i in range(300)])
    proc = run("run", "metrics", "plotted", "loss", "--plot", "loss.png")
    assert proc.stdout == "wrote loss.png (300 points)\n"
    data = (env / "loss.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1000, 600)
    assert zlib.crc32(data[12:29]) == struct.unpack(">I", data[29:33])[0]
    assert data.endswith(b"IEND\xaeB`\x82")

    assert run("run", "metrics", run_id, "loss", "--plot", "loss.svg", "--log-y").stdout == (
        "wrote loss.svg (300 points)\n")
    svg = (env / "loss.svg").read_text()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert f"loss \u2014 run plotted ({run_id})" in svg
    proc = run("run", "metrics", "plotted", "loss", "--plot", "loss.gif", check=EXIT_USAGE)
    assert ".png or .svg" in proc.stderr
    assert not (env / "loss.gif").exists()


# ---- compare ---------------------------------------------------------------------------------

def test_compare_marks_differing_params(env):
    a, b = two_runs(env)
    out = run("run", "compare", "a", "b").stdout
    table = {line[3:].split()[0]: (line[:1].strip(), line[3:].split()[1:])
             for line in out.splitlines()[1:] if not line.startswith("(")}
    assert out.splitlines()[0].split() == ["RUN", "a", "b"]
    assert table["id"] == ("", [a, b])
    assert table["params.lr"] == ("*", ["0.01", "0.1"])
    assert table["params.batch"] == ("", ["32", "32"])
    assert table["metrics.loss"] == ("*", ["0.25", "0.6"])
    assert table["metrics.acc"] == ("*", ["0.75", "-"])
    only_loss = run("run", "compare", a, b, "--metric", "loss").stdout
    assert "metrics.loss" in only_loss and "metrics.acc" not in only_loss
    listed = json.loads(run("run", "compare", "a", "b", "-o", "json").stdout)
    assert [r["id"] for r in listed["runs"]] == [a, b]

    proc = run("run", "compare", "a", "b", "--metric", "loss", "--plot", "cmp.png")
    assert proc.stdout == "wrote cmp.png (2 series, 5 points)\n"
    assert (env / "cmp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A run without the metric is left out of the chart, and said so.
    proc = run("run", "compare", "a", "b", "--metric", "acc", "--plot", "acc.svg")
    assert proc.stdout == "wrote acc.svg (1 series, 1 point)\n" and "has no metric" in proc.stderr
    assert "--metric" in run("run", "compare", "a", "b", "--plot", "x.png", check=EXIT_USAGE).stderr
    run("run", "compare", "a", check=EXIT_USAGE)  # two runs at least


# ---- delete, tag, end, create ------------------------------------------------------------------

def test_delete_asks_for_yes_then_deletes(env):
    a, b = two_runs(env)
    proc = run("run", "delete", "a", check=EXIT_USAGE)  # stdin is not a terminal
    assert "--yes" in proc.stderr
    run("run", "get", a)  # still there
    proc = run("run", "delete", "a", "--yes")
    assert proc.stdout == f"run a ({a}) deleted (2 metric keys, 4 points)\n"
    proc = run("run", "get", a, check=EXIT_NOT_FOUND)
    assert a in proc.stderr and "[NOT_FOUND]" in proc.stderr
    assert [r[0] for r in rows(run("run", "ls").stdout)[1:]] == [b]


def test_delete_on_a_terminal_asks_first(env):
    import pty

    run_id = create_run("asked")

    def delete(answer: str) -> subprocess.CompletedProcess:
        master, slave = pty.openpty()
        try:
            os.write(master, answer.encode())
            return subprocess.run([MLC, "run", "delete", "asked"], stdin=slave,
                                  capture_output=True, text=True, timeout=60)
        finally:
            os.close(slave)
            os.close(master)

    proc = delete("n\n")
    assert proc.returncode == 8 and "Delete run asked" in proc.stderr
    assert "nothing deleted" in proc.stderr
    run("run", "get", run_id)
    proc = delete("y\n")
    assert proc.returncode == 0 and proc.stdout.startswith(f"run asked ({run_id}) deleted")
    run("run", "get", run_id, check=EXIT_NOT_FOUND)


def test_tag_end_and_create(env):
    run_id = create_run("t", tags={"team": "a"}, experiment="study")
    out = run("run", "tag", "t", "stage=dev", "owner=ann", "--remove", "team").stdout
    assert out == f"run t ({run_id}) tags: owner=ann, stage=dev\n"
    assert json.loads(run("run", "get", "t", "-o", "json").stdout)["tags"] == {
        "owner": "ann", "stage": "dev"}
    assert "reserved" in run("run", "tag", "t", "mlc.x=1", check=EXIT_USAGE).stderr
    assert "KEY=VALUE" in run("run", "tag", "t", "novalue", check=EXIT_USAGE).stderr

    out = run("run", "end", "t", "--status", "failed").stdout
    assert out.startswith(f"run t ({run_id}) FAILED after ")
    ended = json.loads(run("run", "get", run_id, "-o", "json").stdout)
    assert ended["status"] == "RUN_STATUS_FAILED" and "endTime" in ended
    run("run", "end", "t", "--status", "finished", check=EXIT_CONFLICT)  # terminal is final
    run("run", "end", "t", "--status", "paused", check=EXIT_USAGE)

    created = json.loads(run("run", "create", "j", "-e", "study", "--param", "lr=1",
                             "-o", "json").stdout)
    assert created["status"] == "RUN_STATUS_RUNNING" and created["params"] == {"lr": "1"}
    out = run("run", "create", "j2").stdout
    assert re.fullmatch(r"run j2 \(r[0-9a-f]{12}\) created in experiment default of project ml: "
                        r"RUNNING\n", out)


def test_unknown_run_is_not_found_naming_it(env):
    for args in (["run", "get", "nope"], ["run", "params", "nope"], ["run", "metrics", "nope"],
                 ["run", "metrics", "nope", "loss"], ["run", "delete", "nope", "--yes"],
                 ["run", "end", "nope"], ["run", "tag", "nope", "a=b"],
                 ["run", "compare", "nope", "nope2"]):
        proc = run(*args, check=EXIT_NOT_FOUND)
        assert 'run "nope" does not exist in project ml' in proc.stderr, args
    run_id = create_run("has-loss")
    log(run_id, "loss", [0], [1.0])
    proc = run("run", "metrics", "has-loss", "accuracy", check=EXIT_NOT_FOUND)
    assert '"accuracy"' in proc.stderr and "loss" in proc.stderr
    proc = run("run", "get", "r000000000000", check=EXIT_NOT_FOUND)
    assert "r000000000000" in proc.stderr


# ---- experiments -----------------------------------------------------------------------------

def test_experiments(env):
    out = run("exp", "create", "study", "-d", "lr sweep", "--tag", "team=a").stdout
    match = re.fullmatch(r'experiment "study" \((e[0-9a-f]{12})\) created in project ml\n', out)
    assert match
    exp_id = match.group(1)
    in_study = create_run("s1", experiment="study")
    create_run("d1")
    table = rows(run("exp", "ls").stdout)
    assert table[0] == ["NAME", "ID", "RUNS", "CREATED", "DESCRIPTION"]
    by_name = {r[0]: r for r in table[1:]}
    assert by_name["study"][1:3] == [exp_id, "1"] and by_name["study"][-2:] == ["lr", "sweep"]
    assert by_name["default"][2] == "1"
    listed = json.loads(run("exp", "ls", "-o", "json").stdout)
    assert {e["name"] for e in listed["experiments"]} == {"default", "study"}
    # Runs of one experiment, by name or id; the EXPERIMENT column is left out then.
    for ref in ("study", exp_id):
        table = rows(run("run", "ls", "-e", ref).stdout)
        assert "EXPERIMENT" not in table[0] and [r[0] for r in table[1:]] == [in_study]
    assert "study" in run("exp", "get", "study").stdout
    run("exp", "create", "study", check=EXIT_CONFLICT)
    proc = run("run", "ls", "-e", "nosuch", check=EXIT_NOT_FOUND)
    assert '"nosuch"' in proc.stderr


# ---- retention, policy, sync -----------------------------------------------------------------

def policy() -> dict:
    return json.loads(run("tracking-policy", "get", "-o", "json").stdout)


def test_gc_dry_run_then_frees_old_runs(env):
    old = create_run("old")
    kept = create_run("kept", tags={"keep": "yes"})
    active = create_run("active")
    for run_id in (old, kept, active):
        log(run_id, "loss", range(1000), [float(i) for i in range(1000)])
    end_long_ago(old)
    end_long_ago(kept)

    proc = run("gc", check=EXIT_CONFLICT)  # no retention age yet
    assert "max_age" in proc.stderr

    out = run("gc", "--max-age", "30d", "--dry-run").stdout
    assert "would delete 1000 metric points of 1 run" in out and "nothing deleted" in out
    assert "maxAge" not in policy().get("retention", {})  # a dry run changes nothing
    assert len(read_csv(run("run", "metrics", "old", "loss", "-o", "csv").stdout)[0]) == 1000

    stored_before = int(policy()["storedBytes"])
    out = run("gc", "--max-age", "30d").stdout
    assert ('retention of project ml: metrics of runs ended over 30d ago, '
            'except runs tagged "keep"') in out
    match = re.search(r"deleted 1000 metric points of 1 run; freed ([\d.]+) (B|KiB|MiB)", out)
    assert match and float(match.group(1)) > 0
    assert int(policy()["storedBytes"]) < stored_before
    assert policy()["retention"] == {"maxAge": "2592000s", "deleteMetrics": True}
    # The summaries stay; the points of the old run are gone, the others' remain.
    assert rows(run("run", "metrics", "old").stdout)[1][-1] == "1000"
    proc = run("run", "metrics", "old", "loss", "-o", "csv")
    assert proc.stdout == "step,value,time\n" and "holds no points" in proc.stderr
    assert len(read_csv(run("run", "metrics", "kept", "loss", "-o", "csv").stdout)[0]) == 1000
    assert len(read_csv(run("run", "metrics", "active", "loss", "-o", "csv").stdout)[0]) == 1000
    # Nothing left to free; JSON output.
    again = json.loads(run("gc", "-o", "json").stdout)
    assert again.get("pointsDeleted", "0") == "0"
    # --keep-tag: runs tagged "pin" are kept now, and "keep" no longer protects "kept" (1000
    # points); "active" (1001 points) is pinned.
    log(active, "loss", [5000], [1.0], batch="late")
    end_long_ago(active)
    run("run", "tag", "active", "pin=1")
    out = run("gc", "--keep-tag", "pin", "--dry-run").stdout
    assert 'except runs tagged "pin"' in out and "would delete 1000 metric points of 1 run" in out
    assert "keepTag" not in policy()["retention"]  # restored after the dry run


def test_tracking_policy_get_and_set(env):
    out = run("tracking-policy", "get").stdout
    assert re.search(r"^max points/s:\s+unlimited$", out, re.M)
    assert re.search(r"^retention:\s+none", out, re.M)
    out = run("tracking-policy", "set", "--max-stored-bytes", "10Gi",
              "--max-points-per-second", "5000", "--max-age", "90d", "--keep-tag", "pin").stdout
    assert re.search(r"^max stored bytes:\s+10\.0 GiB$", out, re.M)
    p = policy()
    assert p["maxStoredBytes"] == str(10 * 2**30) and p["maxPointsPerSecond"] == "5000"
    assert p["retention"]["maxAge"] == "7776000s" and p["retention"]["keepTag"] == "pin"
    assert p["retention"]["deleteMetrics"] is True
    run("tracking-policy", "set", "--max-stored-bytes", "unlimited")
    p = policy()
    assert "maxStoredBytes" not in p and p["maxPointsPerSecond"] == "5000"  # others kept
    assert "invalid size" in run("tracking-policy", "set", "--max-stored-bytes", "lots",
                                 check=EXIT_USAGE).stderr
    run("tracking-policy", "set", "--max-age", "soon", check=EXIT_USAGE)


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes | str) -> bytes:
    """A length-delimited protobuf field (string, bytes, message or packed repeated)."""
    if isinstance(payload, str):
        payload = payload.encode()
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _spool_file(path, records: list[bytes]) -> None:
    with open(path, "wb") as f:
        for record in records:
            f.write(struct.pack("<II", len(record), zlib.crc32(record)) + record)


def test_sync_of_an_empty_and_of_a_written_spool(env, monkeypatch):
    spool = env / "spool"
    spool.mkdir()
    assert run("sync", "--spool-dir", str(spool)).stdout == f"nothing to sync in {spool}\n"
    monkeypatch.setenv("MLC_SPOOL_DIR", str(spool))
    assert run("sync").stdout == f"nothing to sync in {spool}\n"

    # One offline run as RunLogger spools it: create, a batch, the end.
    backend = os.environ["MLC_BACKEND"]
    placeholder = "offline-3b0e8a34-5d0f-4c1a-9e43-1d0f1e2b3c4d"
    run_msg = _field(1, placeholder) + _field(2, "ml") + _field(4, "offline-run")
    create = _field(1, run_msg) + _field(3, "7f0c1a2b-0000-4000-8000-000000000001")
    series = (_field(1, "loss") + _field(2, b"".join(_varint(s) for s in (0, 1, 2)))
              + _field(3, struct.pack("<3d", 1.0, 0.5, 0.25)))
    batch = _field(1, placeholder) + _field(2, placeholder + "-1") + _field(3, series)
    update = _field(1, placeholder) + _varint(2 << 3) + _varint(3)  # status FINISHED
    _spool_file(spool / f"{placeholder}.spool", [
        _field(1, create) + _field(4, backend),
        _field(2, batch) + _field(4, backend),
        _field(3, update) + _field(4, backend),
    ])
    # And a batch for a run that does not exist: kept, reported, exit 7.
    bad = _field(1, "r0123456789ab") + _field(2, "x-1") + _field(3, series)
    _spool_file(spool / "r0123456789ab.spool", [_field(2, bad) + _field(4, backend)])

    proc = run("sync", check=EXIT_UNAVAILABLE)
    assert proc.stdout == ("synced 2 files: 1 run created, 1 batch (0 already applied), 3 points; "
                           "1 file left\n")
    assert "r0123456789ab" in proc.stderr and "spool file kept" in proc.stderr
    assert sorted(p.name for p in spool.iterdir()) == ["r0123456789ab.spool"]
    synced = json.loads(run("run", "get", "offline-run", "-o", "json").stdout)
    assert synced["status"] == "RUN_STATUS_FINISHED"
    steps, values, _ = read_csv(run("run", "metrics", "offline-run", "loss", "-o", "csv").stdout)
    assert (steps, values) == ([0, 1, 2], [1.0, 0.5, 0.25])

    (spool / "r0123456789ab.spool").unlink()
    report = json.loads(run("sync", "-o", "json").stdout)
    assert report["files"] == 0 and report["filesLeft"] == 0 and report["spoolDir"] == str(spool)

#!/usr/bin/env python3
"""Experiment-tracking benchmark: mlcore against MLflow, side by side in one process.

Workload (the issue's): one run, 10 metric keys x 100,000 steps = 1,000,000 points, timed from the
first logging call until the data is durable (after the call that makes the store persist
returns). Every measurement prints one JSON line on stdout (/work/shared/BENCHMARKS.md); our runs
and the peer's are interleaved (A B C ... A B C ...), the median is reported with min and max, and
one warm-up run per mode is discarded.

Lines (bench name: what it compares):
  tracking.mlflow.log_metric.file         mlflow.log_metric per point, file store (file:// URI)
  tracking.mlflow.log_metric.sqlite       mlflow.log_metric per point, sqlite store (one
        commit, so one fsync, per call; the file store appends without fsync)
  tracking.mlflow.log_metric_async.file   mlflow.log_metric(synchronous=False) + flush_async_logging
  tracking.mlflow.log_metric_async.sqlite   the same on sqlite
        MLflow per-point modes log a time-boxed prefix of the workload (the first N steps x 10
        keys, N sized from the warm-up run's rate to take ~4 s; params.steps and
        params.sampled_points) since the whole of it would take hours; log_batch likewise.
  tracking.mlflow.log_batch.file|sqlite   MlflowClient.log_batch in chunks of 1,000 Metric objects
        (MLflow's per-request limit) built from the same numpy arrays (building them is timed).
  tracking.mlflow.read_history.sqlite     MlflowClient.get_metric_history of a 1-key series.
  tracking.mlflow.read_downsampled.sqlite   the sqlite store's get_metric_history_bulk_interval
        (the SQL sampling behind MLflow's UI charts) to 1,000 points of that series.
  tracking.log_metric.python    mlcore run.log_metric per point, whole workload; peer = the
        fastest MLflow per-point mode above (by median); target >= 1e6 points/s and >= 100x peer.
  tracking.log_batch.python     mlcore run.log_metric_series from numpy, whole workload; peer =
        the faster MLflow log_batch store; target >= 1e7 points/s.
  tracking.read_history         ms to read a 1,000,000-point series into numpy (fresh Client per
        read, content verified); peer = MLflow get_metric_history on sqlite of a shorter series,
        extrapolated linearly to the same point count (a per-point read-rate ratio; MLflow pages
        with OFFSET, so linear extrapolation favours it); target <= 50 ms.
  tracking.read_downsampled     ms for a 1,000-point LTTB view of the same series; peer = MLflow's
        bulk-interval sampling of its (20x shorter) series, not extrapolated; target <= 10 ms.
  tracking.train_loop_overhead  % change of a busy training loop's time per step (pure-Python
        work of ~5 ms per step, 10 log_metric calls per step, the final flush included) with
        mlcore logging on vs off; peer = the same loop with MLflow async logging (file store);
        ratio = MLflow's time per step / mlcore's; target < 1 %.
  tracking.*.cpp                lines of build/release/bench/tracking_bench_cpp (--cpp PATH): run
        once after the Python rounds; where a points/s line has no peer, this script adds MLflow's
        fastest per-point mode (or log_batch for a *batch* line) as peer and the ratio, and keeps
        the binary's own target and met.

Usage: tracking_bench.py [--tiny | --quick] [--only log_metric,log_batch,read,train_loop,cpp]
                         [--runs N] [--cpp PATH] [--skip-mlcore] [--skip-mlflow] [--tmp DIR]
Run it with .venv-bench/bin/python (scripts/bench-env.sh makes it; scripts/bench.sh tracking
does everything). A side whose package is missing is skipped with one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

# MLflow 3.x refuses the file store unless told, and would try to send usage telemetry.
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")

import numpy as np

# JSON lines go to the real stdout; anything a library prints goes to stderr instead.
_OUT = sys.stdout
sys.stdout = sys.stderr

SECTIONS = ("log_metric", "log_batch", "read", "train_loop", "cpp")
MLFLOW_PER_POINT = ("file", "sqlite", "async.file", "async.sqlite")


def note(msg: str) -> None:
    print(f"tracking_bench: {msg}", file=sys.stderr, flush=True)


def num(v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    if isinstance(v, (bool, str)):
        return v
    v = float(v) if float(v) == math.floor(v) and abs(v) < 1e15 else float(f"{v:.6g}")
    return int(v) if v == math.floor(v) and abs(v) < 1e15 else v


def emit(bench, unit, values, target, met, *, peer=None, peer_value=None, ratio=None,
         stat="median", value=None, extra=None, params=None) -> None:
    line = {"bench": bench, "unit": unit,
            "value": num(value if value is not None else statistics.median(values))}
    if peer is not None and peer_value is not None:
        line.update(peer=peer, peer_value=num(peer_value), ratio=num(ratio))
    line.update(target=target, met=bool(met), runs=len(values), stat=stat,
                min=num(min(values)), max=num(max(values)))
    for k, v in (extra or {}).items():
        line[k] = num(v)
    line["params"] = {k: num(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                      for k, v in (params or {}).items()}
    _OUT.write(json.dumps(line, separators=(",", ":")) + "\n")
    _OUT.flush()


class Sizes:
    """Workload sizes. MLflow's write samples are time-boxed: its warm-up run (the first
    `*_warmup_steps` steps) gives its rate, and each timed run then logs the first N steps with N
    chosen to take about `mlflow_seconds` (the sqlite store commits, and so fsyncs, per call: its
    rate swings 10x with the disk's load). Tiny mode has no warm-up and fixed samples."""

    def __init__(self, mode: str):
        self.keys = 10
        self.runs, self.warmup = 5, 1
        self.per_point_warmup_steps, self.batch_warmup_steps = 5, 100
        if mode == "tiny":
            self.steps = 100
            self.mlflow_seconds = 0.0
            self.mlflow_steps, self.mlflow_batch_steps = 2, 20
            self.read_points, self.mlflow_read_points = 10_000, 1_000
            self.train_steps, self.step_ms = 10, 1.0
            self.runs, self.warmup = 1, 0
        elif mode == "quick":
            self.steps = 10_000
            self.mlflow_seconds = 1.0
            self.read_points, self.mlflow_read_points = 100_000, 10_000
            self.train_steps, self.step_ms = 50, 5.0
            self.runs = 3
        else:
            self.steps = 100_000
            self.mlflow_seconds = 4.0
            # MLflow reads ~30,000 points/s from sqlite here; it pages 25,000 rows per query.
            self.read_points, self.mlflow_read_points = 1_000_000, 50_000
            self.train_steps, self.step_ms = 200, 5.0
        self.max_points = 1000

    def sample(self, warm_seconds: float, warm_steps: int, lo: int, multiple: int) -> int:
        """Steps of an MLflow run taking about mlflow_seconds, from a warm-up's rate."""
        n = int(warm_steps * self.mlflow_seconds / max(warm_seconds, 1e-9))
        n = max(lo, min(self.steps, n))
        return max(lo, n // multiple * multiple)


def key_names(keys: int) -> list[str]:
    return [f"metric{k}" for k in range(keys)]


# ----------------------------------------------------------------------------------------------
# mlcore side


def load_mlcore():
    """The mlcore module if it has the tracking API, else None (one line on stderr)."""
    try:
        import mlcore
    except Exception as e:  # noqa: BLE001 - any import failure means "skip"
        note(f"skipping mlcore measurements: import mlcore failed: {e}")
        return None
    missing = [n for n in ("Client", "init", "start_run") if not hasattr(mlcore, n)]
    if not missing and not hasattr(mlcore.Client, "get_metric_history"):
        missing.append("Client.get_metric_history")
    if missing:
        note(f"skipping mlcore measurements: mlcore {getattr(mlcore, '__version__', '?')} "
             f"lacks {', '.join(missing)}")
        return None
    return mlcore


class Mlcore:
    def __init__(self, mlcore, root: str):
        self.m, self.root, self.count = mlcore, root, 0

    def fresh(self) -> str:
        self.count += 1
        path = os.path.join(self.root, f"mlcore-{self.count}")
        client = self.m.init(backend=f"local://{path}", project="bench")
        try:
            client.create_project("bench")
        except self.m.AlreadyExistsError:
            pass
        return path

    def per_point(self, steps: int, keys: int) -> float:
        """Seconds from the first log_metric to flush() returning."""
        path = self.fresh()
        names = key_names(keys)
        run = self.m.start_run(name="bench", system_metrics=False)
        t0 = time.perf_counter()
        for s in range(steps):
            v = 1.0 / (s + 1)
            for name in names:
                run.log_metric(name, v, step=s)
        run.flush()
        dt = time.perf_counter() - t0
        run.end()
        shutil.rmtree(path, ignore_errors=True)
        return dt

    def batch(self, step_arr, value_arrs) -> float:
        path = self.fresh()
        run = self.m.start_run(name="bench", system_metrics=False)
        t0 = time.perf_counter()
        for name, values in zip(key_names(len(value_arrs)), value_arrs):
            run.log_metric_series(name, step_arr, values)
        run.flush()
        dt = time.perf_counter() - t0
        run.end()
        shutil.rmtree(path, ignore_errors=True)
        return dt

    def make_series(self, n: int):
        """A run holding metric "loss" with n points; returns (backend URI, run id)."""
        path = self.fresh()
        run = self.m.start_run(name="read", system_metrics=False)
        run.log_metric_series("loss", np.arange(n, dtype=np.int64), series_values(n))
        run.end()
        return f"local://{path}", run.id

    def _client(self, uri):
        return self.m.Client(uri)

    def read(self, uri: str, run_id: str, n: int) -> float:
        """Seconds to read the whole series into numpy with a fresh Client, content verified."""
        client = self._client(uri)
        t0 = time.perf_counter()
        steps, values, _times = client.get_metric_history(run_id, "loss")
        ok = (len(steps) == n and int(steps[-1]) == n - 1
              and math.isclose(float(values[-1]), last_value(n), rel_tol=1e-6, abs_tol=1e-9))
        dt = time.perf_counter() - t0
        close(client)
        if not ok:
            raise RuntimeError(f"mlcore read {len(steps)} points, expected {n} ending at step "
                               f"{n - 1} with {last_value(n)}")
        return dt

    def read_downsampled(self, uri: str, run_id: str, n: int, max_points: int) -> float:
        client = self._client(uri)
        t0 = time.perf_counter()
        steps, _values, _times = client.get_metric_history(run_id, "loss", max_points=max_points,
                                                           method="lttb")
        ok = 2 <= len(steps) <= max_points and int(steps[-1]) == n - 1 and int(steps[0]) == 0
        dt = time.perf_counter() - t0
        close(client)
        if not ok:
            raise RuntimeError(f"mlcore downsampled view has {len(steps)} points "
                               f"(want 2..{max_points}, first step 0, last {n - 1})")
        return dt

    def start_loop_run(self):
        path = self.fresh()
        return path, self.m.start_run(name="train", system_metrics=False)


def close(client) -> None:
    c = getattr(client, "close", None)
    if c is not None:
        c()


def series_values(n: int):
    return np.sin(np.arange(n, dtype=np.float64) * 1e-3)


def last_value(n: int) -> float:
    return float(np.sin(np.float64(n - 1) * 1e-3))


# ----------------------------------------------------------------------------------------------
# MLflow side


def load_mlflow():
    try:
        warnings.filterwarnings("ignore")
        import logging

        import mlflow
        from mlflow import MlflowClient
        from mlflow.entities import Metric
    except Exception as e:  # noqa: BLE001
        note(f"skipping MLflow measurements: import mlflow failed: {e} "
             "(run scripts/bench-env.sh and use .venv-bench/bin/python)")
        return None
    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return mlflow, MlflowClient, Metric


class Mlflow:
    def __init__(self, mods, root: str):
        self.mlflow, self.Client, self.Metric = mods
        self.root, self.count = root, 0
        # A migrated empty sqlite store, copied for each run (creating one runs ~1.5 s of
        # migrations; a copy is the same fresh store).
        self.template = os.path.join(root, "mlflow-template.db")
        self.Client(tracking_uri=f"sqlite:///{self.template}").search_experiments()
        self.version = self.mlflow.__version__

    def fresh(self, store: str):
        """(tracking URI, path to delete) of a new empty store."""
        self.count += 1
        if store == "sqlite":
            path = os.path.join(self.root, f"mlflow-{self.count}.db")
            shutil.copyfile(self.template, path)
            return f"sqlite:///{path}", path
        path = os.path.join(self.root, f"mlflow-{self.count}")
        return f"file://{path}", path

    @staticmethod
    def remove(path: str) -> None:
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.exists(path):
            os.remove(path)

    def per_point(self, mode: str, steps: int, keys: int) -> float:
        """Seconds to durable for steps x keys mlflow.log_metric calls."""
        synchronous = not mode.startswith("async.")
        uri, path = self.fresh(mode.split(".")[-1])
        ml = self.mlflow
        ml.set_tracking_uri(uri)
        ml.set_experiment("bench")
        ml.start_run(run_name="bench")
        names = key_names(keys)
        t0 = time.perf_counter()
        if synchronous:  # each call returns after the store wrote the point
            for s in range(steps):
                v = 1.0 / (s + 1)
                for name in names:
                    ml.log_metric(name, v, step=s)
        else:
            for s in range(steps):
                v = 1.0 / (s + 1)
                for name in names:
                    ml.log_metric(name, v, step=s, synchronous=False)
            ml.flush_async_logging()
        dt = time.perf_counter() - t0
        ml.end_run()
        self.remove(path)
        return dt

    def _log_batch(self, client, run_id, name_arrays, step_arr) -> None:
        Metric = self.Metric
        steps = step_arr.tolist()
        ts = int(time.time() * 1000)
        for name, values in name_arrays:
            vals = values.tolist()
            for i in range(0, len(steps), 1000):
                client.log_batch(run_id, metrics=[Metric(name, v, ts, s) for s, v in
                                                  zip(steps[i:i + 1000], vals[i:i + 1000])])

    def batch(self, store: str, step_arr, value_arrs) -> float:
        uri, path = self.fresh(store)
        client = self.Client(tracking_uri=uri)
        run_id = client.create_run(client.create_experiment("bench")).info.run_id
        t0 = time.perf_counter()
        self._log_batch(client, run_id, zip(key_names(len(value_arrs)), value_arrs), step_arr)
        dt = time.perf_counter() - t0
        client.set_terminated(run_id)
        self.remove(path)
        return dt

    def make_series(self, n: int):
        uri, _path = self.fresh("sqlite")
        client = self.Client(tracking_uri=uri)
        run_id = client.create_run(client.create_experiment("read")).info.run_id
        self._log_batch(client, run_id, [("loss", series_values(n))],
                        np.arange(n, dtype=np.int64))
        client.set_terminated(run_id)
        return uri, run_id

    def read(self, uri: str, run_id: str, n: int) -> float:
        client = self.Client(tracking_uri=uri)
        t0 = time.perf_counter()
        history = client.get_metric_history(run_id, "loss")
        last = max(history, key=lambda m: m.step) if history else None
        ok = (len(history) == n and last.step == n - 1
              and math.isclose(last.value, last_value(n), rel_tol=1e-6, abs_tol=1e-9))
        dt = time.perf_counter() - t0
        if not ok:
            raise RuntimeError(f"MLflow read {len(history)} points, expected {n}")
        return dt

    def read_downsampled(self, uri: str, run_id: str, n: int, max_points: int) -> float:
        store = self.Client(tracking_uri=uri)._tracking_client.store
        t0 = time.perf_counter()
        sampled = store.get_metric_history_bulk_interval([run_id], "loss", max_points, None, None)
        steps = [m.step for m in sampled]
        ok = 2 <= len(steps) <= max_points and min(steps) == 0 and max(steps) == n - 1
        dt = time.perf_counter() - t0
        if not ok:
            raise RuntimeError(f"MLflow downsampled view has {len(steps)} points")
        return dt


# ----------------------------------------------------------------------------------------------
# Measurements


def rates(points: int, seconds: list[float]) -> list[float]:
    return [points / s for s in seconds]


def bench_log_metric(sz, mc, mf, results) -> None:
    if not mc and not mf:
        return
    fns, steps = {}, {}
    if mc:
        fns["mlcore"] = lambda st: mc.per_point(st, sz.keys)
        steps["mlcore"] = sz.steps
        for _ in range(sz.warmup):  # warm-up, discarded
            fns["mlcore"](max(1, sz.steps // 10))
    if mf:
        for mode in MLFLOW_PER_POINT:
            fns[mode] = (lambda m: lambda st: mf.per_point(m, st, sz.keys))(mode)
            if sz.warmup:  # warm-up, discarded; its rate sizes the time-boxed sample
                warm = [fns[mode](sz.per_point_warmup_steps) for _ in range(sz.warmup)]
                steps[mode] = sz.sample(warm[-1], sz.per_point_warmup_steps, 2, 1)
            else:
                steps[mode] = sz.mlflow_steps
    times = {name: [] for name in fns}
    for r in range(sz.runs):
        note(f"log_metric round {r + 1}/{sz.runs}: "
             + ", ".join(f"{name} {st} steps" for name, st in steps.items()))
        for name, fn in fns.items():
            times[name].append(fn(steps[name]))
    best = None
    if mf:
        for mode in MLFLOW_PER_POINT:
            pts = rates(steps[mode] * sz.keys, times[mode])
            sync = "async" not in mode
            store = mode.split(".")[-1]
            name = f"tracking.mlflow.log_metric{'' if sync else '_async'}.{store}"
            emit(name, "points/s", pts, "report", True,
                 params={"mlflow": mf.version, "store": store, "keys": sz.keys,
                         "steps": steps[mode], "sampled_points": steps[mode] * sz.keys,
                         "workload_points": sz.steps * sz.keys,
                         "sample": f"first steps, sized to ~{sz.mlflow_seconds:g} s from the "
                                   "warm-up's rate" if sz.warmup else "fixed",
                         "call": "mlflow.log_metric" + ("" if sync else "(synchronous=False)"),
                         "durable": "each call returns" if sync else "flush_async_logging()",
                         "warmup_discarded": sz.warmup})
            med = statistics.median(pts)
            if best is None or med > best[1]:
                best = (f"mlflow.log_metric{'' if sync else '_async'}.{store}", med, pts, mode)
        results["per_point_peer"] = best
    if mc:
        pts = rates(sz.steps * sz.keys, times["mlcore"])
        med = statistics.median(pts)
        extra, params = {}, {"keys": sz.keys, "steps": sz.steps, "call": "run.log_metric",
                             "durable": "run.flush()", "warmup_discarded": sz.warmup}
        if best:
            ratio = med / best[1]
            met = med >= 1e6 and ratio >= 100
            extra = {"peer_min": min(best[2]), "peer_max": max(best[2])}
            params.update(peer_sampled_points=steps[best[3]] * sz.keys,
                          mlflow=mf.version)
        else:
            ratio, met = None, False  # the peer half of the target cannot be checked
        emit("tracking.log_metric.python", "points/s", pts, ">=1e6 points/s and >=100x peer",
             met, peer=best[0] if best else None, peer_value=best[1] if best else None,
             ratio=ratio, extra=extra, params=params)


def bench_log_batch(sz, mc, mf, results) -> None:
    if not mc and not mf:
        return
    def arrays(steps):
        step_arr = np.arange(steps, dtype=np.int64)
        return step_arr, [np.sin(step_arr * 1e-3) + k for k in range(sz.keys)]

    fns, data = {}, {}
    if mc:
        fns["mlcore"] = lambda a: mc.batch(*a)
        data["mlcore"] = arrays(sz.steps)
        for _ in range(sz.warmup):
            fns["mlcore"](arrays(max(1, sz.steps // 10)))
    steps = {}
    if mf:
        for store in ("file", "sqlite"):
            fns[store] = (lambda s: lambda a: mf.batch(s, *a))(store)
            if sz.warmup:
                warm = [fns[store](arrays(sz.batch_warmup_steps)) for _ in range(sz.warmup)]
                steps[store] = sz.sample(warm[-1], sz.batch_warmup_steps, 100, 100)
            else:
                steps[store] = sz.mlflow_batch_steps
            data[store] = arrays(steps[store])
    times = {name: [] for name in fns}
    for r in range(sz.runs):
        note(f"log_batch round {r + 1}/{sz.runs}: "
             + ", ".join(f"{name} {len(d[0])} steps" for name, d in data.items()))
        for name, fn in fns.items():
            times[name].append(fn(data[name]))
    best = None
    if mf:
        for store in ("file", "sqlite"):
            pts = rates(steps[store] * sz.keys, times[store])
            emit(f"tracking.mlflow.log_batch.{store}", "points/s", pts, "report", True,
                 params={"mlflow": mf.version, "store": store, "keys": sz.keys,
                         "steps": steps[store],
                         "sampled_points": steps[store] * sz.keys,
                         "workload_points": sz.steps * sz.keys,
                         "sample": f"first steps, sized to ~{sz.mlflow_seconds:g} s from the "
                                   "warm-up's rate" if sz.warmup else "fixed",
                         "call": "MlflowClient.log_batch, 1000 Metric objects per call "
                                 "(built from numpy arrays, timed)",
                         "durable": "each call returns", "warmup_discarded": sz.warmup})
            med = statistics.median(pts)
            if best is None or med > best[1]:
                best = (f"mlflow.log_batch.{store}", med, pts, store)
        results["batch_peer"] = best
    if mc:
        pts = rates(sz.steps * sz.keys, times["mlcore"])
        med = statistics.median(pts)
        extra = {"peer_min": min(best[2]), "peer_max": max(best[2])} if best else {}
        params = {"keys": sz.keys, "steps": sz.steps,
                  "call": "run.log_metric_series(name, int64 steps, float64 values)",
                  "durable": "run.flush()", "warmup_discarded": sz.warmup}
        if best:
            params.update(peer_sampled_points=steps[best[3]] * sz.keys, mlflow=mf.version)
        emit("tracking.log_batch.python", "points/s", pts, ">=1e7 points/s", med >= 1e7,
             peer=best[0] if best else None, peer_value=best[1] if best else None,
             ratio=med / best[1] if best else None, extra=extra, params=params)


def bench_read(sz, mc, mf) -> None:
    ours = peer = None
    if not mc and not mf:
        return
    if mc:
        note(f"read: writing a {sz.read_points}-point mlcore series")
        ours = mc.make_series(sz.read_points)
    if mf:
        note(f"read: writing a {sz.mlflow_read_points}-point MLflow series (log_batch, sqlite)")
        peer = mf.make_series(sz.mlflow_read_points)
    kinds = ("full", "down")
    t = {(side, k): [] for side in ("mlcore", "mlflow") for k in kinds}

    def one(side, kind):
        if side == "mlcore":
            if kind == "full":
                return mc.read(*ours, sz.read_points)
            return mc.read_downsampled(*ours, sz.read_points, sz.max_points)
        if kind == "full":
            return mf.read(*peer, sz.mlflow_read_points)
        return mf.read_downsampled(*peer, sz.mlflow_read_points, sz.max_points)

    sides = [s for s, have in (("mlcore", ours), ("mlflow", peer)) if have]
    for _ in range(sz.warmup):
        for side in sides:
            for kind in kinds:
                one(side, kind)
    for r in range(sz.runs):
        note(f"read round {r + 1}/{sz.runs}")
        for kind in kinds:
            for side in sides:
                t[(side, kind)].append(one(side, kind) * 1000)
    if peer:
        emit("tracking.mlflow.read_history.sqlite", "ms", t[("mlflow", "full")], "report", True,
             extra={"points_per_s": sz.mlflow_read_points * 1000
                    / statistics.median(t[("mlflow", "full")])},
             params={"mlflow": mf.version, "points": sz.mlflow_read_points,
                     "call": "MlflowClient.get_metric_history", "verified": "count, last point",
                     "warmup_discarded": sz.warmup})
        emit("tracking.mlflow.read_downsampled.sqlite", "ms", t[("mlflow", "down")], "report",
             True, params={"mlflow": mf.version, "points": sz.mlflow_read_points,
                           "max_points": sz.max_points,
                           "call": "SqlAlchemyStore.get_metric_history_bulk_interval",
                           "verified": "count, first and last step",
                           "warmup_discarded": sz.warmup})
    if not ours:
        return
    full = t[("mlcore", "full")]
    med = statistics.median(full)
    kw, extra = {}, {}
    params = {"points": sz.read_points, "call": "Client.get_metric_history (fresh Client per read)",
              "verified": "count, last step and value", "warmup_discarded": sz.warmup}
    if peer:
        scale = sz.read_points / sz.mlflow_read_points
        p = statistics.median(t[("mlflow", "full")])
        kw = dict(peer="mlflow.get_metric_history.sqlite", peer_value=p * scale,
                  ratio=p * scale / med)
        extra = {"peer_measured_ms": p}
        params.update(peer_points=sz.mlflow_read_points, peer_value_is="peer_measured_ms x "
                      "points / peer_points (linear extrapolation)", mlflow=mf.version)
    emit("tracking.read_history", "ms", full, "<=50 ms for 1e6 points", med <= 50, extra=extra,
         params=params, **kw)
    down = t[("mlcore", "down")]
    med = statistics.median(down)
    kw = {}
    params = {"points": sz.read_points, "max_points": sz.max_points, "method": "lttb",
              "call": "Client.get_metric_history(max_points=1000, method='lttb')",
              "verified": "count, first and last step", "warmup_discarded": sz.warmup}
    if peer:
        p = statistics.median(t[("mlflow", "down")])
        kw = dict(peer="mlflow.get_metric_history_bulk_interval.sqlite", peer_value=p,
                  ratio=p / med)
        params.update(peer_points=sz.mlflow_read_points,
                      peer_value_is="measured on the peer's shorter series, not extrapolated",
                      mlflow=mf.version)
    emit("tracking.read_downsampled", "ms", down, "<=10 ms", med <= 10, params=params, **kw)


def busy(n: int) -> int:
    x = 0
    for i in range(n):
        x += i * i
    return x


def calibrate(step_ms: float) -> int:
    n = 20000
    busy(n)
    best = min(_timed(lambda: busy(n)) for _ in range(5))
    return max(1, int(n * step_ms / 1000 / best))


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_train_loop(sz, mc, mf) -> None:
    if not mc:
        note("skipping train_loop: it measures mlcore's overhead")
        return
    iters = calibrate(sz.step_ms)
    names = key_names(sz.keys)
    steps = sz.train_steps

    def off():
        t0 = time.perf_counter()
        for s in range(steps):
            busy(iters)
        return (time.perf_counter() - t0) / steps

    def with_mlcore():
        path, run = mc.start_loop_run()
        t0 = time.perf_counter()
        for s in range(steps):
            loss = busy(iters) * 1e-12
            for name in names:
                run.log_metric(name, loss, step=s)
        run.flush()
        dt = (time.perf_counter() - t0) / steps
        run.end()
        shutil.rmtree(path, ignore_errors=True)
        return dt

    def with_mlflow():
        ml = mf.mlflow
        uri, path = mf.fresh("file")
        ml.set_tracking_uri(uri)
        ml.set_experiment("train")
        ml.start_run(run_name="train")
        t0 = time.perf_counter()
        for s in range(steps):
            loss = busy(iters) * 1e-12
            for name in names:
                ml.log_metric(name, loss, step=s, synchronous=False)
        ml.flush_async_logging()
        dt = (time.perf_counter() - t0) / steps
        ml.end_run()
        mf.remove(path)
        return dt

    modes = [("off", off), ("mlcore", with_mlcore)] + ([("mlflow", with_mlflow)] if mf else [])
    for _ in range(sz.warmup):
        for _, fn in modes:
            fn()
    t = {name: [] for name, _ in modes}
    for r in range(sz.runs):
        note(f"train_loop round {r + 1}/{sz.runs}")
        for name, fn in modes:
            t[name].append(fn() * 1000)
    # Each round's overhead against the same round's logging-off time; median over rounds.
    ours = [(on / o - 1) * 100 for on, o in zip(t["mlcore"], t["off"])]
    kw, extra = {}, {"step_ms_off": statistics.median(t["off"]),
                     "step_ms_mlcore": statistics.median(t["mlcore"])}
    params = {"steps": steps, "metrics_per_step": sz.keys, "busy_iterations": iters,
              "work": f"pure-Python loop of ~{sz.step_ms:g} ms per step",
              "timed": "loop + final flush, per step", "warmup_discarded": sz.warmup}
    if mf:
        theirs = [(on / o - 1) * 100 for on, o in zip(t["mlflow"], t["off"])]
        extra["step_ms_mlflow"] = statistics.median(t["mlflow"])
        kw = dict(peer="mlflow.log_metric_async.file", peer_value=statistics.median(theirs),
                  ratio=statistics.median(t["mlflow"]) / statistics.median(t["mlcore"]))
        params.update(mlflow=mf.version, ratio_is="MLflow step time / mlcore step time")
    med = statistics.median(ours)
    emit("tracking.train_loop_overhead", "%", ours, "<1 %", med < 1, extra=extra,
         params=params, **kw)


def bench_cpp(path: str, tiny: bool, args: list[str], results) -> bool:
    if not os.path.exists(path):
        note(f"skipping the C++ measurements: {path} does not exist")
        return True
    cmd = [path] + (["--tiny"] if tiny else []) + args
    note("running " + " ".join(cmd))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    for raw in proc.stdout.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            note(f"C++ bench printed a non-JSON line: {raw}")
            continue
        peer = results.get("batch_peer" if "batch" in line.get("bench", "")
                           else "per_point_peer")
        if (isinstance(line, dict) and "peer" not in line and line.get("unit") == "points/s"
                and peer and line.get("value")):
            out = {}
            for k, v in line.items():
                out[k] = v
                if k == "value":
                    out.update(peer=peer[0], peer_value=num(peer[1]), ratio=num(v / peer[1]))
            line = out
            params = line.setdefault("params", {})
            params["peer_added_by"] = "tracking_bench.py (this run's medians)"
        _OUT.write(json.dumps(line, separators=(",", ":")) + "\n")
        _OUT.flush()
    if proc.returncode != 0:
        note(f"{path} exited with {proc.returncode}")
        return False
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--tiny", action="store_true", help="everything, tiny sizes, 1 run")
    size.add_argument("--quick", action="store_true", help="about 1/10 of the sizes, 3 runs")
    ap.add_argument("--only", default="", help="comma list of " + ",".join(SECTIONS))
    ap.add_argument("--runs", type=int, default=0)
    ap.add_argument("--cpp", default="", help="path of tracking_bench_cpp (run if it exists)")
    ap.add_argument("--cpp-args", default="", help="extra arguments for the C++ binary")
    ap.add_argument("--skip-mlcore", action="store_true")
    ap.add_argument("--skip-mlflow", action="store_true")
    ap.add_argument("--tmp", default="", help="where the stores go (default: a new temp dir)")
    a = ap.parse_args()
    only = [s for s in a.only.split(",") if s]
    for s in only:
        if s not in SECTIONS:
            ap.error(f"unknown section {s!r}; known: {', '.join(SECTIONS)}")
    want = set(only or SECTIONS)
    sz = Sizes("tiny" if a.tiny else "quick" if a.quick else "full")
    if a.runs:
        sz.runs = a.runs

    root = tempfile.mkdtemp(prefix="mlcore-tracking-bench-", dir=a.tmp or None)
    ok = True
    try:
        mlcore_mod = None if a.skip_mlcore else load_mlcore()
        mc = Mlcore(mlcore_mod, root) if mlcore_mod else None
        mods = None if a.skip_mlflow else load_mlflow()
        mf = Mlflow(mods, root) if mods else None
        results: dict = {}
        if "log_metric" in want:
            bench_log_metric(sz, mc, mf, results)
        if "log_batch" in want:
            bench_log_batch(sz, mc, mf, results)
        if "read" in want:
            bench_read(sz, mc, mf)
        if "train_loop" in want:
            bench_train_loop(sz, mc, mf)
        if "cpp" in want and a.cpp:
            ok = bench_cpp(a.cpp, a.tiny, a.cpp_args.split(), results)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

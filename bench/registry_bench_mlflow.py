#!/usr/bin/env python3
"""MLflow's model registry (sqlite store) as the peer of bench/registry_bench.cc.

registry_bench runs this script as a child process (--peer PYTHON --peer-script THIS) after
populating its own registry, then drives it one command at a time so the two sides' runs
interleave. The workload is registry_bench's: models "m00000", "m00001", ..., each with the tags
team/task/env/owner of ModelTags(i), --versions versions and alias "champion" on version
1 + (7 * i) % versions.

Population: the registry is built in --populate-dir (tmpfs; every MLflow write commits and fsyncs)
and the database is then copied to --store on disk, where everything is measured. The first
--api-models models go through MlflowClient (create_registered_model with tags,
create_model_version, set_registered_model_alias; timed, so the API's population rate is known);
the rest are cloned with SQL from those rows (registered_models, model_versions,
registered_model_tags, model_version_tags, registered_model_aliases; names, tag values and alias
targets adjusted), since populating 100,000 versions through the API takes about half an hour.
The clone is checked: a search and a resolve of cloned models must answer as expected.

Protocol: one JSON line on stdout when ready
  {"ready": true, "models": N, "versions": V, "api_models": K, "api_populate_s": ..., ...}
then, per command line on stdin ({"op": "resolve"|"register"|"search", "n": N, "seed": S} or
{"op": "quit"}), one JSON line {"ms": [latency of each call, ms]} or {"error": "..."}.
  resolve   MlflowClient.get_model_version_by_alias(NAME, "champion") of n random models; the
            version returned must be the alias's target.
  register  MlflowClient.create_model_version(NAME, source) on n random models (durable: the
            sqlite store commits with synchronous=FULL); the new version must be READY and
            numbered next.
  search    MlflowClient.search_registered_models(filter_string with three tag filters,
            max_results=100) for n queries; each must return exactly the expected models.
Anything MLflow prints goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import sys
import time
import warnings

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

# JSON lines go to the real stdout; anything a library prints goes to stderr instead.
_OUT = sys.stdout
sys.stdout = sys.stderr

ALIAS = "champion"
PAGE = 100
# MLflow does not look at a version's source; this names files that are not there.
SOURCE = "s3://mlcore-bench/model"
REGISTRY_TABLES = ("registered_models", "model_versions", "registered_model_tags",
                   "model_version_tags", "registered_model_aliases")


def note(msg: str) -> None:
    print(f"registry_bench_mlflow: {msg}", file=sys.stderr, flush=True)


def reply(obj) -> None:
    _OUT.write(json.dumps(obj, separators=(",", ":")) + "\n")
    _OUT.flush()


def model_name(i: int) -> str:
    return f"m{i:05d}"


def model_tags(i: int) -> dict[str, str]:
    return {"team": f"team{i % 10}", "task": f"task{(i // 10) % 5}",
            "env": f"env{(i // 50) % 2}", "owner": f"user{i % 37}"}


def champion(i: int, versions: int) -> int:
    return 1 + (7 * i) % versions


def search_filter(c: int) -> str:
    return (f"tags.team = 'team{c % 10}' and tags.task = 'task{(c // 10) % 5}' "
            f"and tags.env = 'env{c // 50}'")


def expected_matches(c: int, models: int) -> int:
    return min(models // 100 + (1 if c < models % 100 else 0), PAGE)


def load_mlflow():
    warnings.filterwarnings("ignore")
    import logging

    import mlflow
    from mlflow import MlflowClient

    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return mlflow, MlflowClient


def client_for(MlflowClient, path: str):
    uri = f"sqlite:///{path}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def populate_api(client, first: int, last: int, versions: int) -> None:
    t0 = time.perf_counter()
    for i in range(first, last):
        name = model_name(i)
        client.create_registered_model(name, tags=model_tags(i))
        for v in range(1, versions + 1):
            mv = client.create_model_version(name, SOURCE, run_id=None)
            if int(mv.version) != v:
                raise RuntimeError(f"{name}: created version {mv.version}, expected {v}")
        client.set_registered_model_alias(name, ALIAS, champion(i, versions))
        if (i + 1) % 100 == 0 and time.perf_counter() - t0 > 10:
            t0 = time.perf_counter()
            note(f"API-populated {i + 1}/{last} models")


def clone(path: str, api_models: int, models: int, versions: int) -> None:
    """Models api_models..models-1 as SQL copies of model i % api_models's rows."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")  # on tmpfs, and synced as a whole afterwards
    columns = {t: [r[1] for r in db.execute(f"PRAGMA table_info({t})")] for t in REGISTRY_TABLES}
    templates = {}
    for t in REGISTRY_TABLES:
        rows = db.execute(f"SELECT * FROM {t}").fetchall()
        name_at = columns[t].index("name")
        by_model: dict[str, list] = {}
        for r in rows:
            by_model.setdefault(r[name_at], []).append(r)
        templates[t] = by_model
    with db:
        for t in REGISTRY_TABLES:
            cols = columns[t]
            name_at = cols.index("name")
            key_at = cols.index("key") if "key" in cols else -1
            version_at = cols.index("version") if t == "registered_model_aliases" else -1
            out = []
            for i in range(api_models, models):
                tags = model_tags(i)
                for r in templates[t].get(model_name(i % api_models), []):
                    r = list(r)
                    r[name_at] = model_name(i)
                    if t == "registered_model_tags":
                        r[cols.index("value")] = tags[r[key_at]]
                    if version_at >= 0:
                        r[version_at] = champion(i, versions)
                    out.append(r)
            if out:
                marks = ", ".join("?" * len(cols))
                quoted = ", ".join(f'"{c}"' for c in cols)
                db.executemany(f"INSERT INTO {t} ({quoted}) VALUES ({marks})", out)
    db.close()


def check(client, models: int, versions: int) -> None:
    for i in {0, models // 2, models - 1}:
        mv = client.get_model_version_by_alias(model_name(i), ALIAS)
        if int(mv.version) != champion(i, versions):
            raise RuntimeError(f"{model_name(i)}@{ALIAS} resolved to {mv.version}")
    for c in (0, 37, 99):
        found = client.search_registered_models(filter_string=search_filter(c), max_results=PAGE)
        if len(found) != expected_matches(c, models):
            raise RuntimeError(f"search {search_filter(c)!r} found {len(found)} models, expected "
                               f"{expected_matches(c, models)}")


class Peer:
    def __init__(self, client, models: int, versions: int):
        self.client, self.models, self.versions = client, models, versions
        self.latest = [versions] * models

    def resolve(self, n: int, seed: int) -> list[float]:
        rng = random.Random(seed)
        ms = []
        for _ in range(n):
            i = rng.randrange(self.models)
            t0 = time.perf_counter()
            mv = self.client.get_model_version_by_alias(model_name(i), ALIAS)
            dt = time.perf_counter() - t0
            if mv.name != model_name(i) or int(mv.version) != champion(i, self.versions):
                raise RuntimeError(f"{model_name(i)}@{ALIAS} resolved to {mv.name}/{mv.version}")
            ms.append(dt * 1000)
        return ms

    def register(self, n: int, seed: int) -> list[float]:
        rng = random.Random(seed)
        ms = []
        for _ in range(n):
            i = rng.randrange(self.models)
            t0 = time.perf_counter()
            mv = self.client.create_model_version(model_name(i), SOURCE, run_id=None)
            dt = time.perf_counter() - t0
            self.latest[i] += 1
            if int(mv.version) != self.latest[i] or str(mv.status) != "READY":
                raise RuntimeError(f"registered {model_name(i)}/{mv.version} ({mv.status}), "
                                   f"expected version {self.latest[i]} READY")
            ms.append(dt * 1000)
        return ms

    def search(self, n: int, seed: int) -> list[float]:
        ms = []
        for q in range(n):
            c = (seed * 37 + q * 13) % 100
            t0 = time.perf_counter()
            found = self.client.search_registered_models(filter_string=search_filter(c),
                                                         max_results=PAGE)
            dt = time.perf_counter() - t0
            want = expected_matches(c, self.models)
            if len(found) != want or any(int(m.name[1:]) % 100 != c for m in found):
                raise RuntimeError(f"search {search_filter(c)!r} returned {len(found)} models "
                                   f"(expected {want} with i % 100 == {c})")
            ms.append(dt * 1000)
        return ms


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", required=True, help="directory of the measured sqlite store")
    ap.add_argument("--populate-dir", default="", help="build the store here first (tmpfs)")
    ap.add_argument("--models", type=int, required=True)
    ap.add_argument("--versions", type=int, required=True)
    ap.add_argument("--api-models", type=int, default=1000,
                    help="models populated through the API; the rest are SQL clones")
    a = ap.parse_args()
    try:
        mlflow, MlflowClient = load_mlflow()
    except Exception as e:  # noqa: BLE001
        reply({"error": f"import mlflow failed: {e} (run scripts/bench-env.sh and use "
                        ".venv-bench/bin/python)"})
        return 1
    api_models = max(1, min(a.api_models, a.models))
    os.makedirs(a.store, exist_ok=True)
    final = os.path.join(a.store, "mlflow.db")
    build_dir = a.populate_dir or a.store
    os.makedirs(build_dir, exist_ok=True)
    build = os.path.join(build_dir, "mlflow.db")
    try:
        t0 = time.perf_counter()
        client = client_for(MlflowClient, build)
        client.search_registered_models(max_results=1)  # creates the schema (migrations)
        init_s = time.perf_counter() - t0
        note(f"populating {api_models} models x {a.versions} versions through the API in {build}")
        t0 = time.perf_counter()
        populate_api(client, 0, api_models, a.versions)
        api_s = time.perf_counter() - t0
        note(f"API population: {api_s:.1f} s ({api_models * a.versions / api_s:.0f} versions/s)")
        del client
        t0 = time.perf_counter()
        if a.models > api_models:
            clone(build, api_models, a.models, a.versions)
        clone_s = time.perf_counter() - t0
        copy_s = 0.0
        if build != final:
            t0 = time.perf_counter()
            shutil.copyfile(build, final)
            fd = os.open(final, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
            os.remove(build)
            copy_s = time.perf_counter() - t0
        client = client_for(MlflowClient, final)
        check(client, a.models, a.versions)
    except Exception as e:  # noqa: BLE001
        reply({"error": f"population failed: {type(e).__name__}: {e}"})
        return 1
    reply({"ready": True, "mlflow": mlflow.__version__, "models": a.models,
           "versions": a.versions, "api_models": api_models, "init_s": round(init_s, 3),
           "api_populate_s": round(api_s, 3), "clone_s": round(clone_s, 3),
           "copy_s": round(copy_s, 3), "store": "sqlite"})
    peer = Peer(client, a.models, a.versions)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            cmd = json.loads(line)
            op = cmd.get("op")
            if op == "quit":
                break
            if op not in ("resolve", "register", "search"):
                raise ValueError(f"unknown op {op!r}")
            reply({"ms": getattr(peer, op)(int(cmd["n"]), int(cmd["seed"]))})
        except Exception as e:  # noqa: BLE001
            reply({"error": f"{type(e).__name__}: {e}"})
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The model registry: named models, immutable numbered versions, aliases and lineage.

::

    import mlcore
    mlcore.models.create("ranker", description="CTR ranker", tags={"task": "ranking"})
    v = mlcore.models.register("ranker", run=run.id, path="model", metrics={"val_auc": 0.91})
    v2 = mlcore.models.register("ranker", path="./model", metadata={"framework": "pytorch"})
    mlcore.models.set_alias("ranker", "champion", v2.version)
    mlcore.models.resolve("models:/ranker@champion").version      # 2
    local = mlcore.models.download("models:/ranker@champion", "ranker/")
    print(mlcore.models.lineage("ranker", 2).run)

Everything goes through the RegistryService by name (``client.invoke``); a local directory is
uploaded by the C++ core with the GIL released. Errors are mlcore.errors exceptions
(NotFoundError, AlreadyExistsError, FailedPreconditionError, AbortedError for a stale
``expected_version``, ...). See docs/registry.md.
"""

from __future__ import annotations

import builtins
import os
import pathlib
import shutil
from typing import Any, Iterator, Mapping

from mlcore._record import Record
from mlcore._views import RecordList
from mlcore.artifacts import _client, _mlcore, _progress
from mlcore.errors import InvalidArgumentError

_SOURCE_RUN = "MODEL_SOURCE_KIND_RUN_ARTIFACT"
_SOURCE_JOB = "MODEL_SOURCE_KIND_JOB_OUTPUT"
_SOURCE_ARTIFACT = "MODEL_SOURCE_KIND_ARTIFACT"
_SOURCE_UPLOAD = "MODEL_SOURCE_KIND_UPLOAD"
_MODEL_VERSION = 5  # mlcore.v1.ObjectKind OBJECT_KIND_MODEL_VERSION


def _scope(request: dict[str, Any], project: str | None) -> dict[str, Any]:
    if project:
        request["project"] = project
    return request


def create(name: str, *, description: str | None = None, tags: Mapping[str, Any] | None = None,
           project: str | None = None, client: Any = None) -> Record:
    """Creates a registered model; returns the RegisteredModel record. Raises AlreadyExistsError
    when the name is taken, InvalidArgumentError when it breaks the naming rules."""
    client = _client(client)
    model: dict[str, Any] = {"name": name, "description": description or "",
                             "tags": {str(k): str(v) for k, v in (tags or {}).items()},
                             "project": project or client.project or ""}
    return Record(client.invoke("RegistryService/CreateRegisteredModel", {"model": model}),
                  "RegisteredModel")


def get(name: str, *, project: str | None = None, client: Any = None) -> Record:
    """A model with its tags, aliases (``aliases``: alias, version, update_time, updated_by) and
    ``latest_version``."""
    return Record(_client(client).invoke("RegistryService/GetRegisteredModel",
                                         _scope({"name": name}, project)), "RegisteredModel")


def list(filter: str | None = None, order_by: Any = None, *, project: str | None = None,
         client: Any = None) -> builtins.list[Record]:
    """The project's models (every page). ``filter``: comparisons joined by ``and`` on ``name``,
    ``tags.K``, ``alias``, ``create_time``, ``update_time`` (``'name like "rank%"'``);
    ``order_by``: a key or a list of keys with optional ``" desc"`` (default name asc)."""
    client = _client(client)
    if isinstance(order_by, str):
        order_by = [order_by]
    request = _scope({"filter": filter or "", "order_by": builtins.list(order_by or []),
                      "page_size": 1000}, project)
    out: builtins.list[Record] = []
    while True:
        page = client.invoke("RegistryService/ListRegisteredModels", request)
        out.extend(Record(m, "RegisteredModel") for m in page.get("models", []))
        token = page.get("next_page_token")
        if not token:
            return RecordList(out, caption="models")
        request["page_token"] = token


def update(name: str, *, description: str | None = None, tags: Mapping[str, Any] | None = None,
           remove_tags: Any = None, expected_version: int = 0, project: str | None = None,
           client: Any = None) -> Record:
    """Changes the description (when given) and sets ``tags`` / removes ``remove_tags``."""
    request: dict[str, Any] = {
        "name": name, "set_tags": {str(k): str(v) for k, v in (tags or {}).items()},
        "remove_tags": [str(k) for k in (remove_tags or [])],
        "expected_version": int(expected_version)}
    if description is not None:
        request["description"] = description
    return Record(_client(client).invoke("RegistryService/UpdateRegisteredModel",
                                         _scope(request, project)), "RegisteredModel")


def rename(name: str, new_name: str, *, expected_version: int = 0, project: str | None = None,
           client: Any = None) -> Record:
    """Renames a model, keeping versions and aliases; URIs with the old name stop resolving."""
    return Record(_client(client).invoke("RegistryService/RenameRegisteredModel", _scope(
        {"name": name, "new_name": new_name, "expected_version": int(expected_version)},
        project)), "RegisteredModel")


def delete(name: str, *, force: bool = False, expected_version: int = 0,
           project: str | None = None, client: Any = None) -> None:
    """Deletes a model with its versions and aliases. Raises FailedPreconditionError when aliases
    point at its versions and ``force`` is not set."""
    _client(client).invoke("RegistryService/DeleteRegisteredModel", _scope(
        {"name": name, "force": bool(force), "expected_version": int(expected_version)}, project))


def _parent(parent: Any) -> dict[str, Any] | None:
    if parent is None:
        return None
    if isinstance(parent, tuple):
        parent = f"{parent[0]}/{int(parent[1])}"
    if isinstance(parent, Record) and parent.model:
        parent = f"{parent.model}/{int(parent.version)}"
    return {"kind": _MODEL_VERSION, "id": str(parent)}


def register(name: str, *, run: Any = None, job: Any = None, artifact: Any = None,
             path: str | os.PathLike[str] | None = None, metrics: Mapping[str, float] | None = None,
             metadata: Mapping[str, Any] | None = None, description: str | None = None,
             parent: Any = None, input_datasets: Any = None, progress: Any = None,
             project: str | None = None, client: Any = None) -> Record:
    """Registers the next version of model ``name``; returns the ModelVersion record.

    Sources: ``run=`` (its artifact at ``path``), ``job=`` (its output at ``path``), ``artifact=``
    (an artifact id, optionally ``path`` inside it), or ``path=`` alone: a local directory,
    uploaded as the version's files (the version is PENDING_UPLOAD until the upload is reported,
    then READY; FAILED if the upload fails). ``metrics``: a snapshot (default: the run's latest
    values); ``metadata``: framework, framework_version, format, inputs, outputs, extra;
    ``parent``: the version it derives from, ``"NAME/VERSION"``, ``(name, version)`` or a
    ModelVersion record.
    """
    client = _client(client)
    given = [s for s in (run, job, artifact) if s is not None]
    if len(given) > 1:
        raise InvalidArgumentError("register: give one source: run=, job=, artifact= or path=")
    source: dict[str, Any] = {"path": os.fspath(path) if path is not None else ""}
    upload_dir: str | None = None
    if run is not None:
        source.update(kind=_SOURCE_RUN, run_id=str(getattr(run, "id", run)))
    elif job is not None:
        source.update(kind=_SOURCE_JOB, job_id=str(getattr(job, "id", job)))
    elif artifact is not None:
        source.update(kind=_SOURCE_ARTIFACT, artifact_id=str(getattr(artifact, "id", artifact)))
    elif path is not None:
        upload_dir = os.fspath(path)
        if not os.path.isdir(upload_dir):
            raise InvalidArgumentError(f"register: {upload_dir!r} is not a local directory")
        source.update(kind=_SOURCE_UPLOAD, path=os.path.abspath(upload_dir))
    else:
        raise InvalidArgumentError("register: give a source: run=, job=, artifact= or path=")
    request: dict[str, Any] = {
        "model": name, "source": source,
        "metrics": {str(k): float(v) for k, v in (metrics or {}).items()},
        "metadata": dict(metadata or {}), "description": description or ""}
    if input_datasets:
        request["input_datasets"] = [dict(d) for d in input_datasets]
    ref = _parent(parent)
    if ref is not None:
        request["parent_model_version"] = ref
    _scope(request, project)
    version = client.invoke("RegistryService/CreateModelVersion", request)
    if upload_dir is None:
        return Record(version, "ModelVersion")
    finish: dict[str, Any] = {"project": version.get("project", ""), "model": version["model"],
                              "version": int(version["version"])}
    fn, bar = _progress(progress, "upload")
    try:
        manifest = _mlcore().upload_tree(client._core, finish["project"], upload_dir, fn)
    except BaseException as e:
        finish["failure_message"] = str(e) or type(e).__name__
        try:
            client.invoke("RegistryService/FinishModelVersionUpload", finish)
        except Exception:
            pass  # the upload's own error is the one to report
        raise
    finally:
        if bar is not None:
            bar.close()
    finish["manifest_digest"] = manifest["digest"]
    return Record(client.invoke("RegistryService/FinishModelVersionUpload", finish),
                  "ModelVersion")


def versions(name: str, *, statuses: Any = None, project: str | None = None,
             client: Any = None) -> builtins.list[Record]:
    """A model's versions, highest number first (every page)."""
    client = _client(client)
    request = _scope({"model": name, "page_size": 1000}, project)
    if statuses:
        request["statuses"] = [s if str(s).startswith("MODEL_VERSION_STATUS_")
                               else "MODEL_VERSION_STATUS_" + str(s).upper() for s in statuses]
    out: builtins.list[Record] = []
    while True:
        page = client.invoke("RegistryService/ListModelVersions", request)
        out.extend(Record(v, "ModelVersion") for v in page.get("versions", []))
        token = page.get("next_page_token")
        if not token:
            return RecordList(out, caption=f"versions of {name}")
        request["page_token"] = token


def version(name: str, version: int, *, project: str | None = None,
            client: Any = None) -> Record:
    """One version: status, source, run_id, job_id, metrics, metadata, aliases, ..."""
    return Record(_client(client).invoke("RegistryService/GetModelVersion", _scope(
        {"model": name, "version": int(version)}, project)), "ModelVersion")


def resolve(uri: str, *, project: str | None = None, client: Any = None) -> Record:
    """The version a ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS`` URI names now
    (``@latest``: the highest READY version). NotFoundError for an unknown alias lists the
    model's aliases."""
    return Record(_client(client).invoke("RegistryService/ResolveModelUri",
                                         _scope({"uri": str(uri)}, project)), "ModelVersion")


def set_alias(name: str, alias: str, version: int, *, expected_version: int = 0,
              project: str | None = None, client: Any = None) -> Record:
    """Points ``alias`` at ``version`` (creating or moving it); returns alias, previous_version
    (0 when new) and resource_version."""
    return Record(_client(client).invoke("RegistryService/SetModelAlias", _scope(
        {"model": name, "alias": alias, "version": int(version),
         "expected_version": int(expected_version)}, project)), "SetModelAliasResponse")


def delete_alias(name: str, alias: str, *, expected_version: int = 0,
                 project: str | None = None, client: Any = None) -> Record:
    """Deletes an alias; returns previous_version and resource_version."""
    return Record(_client(client).invoke("RegistryService/DeleteModelAlias", _scope(
        {"model": name, "alias": alias, "expected_version": int(expected_version)}, project)),
        "DeleteModelAliasResponse")


def lineage(name: str, version: int, *, depth: int = 0, project: str | None = None,
            client: Any = None) -> Record:
    """Where a version came from: version, run, job, pipeline_run, source_code, datasets,
    artifact and ``parent`` (the parent's lineage, to ``depth`` levels; 0 = 10)."""
    return Record(_client(client).invoke("RegistryService/GetModelVersionLineage", _scope(
        {"model": name, "version": int(version), "depth": int(depth)}, project)),
        "ModelVersionLineage")


def built_from(kind: str, id: str, *, project: str | None = None,
               client: Any = None) -> builtins.list[Record]:
    """Versions built from a ``"run"``, ``"job"``, ``"artifact"``, ``"dataset"`` (digest) or
    ``"model_version"`` (``"NAME/VERSION"``), newest first."""
    client = _client(client)
    request = _scope({"source": {"kind": "OBJECT_KIND_" + kind.upper(), "id": id},
                      "page_size": 1000}, project)
    out: builtins.list[Record] = []
    while True:
        page = client.invoke("RegistryService/ListModelVersionsBuiltFrom", request)
        out.extend(Record(v, "ModelVersion") for v in page.get("versions", []))
        token = page.get("next_page_token")
        if not token:
            return RecordList(out, caption=f"versions built from {kind} {id}")
        request["page_token"] = token


def download(uri: str, dest: str | os.PathLike[str], *, progress: Any = None,
             project: str | None = None, client: Any = None) -> pathlib.Path:
    """Copies the files of the version ``uri`` names (``models:/NAME@ALIAS``,
    ``models:/NAME/VERSION``, or ``NAME@ALIAS`` / ``NAME/VERSION``) into directory ``dest``,
    loading them through the data cache (a second download is a hot-tier hit). Returns ``dest``
    as a Path."""
    from mlcore import data
    text = str(uri)
    if not text.startswith("models:/"):
        text = "models:/" + text
    local = data.load(text, progress=progress, project=project, client=client)
    out = pathlib.Path(dest)
    out.mkdir(parents=True, exist_ok=True)
    if local.is_dir():
        shutil.copytree(local, out, symlinks=False, dirs_exist_ok=True)
    else:
        shutil.copy2(local, out / local.name)
    return out


__all__ = ["built_from", "create", "delete", "delete_alias", "download", "get", "lineage", "list",
           "register", "rename", "resolve", "set_alias", "update", "version", "versions"]


# --- Events and webhooks -------------------------------------------------------------------------

_EVENT_PREFIX = "REGISTRY_EVENT_TYPE_"
_DELIVERY_PREFIX = "WEBHOOK_DELIVERY_STATUS_"


def _event_types(types: Any) -> builtins.list[str]:
    if types is None:
        return []
    if isinstance(types, str):
        types = [types]
    return [t if t.upper().startswith(_EVENT_PREFIX) else _EVENT_PREFIX + t.upper()
            for t in types]


def _names(models: Any) -> builtins.list[str]:
    if models is None:
        return []
    return [models] if isinstance(models, str) else builtins.list(models)


def watch(*, models: Any = None, types: Any = None, after: int | None = None,
          project: str | None = None, client: Any = None) -> Iterator[Record]:
    """Yields the project's registry events as they happen, in sequence order.

    ``after=N`` first replays the retained events after sequence N (``after=0``: the whole log),
    then follows; by default only events after this call are yielded (the watch is established
    when it returns, so a change made next is seen). ``models`` and ``types`` ("alias_moved",
    "version_created", ...) filter. Each event has ``sequence``, ``type``, ``time``, ``actor``,
    ``model``, ``version``, ``alias``, ``previous_version``, ``previous_name``. Breaking out of the
    loop, ``close()`` or Ctrl-C stops watching; so does leaving a ``with`` block::

        for event in mlcore.models.watch(models="ranker", types=["alias_set", "alias_moved"]):
            print(event.alias, "->", event.version)
    """
    request = _scope({"models": _names(models), "types": _event_types(types)}, project)
    if after is not None:
        request["after_sequence"] = int(after)
    from mlcore import _stream

    return _stream.Stream(_client(client)._core, "RegistryService/WatchRegistryEvents", request,
                          convert=Record, name="mlcore-registry-watch")


def create_webhook(url: str, *, secret_env: str | None = None,
                   secret_file: str | os.PathLike[str] | None = None,
                   secret_key: str | None = None, secret_name: str | None = None,
                   types: Any = None, models: Any = None, description: str = "",
                   enabled: bool = True, project: str | None = None,
                   client: Any = None) -> Record:
    """Registers a webhook: each matching event is POSTed to ``url`` (https, or http to a loopback
    address) as JSON, signed with HMAC-SHA256 of the secret (see :func:`verify_signature`), and
    retried with backoff until it is answered 2xx.

    The secret is referenced, never passed: ``secret_env="VAR"`` (its value is read now) or
    ``secret_file="path"`` (an owner-only dotenv/YAML file read at each delivery, key
    ``secret_key``)."""
    if (secret_env is None) == (secret_file is None):
        raise InvalidArgumentError("give exactly one of secret_env= (an environment variable) or "
                                   "secret_file= (an owner-only file)")
    if secret_env is not None:
        secret = {"name": secret_name or secret_env, "source": "SECRET_SOURCE_ENV",
                  "key": secret_env}
    else:
        secret = {"name": secret_name or secret_key or "WEBHOOK_SECRET",
                  "source": "SECRET_SOURCE_FILE", "path": os.fspath(secret_file),
                  "key": secret_key or ""}
    hook = _scope({"url": url, "secret": secret, "event_types": _event_types(types),
                   "models": _names(models), "description": description,
                   "enabled": enabled}, project)
    return Record(_client(client).invoke("RegistryService/CreateWebhook", {"webhook": hook}))


def webhooks(*, project: str | None = None, client: Any = None) -> builtins.list[Record]:
    """The project's webhooks, oldest first."""
    client = _client(client)
    request = _scope({"page_size": 1000}, project)
    out: builtins.list[Record] = []
    while True:
        page = client.invoke("RegistryService/ListWebhooks", request)
        out.extend(Record(h) for h in page.get("webhooks") or [])
        if not page.get("next_page_token"):
            return out
        request["page_token"] = page["next_page_token"]


def delete_webhook(id: str, *, client: Any = None) -> None:
    """Deletes a webhook and its pending deliveries (its delivery log stays)."""
    _client(client).invoke("RegistryService/DeleteWebhook", {"id": id})


def test_webhook(id: str, *, client: Any = None) -> Record:
    """Sends a PING now; returns the delivery (``status`` "WEBHOOK_DELIVERY_STATUS_SUCCEEDED" or
    "..._FAILED", ``last_http_status``, ``last_error``, ``last_latency``)."""
    return Record(_client(client).invoke("RegistryService/TestWebhook", {"id": id}))


def webhook_deliveries(id: str, *, statuses: Any = None, limit: int = 100,
                       client: Any = None) -> builtins.list[Record]:
    """A webhook's delivery log, newest first; ``statuses`` filters ("failed", "retrying",
    "succeeded", "pending")."""
    if isinstance(statuses, str):
        statuses = [statuses]
    wanted = [s if s.upper().startswith(_DELIVERY_PREFIX) else _DELIVERY_PREFIX + s.upper()
              for s in statuses or []]
    client = _client(client)
    request: dict[str, Any] = {"webhook_id": id, "statuses": wanted,
                               "page_size": max(1, min(int(limit), 1000))}
    out: builtins.list[Record] = []
    while len(out) < limit:
        page = client.invoke("RegistryService/ListWebhookDeliveries", request)
        out.extend(Record(d) for d in page.get("deliveries") or [])
        if not page.get("next_page_token"):
            break
        request["page_token"] = page["next_page_token"]
    return out[:limit]


def verify_signature(secret: str | bytes, timestamp: str | int, body: bytes | str,
                     signature: str, *, tolerance_s: float | None = 300) -> bool:
    """Checks a delivery on the receiving side: ``signature`` is the X-Mlcore-Signature header,
    ``timestamp`` X-Mlcore-Timestamp, ``body`` the raw request body. With ``tolerance_s``, a
    timestamp further than that from now is rejected too (replays). Constant-time comparison."""
    import hashlib
    import hmac
    import time

    key = secret.encode() if isinstance(secret, str) else secret
    raw = body.encode() if isinstance(body, str) else body
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if tolerance_s is not None and abs(time.time() - stamp) > tolerance_s:
        return False
    expected = "sha256=" + hmac.new(key, str(stamp).encode() + b"." + raw,
                                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature or "")

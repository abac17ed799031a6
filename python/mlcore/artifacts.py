"""Artifacts: files and directory trees of runs and jobs in mlcore's content-addressed store.

::

    import mlcore
    art = mlcore.artifacts.log("model/", run=run.id, kind="model", labels={"step": 1000})
    mlcore.artifacts.download(art.id, "restored/", path="weights", for_run=other_run.id)
    print(mlcore.artifacts.lineage(art.id).consumers)

Only content the store lacks is uploaded, and a directory's unchanged files are not read again,
so re-logging a checkpoint directory is cheap. Transfers run in the C++ core with the GIL
released. ``progress``: ``None`` shows a tqdm bar when tqdm is installed and stderr is a
terminal; ``True`` forces the bar; ``False`` shows nothing; a callable gets ``(done, total)`` in
bytes and may return ``False`` to cancel (an exception it raises cancels too and propagates).
See docs/artifacts.md.
"""

from __future__ import annotations

import builtins
import os
import sys
from typing import Any, Callable, Mapping

from mlcore._record import Record
from mlcore.errors import InvalidArgumentError

_KINDS = {"file": 1, "directory": 2, "checkpoint": 3, "model": 4, "logs": 5, "snapshot": 6}
_RUN, _JOB = 2, 1

def _client(client: Any = None) -> Any:
    if client is not None:
        return client
    import mlcore
    return mlcore.client()


def _kind(kind: str | None) -> int:
    if kind is None or kind == "":
        return 0
    key = kind.lower().removeprefix("artifact_kind_")
    if key not in _KINDS:
        raise InvalidArgumentError(
            f"unknown artifact kind {kind!r}; use one of {', '.join(_KINDS)}")
    return _KINDS[key]


def _owner(run: Any, job: Any, what: str) -> tuple[int, str]:
    run_id = getattr(run, "id", run)
    job_id = getattr(job, "id", job)
    if run_id and job_id:
        raise InvalidArgumentError(f"{what}: give a run or a job, not both")
    if run_id:
        return _RUN, str(run_id)
    if job_id:
        return _JOB, str(job_id)
    return 0, ""


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (interactive, though stderr is no terminal)."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and hasattr(shell, "kernel")


class _Tqdm:
    """A tqdm bar fed by (done, total) callbacks; closed by close()."""

    def __init__(self, desc: str):
        try:
            from tqdm import tqdm
        except ImportError as e:
            raise ImportError("progress=True shows a tqdm bar: pip install tqdm (or pass a "
                              "callable(done, total))") from e
        if _in_notebook():
            try:  # a widget when ipywidgets is there; the text bar renders in notebooks too
                import ipywidgets  # noqa: F401
                from tqdm.notebook import tqdm
            except ImportError:
                pass
        self._bar = tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                         leave=False)
        self._done = 0

    def __call__(self, done: int, total: int) -> bool:
        if self._bar.total != total:
            self._bar.total = total
            self._bar.refresh()
        self._bar.update(done - self._done)
        self._done = done
        return True

    def close(self) -> None:
        self._bar.close()


def _progress(progress: Any, desc: str) -> tuple[Callable[[int, int], Any] | None, Any]:
    """The callable to hand to the core, and what to close afterwards (or None)."""
    if callable(progress) and not isinstance(progress, bool):
        return progress, None
    if progress is False:
        return None, None
    if progress is None:
        try:
            import tqdm  # noqa: F401
        except ImportError:
            return None, None
        if not (_in_notebook() or (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())):
            return None, None
    if progress is None or progress is True:
        bar = _Tqdm(desc)
        return bar, bar
    raise InvalidArgumentError(
        f"progress must be None, True, False or a callable(done, total), not {progress!r}")


def log(path: str | os.PathLike[str], *, run: Any = None, job: Any = None, name: str | None = None,
        kind: str | None = None, labels: Mapping[str, Any] | None = None, progress: Any = None,
        client: Any = None) -> Record:
    """Uploads the file or directory ``path`` as artifact ``name`` (default: its base name) of
    ``run`` or ``job`` (an id, a name or a Run); returns the Artifact record.

    Raises AlreadyExistsError when the owner has another artifact at ``name``,
    InvalidArgumentError for an unsafe name, a symlink escaping the tree or a special file,
    NotFoundError for a missing owner or path.
    """
    owner_kind, owner_id = _owner(run, job, "log")
    if not owner_kind:
        raise InvalidArgumentError("log: give the artifact's owner: run=... or job=...")
    fn, bar = _progress(progress, "upload")
    try:
        artifact = _mlcore().artifact_log(
            _client(client)._core, owner_kind, owner_id, os.fspath(path), name or "", _kind(kind),
            {str(k): str(v) for k, v in (labels or {}).items()}, fn)
    finally:
        if bar is not None:
            bar.close()
    return Record(artifact, "Artifact")


def download(artifact_id: str, dest: str | os.PathLike[str], *, path: str | None = None,
             for_run: Any = None, for_job: Any = None, progress: Any = None,
             client: Any = None) -> str:
    """Writes artifact ``artifact_id`` (or only its file or subtree ``path``) below directory
    ``dest``, verified, and records ``for_run`` / ``for_job`` as a consumer for lineage. Returns
    ``dest``."""
    consumer_kind, consumer_id = _owner(for_run, for_job, "download")
    fn, bar = _progress(progress, "download")
    try:
        _mlcore().artifact_download(_client(client)._core, artifact_id, os.fspath(dest),
                                    path or "", consumer_kind, consumer_id, fn)
    finally:
        if bar is not None:
            bar.close()
    return os.fspath(dest)


def list(run: Any = None, job: Any = None, prefix: str | None = None, kind: str | None = None, *,
         project: str | None = None, client: Any = None) -> builtins.list[Record]:
    """Artifacts of the project (or of ``run`` / ``job``), newest first; every page."""
    client = _client(client)
    owner_kind, owner_id = _owner(run, job, "list")
    request: dict[str, Any] = {"path_prefix": prefix or "", "kind": _kind(kind),
                               "page_size": 1000}
    if project:
        request["project"] = project
    if owner_kind:
        request["owner"] = {"kind": owner_kind, "id": owner_id}
    out: builtins.list[Record] = []
    while True:
        page = client.invoke("ArtifactService/ListArtifacts", request)
        out.extend(Record(a, "Artifact") for a in page.get("artifacts", []))
        token = page.get("next_page_token")
        if not token:
            return out
        request["page_token"] = token


def get(artifact_id: str, *, client: Any = None) -> Record:
    """One artifact by id."""
    return Record(_client(client).invoke("ArtifactService/GetArtifact", {"id": artifact_id}),
                  "Artifact")


def manifest(artifact_id: str, *, path: str | None = None, client: Any = None) -> Record:
    """The files of an artifact (or of its subtree ``path``): path, digest, size_bytes, mode."""
    art = get(artifact_id, client=client)
    return Record(_client(client).invoke("ArtifactService/GetManifest", {
        "project": art.project, "digest": art.manifest_digest, "path_prefix": path or ""}),
        "Manifest")


def lineage(artifact_id: str, *, client: Any = None) -> Record:
    """The artifact, its producer and its consumers (oldest use first)."""
    return Record(_client(client).invoke("ArtifactService/GetLineage",
                                         {"artifact_id": artifact_id}), "ArtifactLineage")


def delete(artifact_id: str, *, client: Any = None) -> None:
    """Deletes an artifact record; its blobs are freed by the next :func:`gc`."""
    _client(client).invoke("ArtifactService/DeleteArtifact", {"id": artifact_id})


def gc(dry_run: bool = False, min_age: Any = None, *,
       client: Any = None) -> Record:
    """Removes blobs and manifests nothing references (needs ADMIN); keeps unreferenced blobs
    younger than ``min_age`` (seconds, a timedelta or a text like "2h"; default 1 h, at least
    1 min).
    Returns the report: blobs_scanned, blobs_removed, bytes_freed, manifests_removed, ..."""
    request: dict[str, Any] = {"dry_run": bool(dry_run)}
    if min_age is not None:
        request["min_age"] = min_age
    return Record(_client(client).invoke("ArtifactService/CollectGarbage", request),
                  "GarbageCollectionReport")


def _mlcore() -> Any:
    from mlcore import _mlcore
    return _mlcore


__all__ = ["delete", "download", "gc", "get", "lineage", "list", "log", "manifest"]

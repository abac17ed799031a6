"""Checkpoints that make a preempted or rerun job resume fast.

::

    import mlcore, torch
    latest = mlcore.restore_latest_checkpoint()          # None on the first attempt
    start = 0
    if latest is not None:
        state = torch.load(latest.path / "state.pt")
        start = latest.step + 1
    for step in range(start, steps):
        ...
        if step % 1000 == 0:
            with mlcore.checkpoint(step) as d:               # a directory on the hot tier
                torch.save(state, d / "state.pt")
            # or: mlcore.save_checkpoint("ckpt/", step)       # copies an existing file or dir

Saving returns as soon as the checkpoint is complete on this machine's hot tier (local disk); the
upload to the artifact store (a CHECKPOINT artifact ``checkpoints/<key>/step-<step>`` of the job
or run) runs in the background, and ``flush()`` or the interpreter's exit waits for it.
``restore_latest_checkpoint()`` finds the highest step of the same key: on the hot tier when it
is there, else downloaded (verified) from the store. Inside a job the key is
``$MLC_CHECKPOINT_KEY``: a requeued job keeps it and a rerun inherits it from the job it reruns.
Outside a job the key is the active run's id. All of the work is done by the C++ core
(``mlcore::Checkpoints``, mlcore/checkpoints.h) with the GIL released. See docs/data.md.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from pathlib import Path
from typing import Any, Iterator

from mlcore import _mlcore
from mlcore._record import Record

__all__ = ["Checkpoint", "Checkpoints", "checkpoint", "checkpoints", "flush",
           "restore_latest_checkpoint", "save_checkpoint"]

_RUN, _JOB = 2, 1


class Checkpoint(Record):
    """A checkpoint on the hot tier: ``step``, ``path`` (a directory), ``artifact_id`` (empty
    until uploaded) and ``from_hot_tier`` (restores: found locally rather than downloaded)."""

    @property
    def path(self) -> Path:
        return Path(self.local_path)


def _info(d: dict | None) -> Checkpoint | None:
    return None if d is None else Checkpoint(d)


class Checkpoints:
    """The checkpoints of one key. ``run``/``job``: the owner of the uploaded artifacts (default:
    the job this code runs in, else the active run); ``key`` groups the checkpoints restored
    together; ``dir`` is the hot tier; ``keep_local`` uploaded checkpoints stay on it."""

    def __init__(self, key: str | None = None, *, run: Any = None, job: Any = None,
                 dir: str | Path | None = None, keep_local: int = 2, client: Any = None):
        import mlcore
        client = client if client is not None else mlcore.client()
        kind, owner = 0, ""
        if run is not None and job is not None:
            raise mlcore.InvalidArgumentError("checkpoints: give a run or a job, not both")
        if job is not None:
            kind, owner = _JOB, str(getattr(job, "id", job))
        elif run is not None:
            kind, owner = _RUN, str(getattr(run, "id", run))
        else:
            import os
            active = mlcore.active_run()
            if active is not None and not os.environ.get("MLC_JOB_ID"):
                kind, owner = _RUN, active.id
        self._impl = _mlcore.Checkpoints(client._core, key or "", kind, owner,
                                         str(dir) if dir else "", keep_local)

    @property
    def key(self) -> str:
        return self._impl.key

    @property
    def dir(self) -> Path:
        return Path(self._impl.dir)

    def save(self, path: str | Path, step: int) -> Checkpoint:
        """Copies the file or directory ``path`` to the hot tier as checkpoint ``step`` and queues
        its upload."""
        return _info(self._impl.save(str(path), int(step)))

    @contextlib.contextmanager
    def step(self, step: int) -> Iterator[Path]:
        """A fresh directory to write checkpoint ``step`` into; published when the block ends
        without an exception (nothing is published otherwise)."""
        path = Path(self._impl.begin(int(step)))
        yield path
        self._impl.commit(int(step))

    def restore_latest(self) -> Checkpoint | None:
        """The newest checkpoint of the key, ready on the hot tier; None when there is none."""
        return _info(self._impl.restore_latest())

    def flush(self) -> None:
        """Waits for queued uploads; raises the first upload error since the last flush."""
        self._impl.flush()

    def close(self) -> None:
        self._impl.close()

    def __enter__(self) -> "Checkpoints":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


_lock = threading.Lock()
_default: Checkpoints | None = None
_default_id: tuple | None = None


def checkpoints() -> Checkpoints:
    """The process's default checkpoints (the current job's, or the active run's)."""
    global _default, _default_id
    import mlcore
    active = mlcore.active_run()
    ident = (id(mlcore.client()), active.id if active is not None else None)
    with _lock:
        if _default is None or _default_id != ident:
            if _default is not None:
                _default.close()
            _default = Checkpoints()
            _default_id = ident
        return _default


def save_checkpoint(path: str | Path, step: int) -> Checkpoint:
    """Saves ``path`` (a file or directory) as checkpoint ``step``; see the module docs."""
    return checkpoints().save(path, step)


def checkpoint(step: int) -> contextlib.AbstractContextManager[Path]:
    """``with mlcore.checkpoint(step) as d:`` write files into ``d``; published at the end."""
    return checkpoints().step(step)


def restore_latest_checkpoint() -> Checkpoint | None:
    """The newest checkpoint of this job (or run), or None."""
    return checkpoints().restore_latest()


def flush() -> None:
    """Waits for the default checkpoints' uploads."""
    with _lock:
        current = _default
    if current is not None:
        current.flush()


@atexit.register
def _close_default() -> None:
    global _default
    with _lock:
        current, _default = _default, None
    if current is not None:
        current.close()

"""The data-load cache: remote data brought close to compute, verified, fetched once.

::

    import mlcore
    path = mlcore.data.load("https://example.org/train.csv", digest="9f86d0...")  # pathlib.Path
    df = pandas.read_csv(path)
    tree = mlcore.data.load("artifact://a1b2c3d4e5f6")     # a directory artifact: a tree of links
    mlcore.data.pin("https://example.org/train.csv", ttl="2h")
    mlcore.data.entries(pinned=True).df                    # pandas DataFrame
    mlcore.data.prefetch(["https://example.org/a.bin", ("file:///data/b.bin", "3a7bd3...")])
    mlcore.data.stats().tiers[0].hits

A load looks in the hot tier, then the cold tier, then fetches from the origin (a path,
``file://``, ``http(s)://`` or ``artifact://ID[/PATH]``); the content is verified against its
SHA-256 before it is served, and concurrent loads of one object (threads or processes) fetch it
once. Loads run in the C++ core with the GIL released. ``progress``: ``None`` shows a tqdm bar
when tqdm is installed and stderr is a terminal; ``True`` forces the bar; ``False`` shows nothing;
a callable gets ``(done, total)`` in bytes and may return ``False`` to cancel (an exception it
raises cancels too and propagates). See docs/data.md.
"""

from __future__ import annotations

import builtins
import pathlib
from typing import Any, Iterable

from mlcore._record import Record
from mlcore.artifacts import _client, _mlcore, _progress
from mlcore.errors import InvalidArgumentError

_TIERS = {"hot": "CACHE_TIER_HOT", "cold": "CACHE_TIER_COLD"}


class CacheEntry(Record):
    """One cached object in one tier (``mlcore.v1.CacheEntry``): uri, digest, size_bytes, tier,
    pinned, pins, last_access_time, fetch_time, local_path, access_count, ..."""

    @property
    def tier_name(self) -> str:
        """``"hot"`` or ``"cold"``."""
        return str(self._data.get("tier", "")).removeprefix("CACHE_TIER_").lower()

    @property
    def pinned_by(self) -> builtins.list[str]:
        """The owners of the pins held (``["user:ann", "job:j0123..."]``)."""
        return [p["owner"] for p in self._data.get("pins", [])]


class CacheEntries(builtins.list):
    """A list of :class:`CacheEntry`, most recently used first, with a pandas view."""

    @property
    def df(self) -> Any:
        """The entries as a pandas DataFrame (one row per entry and tier)."""
        try:
            import pandas as pd
        except ImportError as e:
            raise ImportError("entries().df needs pandas: pip install pandas") from e
        columns = ["uri", "tier", "size_bytes", "digest", "pinned_by", "last_access_time",
                   "access_count", "fetch_time", "local_path"]
        rows = [{"uri": e.uri, "tier": e.tier_name, "size_bytes": int(e.size_bytes or 0),
                 "digest": e.digest, "pinned_by": e.pinned_by,
                 "last_access_time": e.last_access_time, "access_count": int(e.access_count or 0),
                 "fetch_time": e.fetch_time, "local_path": e.local_path} for e in self]
        return pd.DataFrame(rows, columns=columns)


def _tier(tier: str | None) -> str:
    if not tier:
        return "CACHE_TIER_UNSPECIFIED"
    key = tier.lower().removeprefix("cache_tier_")
    if key not in _TIERS:
        raise InvalidArgumentError(f"unknown cache tier {tier!r}; use 'hot' or 'cold'")
    return _TIERS[key]


def _uri(uri: Any) -> str:
    """A URI, or a path (``pathlib.Path`` or text) as the core resolves it."""
    return str(uri)


def load_result(uri: Any, *, digest: str | None = None, pin: str | bool | None = None,
                revalidate: bool = False, timeout: Any = None, progress: Any = None,
                project: str | None = None, client: Any = None) -> Record:
    """Like :func:`load`, returning the whole ``LoadResponse``: local_path, digest, size_bytes and
    source (``"LOAD_SOURCE_HOT"``, ``"LOAD_SOURCE_COLD"`` or ``"LOAD_SOURCE_ORIGIN"``)."""
    client = _client(client)
    request: dict[str, Any] = {"uri": _uri(uri), "digest": digest or "",
                               "revalidate": bool(revalidate), "project": project or ""}
    if isinstance(pin, str) and pin:
        request["pin_owner"] = pin
    elif not (pin is None or isinstance(pin, bool) or pin == ""):
        raise InvalidArgumentError(f"pin must be an owner like 'user:ann', True or None, "
                                   f"not {pin!r}")
    if timeout is not None:
        request["timeout"] = timeout
    fn, bar = _progress(progress, "load")
    try:
        response = _mlcore().data_load(client._core, request, fn)
    finally:
        if bar is not None:
            bar.close()
    if pin is True:
        # The core's default owner ("user:<you>") is applied by Pin, not by Load.
        _pin(client, uri, None, None, project)
    return Record(response, "LoadResponse")


def load(uri: Any, digest: str | None = None, pin: str | bool | None = None,
         revalidate: bool = False, timeout: Any = None, progress: Any = None, *,
         project: str | None = None, client: Any = None) -> pathlib.Path:
    """Returns a local path to verified content of ``uri``, fetching it once on a miss.

    ``uri``: a path, ``file://``, ``http(s)://`` or ``artifact://ID[/PATH]`` (a directory
    artifact gives a directory of links to its files). ``digest``: the expected SHA-256; a
    mismatch raises FailedPreconditionError and nothing is served. ``pin``: an owner
    (``"user:ann"``) or ``True`` (for ``user:<you>``) to keep it from eviction. ``revalidate``:
    ask the origin (ETag / Last-Modified) even on a hit. ``timeout``: seconds, a timedelta or a
    text like ``"10m"`` (default 30 min).

    Raises InvalidArgumentError (unsupported scheme, malformed digest), NotFoundError (no such
    file, URL or artifact), FailedPreconditionError (digest mismatch), QuotaExceededError (the
    hot tier cannot hold it, disk full), DeadlineExceededError, UnavailableError (origin
    unreachable), CancelledError (progress returned False).
    """
    response = load_result(uri, digest=digest, pin=pin, revalidate=revalidate, timeout=timeout,
                           progress=progress, project=project, client=client)
    return pathlib.Path(response.local_path)


def entries(tier: str | None = None, prefix: str | None = None, pinned: bool = False,
            all: bool = False, *, project: str | None = None,
            client: Any = None) -> CacheEntries:
    """The cached objects of the project (``all=True``: of every project), most recently used
    first; every page. ``tier``: ``"hot"`` or ``"cold"`` (default both); ``prefix``: only URIs
    starting with it; ``pinned``: only pinned ones. ``.df`` gives a pandas DataFrame."""
    client = _client(client)
    if all:
        scope = ""
    else:
        scope = project or client.project or ""
        if not scope:
            raise InvalidArgumentError("no project to list the cached data of: pass project=... "
                                       "(or set MLC_PROJECT), or all=True for every entry")
    request: dict[str, Any] = {"project": scope, "tier": _tier(tier), "uri_prefix": prefix or "",
                               "pinned_only": bool(pinned), "page_size": 1000}
    out = CacheEntries()
    while True:
        page = client.invoke("DataService/ListCacheEntries", request)
        out.extend(CacheEntry(e, "CacheEntry") for e in page.get("entries", []))
        token = page.get("next_page_token")
        if not token:
            return out
        request["page_token"] = token


def entries_df(tier: str | None = None, prefix: str | None = None, pinned: bool = False,
               all: bool = False, *, project: str | None = None, client: Any = None) -> Any:
    """:func:`entries` as a pandas DataFrame."""
    return entries(tier, prefix, pinned, all, project=project, client=client).df


def pin(uri: Any, owner: str | None = None, ttl: Any = None, *, project: str | None = None,
        client: Any = None) -> CacheEntry:
    """Pins a cached object for ``owner`` (default ``user:<you>``) so it is never evicted;
    idempotent. ``ttl``: let it lapse after this long (seconds, timedelta or ``"2h"``). Raises
    NotFoundError when it is not cached (load it first)."""
    return _pin(_client(client), uri, owner, ttl, project)


def _pin(client: Any, uri: Any, owner: str | None, ttl: Any, project: str | None) -> CacheEntry:
    request: dict[str, Any] = {"uri": _uri(uri), "owner": owner or "", "project": project or ""}
    if ttl is not None:
        request["ttl"] = ttl
    return CacheEntry(client.invoke("DataService/Pin", request), "CacheEntry")


def unpin(uri: Any, owner: str | None = None, *, project: str | None = None,
          client: Any = None) -> CacheEntry:
    """Releases ``owner``'s pin (default ``user:<you>``); idempotent. Raises NotFoundError when
    the object is not cached."""
    return CacheEntry(_client(client).invoke("DataService/Unpin", {
        "uri": _uri(uri), "owner": owner or "", "project": project or ""}), "CacheEntry")


def evict(uri: Any, tier: str | None = None, force: bool = False, *,
          client: Any = None) -> Record:
    """Removes an object from the cache (``tier``: ``"hot"``/``"cold"``, default both). Returns
    entries_evicted and bytes_freed. Raises FailedPreconditionError naming the owners when it is
    pinned and not ``force``, NotFoundError when it is not cached."""
    return Record(_client(client).invoke("DataService/Evict", {
        "uri": _uri(uri), "tier": _tier(tier), "force": bool(force)}), "EvictResponse")


def prefetch(uris: Iterable[Any], wait: bool = True, *, project: str | None = None,
             client: Any = None) -> builtins.list[Record]:
    """Brings objects into the cache: each item a URI, ``"URI@SHA256"`` or a ``(uri, digest)``
    pair. Returns one result per item (uri, digest, code, message; ``code`` 0 = loaded, or
    started when not ``wait``): failures are reported per item, not raised. With ``wait=False``
    the loads continue in a background process."""
    items = []
    for item in uris:
        if isinstance(item, tuple):
            uri, digest = item
        else:
            uri, digest = _uri(item), ""
            at = uri.rfind("@")
            tail = uri[at + 1:] if at >= 0 else ""
            if _is_digest(tail):
                uri, digest = uri[:at], tail
        items.append({"uri": _uri(uri), "digest": digest or ""})
    response = _client(client).invoke("DataService/Prefetch", {
        "items": items, "wait": bool(wait), "project": project or ""})
    return [Record(r, "PrefetchResult") for r in response.get("results", [])]


def _is_digest(text: str) -> bool:
    return len(text) == 64 and builtins.all(c in "0123456789abcdef" for c in text)


def stats(*, client: Any = None) -> Record:
    """Counters and occupancy: ``tiers`` (hits, misses, bytes_served, used_bytes, capacity_bytes,
    pinned_bytes, entries, evictions per tier, hot first), origin_fetches, origin_bytes,
    single_flight_waits, verification_failures, since."""
    return Record(_client(client).invoke("DataService/GetCacheStats", {}), "CacheStats")


__all__ = ["CacheEntries", "CacheEntry", "entries", "entries_df", "evict", "load", "load_result",
           "pin", "prefetch", "stats", "unpin"]

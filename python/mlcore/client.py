"""The Python face of :class:`mlcore.Client`: every call goes through the C++ core."""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from mlcore import _mlcore
from mlcore._record import Record


class Project(Record):
    """A project: the unit of tenancy and quota (``mlcore.v1.Project``)."""


class BackendInfo(Record):
    """What a backend is and can do (``mlcore.v1.BackendInfo``)."""


def _resources(value: Any, what: str) -> dict[str, Any] | None:
    """Accepts 'cpu=4,memory=16Gi', {'cpu': 4, 'memory': '16Gi', 'gpu': 1} or None."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        text = ",".join(f"{k}={v}" for k, v in value.items())
    elif isinstance(value, str):
        text = value
    else:
        raise TypeError(f"{what} must be a string like 'cpu=4,memory=16Gi' or a dict, not {type(value).__name__}")
    return _mlcore.parse_resources_dict(text)


def _duration_json(text: str) -> str:
    """'90d', '12h', '30m', '45s' (or a sum, '1h30m') as proto3 JSON seconds ('3600s')."""
    import re

    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+)([dhms])", text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"invalid duration {text!r}; write it like '90d', '12h' or '1h30m'")
    return f"{sum(int(n) * units[u] for n, u in parts)}s"


class Client:
    """A connection to an mlcore backend.

    Anything left as ``None`` is resolved like the CLI does: ``MLC_BACKEND`` / ``MLC_PROJECT``,
    then the config file's context, then ``local://$XDG_DATA_HOME/mlcore``::

        with mlcore.Client(backend="local:///tmp/mlc") as client:
            client.create_project("ml-research", guaranteed="cpu=8,memory=32Gi")
            print(client.projects())

    A Client is safe to share between threads. Errors raise subclasses of
    :class:`mlcore.MlcoreError`.
    """

    def __init__(
        self,
        backend: str | None = None,
        *,
        project: str | None = None,
        context: str | None = None,
        config: str | None = None,
        token: str | None = None,
    ):
        if token:
            # An API token for a grpc:// or grpcs:// server; without one, MLC_TOKEN or the token
            # `mlc login` stored for the server is used.
            if not backend:
                raise ValueError("token= needs backend= naming the server it is for")
            backend += ("&" if "?" in backend else "?") + "token=" + token
        self._core = _mlcore.Client(backend or "", project or "", context or "", config or "")

    # -- plumbing -------------------------------------------------------------------------------
    def invoke(self, method: str, request: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Calls any API method by name ("ProjectService/ListProjects") with a request dict."""
        return self._core.call(method, request)

    def stream(self, method: str, request: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Iterates over a streaming method's messages ("RegistryService/WatchRegistryEvents",
        "JobService/StreamJobLogs" with follow); a unary method yields its one response. Breaking
        out of the loop, or ``close()``, stops the stream; it is established (and errors raised)
        when this returns."""
        from mlcore import _stream

        return _stream.Stream(self._core, method, request, name=f"mlcore-{method}")

    @property
    def project(self) -> str | None:
        """The default project, or None."""
        return self._core.project or None

    @property
    def config(self) -> dict[str, Any]:
        """Where the backend and project came from (like ``mlc config show``)."""
        return self._core.config

    @property
    def backend(self) -> str:
        return self._core.config["backend"]

    def backend_info(self) -> BackendInfo:
        return BackendInfo(self.invoke("SystemService/GetBackendInfo"))

    def close(self) -> None:
        """Releases the backend; further calls raise FailedPreconditionError."""
        self._core.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._core.closed else self.backend
        return f"mlcore.Client({state!r}, project={self.project!r})" if not self._core.closed else "mlcore.Client(closed)"

    # -- identity, tokens and roles (served by `mlc server`) -------------------------------------
    def whoami(self) -> Record:
        """The caller: ``user``, ``token`` (when one was used) and role ``bindings``. On local://
        the caller is an administrator of everything."""
        return Record(self.invoke("AuthService/WhoAmI"))

    def create_token(
        self,
        description: str = "",
        *,
        projects: list[str] | tuple[str, ...] = (),
        ttl: str | None = None,
        user: str | None = None,
    ) -> tuple[str, Record]:
        """Creates an API token; returns ``(secret, token)``. The secret is shown this once: store
        it (``mlc login`` keeps it with 0600 permissions). ``ttl`` like "90d"; None = never."""
        request: dict[str, Any] = {"description": description, "projects": list(projects)}
        if ttl:
            request["ttl"] = _duration_json(ttl)
        if user:
            request["user"] = user
        out = self.invoke("AuthService/CreateToken", request)
        return out["secret"], Record(out["token"])

    def tokens(self, *, include_revoked: bool = False, user: str | None = None) -> list[Record]:
        """Tokens of the caller (or of ``user``, for server administrators), never their secrets."""
        request: dict[str, Any] = {"include_revoked": include_revoked, "page_size": 1000}
        if user:
            request["user"] = user
        return [Record(t) for t in self.invoke("AuthService/ListTokens", request).get("tokens", [])]

    def revoke_token(self, token_id: str) -> None:
        """Revokes a token at once (idempotent)."""
        self.invoke("AuthService/RevokeToken", {"id": token_id})

    def grant_role(self, project: str, user: str, role: str) -> Record:
        """Gives ``user`` the role "viewer", "editor" or "admin" on ``project`` (needs admin)."""
        if role.lower() not in ("viewer", "editor", "admin"):
            raise ValueError(f"unknown role {role!r}; roles: viewer, editor, admin")
        return Record(self.invoke("AuthService/GrantRole", {
            "project": project, "user": user, "role": "ROLE_" + role.upper()}))

    def revoke_role(self, project: str, user: str) -> None:
        """Removes ``user``'s role on ``project`` (a project keeps at least one admin)."""
        self.invoke("AuthService/RevokeRole", {"project": project, "user": user})

    def role_bindings(self, project: str | None = None, *, user: str | None = None) -> list[Record]:
        """Role bindings of the projects the caller administers."""
        request: dict[str, Any] = {"page_size": 1000}
        if project:
            request["project"] = project
        if user:
            request["user"] = user
        return [Record(b) for b in self.invoke("AuthService/ListRoleBindings", request).get("bindings", [])]

    # -- projects -------------------------------------------------------------------------------
    def create_project(
        self,
        name: str,
        *,
        description: str = "",
        parent: str | None = None,
        labels: Mapping[str, str] | None = None,
        guaranteed: Any = None,
        limit: Any = None,
    ) -> Project:
        """Creates a project. Quotas accept 'cpu=8,memory=32Gi,gpu=1' or a dict."""
        project: dict[str, Any] = {"name": name, "description": description}
        if parent:
            project["parent"] = parent
        if labels:
            project["labels"] = dict(labels)
        if (g := _resources(guaranteed, "guaranteed")) is not None:
            project["guaranteed"] = g
        if (lim := _resources(limit, "limit")) is not None:
            project["limit"] = lim
        return Project(self.invoke("ProjectService/CreateProject", {"project": project}))

    def get_project(self, name: str) -> Project:
        """Describes a project; raises NotFoundError when it does not exist."""
        return Project(self.invoke("ProjectService/GetProject", {"name": name}))

    def iter_projects(self, *, parent: str | None = None, page_size: int = 0) -> Iterator[Project]:
        """Yields projects ordered by name, fetching pages lazily."""
        token = ""
        while True:
            page = self.invoke(
                "ProjectService/ListProjects",
                {"parent": parent or "", "page_size": page_size, "page_token": token},
            )
            for item in page.get("projects", []):
                yield Project(item)
            token = page.get("next_page_token", "")
            if not token:
                return

    def projects(self, *, parent: str | None = None) -> list[Project]:
        """All projects (optionally only sub-projects of ``parent``), ordered by name."""
        return list(self.iter_projects(parent=parent))

    def delete_project(self, name: str) -> None:
        """Deletes an empty project."""
        self.invoke("ProjectService/DeleteProject", {"name": name})

    # -- jobs (see mlcore.jobs) -------------------------------------------------------------------
    def submit_job(self, command: Any = None, **spec_fields: Any) -> Any:
        """Queues a job; keyword arguments as mlcore.jobs.build_spec. Returns a mlcore.jobs.Job."""
        from mlcore import jobs
        return jobs.submit(command, client=self, **spec_fields)

    def get_job(self, id_or_name: str) -> Any:
        from mlcore import jobs
        return jobs.get(id_or_name, client=self)

    def jobs(self, **filters: Any) -> list:
        """Jobs newest first; filters as mlcore.jobs.list (states=, labels=, user=, ...)."""
        from mlcore import jobs
        return jobs.list(client=self, **filters)

    # -- pipelines (see mlcore.pipelines) ---------------------------------------------------------
    def lint_pipeline(self, source: Any = None, **options: Any) -> Any:
        """Checks a pipeline without running it: a ``@mlcore.pipeline``, a spec dict, a file path
        or ``text=``; returns a mlcore.pipelines.LintReport (``.ok``, ``.problems``,
        ``str(report)`` as ``mlc pipeline lint`` prints it)."""
        from mlcore import pipelines
        return pipelines.lint(source, client=self, **options)

    # -- tracking (see mlcore.tracking) -----------------------------------------------------------
    def start_run(self, name: str | None = None, **options: Any) -> Any:
        """Starts a run on this client; options as mlcore.start_run. Returns a mlcore.Run."""
        from mlcore import tracking
        return tracking.start_run(name, client=self, **options)

    def get_run(self, id_or_name: str) -> Any:
        from mlcore import tracking
        return tracking.get_run(id_or_name, client=self)

    def search_runs(self, filter: str = "", **options: Any) -> Any:
        """Runs matching a filter; options as mlcore.search_runs."""
        from mlcore import tracking
        return tracking.search_runs(filter, client=self, **options)

    def get_metric_history(self, run_id: str, key: str, **options: Any) -> Any:
        """(steps, values, times_us) numpy arrays; options as mlcore.metric_history."""
        from mlcore import tracking
        return tracking.metric_history(run_id, key, client=self, **options)

    def create_experiment(self, name: str, *, project: str | None = None,
                          description: str = "") -> Record:
        return Record(self.invoke("TrackingService/CreateExperiment", {"experiment": {
            "project": project or "", "name": name, "description": description}}))


    # -- data cache (see mlcore.data) -------------------------------------------------------------
    def load_data(self, uri: Any, **options: Any) -> Any:
        """A local path (pathlib.Path) to verified content of ``uri``, fetched once on a miss;
        options as mlcore.data.load (digest=, pin=, revalidate=, timeout=, progress=)."""
        from mlcore import data
        return data.load(uri, client=self, **options)

    def cache_entries(self, **filters: Any) -> Any:
        """Cached objects of the project; filters as mlcore.data.entries (tier=, prefix=,
        pinned=, all=)."""
        from mlcore import data
        return data.entries(client=self, **filters)

    def cache_stats(self) -> Record:
        """Hit/miss counters and occupancy of the data cache (mlcore.data.stats)."""
        from mlcore import data
        return data.stats(client=self)

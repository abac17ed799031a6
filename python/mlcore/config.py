"""Reading and editing the client configuration (``~/.config/mlcore/config.yaml``)."""

from __future__ import annotations

from typing import Any

from mlcore import _mlcore


def path() -> str:
    """The config file in effect: $MLC_CONFIG, else $XDG_CONFIG_HOME/mlcore/config.yaml."""
    return _mlcore.default_config_path()


def resolve(
    backend: str | None = None,
    project: str | None = None,
    context: str | None = None,
    config: str | None = None,
) -> dict[str, Any]:
    """What a Client would use, and where each value comes from (like ``mlc config show``)."""
    return _mlcore.resolve_config(backend or "", project or "", context or "", config or "")


def load(config: str | None = None) -> dict[str, Any]:
    """The config file's contexts and current context."""
    return _mlcore.load_config(config or path())


def set_context(name: str, *, backend: str | None = None, project: str | None = None,
                use: bool = False, config: str | None = None) -> None:
    """Creates or updates a context; ``use=True`` also makes it current."""
    file = config or path()
    _mlcore.set_context(file, name, backend or "", project or "")
    if use:
        _mlcore.use_context(file, name)


def use_context(name: str, *, config: str | None = None) -> None:
    """Makes ``name`` the current context."""
    _mlcore.use_context(config or path(), name)


def delete_context(name: str, *, config: str | None = None) -> None:
    """Removes a context."""
    _mlcore.delete_context(config or path(), name)

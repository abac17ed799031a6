"""Read-only records built from the core's JSON, by reflection: no entity is declared here."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, Iterator


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return Record(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


class Record(Mapping):
    """An API entity (a project, a job, ...) with attribute and key access.

    Fields use the names of ``proto/mlcore/v1`` (snake_case). Absent fields read as ``None``
    through attributes, so ``project.parent or "-"`` works. ``to_dict()`` gives plain data.
    """

    __slots__ = ("_data", "_type")

    def __init__(self, data: dict[str, Any], type_name: str = ""):
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_type", type_name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _wrap(self._data.get(name))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._data[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Record):
            return self._data == other._data
        if isinstance(other, dict):
            return self._data == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.to_json(indent=None))

    def to_dict(self) -> dict[str, Any]:
        """A deep copy as plain dicts and lists."""
        return copy.deepcopy(self._data)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self._data, indent=indent, sort_keys=True, default=_json_default)

    def __repr__(self) -> str:
        name = type(self).__name__
        key = self._data.get("name") or self._data.get("id")
        fields = ", ".join(f"{k}={v!r}" for k, v in self._data.items() if k not in ("name", "id"))
        head = f"{key!r}" if key else ""
        sep = ", " if head and fields else ""
        return f"{name}({head}{sep}{fields})"

    def _repr_html_(self) -> str:
        from mlcore import _html
        return _html.fields(self._data.items(), caption=self._type or type(self).__name__)

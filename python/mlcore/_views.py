"""Notebook views: lists of records as tables, quota usage with bars, metric plots."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from mlcore import _html
from mlcore._record import Record

# Columns shown for records of a kind (by a field only that kind has); others show every field.
_COLUMNS = [
    ("spec", ["name", "id", "state", "waiting_reason", "user", "create_time"]),      # jobs
    ("status", ["name", "id", "status", "experiment_id", "start_time", "end_time"]),  # runs
    ("latest_version", ["name", "latest_version", "aliases", "description", "update_time"]),
    ("manifest_digest", ["model", "version", "status", "aliases", "run_id", "create_time"]),
]


class RecordList(list):
    """A list of records that draws itself as a table in notebooks."""

    def __init__(self, items: Iterable[Any] = (), caption: str = ""):
        super().__init__(items)
        self.caption = caption

    def _columns(self) -> list[str] | None:
        if not self:
            return None
        first = self[0]
        for marker, columns in _COLUMNS:
            if isinstance(first, Record) and marker in first:
                return [c for c in columns if any(c in r for r in self)]
        return None

    def _repr_html_(self) -> str:
        rows = [r.to_dict() if isinstance(r, Record) else dict(r) for r in self]
        return _html.table(rows, self._columns(), caption=self.caption or "records")


def _int(value: Any) -> int:
    return int(value or 0)  # int64 fields arrive as JSON strings


_RESOURCES = [("CPU", "cpu_millis", 1000.0, "cores"), ("memory", "memory_bytes", 2.0**30, "GiB"),
              ("GPU", "gpu", 1.0, "")]


class QuotaReport(RecordList):
    """``mlcore.quota()``: one record per project; in notebooks, usage bars per resource (green
    within the guarantee, amber beyond it, drawn against the limit)."""

    def _repr_html_(self) -> str:
        rows = []
        for usage in self:
            u = usage.to_dict()
            cells = [f"<td style='padding:2px 8px'><b>{_html.cell(u.get('project'))}</b></td>"]
            for _label, field, unit, suffix in _RESOURCES:
                used = _int((u.get("used") or {}).get(field)) / unit
                guaranteed = _int((u.get("guaranteed") or {}).get(field)) / unit
                limit = _int((u.get("limit") or {}).get(field)) / unit
                text = f"{used:g} / {limit:g}" if limit else f"{used:g} (no limit)"
                cells.append(
                    f"<td style='padding:2px 8px'>{_html.usage_bar(used, guaranteed, limit)} "
                    f"<small>{_html.cell(text)} {suffix}, guaranteed {guaranteed:g}</small></td>")
            cells.append(f"<td style='padding:2px 8px'>{_int(u.get('running_jobs'))} running, "
                         f"{_int(u.get('pending_jobs'))} pending</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        head = "".join(f"<th style='text-align:left;padding:2px 8px'>{h}</th>"
                       for h in ["project", *(r[0] for r in _RESOURCES), "jobs"])
        return (f"<table><caption style='text-align:left'>quota usage</caption>"
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def plot_metrics(run_id: str, keys: Sequence[str], *, client: Any, ax: Any = None,
                 max_points: int = 2000, x: str = "step", title: str | None = None) -> Any:
    """Draws the metrics ``keys`` of a run on ``ax`` (a new figure's axes by default), each read
    as a shape-keeping view of at most ``max_points`` points; ``x`` is "step" or "time".
    Returns the axes. Needs matplotlib."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ModuleNotFoundError(
            "plotting needs matplotlib, which is not installed: pip install matplotlib "
            "(or read the points with run.metric_history(key))") from e
    from mlcore.errors import InvalidArgumentError
    from mlcore.tracking import metric_history
    if x not in ("step", "time"):
        raise InvalidArgumentError(f"x must be 'step' or 'time', not {x!r}")
    if not keys:
        raise InvalidArgumentError("name at least one metric to plot, e.g. run.plot('loss')")
    if ax is None:
        _fig, ax = plt.subplots()
    for key in keys:
        steps, values, times = metric_history(run_id, key, max_points=max_points, client=client)
        if x == "time":
            import numpy as np
            ax.plot(np.asarray(times, dtype="datetime64[us]"), values, label=key)
        else:
            ax.plot(steps, values, label=key)
    ax.set_xlabel(x)
    if len(keys) == 1:
        ax.set_ylabel(keys[0])
    ax.legend()
    ax.set_title(title or run_id)
    return ax

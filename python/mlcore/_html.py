"""Notebook rendering: compact HTML tables with state colours, and quota usage bars.

Pure functions of plain data, so every ``_repr_html_`` of the package shares one look.
"""

from __future__ import annotations

import html
import json
from typing import Any, Iterable, Mapping, Sequence

# Colours of states (jobs, runs, model versions), by the name without its enum prefix.
STATE_COLOURS = {
    "PENDING": "#b58900", "QUEUED": "#b58900", "STARTING": "#268bd2", "RUNNING": "#268bd2",
    "SUCCEEDED": "#859900", "FINISHED": "#859900", "READY": "#859900",
    "FAILED": "#dc322f", "LOST": "#dc322f", "TIMED_OUT": "#dc322f", "KILLED": "#cb4b16",
    "CANCELLED": "#93a1a1", "PREEMPTED": "#6c71c4", "PENDING_UPLOAD": "#b58900",
}
_PREFIXES = ("JOB_STATE_", "RUN_STATUS_", "MODEL_VERSION_STATUS_")
_CELL = "text-align:left;padding:2px 8px"


def short_state(value: Any) -> str:
    """``JOB_STATE_RUNNING`` -> ``RUNNING``; other values as text."""
    text = "" if value is None else str(value)
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


def state_badge(value: Any) -> str:
    state = short_state(value)
    colour = STATE_COLOURS.get(state, "#657b83")
    return f"<b style='color:{colour}'>{html.escape(state)}</b>"


def cell(value: Any) -> str:
    """A value as escaped HTML: states coloured, containers as compact JSON, None empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return html.escape(f"{value:.6g}")
    if isinstance(value, (dict, list)):
        return html.escape(json.dumps(value, default=str, separators=(",", ":")))
    text = str(value)
    if any(text.startswith(p) for p in _PREFIXES):
        return state_badge(text)
    return html.escape(text)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, *,
          caption: str = "", limit: int = 50) -> str:
    """A table of ``rows`` (dicts), with ``columns`` (default: every key, in first-seen order).
    At most ``limit`` rows are drawn; the caption says how many there are."""
    if columns is None:
        seen: dict[str, None] = {}
        for row in rows:
            for key in row:
                seen.setdefault(key, None)
        columns = list(seen)
    head = "".join(f"<th style='{_CELL}'>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td style='{_CELL}'>{cell(row.get(c))}</td>" for c in columns) + "</tr>"
        for row in rows[:limit])
    shown = f" (first {limit} of {len(rows)})" if len(rows) > limit else f" ({len(rows)})"
    title = f"<caption style='text-align:left'>{html.escape(caption)}{shown}</caption>" if caption else ""
    return f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def fields(pairs: Iterable[tuple[str, Any]], *, caption: str = "") -> str:
    """A two-column table of (name, value); empty values are left out. Values are escaped unless
    they are already HTML (state badges)."""
    rows = []
    for name, value in pairs:
        if value in (None, "", {}, []):
            continue
        rendered = value if isinstance(value, _Html) else cell(value)
        rows.append(f"<tr><th style='{_CELL}'>{html.escape(name)}</th><td style='{_CELL}'>{rendered}</td></tr>")
    title = f"<caption style='text-align:left'>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{title}{''.join(rows)}</table>"


class _Html(str):
    """Text that is already HTML."""


def raw(text: str) -> _Html:
    return _Html(text)


def usage_bar(used: float, guaranteed: float, limit: float, *, width: int = 160) -> str:
    """A bar of ``used`` against ``limit``: green within the guarantee, amber beyond it, with a
    tick at the guarantee. A limit of 0 means none: the bar is drawn against the guarantee."""
    scale = limit or guaranteed or used or 1.0
    def px(v: float) -> int:
        return max(0, min(width, round(width * v / scale)))
    within = min(used, guaranteed) if guaranteed else 0.0
    beyond = max(0.0, used - within)
    tick = (f"<div style='position:absolute;left:{px(guaranteed)}px;top:0;width:1px;height:12px;"
            "background:#073642'></div>") if guaranteed and limit else ""
    return (f"<div style='position:relative;width:{width}px;height:12px;background:#eee8d5;"
            "display:inline-block;vertical-align:middle'>"
            f"<div style='position:absolute;left:0;top:0;height:12px;width:{px(within)}px;"
            "background:#859900'></div>"
            f"<div style='position:absolute;left:{px(within)}px;top:0;height:12px;"
            f"width:{px(beyond)}px;background:#b58900'></div>{tick}</div>")

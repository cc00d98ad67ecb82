"""Table cells as escaped HTML, shared by the report's sections: every value from the
data goes through :func:`_e` before it reaches the page."""

from __future__ import annotations

import html
from typing import Any

from driftline.errors import plain
from driftline.report._payload import num

__all__ = ["_e", "_f", "_status", "_w"]


def _e(value: Any) -> str:
    """A value as HTML text: escaped, its control and format characters shown as
    escapes (:func:`~driftline.errors.plain`: a logged ``\\u202e`` would draw the rest
    of its cell backwards)."""
    return html.escape("" if value is None else plain(str(value)), quote=True)


def _f(value: Any) -> str:
    v = num(value)
    return "–" if v is None else f"{v:.4g}"


def _w(window: Any) -> str:
    """A window start for a table: ``2026-09-21 00:00``."""
    return _e(str(window or "")[:16].replace("T", " "))


def _status(status: Any) -> str:
    s = _e(status)
    return f'<span class="status-{s}">{s}</span>'

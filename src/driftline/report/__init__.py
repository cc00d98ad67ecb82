"""The HTML report: one self-contained file, rendered from a check report's results JSON.

>>> import driftline
>>> mon = driftline.connect("driftline.duckdb", "driftline.yaml")    # doctest: +SKIP
>>> driftline.render_report(mon.check(persist=False), "report.html")  # doctest: +SKIP
PosixPath('report.html')

The file opens offline: Plotly's JavaScript is inlined from the installed ``plotly``
package, the chart data is embedded as escaped JSON, and a Content-Security-Policy allows
nothing from the network. Renderers never query the store; this one reads only the
report (``CheckReport``, its ``to_dict()``, its JSON text, or a path to that JSON).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftline.report._payload import build_payload, load_report

if TYPE_CHECKING:
    from driftline.checks import CheckReport

__all__ = ["build_payload", "load_report", "render_report"]


def render_report(
    report: CheckReport | Mapping[str, Any] | str | bytes | os.PathLike[str],
    path: str | os.PathLike[str] = "report.html",
    *,
    max_scopes: int = 25,
    max_rows: int = 1000,
    explanations: Sequence[Any] | None = None,
    robustness: Any = None,
) -> Path:
    """Write the HTML report for ``report`` to ``path`` and return the path.

    ``report`` is a :class:`~driftline.CheckReport`, its ``to_dict()``, its JSON text
    (``str``/``bytes``) or a path (``pathlib.Path``) to a file holding that JSON.
    ``max_scopes`` caps the scopes drawn (overall plus the cohort values with the most
    alerts, then predictions); ``max_rows`` caps each table. ``explanations`` (LIME per
    class, :func:`driftline.explain.explain_class` results) and ``robustness`` (a
    :func:`driftline.robustness.check_robustness` report) add the model section; they
    need the model, so a check alone does not carry them.
    """
    from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

    from driftline.report._html import page

    data = load_report(report)
    if explanations is not None or robustness is not None:
        data = dict(data)
        if explanations is not None:
            data["explanations"] = [_as_dict(e) for e in explanations]
        if robustness is not None:
            data["robustness"] = _as_dict(robustness)
    payload = build_payload(data, max_scopes=max_scopes)
    text = page(data, payload, get_plotlyjs(), max_rows=max_rows)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8", errors="replace")
    return out


def _as_dict(value: Any) -> Any:
    return value.to_dict() if hasattr(value, "to_dict") else value

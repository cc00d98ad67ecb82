"""The report's decision-thresholds section: the gain table, the precision-recall curve's
data with the chosen point, and the threshold-relative shares per window and scope, with
class names that are HTML."""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import driftline
from driftline.report import build_payload, load_report

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_thresholds import BINARY, _binary_frame

YES = "</script><b>yes</b>"
NO = "<img src=x onerror=alert(1)>"


def _payload(page: str) -> dict:  # type: ignore[type-arg]
    found = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    assert found is not None
    return json.loads(found.group(1))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict, object]:  # type: ignore[type-arg]
    tmp = tmp_path_factory.mktemp("thr-report")
    spec = {**BINARY, "scores": {"column": "p", "positive": YES, "negative": NO}}

    def hostile(df):  # type: ignore[no-untyped-def]
        df["y"] = np.where(df["y"] == "yes", YES, NO)
        df["pred"] = np.where(df["pred"] == "yes", YES, NO)
        return df

    with driftline.connect(tmp / "r.duckdb", spec) as mon:
        mon.log_reference(hostile(_binary_frame(2000, 1, "2024-01-01")))
        fitted = mon.thresholds()
        mon.log_predictions(hostile(_binary_frame(1440, 2, "2024-02-01")))
        mon.log_predictions(hostile(_binary_frame(1440, 3, "2024-02-02", shift=0.12)))
        path = mon.report(tmp / "report.html")
    return path.read_text(encoding="utf-8"), _payload(path.read_text(encoding="utf-8")), fitted


def test_the_section_shows_the_gain_table_escaped(rendered) -> None:  # type: ignore[no-untyped-def]
    page, _, fitted = rendered
    assert '<section id="thresholds"><h2>8. Decision thresholds</h2>' in page
    body = page.split('<script type="application/json"')[0]
    assert YES not in body
    assert NO not in body
    table = body.split('id="threshold-gain"')[1].split("</table>")[0]
    assert html.escape(YES, quote=True) in table
    t = fitted.classes[YES]
    assert f"{t.threshold:.4g}" in table
    assert f"{t.before['f1']:.4g} → {t.after['f1']:.4g}" in table
    assert 'id="thr-curve"' in body
    assert 'id="thr-shares"' in body


def test_the_payload_holds_the_curve_the_chosen_point_and_the_shares(rendered) -> None:  # type: ignore[no-untyped-def]
    _, payload, fitted = rendered
    thr = payload["thresholds"]
    (cls,) = thr["classes"]
    t = fitted.classes[YES]
    assert cls["cls"] == YES
    assert cls["threshold"] == pytest.approx(t.threshold, rel=1e-5)
    assert cls["after"]["recall"] == pytest.approx(t.after["recall"], rel=1e-5)
    assert len(cls["curve"]["threshold"]) == len(t.curve["threshold"])
    assert cls["curve"]["threshold"].count(cls["threshold"]) == 1  # the chosen point
    overall = thr["series"][0]
    above = next(line for line in overall if line["check"] == "threshold_above")
    assert above["column"] == YES
    assert above["reference"] == pytest.approx(fitted.reference["above"][YES], rel=1e-5)
    assert len(above["share"]) == len(payload["stats"][0]["x"]) == 2
    assert above["alerts"] == [1]  # the shifted day


def test_a_report_without_thresholds_says_how_to_choose_them(tmp_path: Path) -> None:
    with driftline.connect(tmp_path / "n.duckdb", BINARY) as mon:
        mon.log_reference(_binary_frame(500, 1, "2024-01-01"))
        mon.log_predictions(_binary_frame(200, 2, "2024-02-01"))
        report = mon.check(persist=False)
        page = mon.report(tmp_path / "n.html").read_text(encoding="utf-8")
    assert build_payload(load_report(report))["thresholds"] is None
    assert "No decision thresholds chosen" in page
    assert "<code>driftline thresholds</code>" in page


@pytest.mark.browser
def test_the_section_draws_in_a_browser_without_errors(rendered, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Chromium, offline: both charts draw, the class names stay text, nothing errs."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from .test_browser import ARGS, CHROMIUM

    page_html, _, _ = rendered
    path = tmp_path / "report.html"
    path.write_text(page_html, encoding="utf-8")
    errors: list[str] = []
    dialogs: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on(
                "console",
                lambda m: errors.append(m.text) if m.type in ("error", "assert") else None,
            )
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(path.as_uri())
            page.wait_for_function(
                "() => ['thr-curve', 'thr-shares'].every("
                "id => document.getElementById(id).querySelector('.main-svg'))",
                timeout=20_000,
            )
            traces = page.evaluate("document.getElementById('thr-curve').data.length")
            title = page.evaluate("document.getElementById('thr-curve').layout.title.text")
            options = page.evaluate(
                "Array.from(document.querySelectorAll('#thr-class option')).map(o => o.textContent)"
            )
            imgs = page.evaluate("document.querySelectorAll('img').length")
        finally:
            browser.close()
    assert traces == 4  # the curve, the margin, the chosen and the default point
    assert YES in html.unescape(title)
    assert options == [YES]
    assert imgs == 0
    assert errors == []
    assert dialogs == []

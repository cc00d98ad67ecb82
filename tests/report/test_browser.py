"""The report in a real browser (Debian's chromium via Playwright): it draws, offline,
without errors, and the hostile strings stay text."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import driftline

from .conftest import BIDI, IMG, LINK, SCRIPT, Rendered

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Session:
    page: Any
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def session(browser: Any, rendered: Rendered) -> Iterator[Session]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    s = Session(page)
    page.on(
        "console",
        lambda m: s.errors.append(f"console: {m.text}") if m.type in ("error", "assert") else None,
    )
    page.on("pageerror", lambda e: s.errors.append(f"page: {e}"))

    def on_dialog(d: Any) -> None:
        s.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", lambda r: s.requests.append(r.url))
    page.goto(rendered.path.as_uri())
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.chart'))"
        ".every(d => d.querySelector('.main-svg'))",
        timeout=20_000,
    )
    yield s
    page.close()


def _cell_center(page: Any, row: int, window: int) -> tuple[float, float]:
    """Client coordinates of heatmap cell (row, window), after scrolling it into view."""
    page.locator("#drift-heatmap").scroll_into_view_if_needed()
    xy: list[float] = page.evaluate(
        """([r, w]) => {
            const gd = document.getElementById('drift-heatmap');
            const trace = gd.data[0], xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
            const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
            return [box.left + xa.d2p(trace.x[w]), box.top + ya.d2p(trace.y[r])];
        }""",
        [row, window],
    )
    return xy[0], xy[1]


def test_page_draws_every_chart_offline_without_errors(
    session: Session, rendered: Rendered
) -> None:
    page = session.page
    charts = page.evaluate(
        "() => Array.from(document.querySelectorAll('.chart')).map(d => [d.id, "
        "d.querySelectorAll('.plot-container .main-svg').length])"
    )
    ids = [c[0] for c in charts]
    assert ids[:4] == ["conf-0", "conf-1", "conf-2", "conf-3"]
    assert {"mix-chart", "drift-heatmap", "text-chart-0"} <= set(ids)
    assert all(n > 0 for _, n in charts), charts
    # the heatmap holds one row per drift row, and alert crosses
    rows = page.evaluate("document.getElementById('drift-heatmap').data[0].z.length")
    assert rows == page.evaluate("window.driftlineReport.data.rows.length") > 0
    assert page.evaluate("document.querySelectorAll('#drift-heatmap .scatterlayer .point').length")
    assert session.errors == []
    assert session.dialogs == []
    assert session.requests == [rendered.path.as_uri()]


def test_hostile_strings_stay_text(session: Session) -> None:
    page = session.page
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("document.scripts.length") == 3
    options = page.evaluate(
        "Array.from(document.querySelectorAll('#drift-scope option')).map(o => o.textContent)"
    )
    assert f"segment={SCRIPT}" in options
    # pick the hostile cohort: the heatmap redraws with the value as its literal title
    page.select_option("#drift-scope", label=f"segment={SCRIPT}")
    page.wait_for_function(
        "t => document.querySelector('#drift-heatmap .gtitle').textContent.includes(t)",
        arg=SCRIPT,
    )
    assert session.dialogs == []
    assert session.errors == []


def test_control_and_format_characters_are_shown_escaped(session: Session) -> None:
    """A logged right-to-left override or terminal escape reaches no text of the page
    raw, neither the tables nor the charts the script draws: each is shown as its escape,
    so the rest of a cell or a chart title reads in order."""
    page = session.page
    shown = BIDI.encode("unicode_escape").decode("ascii")
    page.select_option("#drift-scope", label=f"segment={shown}")
    page.wait_for_function(
        "t => document.querySelector('#drift-heatmap .gtitle').textContent.includes(t)",
        arg=shown,
    )
    raw = page.evaluate(
        """() => { const found = [];
        const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let n = walk.nextNode(); n; n = walk.nextNode()) {
          if (/[\u202e\u001b]/.test(n.textContent)) { found.push(n.textContent); } }
        return found; }"""
    )
    assert raw == []
    assert shown in page.evaluate("document.body.innerText")


def test_clicking_a_cell_draws_the_histograms(
    session: Session, rendered: Rendered, tmp_path: Path
) -> None:
    page = session.page
    data = page.evaluate("window.driftlineReport.data")
    # the categorical column in the overall scope: its categories hold the hostile value
    row = next(i for i, r in enumerate(data["rows"]) if r["column"] == "color")
    window = next(w for w, cur in enumerate(data["drift"][0]["cur"][row]) if cur)
    assert page.evaluate("document.getElementById('drill').getAttribute('data-drawn')") is None

    x, y = _cell_center(page, row, window)
    page.mouse.move(x - 4, y)
    page.mouse.move(x, y, steps=4)
    page.mouse.click(x, y)
    page.wait_for_function(
        "want => document.getElementById('drill').getAttribute('data-drawn') === want",
        arg=f"{row}:{window}",
        timeout=5_000,
    )
    bars = page.evaluate("document.querySelectorAll('#drill .trace.bars .point').length")
    categories = data["drift"][0]["cur"][row][window]
    assert bars == 2 * len(categories)
    ticks = page.evaluate(
        "Array.from(document.querySelectorAll('#drill .xtick text')).map(t => t.textContent)"
    )
    # shown as written: not parsed by the DOM, nor by Plotly's label markup (<a>, <b>, &amp;)
    assert IMG in ticks
    assert LINK in ticks
    assert page.evaluate("document.querySelectorAll('svg a, svg b, svg img').length") == 0
    caption = page.text_content("#drill-caption")
    assert caption is not None
    assert caption.startswith(f"color · overall · window {data['drift'][0]['x'][window]}")

    # a numeric column: one reference bar and one window bar per bin
    numeric = next(i for i, r in enumerate(data["rows"]) if r["column"] == "x")
    page.evaluate("([r, w]) => window.driftlineReport.drill(0, r, w)", [numeric, window])
    bins = len(data["bins"]["x"]["counts"])
    assert page.evaluate("document.querySelectorAll('#drill .trace.bars .point').length") == (
        2 * bins
    )
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert session.errors == []
    assert session.dialogs == []
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_section_links_stay_in_the_page(session: Session) -> None:
    """Following the section links makes no request."""
    page = session.page
    for section in ("overview", "confidence", "class-mix", "drift", "schema", "text"):
        page.click(f'nav a[href="#{section}"]')
    assert all(url.startswith("file://") for url in session.requests)
    assert session.errors == []


def test_an_incidents_evidence_link_shows_its_drift_cell(session: Session) -> None:
    """Clicking an incident's drift link picks its scope, draws the heatmap and the
    drill-down of its cell (the column that moved most, the incident's first window)."""
    page = session.page
    link = page.locator('#incident-list a.evidence[href="#drift"]').first
    k, r, w = (int(link.get_attribute(f"data-{a}")) for a in ("scope", "row", "window"))
    link.click()
    page.wait_for_function(
        "want => document.getElementById('drill').getAttribute('data-drawn') === want",
        arg=f"{r}:{w}",
        timeout=5_000,
    )
    assert page.evaluate("document.getElementById('drift-scope').value") == str(k)
    assert all(url.startswith("file://") for url in session.requests)
    assert session.errors == []
    assert session.dialogs == []


def test_a_performance_incidents_link_picks_its_scope_in_the_accuracy_chart(
    browser: Any, rendered: Rendered, tmp_path: Path
) -> None:
    """An accuracy incident located in one cohort value: its evidence link selects that
    value in the performance section and draws its chart, without errors."""
    data = json.loads(json.dumps(rendered.report.to_dict()))
    inc = data["incidents"][0]
    inc["checks"] = ["performance"]
    inc["root_cause"]["scope"] = {"cohort": "segment", "cohort_value": "north"}
    path = driftline.render_report(data, tmp_path / "perf.html")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    link = page.locator('#incident-list a.evidence[href="#performance"]').first
    k = link.get_attribute("data-scope")
    assert k is not None
    assert k != "0"
    link.click()
    page.wait_for_function(
        "k => document.getElementById('perf-scope').value === k", arg=k, timeout=5_000
    )
    assert page.evaluate("document.querySelector('#perf-chart .main-svg') !== null")
    assert errors == []
    page.close()

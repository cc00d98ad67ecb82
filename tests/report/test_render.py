"""render_report: a self-contained page, hostile strings inert, the data round-trips."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from plotly.offline import get_plotlyjs
from typer.testing import CliRunner

import driftline
from driftline.checks import DRIFT_CHECKS
from driftline.errors import plain
from driftline.report import build_payload, load_report, render_report
from driftline.report._html import _shown, safe_json

from .conftest import CLASSES, IMG, LINK, SCRIPT, Rendered, spec

SECTIONS = ("overview", "confidence", "class-mix", "drift", "schema", "text")
SCRIPT_RE = re.compile(r"<script([^>]*)>(.*?)</script>", re.S)


def _scripts(page: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in SCRIPT_RE.finditer(page)]


def _payload(page: str) -> dict[str, Any]:
    [data] = [body for attrs, body in _scripts(page) if 'id="data"' in attrs]
    parsed: dict[str, Any] = json.loads(data)
    return parsed


def _outside_plotly(page: str) -> str:
    plotly = get_plotlyjs()
    assert page.count(plotly) == 1, "Plotly's JavaScript is inlined exactly once"
    return page.replace(plotly, "")


# -- self-contained --------------------------------------------------------------------------
def test_page_is_self_contained(rendered: Rendered) -> None:
    page = rendered.html
    assert page.startswith("<!DOCTYPE html>")
    # no element loads anything: no src/href on script, link, img, iframe, ...
    assert not re.search(
        r"<(script|link|img|iframe|object|embed)\b[^>]*\b(src|href)\s*=", page, re.I
    )
    assert not re.search(r"<link\b", page, re.I)
    rest = _outside_plotly(page)
    assert "http://" not in rest
    assert "https://" not in rest
    for section in SECTIONS:
        assert f'<section id="{section}">' in page


def test_csp_allows_only_the_inline_scripts(rendered: Rendered) -> None:
    page = rendered.html
    m = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert m is not None
    policy = html.unescape(m.group(1))
    assert "default-src 'none'" in policy
    assert "connect-src 'none'" in policy
    assert "unsafe-eval" not in policy
    assert "http" not in policy
    executable = [body for attrs, body in _scripts(page) if 'type="application/json"' not in attrs]
    assert len(executable) == 2  # Plotly, then the page script
    script_src = re.search(r"script-src ([^;]+)", policy)
    assert script_src is not None
    for body in executable:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src.group(1)
    assert "unsafe-inline" not in script_src.group(1)


# -- hostile strings ---------------------------------------------------------------------------
def test_hostile_strings_never_appear_raw(rendered: Rendered) -> None:
    page = rendered.html
    assert "</script><script>" not in page
    assert "<img" not in page.lower()
    assert LINK not in page
    assert 'href="javascript' not in page
    # the only "onerror" outside Plotly's own code is the escaped, inert text
    rest = _outside_plotly(page)
    assert rest.count("onerror")
    assert rest.count("onerror") == rest.count("&lt;img src=x onerror=alert(1)&gt;") + rest.count(
        "\\u003cimg src=x onerror=alert(1)\\u003e"
    )
    # exactly the three script elements of the template, opened and closed
    assert len(re.findall(r"<script", page, re.I)) == 3
    assert len(re.findall(r"</script", page, re.I)) == 3


def test_hostile_strings_are_shown_escaped(rendered: Rendered) -> None:
    page = rendered.html
    escaped_script = html.escape(SCRIPT)
    escaped_img = html.escape(IMG)
    # the cohort value in the scope pickers and tables, the unknown column in the schema table
    assert f">segment={escaped_script}</option>" in page
    schema = page[page.index('<section id="schema">') : page.index('<section id="text">')]
    assert f"<td>{escaped_script}</td>" in schema
    assert f"<td>{escaped_img}col</td>" in schema
    # in the JSON block the same strings are \u-escaped, and parse back to the raw text
    data = next(body for attrs, body in _scripts(page) if 'id="data"' in attrs)
    assert "<" not in data
    assert ">" not in data
    assert "&" not in data
    assert "\\u003c/script\\u003e\\u003cscript\\u003e" in data


def test_safe_json_escapes_what_could_end_a_script() -> None:
    hostile = {"k": "</script><!-- & \u2028 \u2029 <img src=x onerror=alert(1)>"}
    text = safe_json(hostile)
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in text
    assert json.loads(text) == hostile


# -- the JSON payload round-trips ---------------------------------------------------------------
def test_payload_round_trips_the_report(rendered: Rendered) -> None:
    # the page carries every string as it is shown: control and format characters escaped
    payload = _payload(rendered.html)
    assert payload == json.loads(json.dumps(_shown(build_payload(rendered.report.to_dict()))))
    data = _shown(rendered.report.to_dict())

    scopes = [(s["cohort"], s["value"]) for s in payload["scopes"]]
    assert scopes[0] == (None, None)
    assert {(s["cohort"], s["cohort_value"]) for s in data["stats"]} == set(scopes)
    assert ("segment", SCRIPT) in scopes

    for i, (cohort, value) in enumerate(scopes):
        rows = sorted(
            (s for s in data["stats"] if (s["cohort"], s["cohort_value"]) == (cohort, value)),
            key=lambda s: s["window_start"],
        )
        block = payload["stats"][i]
        assert block["x"] == [s["window_start"] for s in rows]
        assert block["n"] == [s["n"] for s in rows]
        for key, field in (("mean", "conf_mean"), ("p10", "conf_p10"), ("rvar", "rolling_var")):
            assert block[key] == pytest.approx([s[field] for s in rows], rel=1e-5)
        for k, cls in enumerate(payload["classes"]):
            assert block["counts"][k] == [s["class_counts"].get(cls, 0) for s in rows]

    rows = {(r["check"], r["column"]): k for k, r in enumerate(payload["rows"])}
    checked = 0
    for r in data["results"]:
        if r["check"] not in DRIFT_CHECKS:
            continue
        i = scopes.index((r["cohort"], r["cohort_value"]))
        block = payload["drift"][i]
        k, w = rows[(r["check"], r["column"])], block["x"].index(r["window_start"])
        assert block["status"][k][w] == r["status"]
        assert block["n"][k][w] == r["n"]
        if r["value"] is None:
            assert block["value"][k][w] is None
            continue
        assert block["value"][k][w] == pytest.approx(r["value"], rel=1e-5)
        assert block["bound"][k][w] == pytest.approx(r["bound"], rel=1e-5)
        if "current" in r["details"]:
            assert block["cur"][k][w] == r["details"]["current"]
        else:
            assert block["cur"][k][w] == r["details"]["categories"]
        checked += 1
    assert checked > 50

    for cls in CLASSES:  # each class's score: a numeric row with the reference's bins
        row = payload["rows"][rows[("score_drift", f"score:{cls}")]]
        assert (row["kind"], row["key"], row["label"]) == (
            "numeric",
            f"score:{cls}",
            f"score:{cls}",
        )
        assert f"score:{cls}" in payload["bins"]
    color = payload["drift"][0]["cur"][rows[("feature_drift", "color")]]
    assert any(IMG in cell for cell in color if cell)
    for key, bins in payload["bins"].items():
        assert bins["counts"] == data["reference"]["bin_counts"][key]
        assert bins["edges"] == pytest.approx(data["reference"]["bin_edges"][key], rel=1e-5)
    assert payload["texts"] == {"comment": list(data["reference"]["text_features"]["comment"])}


def test_text_rows_name_their_column_and_feature(rendered: Rendered) -> None:
    payload = _payload(rendered.html)
    text_rows = [r for r in payload["rows"] if r["check"] == "text_drift"]
    assert text_rows
    for row in text_rows:
        assert row["text"] == "comment"
        assert row["column"] == f"comment:{row['feature']}"
    # the shouting comments from day 4 on are caught, and shown in the top-shifts table
    assert any(a.check == "text_drift" for a in rendered.report.alerts)
    assert 'id="text-table"' in rendered.html
    assert 'id="text-chart-0"' in rendered.html


# -- tables -------------------------------------------------------------------------------------
def test_alert_table_lists_every_alert(rendered: Rendered) -> None:
    page = rendered.html
    table = page[page.index('<table id="alerts">') :]
    table = table[: table.index("</table>")]
    assert table.count("<tr>") == len(rendered.report.alerts) + 1
    for alert in rendered.report.alerts:
        assert html.escape(plain(alert.message)) in table


def test_schema_table_groups_warnings_and_alerts(rendered: Rendered) -> None:
    page = rendered.html
    table = page[page.index('<table id="schema-table">') :]
    table = table[: table.index("</table>")]
    expected = {
        (r.check, r.column, r.cohort, r.cohort_value)
        for r in rendered.report.results
        if r.status in ("alert", "warn")
        and r.check
        in (
            "missing_column",
            "type_change",
            "extra_column",
            "out_of_range",
            "unseen_category",
            "missing_fraction",
        )
    }
    assert expected
    assert table.count("<tr") == len(expected) + 1
    assert table.count('<tr id="schema-') == len(expected)  # each row is an anchor
    assert "extra_column" in table
    assert "out_of_range" in table


def test_max_rows_caps_tables(rendered: Rendered, tmp_path: Path) -> None:
    page = render_report(rendered.report, tmp_path / "r.html", max_rows=3).read_text()
    table = page[page.index('<table id="alerts">') :]
    assert table[: table.index("</table>")].count("<tr>") == 4
    assert f"Showing 3 of {len(rendered.report.alerts)} alerts" in page


def test_gaps_and_era_results_are_shown(rendered: Rendered, tmp_path: Path) -> None:
    data = rendered.report.to_dict()
    data["gaps"] = [
        {"start": "2024-01-09T00:00:00Z", "end": "2024-02-01T00:00:00Z", "windows": 23},
        {"start": SCRIPT, "end": IMG, "windows": 1},
    ]
    era = dict(data["results"][0])
    era.update(check="timestamp_era", column=None, status="alert", cohort=None)
    era["details"] = {"summary": f"1 later than now; ids {SCRIPT}"}
    data["results"] = [*data["results"], era]
    page = render_report(data, tmp_path / "g.html").read_text()
    assert "No predictions from 2024-01-09T00:00 to 2024-02-01T00:00 (23 windows)" in page
    assert "No predictions from 2024-01-09T00:00 to 2024-02-01T00:00 (23 windows), " in page
    assert "&lt;/script&gt;&lt;script to &lt;img src=x onerr (1 windows)" in page
    table = page[page.index('<table id="schema-table">') :]
    assert "timestamp_era" in table[: table.index("</table>")]


# -- inputs -------------------------------------------------------------------------------------
def test_every_input_form_renders_the_same_page(rendered: Rendered, tmp_path: Path) -> None:
    as_json = rendered.report.to_json()
    source = tmp_path / "results.json"
    source.write_text(as_json)
    pages = {
        render_report(form, tmp_path / f"{i}.html").read_bytes()
        for i, form in enumerate(
            [rendered.report, rendered.report.to_dict(), as_json, as_json.encode(), source]
        )
    }
    assert len(pages) == 1
    assert pages == {rendered.path.read_bytes()}


def test_non_finite_numbers_do_not_break_the_page(rendered: Rendered, tmp_path: Path) -> None:
    data = rendered.report.to_dict()
    for r in data["results"]:
        if r["check"] == "feature_drift" and r["value"] is not None:
            r["effect"] = float("inf")
            r["value"] = float("nan")
            break
    page = render_report(data, tmp_path / "r.html").read_text()
    assert "NaN" not in _scripts(page)[0][1]
    assert "Infinity" not in _scripts(page)[0][1]


def test_bad_input_is_refused_with_a_fix() -> None:
    with pytest.raises(TypeError, match="CheckReport, a dict, JSON text or a path"):
        load_report(42)  # type: ignore[arg-type]
    with pytest.raises(driftline.SchemaError, match="lacks 'stats', 'results'"):
        load_report({"alerts": []})
    with pytest.raises(driftline.SchemaError, match="JSON object"):
        load_report("[1, 2]")


def test_max_scopes_keeps_overall_and_says_what_was_left_out(
    rendered: Rendered, tmp_path: Path
) -> None:
    page = render_report(rendered.report, tmp_path / "r.html", max_scopes=2).read_text()
    payload = _payload(page)
    assert len(payload["scopes"]) == 2
    assert payload["scopes"][0]["label"] == "overall"
    assert payload["omitted_scopes"] == 2
    assert "2 more cohort values are not drawn" in page


def _located(rendered: Rendered, checks: list[str], value: str) -> dict[str, Any]:
    """The report's dict with its first incident made one of ``checks`` located in
    ``segment=value`` (its evidence follows its checks and its scope)."""
    data = json.loads(json.dumps(rendered.report.to_dict()))
    inc = data["incidents"][0]
    inc["checks"] = checks
    inc["root_cause"]["scope"] = {"cohort": "segment", "cohort_value": value}
    inc["root_cause"]["columns"] = []
    inc["root_cause"]["scores"] = []
    inc["root_cause"]["schema"] = None
    return data


def test_performance_and_threshold_incidents_link_to_their_charts_in_their_scope(
    rendered: Rendered, tmp_path: Path
) -> None:
    """An incident of the accuracy or of the decisions against the thresholds links to
    that section with its scope picked; the scope it is located in is drawn first, even
    where the scope cap leaves out values with more alerts."""
    data = _located(rendered, ["performance", "threshold_band"], "north")
    page = render_report(data, tmp_path / "r.html", max_scopes=2).read_text()
    payload = _payload(page)
    assert [s["label"] for s in payload["scopes"]] == ["overall", "segment=north"]
    item = page[page.index(f'id="incident-{data["incidents"][0]["id"]}"') :]
    item = item[: item.index("</li>")]
    assert (
        '<a class="evidence" href="#performance" data-pick="perf-scope" data-scope="1">'
        "accuracy, segment=north</a>" in item
    )
    assert 'href="#thresholds" data-pick="thr-scope" data-scope="1">' in item
    for anchor in ("performance", "thresholds"):
        assert f'id="{anchor}"' in page


def test_an_evidence_link_to_a_scope_not_drawn_says_so(rendered: Rendered, tmp_path: Path) -> None:
    data = _located(rendered, ["confidence_shift"], "north")
    page = render_report(data, tmp_path / "r.html", max_scopes=1).read_text()
    item = page[page.index(f'id="incident-{data["incidents"][0]["id"]}"') :]
    item = item[: item.index("</li>")]
    assert "confidence chart, overall (segment=north is not drawn)" in item


# -- entry points -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    import yaml

    from .conftest import build_report

    directory = tmp_path_factory.mktemp("entry")
    build_report(directory)
    spec_path = directory / "driftline.yaml"
    spec_path.write_text(yaml.safe_dump(spec()))
    with driftline.connect(directory / "store.duckdb", spec_path) as mon:
        mon.fit_profile()
    return directory / "store.duckdb", spec_path


def test_monitor_report_writes_the_page(store: tuple[Path, Path], tmp_path: Path) -> None:
    db, spec_path = store
    with driftline.connect(db, spec_path) as mon:
        path = mon.report(tmp_path / "out" / "report.html", since="2024-03-02")
        assert not mon.store.has_table("results") or mon.store.con.execute(
            "SELECT count(*) FROM results"
        ).fetchone() == (0,)
    page = path.read_text()
    payload = _payload(page)
    assert payload["meta"]["since"] == "2024-03-02T00:00:00Z"
    assert payload["stats"][0]["x"][0] == "2024-03-02T00:00:00Z"


def test_cli_report_prints_the_path_and_exits_0(store: tuple[Path, Path], tmp_path: Path) -> None:
    from driftline.cli import app

    db, spec_path = store
    out = tmp_path / "cli.html"
    result = CliRunner().invoke(
        app,
        ["report", "--out", str(out), "--spec", str(spec_path), "--store", str(db)],
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out)
    assert out.stat().st_size > 1_000_000
    assert '<section id="drift">' in out.read_text()


def test_rendering_a_saved_report_needs_no_engine(rendered: Rendered, tmp_path: Path) -> None:
    """A saved results JSON renders in a process that never imports Ibis, DuckDB or
    Spark: a renderer reads JSON (and the page is the same as from the report itself)."""
    saved = tmp_path / "results.json"
    saved.write_text(rendered.report.to_json(), encoding="utf-8")
    code = (
        "import sys, pathlib, driftline\n"
        f"driftline.render_report(pathlib.Path({str(saved)!r}), {str(tmp_path / 'saved.html')!r})\n"
        "print(sorted(m for m in ('ibis', 'duckdb', 'pyspark', 'numba') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
    direct = render_report(rendered.report, tmp_path / "direct.html").read_text()
    assert (tmp_path / "saved.html").read_text() == direct


def test_overview_leads_with_the_incidents_linking_to_their_evidence(
    rendered: Rendered,
) -> None:
    """Each incident is listed first in the overview, its headline escaped, and each of
    its evidence links points at an anchor the page holds."""
    page = rendered.html
    incidents = rendered.report.incidents
    assert incidents
    overview = page[page.index('<section id="overview">') : page.index('<section id="confidence">')]
    listed = overview[overview.index('<ol class="incidents"') :]
    assert overview.index('<ol class="incidents"') < overview.index("<h3>Alerts per check")
    for inc in incidents:
        assert f'id="incident-{inc.id}"' in listed
        assert html.escape(inc.headline) in listed
    assert re.findall(r'<li id="incident-([^"]+)"', listed) == [i.id for i in incidents]
    links = re.findall(r'<a class="evidence" href="#([^"]+)"', listed)
    assert links
    for anchor in links:
        assert f'id="{anchor}"' in page, anchor
    # x shifts from day 5 (the comments from day 4, in the same scope: one change): its
    # incident links to the drift heatmap cell of the column that moved most, at its start
    shifted = [i for i in incidents if "x" in i.columns]
    assert len(shifted) == 1
    cell = re.search(
        rf'id="incident-{shifted[0].id}".*?href="#drift" data-pick="drift-scope" '
        r'data-scope="(\d+)" data-row="(\d+)" data-window="(\d+)"',
        listed,
    )
    assert cell is not None
    payload = _payload(page)
    k, r, w = (int(g) for g in cell.groups())
    assert payload["rows"][r]["column"] == shifted[0].root_cause.columns[0].column
    assert payload["drift"][k]["x"][w] == shifted[0].start

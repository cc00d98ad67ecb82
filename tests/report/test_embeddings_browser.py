"""The report's per-class embedding scatter plots in a real browser (Debian's chromium via
Playwright): every chart draws, offline, without errors, and a hostile class name stays
text."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import driftline

from .conftest import IMG

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
CLASSES = ("plain", IMG)
SPEC: dict[str, Any] = {
    "id": "id",
    "timestamp": "ts",
    "prediction": "pred",
    "scores": {"columns": {c: f"s{k}" for k, c in enumerate(CLASSES)}},
    "cohorts": ["region"],
    "embedding": "vec",
    "window": "1d",
}


def _frame(n: int, seed: int, start: datetime, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = rng.uniform(size=n)
    pred = np.where(p > 0.5, CLASSES[0], CLASSES[1])
    vec = rng.normal(size=(n, 12)) + np.where(p > 0.5, 2.0, -2.0)[:, None]
    vec[:, :3] += shift * (pred == IMG)[:, None]
    return pd.DataFrame(
        {
            "id": [f"{seed}-{i}" for i in range(n)],
            "ts": [start + timedelta(minutes=2 * i) for i in range(n)],
            "pred": pred,
            "s0": p,
            "s1": 1 - p,
            "region": rng.choice(["eu", "us"], size=n),
            "vec": list(vec),
        }
    )


@pytest.fixture(scope="module")
def page_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("embrep")
    with driftline.connect(where / "s.duckdb", SPEC) as mon:
        mon.log_reference(_frame(1200, 1, datetime(2024, 1, 1)))
        mon.log_predictions(_frame(700, 2, datetime(2024, 1, 2)))
        mon.log_predictions(_frame(700, 3, datetime(2024, 1, 3), shift=1.0))
        report = mon.check()
    assert any(a.check == "embedding_drift" for a in report.alerts)
    return driftline.render_report(report, where / "report.html")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_scatter_plots_draw_per_class_without_errors(browser: Any, page_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    dialogs: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "assert") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_path.as_uri())
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.chart'))"
        ".every(d => d.querySelector('.main-svg'))",
        timeout=30_000,
    )
    charts = page.evaluate(
        """() => Array.from(document.querySelectorAll('[id^="emb-chart-"]')).map(d => ({
            id: d.id,
            traces: d.data.map(t => [t.name, t.x.length]),
            title: d._fullLayout.title.text,
            svgTitle: (d.querySelector('.gtitle') || {}).textContent,
        }))"""
    )
    assert [c["id"] for c in charts] == ["emb-chart-0", "emb-chart-1"]
    for chart in charts:
        names = [name for name, _ in chart["traces"]]
        assert names[0] == "reference"
        assert len(names) == 3  # reference and both windows
        assert all(n > 0 for _, n in chart["traces"])
    shifted = next(c for c in charts if IMG in (c["svgTitle"] or ""))
    assert shifted["traces"][2][0].endswith("(alert)")  # the shifted class's day 3
    assert page.locator("#embeddings img").count() == 0  # the class name stayed text
    assert "embedding-table" in page.content()
    assert errors == []
    assert dialogs == []
    assert all(u.startswith(("file:", "data:", "about:")) for u in requests)
    page.close()

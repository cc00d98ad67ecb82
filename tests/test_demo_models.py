"""The text and PyTorch demos: each injected incident is caught on its first day, in
its scope, with no alert before the first; the reports carry the model sections."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from driftline.demo import DemoResult
from driftline.demo_text import _WORDS, TEXT_INCIDENTS, run_text_demo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def text_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return run_text_demo(tmp_path_factory.mktemp("text-demo"))


def test_text_demo_catches_both_incidents_on_their_first_day(text_demo: DemoResult) -> None:
    assert text_demo.all_caught, text_demo.caught
    assert text_demo.alerts_before_first == 0
    found = sorted(text_demo.report.incidents, key=lambda i: i.start)
    assert [i.start[:10] for i in found] == [i.start.date().isoformat() for i in TEXT_INCIDENTS]
    typing, topic = found
    assert "channel=app" in typing.headline
    assert "every channel" in topic.headline
    assert "message:oov" in topic.headline


def test_text_demo_typing_is_a_text_style_shift_in_the_app_only(text_demo: DemoResult) -> None:
    start, end = "2026-09-21", "2026-09-26"
    style = {
        (a.cohort_value, a.column)
        for a in text_demo.report.alerts
        if a.check == "text_drift" and start <= a.window_start[:10] < end
    }
    assert ("app", "message:punct") in style
    assert ("app", "message:upper") in style
    assert not any(value == "web" for value, _ in style)


def test_text_demo_report_shows_lime_words_per_class(text_demo: DemoResult) -> None:
    html = text_demo.report_path.read_text()
    assert all(f'id="emb-chart-{k}"' in html for k in range(3))  # embedding view per class
    assert "LIME, per class" in html
    assert "Robustness: does in-domain noise flip the prediction?" in html
    for klass, words in _WORDS.items():
        section = html.split(f"class {klass} ·", 1)[1].split("</table>", 1)[0]
        top = section.split("<td", 2)[1]
        assert any(w in top for w in words), (klass, top)


def test_torch_demo_command(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "driftline", "demo", "--torch", "--dir", str(tmp_path / "t")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "noisy camera (apac)" in done.stdout
    assert "noisy camera: embeddings (apac)" in done.stdout
    assert done.stdout.count("caught") == 2
    assert "MISSED" not in done.stdout
    assert "alerts before the first incident: 0" in done.stdout
    assert "in 1 incidents, newest first" in done.stdout
    assert "region=apac" in done.stdout
    html = (tmp_path / "t" / "report.html").read_text()
    # the embedding section draws each class's reference-vs-serving view
    assert all(f'id="emb-chart-{k}"' in html for k in range(10))


def test_demo_flags_exclude_each_other(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "driftline", "demo", "--text", "--torch", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "choose one of --text and --torch" in done.stderr

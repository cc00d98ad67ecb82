"""The command line as a user runs it: real processes, real files, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

PredictionsFactory = Callable[..., pd.DataFrame]


def cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftline", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def project(tmp_path: Path, make_predictions: PredictionsFactory) -> Path:
    ref = make_predictions(3000, seed=1, id_prefix="ref").rename(columns={"segment": "cohort"})
    ref.to_parquet(tmp_path / "reference.parquet", index=False)
    return tmp_path


def test_init_infers_a_spec_and_refuses_to_overwrite(project: Path) -> None:
    done = cli("init", "--reference", "reference.parquet", "--timestamp", "ts", cwd=project)
    assert done.returncode == 0, done.stderr
    spec = yaml.safe_load((project / "driftline.yaml").read_text())
    assert spec["id"] == "id"
    assert spec["prediction"] == "pred"
    assert spec["scores"] == {"columns": {"a": "score_a", "b": "score_b", "c": "score_c"}}
    assert spec["label"] == "label"
    assert spec["cohorts"] == ["cohort"]
    assert spec["features"] == {"numeric": ["x", "y"], "categorical": ["color"]}
    assert spec["window"] == "1d"
    again = cli("init", "--reference", "reference.parquet", cwd=project)
    assert again.returncode == 2
    assert "--force" in again.stderr


def test_log_and_check_gate_on_alerts(project: Path, make_predictions: PredictionsFactory) -> None:
    assert cli("init", "--reference", "reference.parquet", cwd=project).returncode == 0
    logged = cli("log", "--reference", "reference.parquet", cwd=project)
    assert logged.returncode == 0, logged.stderr
    assert (project / "driftline.profile.json").exists()

    calm = make_predictions(2000, seed=2, id_prefix="p", start="2024-02-01")
    calm["ts"] = pd.date_range("2024-02-01", periods=2000, freq="min", tz="UTC")
    calm.rename(columns={"segment": "cohort"}).to_csv(project / "calm.csv", index=False)
    assert cli("log", "calm.csv", cwd=project).returncode == 0
    ok = cli("check", "--json", cwd=project)
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr
    assert json.loads(ok.stdout)["alerts"] == []

    shifted = make_predictions(2000, seed=3, id_prefix="q", start="2024-04-01")
    shifted["ts"] = pd.date_range("2024-04-01", periods=2000, freq="min", tz="UTC")
    shifted["x"] = shifted["x"] + 3.0  # a feature moves by three sd
    shifted.rename(columns={"segment": "cohort"}).to_parquet(project / "shifted.parquet")
    assert cli("log", "shifted.parquet", cwd=project).returncode == 0
    gate = cli("check", "--json", "--since", "2024-04-01", cwd=project)
    assert gate.returncode == 1
    alerts = json.loads(gate.stdout)["alerts"]
    assert any(a["check"] == "feature_drift" and a["column"] == "x" for a in alerts)
    human = cli("check", "--since", "2024-04-01", cwd=project)
    assert human.returncode == 1
    assert "feature_drift column 'x'" in human.stdout


def test_bad_input_exits_2_with_the_fix(
    project: Path, make_predictions: PredictionsFactory
) -> None:
    assert cli("init", "--reference", "reference.parquet", cwd=project).returncode == 0
    assert cli("log", "--reference", "reference.parquet", cwd=project).returncode == 0
    bad = make_predictions(10, seed=4).rename(columns={"segment": "cohort"})
    bad.loc[3, "score_a"] = -0.5
    bad.to_parquet(project / "bad.parquet")
    done = cli("log", "bad.parquet", cwd=project)
    assert done.returncode == 2
    assert "'score_a'" in done.stderr
    assert "-0.5" in done.stderr
    assert "Nothing was stored" in done.stderr
    empty = cli("check", "--since", "2030-01-01", cwd=project)
    assert empty.returncode == 2
    assert "holds no predictions yet; log some" in empty.stderr


def test_unknown_spec_key_exits_2(project: Path) -> None:
    assert cli("init", "--reference", "reference.parquet", cwd=project).returncode == 0
    spec: dict[str, Any] = yaml.safe_load((project / "driftline.yaml").read_text())
    spec["cohort"] = ["cohort"]
    (project / "driftline.yaml").write_text(yaml.safe_dump(spec))
    done = cli("check", cwd=project)
    assert done.returncode == 2
    assert "unknown key 'cohort'" in done.stderr


def test_missing_spec_exits_2_with_the_fix(tmp_path: Path) -> None:
    done = cli("check", cwd=tmp_path)
    assert done.returncode == 2
    assert "driftline init --reference" in done.stderr


def test_usage_errors_exit_2_with_the_usage(tmp_path: Path) -> None:
    done = cli("check", "--bogus", cwd=tmp_path)
    assert done.returncode == 2
    assert "No such option: --bogus" in done.stderr
    assert "driftline check --help" in done.stderr


def test_debug_is_a_global_option() -> None:
    from typer.testing import CliRunner

    from driftline.cli import app

    done = CliRunner().invoke(app, ["--help"])
    assert done.exit_code == 0
    assert "--debug" in done.output
    assert "DRIFTLINE_DEBUG" in done.output


def test_usage_error_shows_a_hostile_argument_as_text(tmp_path: Path) -> None:
    done = cli("check", "[/oops]", ":smile:", cwd=tmp_path)
    assert done.returncode == 2
    assert "[/oops]" in done.stderr
    assert "Traceback" not in done.stderr


def test_help_documents_the_exit_codes() -> None:
    from driftline import cli as module

    doc = module.__doc__ or ""
    for line in ("- 0: fine", "- 1: ``check`` found alerts", "- 2: bad input", "- 3: internal"):
        assert line in doc

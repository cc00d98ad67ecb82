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


# -- `driftline log`, in process (Typer's CliRunner) --------------------------------------------
def _logged(project: Path) -> tuple[dict[str, int], tuple[Any, ...]]:
    """Row counts and a hash of every stored prediction (the store left as it was?)."""
    import driftline

    with driftline.connect(project / "s.duckdb", project / "spec.yaml") as m:
        row = m.store.con.execute("SELECT count(*), sum(hash(t)) FROM predictions t").fetchone()
        assert row is not None
        return m.store.counts(), tuple(row)


@pytest.fixture
def logged(
    tmp_path: Path, make_spec: Callable[..., dict[str, Any]], make_predictions: PredictionsFactory
) -> Path:
    """A spec, a store holding first.parquet (ids r0..r19), and fresh files to log."""
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(make_spec()))
    make_predictions().to_parquet(tmp_path / "first.parquet")
    make_predictions(10, seed=1, id_prefix="n").to_parquet(tmp_path / "new.parquet")
    make_predictions(5, seed=2, id_prefix="m").to_csv(tmp_path / "more.csv", index=False)
    bad = make_predictions(10, seed=3, id_prefix="b")
    bad.loc[3, "pred"] = "[/oops]"  # rich markup in a value: printed as text
    bad.to_parquet(tmp_path / "bad.parquet")
    assert log_cmd(tmp_path, "first.parquet").exit_code == 0
    return tmp_path


def log_cmd(project: Path, *args: str) -> Any:
    from typer.testing import CliRunner

    from driftline.cli import app

    store = ["--spec", str(project / "spec.yaml"), "--store", str(project / "s.duckdb")]
    files = [str(project / a) if a.endswith((".parquet", ".csv")) else a for a in args]
    return CliRunner().invoke(app, ["log", *files, *store])


def test_log_says_which_files_were_stored_and_which_not(logged: Path) -> None:
    done = log_cmd(logged, "new.parquet", "bad.parquet", "first.parquet", "more.csv")
    assert done.exit_code == 2, done.output
    assert f"{logged / 'new.parquet'}: stored 10 predictions" in done.stdout
    assert f"{logged / 'more.csv'}: stored 5 predictions" in done.stdout
    refusals = done.stderr
    assert f"{logged / 'bad.parquet'}: refused: column 'pred' (prediction) has value '[/oops]'" in (
        refusals
    )
    assert f"{logged / 'first.parquet'}: refused: 20 of the batch's 20 prediction ids" in refusals
    assert "error: 2 of 4 files refused" in refusals
    assert f"'{logged / 'bad.parquet'}', '{logged / 'first.parquet'}'" in refusals
    assert "the other files were stored" in refusals
    counts, _ = _logged(logged)
    assert (counts["predictions"], counts["batches"]) == (20 + 10 + 5, 3)


def test_log_refuses_a_file_logged_twice_and_leaves_the_store(logged: Path) -> None:
    before = _logged(logged)
    done = log_cmd(logged, "first.parquet")
    assert done.exit_code == 2
    assert "refused: 20 of the batch's 20 prediction ids are already stored" in done.stderr
    assert "--on-duplicate skip" in done.stderr
    assert "Nothing was stored" in done.stderr
    assert _logged(logged) == before


def test_log_on_duplicate_skip_stores_the_new_rows(
    logged: Path, make_predictions: PredictionsFactory
) -> None:
    mixed = pd.concat([make_predictions(4), make_predictions(6, seed=9, id_prefix="z")])
    mixed.to_parquet(logged / "mixed.parquet")
    done = log_cmd(logged, "mixed.parquet", "first.parquet", "--on-duplicate", "skip")
    assert done.exit_code == 0, done.output
    assert f"{logged / 'mixed.parquet'}: stored 6 predictions, skipped 4 already stored" in (
        done.stdout
    )
    assert f"{logged / 'first.parquet'}: stored 0 predictions, skipped 20 already stored" in (
        done.stdout
    )
    counts, _ = _logged(logged)
    assert (counts["predictions"], counts["batches"]) == (26, 2)


def test_log_batch_id_retry_says_already_stored(logged: Path) -> None:
    assert log_cmd(logged, "new.parquet", "--batch-id", "b-7").exit_code == 0
    before = _logged(logged)
    again = log_cmd(logged, "new.parquet", "--batch-id", "b-7")
    assert again.exit_code == 0, again.output
    assert f"{logged / 'new.parquet'}: already stored (batch 'b-7', 10 predictions)" in again.stdout
    assert _logged(logged) == before


def test_log_unknown_on_duplicate_exits_2_with_the_choices(logged: Path) -> None:
    done = log_cmd(logged, "new.parquet", "--on-duplicate", "ignore")
    assert done.exit_code == 2
    shown = " ".join(done.stderr.replace("│", " ").split())  # unwrap the error box
    assert "Invalid value for '--on-duplicate'" in shown
    assert "'ignore' is not one of 'refuse', 'skip'" in shown


def test_log_extra_column_with_markup_in_its_name_is_printed_as_text(
    logged: Path, make_predictions: PredictionsFactory
) -> None:
    make_predictions(3, seed=4, id_prefix="k").assign(**{"[/x]": 1}).to_parquet(
        logged / "odd.parquet"
    )
    done = log_cmd(logged, "odd.parquet", "new.parquet")
    assert done.exit_code == 0, done.output
    assert "schema skew: unknown column '[/x]' (kept raw)" in done.stderr
    assert f"{logged / 'new.parquet'}: stored 10 predictions" in done.stdout


def test_log_on_duplicate_with_labels_exits_2(tmp_path: Path) -> None:
    done = cli("log", "--labels", "--on-duplicate", "skip", "labels.csv", cwd=tmp_path)
    assert done.returncode == 2
    assert "--on-duplicate applies to predictions" in done.stderr


def test_init_prints_the_spec_path_as_text(project: Path) -> None:
    from typer.testing import CliRunner

    from driftline.cli import app

    out = project / "[bold]spec.yaml"  # markup would eat the brackets
    args = ["init", "--reference", str(project / "reference.parquet"), "--out", str(out)]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    assert f"wrote {out}; review the roles" in done.stdout
    assert out.exists()


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

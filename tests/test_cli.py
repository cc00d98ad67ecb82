"""The command line as a user runs it: real files, exit codes, what it prints.

Every command runs in this process through ``run_cli`` (``tests/conftest.py``), which
goes through the same exit-code boundary as the installed ``driftline``; one smoke test
runs the installed entry point itself as a real process.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest
import yaml

if TYPE_CHECKING:
    from conftest import CliResult, RunCli

PredictionsFactory = Callable[..., pd.DataFrame]
LogCmd = Callable[..., "CliResult"]


@pytest.fixture
def project(tmp_path: Path, make_predictions: PredictionsFactory) -> Path:
    ref = make_predictions(3000, seed=1, id_prefix="ref").rename(columns={"segment": "cohort"})
    ref.to_parquet(tmp_path / "reference.parquet", index=False)
    return tmp_path


def test_init_infers_a_spec_and_refuses_to_overwrite(project: Path, run_cli: RunCli) -> None:
    done = run_cli("init", "--reference", "reference.parquet", "--timestamp", "ts", cwd=project)
    assert done.code == 0, done.err
    spec = yaml.safe_load((project / "driftline.yaml").read_text())
    assert spec["id"] == "id"
    assert spec["prediction"] == "pred"
    assert spec["scores"] == {"columns": {"a": "score_a", "b": "score_b", "c": "score_c"}}
    assert spec["label"] == "label"
    assert spec["cohorts"] == ["cohort"]
    assert spec["features"] == {"numeric": ["x", "y"], "categorical": ["color"]}
    assert spec["window"] == "1d"
    again = run_cli("init", "--reference", "reference.parquet", cwd=project)
    assert again.code == 2
    assert "--force" in again.err


def test_log_and_check_gate_on_alerts(
    project: Path, make_predictions: PredictionsFactory, run_cli: RunCli
) -> None:
    assert run_cli("init", "--reference", "reference.parquet", cwd=project).code == 0
    logged = run_cli("log", "--reference", "reference.parquet", cwd=project)
    assert logged.code == 0, logged.err
    assert (project / "driftline.profile.json").exists()

    calm = make_predictions(2000, seed=2, id_prefix="p", start="2024-02-01")
    calm["ts"] = pd.date_range("2024-02-01", periods=2000, freq="min", tz="UTC")
    calm.rename(columns={"segment": "cohort"}).to_csv(project / "calm.csv", index=False)
    assert run_cli("log", "calm.csv", cwd=project).code == 0
    ok = run_cli("check", "--json", cwd=project)
    assert ok.code == 0, ok.out[-2000:] + ok.err
    assert json.loads(ok.out)["alerts"] == []

    shifted = make_predictions(2000, seed=3, id_prefix="q", start="2024-04-01")
    shifted["ts"] = pd.date_range("2024-04-01", periods=2000, freq="min", tz="UTC")
    shifted["x"] = shifted["x"] + 3.0  # a feature moves by three sd
    shifted.rename(columns={"segment": "cohort"}).to_parquet(project / "shifted.parquet")
    assert run_cli("log", "shifted.parquet", cwd=project).code == 0
    gate = run_cli("check", "--json", "--since", "2024-04-01", cwd=project)
    assert gate.code == 1
    found = json.loads(gate.out)
    alerts = found["alerts"]
    assert any(a["check"] == "feature_drift" and a["column"] == "x" for a in alerts)
    # the incidents carry the ids of their member alerts: every alert is in one
    members = [i for inc in found["incidents"] for i in inc["alerts"]]
    assert sorted(members) == sorted(a["id"] for a in alerts)
    import duckdb  # the store keeps each alert's id: the same as in the report

    with duckdb.connect(str(project / "driftline.duckdb"), read_only=True) as con:
        stored = con.execute("SELECT id FROM alerts WHERE run_id = ?", [found["run_id"]])
        assert sorted(r[0] for r in stored.fetchall()) == sorted(a["id"] for a in alerts)
    drifted = [inc for inc in found["incidents"] if "x" in inc["columns"]]
    assert len(drifted) == 1
    assert "x" in [c["column"] for c in drifted[0]["root_cause"]["columns"]]
    human = run_cli("check", "--since", "2024-04-01", cwd=project)
    assert human.code == 1
    lines = human.out.splitlines()
    assert lines[0] == f"{len(found['incidents'])} incident(s), newest first"
    assert drifted[0]["id"] in lines[1 + found["incidents"].index(drifted[0])]
    assert "feature_drift column 'x'" not in human.out  # the alerts only with --alerts
    assert f"{len(alerts)} alert(s) in {len(found['incidents'])} incident(s)" in human.out
    every = run_cli("check", "--since", "2024-04-01", "--alerts", cwd=project)
    assert every.code == 1
    assert "feature_drift column 'x'" in every.out


def test_check_lists_the_latest_windows_and_every_window_with_alerts(
    project: Path, make_predictions: PredictionsFactory, run_cli: RunCli
) -> None:
    """A long history prints its latest --windows windows and the alerting ones, and
    says how many there are; --windows 0 lists every window."""
    assert run_cli("init", "--reference", "reference.parquet", cwd=project).code == 0
    assert run_cli("log", "--reference", "reference.parquet", cwd=project).code == 0
    days = []
    for d in range(8):
        df = make_predictions(300, seed=20 + d, id_prefix=f"d{d}-", start=f"2024-02-{d + 1:02d}")
        df["ts"] = pd.date_range(f"2024-02-{d + 1:02d}", periods=300, freq="4min", tz="UTC")
        if d == 1:
            df["x"] = df["x"] + 3.0
        days.append(df.rename(columns={"segment": "cohort"}))
    pd.concat(days).to_parquet(project / "days.parquet")
    assert run_cli("log", "days.parquet", cwd=project).code == 0
    some = run_cli("check", "--windows", "3", cwd=project)
    assert some.code == 1, some.err
    listed = [d for d in range(1, 9) if f"2024-02-{d:02d}T00:00" in some.out]
    assert listed == [2, 6, 7, 8]  # the day with alerts, then the latest three
    assert "the latest 3 of 8 and every window with alerts" in some.out
    every = run_cli("check", "--windows", "0", cwd=project)
    assert [d for d in range(1, 9) if f"2024-02-{d:02d}T00:00" in every.out] == list(range(1, 9))
    assert "the latest" not in every.out
    assert run_cli("check", "--windows", "-1", cwd=project).code == 2


def test_check_names_a_windows_incidents_in_the_order_they_are_listed(
    project: Path, make_predictions: PredictionsFactory, run_cli: RunCli
) -> None:
    """Two incidents in the same days (a column dropped, another drifting): each
    window's row names them in the order of the incident list, newest first, and the
    dropped column's missing-value spike is part of its incident, not another."""
    assert run_cli("init", "--reference", "reference.parquet", cwd=project).code == 0
    assert run_cli("log", "--reference", "reference.parquet", cwd=project).code == 0
    df = make_predictions(3000, seed=5, id_prefix="p", start="2024-02-01")
    df["ts"] = pd.date_range("2024-02-01", periods=3000, freq="2min", tz="UTC")
    df["x"] = df["x"] + 3.0
    df = df.rename(columns={"segment": "cohort"})
    first = df["ts"] < pd.Timestamp("2024-02-02", tz="UTC")
    df[first].to_parquet(project / "a.parquet")  # y is dropped from the second day on
    df[~first].drop(columns=["y"]).to_parquet(project / "b.parquet")
    logged = run_cli("log", "a.parquet", "b.parquet", cwd=project)
    assert logged.code == 0
    # a file logged without --batch-id is a batch named by the file, and says so
    assert re.search(r"^b\.parquet: stored 2,280 predictions \(batch 'b\.parquet#[0-9a-f]{12}'\)$",
                     logged.out, re.MULTILINE), logged.out  # fmt: skip
    found = json.loads(run_cli("check", "--json", cwd=project).out)
    incidents = [inc["id"] for inc in found["incidents"]]
    assert len(incidents) == 2, [inc["headline"] for inc in found["incidents"]]
    lost = next(inc for inc in found["incidents"] if inc["kind"] == "schema")
    assert lost["checks"] == ["missing_column", "missing_fraction"]
    assert lost["columns"] == ["y"]
    assert "(first batch b.parquet#" in lost["headline"]
    human = run_cli("check", cwd=project, env={"COLUMNS": "300"})
    assert human.code == 1
    rows = [line for line in human.out.splitlines() if line.startswith("│ 2024-02-0")]
    assert len(rows) == 5  # 3,000 rows two minutes apart: five days
    assert lost["id"] == incidents[0]  # the newer one
    for row in rows:
        named = [w for w in row.replace("│", " ").split() if w.startswith("i-")]
        assert named == (incidents if "2024-02-01" not in row else incidents[1:]), row


def test_logged_control_characters_reach_the_terminal_escaped(
    project: Path, make_predictions: PredictionsFactory, run_cli: RunCli
) -> None:
    """A cohort value and a class name with a line break, an escape sequence and a
    direction override: every alert stays on one line and nothing printed by check
    --alerts or thresholds holds the raw characters, only their escapes."""
    hostile_class, hostile_value = "c\x1b[2J\nfake", "south\n\x1b[31m\u202e"
    ref = pd.read_parquet(project / "reference.parquet")
    ref["pred"] = ref["pred"].replace("c", hostile_class)
    ref["label"] = ref["label"].replace("c", hostile_class)
    ref["cohort"] = ref["cohort"].replace("south", hostile_value)
    ref.to_parquet(project / "reference.parquet")
    assert run_cli("init", "--reference", "reference.parquet", cwd=project).code == 0
    spec: dict[str, Any] = yaml.safe_load((project / "driftline.yaml").read_text())
    spec["scores"] = {"columns": {"a": "score_a", "b": "score_b", hostile_class: "score_c"}}
    (project / "driftline.yaml").write_text(yaml.safe_dump(spec))
    assert run_cli("log", "--reference", "reference.parquet", cwd=project).code == 0
    df = make_predictions(3000, seed=5, id_prefix="p", start="2024-02-01")
    df["ts"] = pd.date_range("2024-02-01", periods=3000, freq="2min", tz="UTC")
    df["pred"] = df["pred"].replace("c", hostile_class)
    df["segment"] = df["segment"].replace("south", hostile_value)
    df["x"] = df["x"] + 3.0
    df.rename(columns={"segment": "cohort"}).to_parquet(project / "b.parquet")
    assert run_cli("log", "b.parquet", cwd=project).code == 0
    every = run_cli("check", "--alerts", cwd=project, env={"COLUMNS": "1000"})
    assert every.code == 1, every.err
    assert "cohort=south\\n\\x1b[31m\\u202e" in every.out
    alerts = every.out[every.out.index("alert(s) in ") :].splitlines()[1:]
    assert len(alerts) > 10
    assert all(line.startswith("  ") for line in alerts), alerts
    chosen = run_cli("thresholds", cwd=project, env={"COLUMNS": "1000"})
    assert chosen.code == 0, chosen.err
    assert "c\\x1b[2J\\nfake" in chosen.out
    for done in (every, chosen):
        assert not {"\x1b", "\u202e"} & set(done.output)


def test_bad_input_exits_2_with_the_fix(
    project: Path, make_predictions: PredictionsFactory, run_cli: RunCli
) -> None:
    assert run_cli("init", "--reference", "reference.parquet", cwd=project).code == 0
    assert run_cli("log", "--reference", "reference.parquet", cwd=project).code == 0
    bad = make_predictions(10, seed=4).rename(columns={"segment": "cohort"})
    bad.loc[3, "score_a"] = -0.5
    bad.to_parquet(project / "bad.parquet")
    done = run_cli("log", "bad.parquet", cwd=project)
    assert done.code == 2
    assert "'score_a'" in done.err
    assert "-0.5" in done.err
    assert "Nothing was stored" in done.err
    empty = run_cli("check", "--since", "2030-01-01", cwd=project)
    assert empty.code == 2
    assert "holds no predictions yet; log some" in empty.err


@pytest.mark.parametrize("command", ["check", "report", "thresholds", "queue", "fit"])
def test_a_mistyped_store_is_refused_and_leaves_no_file(
    project: Path, run_cli: RunCli, command: str
) -> None:
    assert run_cli("init", "--reference", "reference.parquet", cwd=project).code == 0
    done = run_cli(command, "--store", "typo.duckdb", cwd=project)
    assert done.code == 2, done.output
    assert "no store at 'typo.duckdb'" in done.err
    assert sorted(p.name for p in project.iterdir() if p.name.startswith("typo")) == []


def test_unknown_spec_key_exits_2(project: Path, run_cli: RunCli) -> None:
    assert run_cli("init", "--reference", "reference.parquet", cwd=project).code == 0
    spec: dict[str, Any] = yaml.safe_load((project / "driftline.yaml").read_text())
    spec["cohort"] = ["cohort"]
    (project / "driftline.yaml").write_text(yaml.safe_dump(spec))
    done = run_cli("check", cwd=project)
    assert done.code == 2
    assert "unknown key 'cohort'" in done.err


def test_missing_spec_exits_2_with_the_fix(tmp_path: Path, run_cli: RunCli) -> None:
    done = run_cli("check", cwd=tmp_path)
    assert done.code == 2
    assert "driftline init --reference" in done.err


def test_usage_errors_exit_2_with_the_usage(tmp_path: Path, run_cli: RunCli) -> None:
    done = run_cli("check", "--bogus", cwd=tmp_path)
    assert done.code == 2
    assert "No such option: --bogus" in done.err
    assert "driftline check --help" in done.err


# -- `driftline log` -------------------------------------------------------------------------------
def _logged(project: Path) -> tuple[dict[str, int], tuple[Any, ...]]:
    """Row counts and a hash of every stored prediction (the store left as it was?)."""
    import driftline

    with driftline.connect(project / "s.duckdb", project / "spec.yaml") as m:
        row = m.store.con.execute("SELECT count(*), sum(hash(t)) FROM predictions t").fetchone()
        assert row is not None
        return m.store.counts(), tuple(row)


@pytest.fixture
def log_cmd(run_cli: RunCli) -> LogCmd:
    """``log_cmd(project, *args)``: ``driftline log ARGS`` on the project's spec and store,
    data files named relative to the project."""

    def log(project: Path, *args: str) -> CliResult:
        store = ["--spec", str(project / "spec.yaml"), "--store", str(project / "s.duckdb")]
        files = [str(project / a) if a.endswith((".parquet", ".csv")) else a for a in args]
        return run_cli("log", *files, *store)

    return log


@pytest.fixture
def logged(
    tmp_path: Path,
    make_spec: Callable[..., dict[str, Any]],
    make_predictions: PredictionsFactory,
    log_cmd: LogCmd,
) -> Path:
    """A spec, a store holding first.parquet (ids r0..r19), and fresh files to log."""
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(make_spec()))
    make_predictions().to_parquet(tmp_path / "first.parquet")
    make_predictions(10, seed=1, id_prefix="n").to_parquet(tmp_path / "new.parquet")
    make_predictions(5, seed=2, id_prefix="m").to_csv(tmp_path / "more.csv", index=False)
    bad = make_predictions(10, seed=3, id_prefix="b")
    bad.loc[3, "pred"] = "[/oops]"  # rich markup in a value: printed as text
    bad.to_parquet(tmp_path / "bad.parquet")
    assert log_cmd(tmp_path, "first.parquet").code == 0
    return tmp_path


def test_log_says_which_files_were_stored_and_which_not(logged: Path, log_cmd: LogCmd) -> None:
    done = log_cmd(logged, "new.parquet", "bad.parquet", "first.parquet", "more.csv")
    assert done.code == 2, done.output
    assert f"{logged / 'new.parquet'}: stored 10 predictions" in done.out
    assert f"{logged / 'more.csv'}: stored 5 predictions" in done.out
    refusals = done.err
    assert f"{logged / 'bad.parquet'}: refused: column 'pred' (prediction) has value '[/oops]'" in (
        refusals
    )
    assert f"{logged / 'first.parquet'}: refused: 20 of the batch's 20 prediction ids" in refusals
    assert "error: 2 of 4 files refused" in refusals
    assert f"'{logged / 'bad.parquet'}', '{logged / 'first.parquet'}'" in refusals
    assert "the other files were stored" in refusals
    counts, _ = _logged(logged)
    assert (counts["predictions"], counts["batches"]) == (20 + 10 + 5, 3)


def test_log_refuses_a_file_logged_twice_and_leaves_the_store(
    logged: Path, log_cmd: LogCmd
) -> None:
    before = _logged(logged)
    done = log_cmd(logged, "first.parquet")
    assert done.code == 2
    assert "refused: 20 of the batch's 20 prediction ids are already stored" in done.err
    assert "--on-duplicate skip" in done.err
    assert "Nothing was stored" in done.err
    assert _logged(logged) == before


def test_log_on_duplicate_skip_stores_the_new_rows(
    logged: Path, make_predictions: PredictionsFactory, log_cmd: LogCmd
) -> None:
    mixed = pd.concat([make_predictions(4), make_predictions(6, seed=9, id_prefix="z")])
    mixed.to_parquet(logged / "mixed.parquet")
    done = log_cmd(logged, "mixed.parquet", "first.parquet", "--on-duplicate", "skip")
    assert done.code == 0, done.output
    assert f"{logged / 'mixed.parquet'}: stored 6 predictions, skipped 4 already stored" in (
        done.out
    )
    assert f"{logged / 'first.parquet'}: stored 0 predictions, skipped 20 already stored" in (
        done.out
    )
    counts, _ = _logged(logged)
    assert (counts["predictions"], counts["batches"]) == (26, 2)


def test_log_batch_id_retry_says_already_stored(logged: Path, log_cmd: LogCmd) -> None:
    assert log_cmd(logged, "new.parquet", "--batch-id", "b-7").code == 0
    before = _logged(logged)
    again = log_cmd(logged, "new.parquet", "--batch-id", "b-7")
    assert again.code == 0, again.output
    assert f"{logged / 'new.parquet'}: already stored (batch 'b-7', 10 predictions)" in again.out
    assert _logged(logged) == before


def test_log_unknown_on_duplicate_exits_2_with_the_choices(logged: Path, log_cmd: LogCmd) -> None:
    done = log_cmd(logged, "new.parquet", "--on-duplicate", "ignore")
    assert done.code == 2
    shown = " ".join(done.err.replace("│", " ").split())  # unwrap the error box
    assert "Invalid value for '--on-duplicate'" in shown
    assert "'ignore' is not one of 'refuse', 'skip'" in shown


def test_log_extra_column_with_markup_in_its_name_is_printed_as_text(
    logged: Path, make_predictions: PredictionsFactory, log_cmd: LogCmd
) -> None:
    make_predictions(3, seed=4, id_prefix="k").assign(**{"[/x]": 1}).to_parquet(
        logged / "odd.parquet"
    )
    done = log_cmd(logged, "odd.parquet", "new.parquet")
    assert done.code == 0, done.output
    assert "schema skew: unknown column '[/x]' (kept raw)" in done.err
    assert f"{logged / 'new.parquet'}: stored 10 predictions" in done.out


def test_log_on_duplicate_with_labels_exits_2(tmp_path: Path, run_cli: RunCli) -> None:
    done = run_cli("log", "--labels", "--on-duplicate", "skip", "labels.csv", cwd=tmp_path)
    assert done.code == 2
    assert "--on-duplicate applies to predictions" in done.err


def test_init_prints_the_spec_path_as_text(project: Path, run_cli: RunCli) -> None:
    out = project / "[bold]spec.yaml"  # markup would eat the brackets
    args = ["init", "--reference", str(project / "reference.parquet"), "--out", str(out)]
    done = run_cli(*args)
    assert done.code == 0, done.output
    assert f"wrote {out}; review the roles" in done.out
    assert out.exists()


def test_debug_is_a_global_option(run_cli: RunCli) -> None:
    done = run_cli("--help")
    assert done.code == 0
    assert "--debug" in done.output
    assert "DRIFTLINE_DEBUG" in done.output


def test_help_screens_keep_each_paragraph_of_a_docstring_on_one_line(run_cli: RunCli) -> None:
    """A command's help is its docstring with the line breaks inside paragraphs gone, so
    a wide terminal shows each paragraph whole and a narrow one wraps it at its width
    (Typer keeps the breaks of every paragraph past the first)."""
    import inspect

    from driftline import cli

    for info in cli.app.registered_commands:
        assert info.callback is not None
        name = info.name or info.callback.__name__
        done = run_cli(name, "--help", env={"COLUMNS": "1000"})
        assert done.code == 0, done.output
        lines = [" ".join(line.split()) for line in done.out.splitlines()]
        for paragraph in inspect.cleandoc(info.callback.__doc__ or "").split("\n\n"):
            assert " ".join(paragraph.split()) in lines, (name, paragraph)


def test_usage_error_shows_a_hostile_argument_as_text(tmp_path: Path, run_cli: RunCli) -> None:
    done = run_cli("check", "[/oops]", ":smile:", cwd=tmp_path)
    assert done.code == 2
    assert "[/oops]" in done.err
    assert "Traceback" not in done.err


def test_help_documents_the_exit_codes() -> None:
    from driftline import cli as module

    doc = module.__doc__ or ""
    for line in ("- 0: fine", "- 1: ``check`` found alerts", "- 2: bad input", "- 3: internal"):
        assert line in doc


def test_the_entry_point_collects_cycles_less_often_in_its_own_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``main`` (the process's entry point) raises the cycle collector's thresholds for
    the rest of its process; importing the command line, or ``run`` in a caller's
    process, leaves them alone (driftline._process)."""
    import gc

    from driftline import cli
    from driftline._process import COLLECTOR_THRESHOLDS

    before = gc.get_threshold()
    assert before != COLLECTOR_THRESHOLDS
    monkeypatch.setattr(sys, "argv", ["driftline", "--help"])
    try:
        assert cli.run(["--help"]) == 0
        assert gc.get_threshold() == before
        with pytest.raises(SystemExit) as done:
            cli.main()
        assert done.value.code == 0
        assert gc.get_threshold() == COLLECTOR_THRESHOLDS
    finally:
        gc.set_threshold(*before)


# -- the installed entry point, as a real process -------------------------------------------------
def test_installed_driftline_runs_as_a_process(
    tmp_path: Path, make_spec: Callable[..., dict[str, Any]], make_predictions: PredictionsFactory
) -> None:
    """The one subprocess test: the ``driftline`` script pip installed (not ``python -m``)
    starts, prints its help, checks a tiny store, and exits with the code the boundary
    gives (0 calm, 2 bad input with the message on stderr and no traceback)."""
    import driftline

    exe = shutil.which("driftline") or shutil.which(
        "driftline", path=str(Path(sys.executable).parent)
    )
    if exe is None:
        pytest.fail("the driftline entry point is not installed: pip install -e '.[test]'")
    (tmp_path / "driftline.yaml").write_text(yaml.safe_dump(make_spec()))
    with driftline.connect(tmp_path / "driftline.duckdb", tmp_path / "driftline.yaml") as mon:
        mon.log_reference(make_predictions(600, seed=1, id_prefix="ref"))
        mon.log_predictions(make_predictions(120, seed=2, id_prefix="p", start="2024-02-01"))

    def driftline_process(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [exe, *args], cwd=tmp_path, capture_output=True, text=True, timeout=300
        )

    helped = driftline_process("--help")
    assert helped.returncode == 0, helped.stderr
    assert "check" in helped.stdout
    assert "--debug" in helped.stdout
    calm = driftline_process("check")
    assert calm.returncode == 0, calm.stderr
    assert "no alerts" in calm.stdout
    bad = driftline_process("check", "--since", "[/oops]")
    assert bad.returncode == 2, bad.stderr
    assert "--since '[/oops]' is not an ISO-8601" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_upgrade_rewrites_an_old_store_and_keeps_what_it_was(
    tmp_path: Path,
    make_spec: Callable[..., dict[str, Any]],
    make_predictions: PredictionsFactory,
    run_cli: RunCli,
) -> None:
    """``driftline upgrade`` rewrites a store made in DuckDB's older default storage
    format into the format new stores use: every row is kept (the same rows, hashed;
    the same check results), the file it was stays as ``<store>.before-upgrade``, a check
    left in the write-ahead log is carried over, and a second upgrade has nothing to do.
    A missing store is bad input (exit 2) naming the fix."""
    import duckdb

    import driftline

    store = tmp_path / "old.duckdb"
    duckdb.connect(str(store)).close()  # DuckDB's default format, as before driftline chose
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(make_spec()))
    fields = ("window", "cohort_value", "check", "column", "value", "status")

    def state() -> tuple[Any, ...]:
        with driftline.connect(store, spec) as m:
            con = m.store.con
            version = con.execute(
                "SELECT tags['storage_version'] FROM duckdb_databases() WHERE NOT internal"
            ).fetchone()
            rows = con.execute("SELECT count(*), sum(hash(p)) FROM predictions AS p").fetchone()
            results = con.execute("SELECT count(*) FROM results").fetchone()
            schema = con.execute(
                "SELECT table_name, column_name, data_type FROM duckdb_columns() "
                "WHERE NOT internal ORDER BY ALL"
            ).fetchall()
            constraints = con.execute(
                "SELECT table_name, constraint_text FROM duckdb_constraints() "
                "WHERE database_name = current_database() ORDER BY ALL"
            ).fetchall()
            decided = sorted(
                repr([getattr(r, f) for f in fields]) for r in m.check(persist=False).results
            )
        assert version is not None
        return version[0], rows, results, decided, schema, constraints

    with driftline.connect(store, spec) as m:
        m.log_reference(make_predictions(n=400, seed=7, id_prefix="ref"))
        for d in range(3):
            m.log_predictions(
                make_predictions(n=50, seed=d, id_prefix=f"d{d}-", start=f"2024-01-0{d + 1}")
            )
        m.check()  # its results may stay in the write-ahead log
    version, *kept = state()
    assert version == "v1.0.0+"
    assert any("PRIMARY KEY" in text for _, text in kept[-1])  # constraints are compared
    # the copy's memory is capped as every store's: a cap DuckDB cannot read is bad input
    capped = run_cli("upgrade", "--store", str(store), env={"DRIFTLINE_MEMORY_LIMIT": "lots"})
    assert capped.code == 2
    assert "memory_limit 'lots' is not a size DuckDB understands" in capped.err
    assert not (tmp_path / "old.duckdb.before-upgrade").exists()
    done = run_cli("upgrade", "--store", str(store))
    assert done.code == 0, done.err
    assert "v1.0.0+ -> v1.5.0+" in done.out
    assert "before-upgrade" in done.out
    version, *now = state()
    assert version == "v1.5.0+"
    assert now == kept
    backup = tmp_path / "old.duckdb.before-upgrade"
    with duckdb.connect(str(backup), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM predictions").fetchone() == (150,)
    assert not (tmp_path / "old.duckdb.upgrading").exists()
    # the upgraded store logs and refuses as before
    with driftline.connect(store, spec) as m:
        late = make_predictions(n=20, seed=9, id_prefix="d9-")
        m.log_predictions(late, batch_id="late")
        assert m.log_predictions(late, batch_id="late").already_stored  # a retry
        with pytest.raises(driftline.IngestError, match="already stored"):
            m.log_predictions(make_predictions(n=20, seed=9, id_prefix="d9-"))
    again = run_cli("upgrade", "--store", str(store))
    assert again.code == 0, again.err
    assert "already in storage format v1.5.0+" in again.out
    missing = run_cli("upgrade", "--store", str(tmp_path / "nope.duckdb"))
    assert missing.code == 2
    assert "there is no store" in missing.err
    assert not (tmp_path / "nope.duckdb").exists()
    # an earlier upgrade's backup is never overwritten: refused, the store as it was
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    (tmp_path / "other.duckdb.before-upgrade").write_text("an earlier backup")
    refused = run_cli("upgrade", "--store", str(other))
    assert refused.code == 2
    assert "exists, from an earlier upgrade" in refused.err
    assert (tmp_path / "other.duckdb.before-upgrade").read_text() == "an earlier backup"
    with duckdb.connect(str(other), read_only=True) as con:
        tag = con.execute(
            "SELECT tags['storage_version'] FROM duckdb_databases() WHERE NOT internal"
        ).fetchone()
    assert tag == ("v1.0.0+",)

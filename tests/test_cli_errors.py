"""What a user sees when something goes wrong: exit codes that mean what they say, one
readable message (what, where, what we got, the fix), no traceback without ``--debug``,
data printed as text (never terminal markup), and the store left as it was.

Every case runs ``driftline.cli.main`` in this process with ``sys.argv`` set, through
``run_cli`` (``tests/conftest.py``): the real boundary that maps exceptions to exit codes
(Typer's ``CliRunner`` would bypass it), output captured at the file descriptors. The
installed entry point as a real process is tested once, in ``test_cli.py``. Processes
remain where the test needs one: another process holding the store's lock, one that
obeys file permissions as root does not.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
import pytest
import typer
import yaml

import driftline
from driftline import cli
from driftline.errors import ConfigError, ProfileError, StoreError
from driftline.profile import Profile
from driftline.spec import load_spec
from driftline.store import Store

if TYPE_CHECKING:
    from conftest import CliResult, RunCli

PredictionsFactory = Callable[..., pd.DataFrame]
HOSTILE = ["[/oops]", "[link=http://x]click[/link]", "[bold]x[/bold]", ":smile:"]


def assert_no_traceback(done: CliResult) -> None:
    assert "Traceback" not in done.err
    assert 'File "' not in done.err


@pytest.fixture
def project(
    tmp_path: Path, make_spec: Callable[..., dict[str, Any]], make_predictions: PredictionsFactory
) -> Path:
    """A spec, a fitted reference and a few days of calm predictions in ``tmp_path``."""
    (tmp_path / "driftline.yaml").write_text(yaml.safe_dump(make_spec()))
    with driftline.connect(tmp_path / "driftline.duckdb", tmp_path / "driftline.yaml") as mon:
        mon.log_reference(make_predictions(600, seed=1, id_prefix="ref"))
        mon.log_predictions(make_predictions(120, seed=2, id_prefix="p", start="2024-02-01"))
    return tmp_path


@pytest.fixture
def in_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(project)
    monkeypatch.delenv("DRIFTLINE_DEBUG", raising=False)
    return project


def counts(project: Path) -> dict[str, int]:
    spec = load_spec(project / "driftline.yaml")
    store = Store(project / "driftline.duckdb", spec)
    try:
        return store.counts()
    finally:
        store.close()


# -- exit 2: bad options ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("option", "value"),
    [("--since", "yesterday-ish"), ("--since", "2026-02-30"), ("--until", "2026-13-01")],
)
def test_unparsable_time_option_exits_2_naming_option_value_and_form(
    in_project: Path, run_cli: RunCli, option: str, value: str
) -> None:
    before = counts(in_project)
    done = run_cli("check", option, value)
    assert done.code == 2, done.err
    assert f"{option} {value!r}" in done.err
    assert "ISO-8601" in done.err
    assert "2024-05-01" in done.err  # an example of the accepted form
    assert_no_traceback(done)
    assert counts(in_project) == before


def test_empty_time_range_exits_2(in_project: Path, run_cli: RunCli) -> None:
    done = run_cli("check", "--since", "2024-02-10", "--until", "2024-02-01")
    assert done.code == 2, done.err
    assert "--since '2024-02-10' is not before --until '2024-02-01'" in done.err
    with (
        driftline.connect(in_project / "driftline.duckdb", in_project / "driftline.yaml") as mon,
        pytest.raises(ConfigError, match="is not before until"),
    ):
        mon.check(since="2024-02-10", until="2024-02-01")


def test_spec_that_gained_a_feature_checks_before_the_next_batch(
    in_project: Path,
    run_cli: RunCli,
    make_spec: Callable[..., dict[str, Any]],
    make_predictions: PredictionsFactory,
) -> None:
    """The predictions table gains the column when the next batch is logged; a check (and
    a refit) before that must not fail on the missing column."""
    busy = make_predictions(1000, seed=4, id_prefix="b")
    busy["ts"] = pd.date_range("2024-03-01", periods=1000, freq="min", tz="UTC")
    with driftline.connect(in_project / "driftline.duckdb", in_project / "driftline.yaml") as mon:
        mon.log_predictions(busy)
    spec = make_spec(features={"numeric": ["x", "y", "z"], "categorical": ["color"]})
    (in_project / "driftline.yaml").write_text(yaml.safe_dump(spec))
    assert run_cli("fit").code == 0
    done = run_cli("check", "--json", "--since", "2024-03-01")
    assert done.code in (0, 1), done.err
    results = json.loads(done.out)["results"]
    assert {r["check"] for r in results if r["column"] == "z"}, results


def test_huge_time_option_is_shown_cut_with_its_length(in_project: Path, run_cli: RunCli) -> None:
    done = run_cli("check", "--since", "y" * 5000)
    assert done.code == 2
    assert "(5,000 characters)" in done.err
    assert len(done.err) < 1000


def test_api_check_refuses_an_unparsable_since(project: Path) -> None:
    with driftline.connect(project / "driftline.duckdb", project / "driftline.yaml") as mon:
        with pytest.raises(ConfigError, match=r"since 'yesterday-ish' is not an ISO-8601"):
            mon.check(since="yesterday-ish")
        with pytest.raises(ConfigError, match=r"until '2026-02-30' is not"):
            mon.check(until="2026-02-30")


def test_report_out_directory_exits_2_with_a_file_path_to_use(
    in_project: Path, run_cli: RunCli
) -> None:
    (in_project / "reports").mkdir()
    done = run_cli("report", "--out", "reports")
    assert done.code == 2, done.err
    assert "--out 'reports' is a directory; give a file path such as reports/report.html" in (
        done.err
    )
    assert_no_traceback(done)


def test_api_report_to_a_directory_is_a_config_error(project: Path) -> None:
    with (
        driftline.connect(project / "driftline.duckdb", project / "driftline.yaml") as mon,
        pytest.raises(ConfigError, match="is a directory; give a file path"),
    ):
        mon.report(project)


def test_demo_with_too_few_days_exits_2(tmp_path: Path, run_cli: RunCli) -> None:
    done = run_cli("demo", "--dir", tmp_path / "d", "--days", "10")
    assert done.code == 2, done.err
    assert "at least 60 days" in done.err
    assert_no_traceback(done)


def test_report_out_under_a_file_exits_2_naming_the_path(in_project: Path, run_cli: RunCli) -> None:
    (in_project / "notes.txt").write_text("a file, not a folder")
    done = run_cli("report", "--out", "notes.txt/report.html")
    assert done.code == 2, done.err
    assert "'notes.txt' is a file, not a directory" in done.err
    assert_no_traceback(done)


def test_os_error_outside_driftline_checks_exits_2_naming_the_path(
    in_project: Path, run_cli: RunCli, make_predictions: PredictionsFactory
) -> None:
    make_predictions(50).to_parquet(in_project / "ref.parquet", index=False)
    (in_project / "notes.txt").write_text("a file, not a folder")
    done = run_cli("init", "--reference", "ref.parquet", "--out", "notes.txt/x.yaml")
    assert done.code == 2, done.err
    assert "notes.txt" in done.err
    assert_no_traceback(done)


def test_memory_cap_too_low_exits_2_naming_the_variable(
    in_project: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTLINE_MEMORY_LIMIT", "1MB")  # DuckDB accepts it, then runs out
    done = run_cli("check")
    assert done.code == 2, done.err
    assert "running checks ran out of memory: DuckDB may use 1MB (DRIFTLINE_MEMORY_LIMIT)" in (
        done.err
    )
    assert "DRIFTLINE_MEMORY_LIMIT=4GB" in done.err
    assert_no_traceback(done)


def test_memory_cap_duckdb_refuses_exits_2(
    in_project: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTLINE_MEMORY_LIMIT", "lots")
    done = run_cli("check")
    assert done.code == 2, done.err
    assert "memory_limit 'lots' is not a size DuckDB understands" in done.err
    assert "DRIFTLINE_MEMORY_LIMIT" in done.err


def test_binary_file_as_spec_exits_2(
    in_project: Path, run_cli: RunCli, make_predictions: PredictionsFactory
) -> None:
    make_predictions(10).to_parquet(in_project / "data.parquet", index=False)
    done = run_cli("check", "--spec", "data.parquet")
    assert done.code == 2, done.err
    assert "data.parquet is not valid YAML" in done.err
    assert_no_traceback(done)


# -- exit 2: bad data files ------------------------------------------------------------------
def _corrupt_parquet(df: pd.DataFrame, path: Path) -> Path:
    df.to_parquet(path, index=False, compression="snappy")
    data = bytearray(path.read_bytes())
    for i in range(200, len(data) // 2, 7):  # data pages; the footer stays readable
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


def test_parquet_with_corrupt_pages_exits_2_and_stores_nothing(
    in_project: Path, run_cli: RunCli, make_predictions: PredictionsFactory
) -> None:
    bad = _corrupt_parquet(make_predictions(2000, seed=5, id_prefix="c"), in_project / "c.parquet")
    assert duckdb.connect().read_parquet(str(bad)).aggregate("count(*)").fetchone() == (2000,)
    before = counts(in_project)
    done = run_cli("log", "c.parquet")
    assert done.code == 2, done.err
    assert "'c.parquet'" in done.err
    assert "Nothing was stored" in done.err
    assert_no_traceback(done)
    assert counts(in_project) == before


def test_api_corrupt_parquet_is_an_ingest_error(
    project: Path, make_predictions: PredictionsFactory
) -> None:
    bad = _corrupt_parquet(make_predictions(2000, seed=5, id_prefix="c"), project / "c.parquet")
    with driftline.connect(project / "driftline.duckdb", project / "driftline.yaml") as mon:
        before = mon.store.counts()
        with pytest.raises(driftline.IngestError, match=r"c\.parquet.*Nothing was stored"):
            mon.log_predictions(bad)
        assert mon.store.counts() == before


# -- exit 2: a hand-edited profile ------------------------------------------------------------
def _edit_profile(project: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    path = project / "driftline.profile.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["bin_edges"]["x"].reverse(), r"bin edges of column 'x' .*increasing"),
        (lambda d: d["bin_edges"]["y"].__setitem__(3, float("nan")), r"column 'y'.*finite"),
        (lambda d: d["bin_counts"]["x"].__setitem__(0, -4), r"column 'x'.*non-negative"),
        (lambda d: d["bin_counts"]["x"].pop(), r"column 'x'.*21 bin edges.*19 counts"),
        (lambda d: d["bin_counts"]["y"].__setitem__(0, "many"), r"column 'y'.*'many'"),
        (lambda d: d["confidence"]["edges"].reverse(), r"confidence.*increasing"),
        (lambda d: d["categories"]["color"].__setitem__("red", -1), r"column 'color'"),
        (
            lambda d: d["columns"]["x"].__setitem__("mean", float("inf")),
            r"mean of column 'x' is 'inf'",
        ),
        (lambda d: d.__setitem__("n_rows", -3), r"n_rows"),
        (lambda d: d.__setitem__("bin_edges", [1, 2]), r"bin_edges"),
    ],
)
def test_hand_edited_profile_is_refused_at_load(
    project: Path, edit: Callable[[dict[str, Any]], None], expected: str
) -> None:
    _edit_profile(project, edit)
    spec = load_spec(project / "driftline.yaml")
    with pytest.raises(ProfileError, match=expected) as info:
        Profile.load(project / "driftline.profile.json", spec)
    assert "driftline fit" in str(info.value)
    assert "driftline.profile.json" in str(info.value)


def test_profile_with_decreasing_edges_exits_2(in_project: Path, run_cli: RunCli) -> None:
    _edit_profile(in_project, lambda d: d["bin_edges"]["x"].reverse())
    done = run_cli("check")
    assert done.code == 2, done.err
    assert "column 'x'" in done.err
    assert "driftline fit" in done.err
    assert_no_traceback(done)


def test_fitted_profile_round_trips_through_validation(project: Path) -> None:
    spec = load_spec(project / "driftline.yaml")
    prof = Profile.load(project / "driftline.profile.json", spec)
    assert Profile.from_dict(prof.to_dict(), spec).to_dict() == prof.to_dict()


# -- exit 2: the store cannot be opened ---------------------------------------------------------
@pytest.fixture
def lock_holder(project: Path) -> Iterator[subprocess.Popen[str]]:
    """A second real process that holds the store open (DuckDB's file lock)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
            "print('ready', flush=True); time.sleep(300)",
            str(project / "driftline.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_store_locked_by_another_process_names_it_and_the_fix(
    in_project: Path, run_cli: RunCli, lock_holder: subprocess.Popen[str]
) -> None:
    done = run_cli("check")
    assert done.code == 2, done.err
    assert f"PID {lock_holder.pid}" in done.err
    assert "'driftline.duckdb'" in done.err
    assert "one process" in done.err
    assert "Wait for it to finish or stop it" in done.err
    assert "serve" not in done.err
    assert_no_traceback(done)


def test_api_locked_store_is_a_store_error(
    project: Path, lock_holder: subprocess.Popen[str]
) -> None:
    spec = load_spec(project / "driftline.yaml")
    with pytest.raises(StoreError, match=f"PID {lock_holder.pid}") as info:
        Store(project / "driftline.duckdb", spec)
    assert isinstance(info.value, OSError)


@pytest.mark.parametrize(("name", "kind"), [("data.csv", "CSV"), ("data.parquet", "Parquet")])
def test_data_file_passed_as_store_is_not_a_duckdb_database(
    in_project: Path,
    run_cli: RunCli,
    make_predictions: PredictionsFactory,
    name: str,
    kind: str,
) -> None:
    path = in_project / name
    df = make_predictions(10)
    if kind == "CSV":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    before = path.read_bytes()
    done = run_cli("check", "--store", name)
    assert done.code == 2, done.err
    assert f"{name!r} is not a DuckDB database" in done.err
    assert f"looks like a {kind} file" in done.err
    assert f"driftline log {name}" in done.err  # the fix: log it into a store instead
    assert_no_traceback(done)
    assert path.read_bytes() == before


def test_corrupt_store_shows_the_checksum_message_and_the_fix(
    in_project: Path, run_cli: RunCli
) -> None:
    shutil.copy(in_project / "driftline.duckdb", in_project / "broken.duckdb")
    with (in_project / "broken.duckdb").open("r+b") as f:
        f.seek(4106)
        block = f.read(64)
        f.seek(4106)
        f.write(bytes(b ^ 0xFF for b in block))
    done = run_cli("check", "--store", "broken.duckdb")
    assert done.code == 2, done.err
    assert "'broken.duckdb' is corrupt" in done.err
    assert "checksum" in done.err
    assert "backup" in done.err
    assert_no_traceback(done)


def test_store_path_that_is_a_directory(in_project: Path, run_cli: RunCli) -> None:
    (in_project / "stores").mkdir()
    done = run_cli("check", "--store", "stores")
    assert done.code == 2, done.err
    assert "'stores' is a directory" in done.err
    assert "stores/driftline.duckdb" in done.err
    assert_no_traceback(done)


def test_store_in_a_missing_directory(
    in_project: Path, run_cli: RunCli, make_predictions: PredictionsFactory
) -> None:
    make_predictions(10, seed=3, id_prefix="n").to_parquet(in_project / "batch.parquet")
    done = run_cli("log", "batch.parquet", "--store", "nowhere/driftline.duckdb")
    assert done.code == 2, done.err
    assert "directory 'nowhere' does not exist" in done.err
    assert "mkdir" in done.err
    assert_no_traceback(done)
    checked = run_cli("check", "--store", "nowhere/driftline.duckdb")
    assert checked.code == 2, checked.err
    assert "no store at 'nowhere/driftline.duckdb'" in checked.err
    assert_no_traceback(checked)
    assert not (in_project / "nowhere").exists()


_NO_DAC = [
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
]


def _open_store_as_user(project: Path, store: Path) -> subprocess.CompletedProcess[str]:
    """Open ``store`` in a process that obeys file permissions (root normally does not:
    drop its override capabilities with ``setpriv``)."""
    code = (
        "import sys\nfrom driftline.errors import StoreError\nfrom driftline.spec import "
        "load_spec\nfrom driftline.store import Store\n"
        "try:\n    Store(sys.argv[2], load_spec(sys.argv[1])).close()\n"
        "except StoreError as exc:\n    print(exc)\n    sys.exit(2)\n"
    )
    cmd = [sys.executable, "-c", code, str(project / "driftline.yaml"), str(store)]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: permissions cannot be enforced")
        cmd = [*_NO_DAC, *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_read_only_store_file_says_permission_and_the_fix(project: Path) -> None:
    store = project / "driftline.duckdb"
    store.chmod(0o444)
    try:
        done = _open_store_as_user(project, store)
    finally:
        store.chmod(0o644)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "permission" in done.stdout.lower()
    assert "read-only" in done.stdout
    assert "chmod" in done.stdout


def test_read_only_directory_says_permission_and_the_fix(project: Path) -> None:
    folder = project / "locked"
    folder.mkdir()
    shutil.copy(project / "driftline.duckdb", folder / "driftline.duckdb")
    folder.chmod(0o555)
    try:
        done = _open_store_as_user(project, folder / "driftline.duckdb")
    finally:
        folder.chmod(0o755)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "directory" in done.stdout
    assert "not writable" in done.stdout
    assert ".wal" in done.stdout


# -- exit 2: a missing optional extra -------------------------------------------------------------
def _without(module: str, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where importing ``module`` fails, as when the
    package is not installed."""
    prelude = f"import sys; sys.modules[{module!r}] = None\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_demo_without_scikit_learn_names_the_extra(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Importing scikit-learn fails, as when it is not installed: ``None`` in
    ``sys.modules`` for it and every submodule an earlier test imported."""
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    done = run_cli("demo", "--dir", "d", cwd=tmp_path)
    assert done.code == 2, done.err
    assert "pip install 'driftline[demo]'" in done.err
    assert "scikit-learn" in done.err
    assert "Traceback" not in done.err


def test_spark_engine_without_pyspark_names_the_extra(tmp_path: Path) -> None:
    done = _without(
        "pyspark",
        "from driftline.engine import SparkEngine\n"
        "from driftline.errors import MissingExtraError\n"
        "try:\n    SparkEngine(object())\n"
        "except MissingExtraError as exc:\n    print(exc)\n    sys.exit(2)\n",
        tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'driftline[spark]'" in done.stdout


@pytest.mark.spark
def test_ctrl_c_still_interrupts_after_a_spark_session_driftline_stopped() -> None:
    """``--engine spark`` starts a session and stops it on the way out; pyspark leaves its
    own Ctrl-C handler behind, which then raised ``AttributeError`` (exit 3 from any
    later command in the same process) instead of ``KeyboardInterrupt``. A fresh process,
    as no session may be active; a real SIGINT after the block."""
    code = (
        "import os, signal, time\n"
        "from driftline.engine.spark import session_for\n"
        "with session_for() as spark:\n"
        "    assert spark.range(3).count() == 3\n"
        "    assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler\n"
        "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(30)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "interrupted", done.stdout + done.stderr


# -- data is text, never markup -------------------------------------------------------------------
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_prediction_value_is_shown_as_text_in_the_error(
    in_project: Path,
    run_cli: RunCli,
    make_predictions: PredictionsFactory,
    value: str,
) -> None:
    bad = make_predictions(10, seed=7, id_prefix="h")
    bad.loc[4, "pred"] = value
    bad.to_parquet(in_project / "h.parquet", index=False)
    before = counts(in_project)
    done = run_cli("log", "h.parquet")
    assert done.code == 2, done.err
    assert repr(value) in done.err
    assert "\x1b]8;" not in done.err  # no terminal hyperlink
    assert "😄" not in done.err
    assert_no_traceback(done)
    assert counts(in_project) == before


def test_hostile_extra_column_name_is_printed_and_the_next_file_logged(
    in_project: Path, run_cli: RunCli, make_predictions: PredictionsFactory
) -> None:
    first = make_predictions(10, seed=8, id_prefix="e", start="2024-03-01")
    for i, name in enumerate(HOSTILE):
        first[name] = i
    first.to_parquet(in_project / "e.parquet", index=False)
    make_predictions(10, seed=9, id_prefix="f", start="2024-03-02").to_parquet(
        in_project / "f.parquet", index=False
    )
    before = counts(in_project)
    done = run_cli("log", "e.parquet", "f.parquet")
    assert done.code == 0, done.err
    for name in HOSTILE:
        assert repr(name) in done.err
    assert "😄" not in done.out + done.err
    after = counts(in_project)
    assert after["batches"] == before["batches"] + 2
    assert after["predictions"] == before["predictions"] + 20


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_cohort_value_in_check_output_is_text(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_cli: RunCli,
    make_spec: Callable[..., dict[str, Any]],
    make_predictions: PredictionsFactory,
    value: str,
) -> None:
    (tmp_path / "driftline.yaml").write_text(yaml.safe_dump(make_spec()))
    ref = make_predictions(600, seed=1, id_prefix="ref")
    ref["segment"] = value
    now = make_predictions(1000, seed=2, id_prefix="p")
    now["ts"] = pd.date_range("2024-02-01", periods=1000, freq="min", tz="UTC")
    now["segment"] = value
    now["x"] = now["x"] + 3.0  # an alert in the cohort named by the hostile value
    with driftline.connect(tmp_path / "driftline.duckdb", tmp_path / "driftline.yaml") as mon:
        mon.log_reference(ref)
        mon.log_predictions(now)
    monkeypatch.chdir(tmp_path)
    done = run_cli("check")
    assert done.code == 1, done.err
    assert f"segment={value!r}" in done.out or f"segment={value}" in done.out
    assert value in done.out
    assert "😄" not in done.out
    assert "\x1b]8;" not in done.out


def test_huge_cohort_value_in_check_output_is_bounded(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_cli: RunCli,
    make_spec: Callable[..., dict[str, Any]],
    make_predictions: PredictionsFactory,
) -> None:
    value = "c" * 50_000
    (tmp_path / "driftline.yaml").write_text(yaml.safe_dump(make_spec()))
    ref = make_predictions(600, seed=1, id_prefix="ref")
    ref["segment"] = value
    now = make_predictions(1000, seed=2, id_prefix="p")
    now["ts"] = pd.date_range("2024-02-01", periods=1000, freq="min", tz="UTC")
    now["segment"] = value
    now["x"] = now["x"] + 3.0
    with driftline.connect(tmp_path / "driftline.duckdb", tmp_path / "driftline.yaml") as mon:
        mon.log_reference(ref)
        mon.log_predictions(now)
    monkeypatch.chdir(tmp_path)
    done = run_cli("check")
    assert done.code == 1, done.err
    assert max(len(line) for line in done.out.splitlines()) < 2100
    assert "characters)" in done.out


# -- exit 3: internal errors, one line; the traceback with --debug -------------------------------
def _hand_edit_store(project: Path) -> None:
    """A store edited behind driftline's back: a column the checks average now holds
    text. Nothing validates the stored tables' types, so the checks fail inside (a real
    internal error, not a staged one)."""
    con = duckdb.connect(str(project / "driftline.duckdb"))
    con.execute("ALTER TABLE predictions ALTER confidence TYPE VARCHAR")
    con.close()


def test_internal_error_is_one_line_naming_the_step(in_project: Path, run_cli: RunCli) -> None:
    _hand_edit_store(in_project)
    done = run_cli("check")
    assert done.code == 3, done.err
    lines = done.err.strip().splitlines()
    assert len(lines) == 1, done.err
    assert lines[0].startswith("internal error while running checks: AttributeError: ")
    assert lines[0].endswith("(run again with --debug for the traceback)")
    assert_no_traceback(done)


def test_debug_option_and_variable_show_the_traceback(
    in_project: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hand_edit_store(in_project)
    done = run_cli("--debug", "check")
    assert done.code == 3
    assert "Traceback (most recent call last)" in done.err
    assert "internal error while running checks: AttributeError" in done.err
    monkeypatch.setenv("DRIFTLINE_DEBUG", "1")
    done = run_cli("check")
    assert done.code == 3
    assert "Traceback (most recent call last)" in done.err


def _boundary_app(exc: BaseException) -> typer.Typer:
    """A Typer app with driftline's root options and one command that raises ``exc``:
    for exceptions no real input can trigger (a bug's KeyError, Ctrl-C)."""
    test_app = typer.Typer()
    test_app.callback()(cli.root)

    @test_app.command()
    def check() -> None:
        cli.step("running checks")
        raise exc

    @test_app.command()
    def other() -> None:
        pass

    return test_app


def test_run_maps_a_bug_to_exit_3_with_the_message_of_the_brief(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRIFTLINE_DEBUG", raising=False)
    code = cli.run(["check"], _boundary_app(KeyError("x")))
    assert code == 3
    assert capsys.readouterr().err == (
        "internal error while running checks: KeyError: 'x' "
        "(run again with --debug for the traceback)\n"
    )


def test_run_cuts_a_long_internal_message_to_one_bounded_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRIFTLINE_DEBUG", raising=False)
    code = cli.run(["check"], _boundary_app(RuntimeError("line one\n" + "z" * 5000)))
    assert code == 3
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert len(err) < 600
    assert "5,0" in err  # the full length is stated


def test_ctrl_c_exits_130(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(["check"], _boundary_app(KeyboardInterrupt())) == 130


def test_system_exit_and_base_exceptions_are_not_swallowed() -> None:
    with pytest.raises(GeneratorExit):
        cli.run(["check"], _boundary_app(GeneratorExit()))


def test_ctrl_c_reported_by_duckdb_as_text_is_an_interruption() -> None:
    """Ctrl-C landing while DuckDB runs Python code of its own (reading a logged
    DataFrame) comes back as a ``duckdb.Error`` with only the text of the
    ``KeyboardInterrupt`` (seen by the demo test below, whose signal lands wherever it
    lands): 130, like the other forms; other DuckDB errors stay errors."""
    assert cli._interrupted(duckdb.Error("KeyboardInterrupt: <EMPTY MESSAGE>"))
    query = RuntimeError("Query interrupted")
    query.__cause__ = KeyboardInterrupt()  # as DuckDB raises it, from the interrupt
    assert cli._interrupted(query)
    assert not cli._interrupted(duckdb.Error("Catalog Error: Table x does not exist"))


@pytest.mark.slow
def test_ctrl_c_exits_130_even_inside_a_query(tmp_path: Path) -> None:
    """Ctrl-C while the demo logs and checks (mostly inside DuckDB, which turns it into
    ``RuntimeError('Query interrupted')``) is 130, not an internal error. A real SIGINT
    to a real ``driftline demo`` process, as a terminal sends it: 2 s after its first
    line (the model is trained), while it logs and checks 60 days, which take several
    seconds more. In this process the signal would meet whatever handlers earlier tests
    left (a Spark session's), not what a user's Ctrl-C meets."""
    env = {k: v for k, v in os.environ.items() if k != "DRIFTLINE_DEBUG"}
    cmd = [sys.executable, "-m", "driftline", "demo", "--dir", str(tmp_path / "d")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("digits:"), first
        time.sleep(2.0)  # not a timing assertion: lands the signal inside the logging
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, first + rest + err
    assert "report:" not in rest  # it stopped before its end
    assert "internal error" not in err
    assert "Traceback" not in err


# -- every exit code from a real command ------------------------------------------------------
def test_exit_0_when_calm(project: Path, run_cli: RunCli) -> None:
    done = run_cli("check", cwd=project)
    assert done.code == 0, done.err
    assert "no alerts" in done.out


def test_exit_1_on_alerts(
    project: Path, make_predictions: PredictionsFactory, run_cli: RunCli
) -> None:
    shifted = make_predictions(1000, seed=3, id_prefix="q")
    shifted["ts"] = pd.date_range("2024-04-01", periods=1000, freq="min", tz="UTC")
    shifted["x"] = shifted["x"] + 3.0
    with driftline.connect(project / "driftline.duckdb", project / "driftline.yaml") as mon:
        mon.log_predictions(shifted)
    done = run_cli("check", "--since", "2024-04-01", cwd=project)
    assert done.code == 1, done.err
    assert "alert(s)" in done.out


def test_exit_2_on_bad_input(project: Path, run_cli: RunCli) -> None:
    done = run_cli("check", "--since", "[/oops]", cwd=project)
    assert done.code == 2, done.err
    assert "--since '[/oops]' is not an ISO-8601" in done.err
    assert_no_traceback(done)


def test_exit_3_on_internal_error(project: Path, run_cli: RunCli) -> None:
    _hand_edit_store(project)
    done = run_cli("check", cwd=project, env={"DRIFTLINE_DEBUG": ""})
    assert done.code == 3, done.err
    assert done.err.startswith("internal error while running checks: AttributeError")
    assert_no_traceback(done)
    debug = run_cli("--debug", "check", cwd=project)
    assert debug.code == 3
    assert "Traceback (most recent call last)" in debug.err


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("csv-named.parquet", b"id,ts\n1,2026-01-01\n"),
        ("ragged.csv", b"id,ts,x\n1,2026-01-01,3\n2,2026-01-02\n"),
        ("bad.jsonl", b'{"id": 1, "ts": "2026-01-01"}\n{oops}\n'),
        ("binary.csv", b"\xff\xfe\x00\x01garbage\n\x00\x00"),
    ],
)
def test_init_on_a_file_that_is_not_what_it_claims_is_bad_input(
    tmp_path: Path, run_cli: RunCli, name: str, content: bytes
) -> None:
    """As `log` refuses it (exit 2, naming the file); it was an internal error."""
    (tmp_path / name).write_bytes(content)
    done = run_cli("init", "--reference", name, "--out", "s.yaml", cwd=tmp_path)
    assert done.code == 2, done.err
    assert f"cannot read file {name!r}" in done.err
    assert "no spec was written" in done.err
    assert not (tmp_path / "s.yaml").exists()
    assert_no_traceback(done)

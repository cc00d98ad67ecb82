"""The ``driftline`` command line: init, log, fit, check, report, demo.

Exit codes (one boundary, :func:`run`, maps every outcome to one of them):

- 0: fine.
- 1: ``check`` found alerts (for CI gates and cron), or ``demo`` missed an incident.
- 2: bad input or configuration: an option, a spec, a data file, a profile or a store that
  cannot be used, or a missing optional extra. The message says what, where, what we got
  and how to fix it. Usage errors (unknown option, missing argument) are 2 as well.
- 3: internal error: one line naming the step and the exception; the traceback only with
  ``driftline --debug ...`` or ``DRIFTLINE_DEBUG=1``.
- 130: interrupted (Ctrl-C).

Everything printed from data (values, column and cohort names, file names, messages that
quote them) is printed as text, never parsed as terminal markup or emoji codes: the
consoles have markup, emoji and highlighting off, and colour is applied with
:class:`rich.text.Text` styles.
"""

from __future__ import annotations

import os
import sys
import traceback
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from driftline._catalog import OnDuplicate
from driftline.errors import ConfigError, DriftlineError, name_list, shorten

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Watch a classification model in production: predictions over time, "
    "training-serving skew and honest drift alerts.",
)
# Data is text: no markup, no :emoji: codes, no highlighting of numbers or paths in it.
err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False)
out = Console(soft_wrap=True, markup=False, emoji=False, highlight=False)

SpecOpt = Annotated[Path, typer.Option("--spec", help="Spec YAML (column roles, window).")]
StoreOpt = Annotated[Path, typer.Option("--store", help="The DuckDB file.")]


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}", markup=False),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def _split(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


@app.command()
def init(
    reference: Annotated[Path, typer.Option(help="Reference table (Parquet/CSV/JSON-lines).")],
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the spec.")] = Path(
        "driftline.yaml"
    ),
    id: Annotated[str | None, typer.Option(help="Id column.")] = None,
    timestamp: Annotated[str | None, typer.Option(help="Timestamp column.")] = None,
    prediction: Annotated[str | None, typer.Option(help="Predicted-class column.")] = None,
    scores: Annotated[
        list[str] | None,
        typer.Option(
            help="Score columns, comma-separated (one column: a binary model's probability)."
        ),
    ] = None,
    positive: Annotated[
        str | None,
        typer.Option(help="Binary model: the class its probability column is of."),
    ] = None,
    label: Annotated[str | None, typer.Option(help="Label column.")] = None,
    cohort: Annotated[list[str] | None, typer.Option(help="Cohort column (repeatable).")] = None,
    numeric: Annotated[list[str] | None, typer.Option(help="Numeric feature(s).")] = None,
    categorical: Annotated[list[str] | None, typer.Option(help="Categorical feature(s).")] = None,
    text: Annotated[list[str] | None, typer.Option(help="Text feature(s).")] = None,
    window: Annotated[str, typer.Option(help="Window: 1d, 6h, 7d or '10000 rows'.")] = "1d",
    force: Annotated[bool, typer.Option(help="Overwrite an existing spec.")] = False,
) -> None:
    """Infer a spec from a reference table and write driftline.yaml."""
    from driftline.spec import infer_spec

    if out_path.exists() and not force:
        raise ConfigError(f"{str(out_path)!r} exists; pass --force to overwrite it.")
    spec = infer_spec(
        reference,
        id=id,
        timestamp=timestamp,
        prediction=prediction,
        scores=_split(scores),
        positive=positive,
        label=label,
        cohorts=_split(cohort),
        numeric=_split(numeric),
        categorical=_split(categorical),
        text=_split(text),
        window=window,
    )
    spec.save(out_path)
    out.print(
        f"wrote {out_path}; review the roles, then `driftline log --reference FILE`.",
        markup=False,
        highlight=False,
    )
    out.print(spec.to_yaml(), markup=False)


@app.command()
def log(
    files: Annotated[list[Path], typer.Argument(help="Parquet/CSV/JSON-lines files.")],
    labels: Annotated[bool, typer.Option("--labels", help="The files hold labels.")] = False,
    reference: Annotated[
        bool, typer.Option("--reference", help="The files hold the reference; fits the profile.")
    ] = False,
    name: Annotated[str, typer.Option(help="Reference name.")] = "reference",
    batch_id: Annotated[str | None, typer.Option(help="Idempotency key (one file).")] = None,
    on_duplicate: Annotated[
        OnDuplicate,
        typer.Option(
            "--on-duplicate",
            help="A prediction id already stored: refuse the file, or skip those rows.",
        ),
    ] = "refuse",
    spec: SpecOpt = Path("driftline.yaml"),
    store: StoreOpt = Path("driftline.duckdb"),
) -> None:
    """Log predictions (default), labels (--labels) or the reference (--reference).

    Each file is stored whole or not at all; a refused file does not stop the others.
    Exit code 2 when any file was refused.
    """
    from driftline.monitor import connect

    if labels and reference:
        raise ConfigError("choose one of --labels and --reference.")
    if batch_id is not None and len(files) != 1:
        raise ConfigError("--batch-id names one batch; pass exactly one file with it.")
    if on_duplicate != "refuse" and (labels or reference):
        raise ConfigError(
            "--on-duplicate applies to predictions; labels are appended (the latest label "
            "per id wins) and a reference replaces the stored one. Drop the option."
        )
    refused: list[Path] = []
    with connect(store, spec) as mon, _progress() as bar:
        task = bar.add_task("logging", total=len(files))
        for f in files:
            try:
                if reference:
                    rep = mon.log_reference(f, name=name, fit=False)
                elif labels:
                    rep = mon.log_labels(f, batch_id=batch_id)
                else:
                    rep = mon.log_predictions(f, batch_id=batch_id, on_duplicate=on_duplicate)
            except DriftlineError as exc:  # this file is refused whole; go on with the next
                refused.append(f)
                err.print(f"{f}: refused: {exc}", markup=False, highlight=False)
                bar.advance(task)
                continue
            _print_logged(f, rep)
            if reference:
                mon.fit_profile(name=name)
                out.print(f"  profile -> {mon.profile_path}", markup=False, highlight=False)
            bar.advance(task)
    if refused:
        err.print(
            f"error: {len(refused)} of {len(files)} files refused: {name_list(refused)}; "
            "fix them and log them again (each refused file stored nothing; the other files "
            "were stored).",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(2)


def _print_logged(path: Path, rep: Any) -> None:
    """One line per logged file (stored / already stored), then its schema skew."""
    what = {"predictions": "predictions", "labels": "labels", "reference": "rows"}[rep.kind]
    if rep.already_stored:
        line = f"{path}: already stored (batch {shorten(rep.batch_id)}, {rep.rows:,} {what})"
    elif rep.kind == "reference":
        line = f"{path}: stored {rep.rows:,} rows as reference {shorten(rep.batch_id)}"
    else:
        line = f"{path}: stored {rep.rows:,} {what}"
        if rep.skipped:
            line += f", skipped {rep.skipped:,} already stored"
    out.print(line, markup=False, highlight=False)
    for col in rep.missing_features:
        err.print(f"  schema skew: column {shorten(col)} missing (stored as null)", markup=False)
    for col in rep.extra_columns:
        err.print(f"  schema skew: unknown column {shorten(col)} (kept raw)", markup=False)
    for col, typ in rep.retyped.items():
        err.print(f"  schema skew: column {shorten(col)} arrived as {typ} (raw kept)", markup=False)


@app.command()
def fit(
    name: Annotated[str, typer.Option(help="Reference name.")] = "reference",
    spec: SpecOpt = Path("driftline.yaml"),
    store: StoreOpt = Path("driftline.duckdb"),
) -> None:
    """Refit the profile from the stored reference (after editing the spec)."""
    from driftline.monitor import connect

    step("opening the spec and the store")
    with connect(store, spec) as mon:
        step("fitting the profile")
        prof = mon.fit_profile(name=name)
        out.print(f"profile of {prof.n_rows_} reference rows -> {mon.profile_path}")


def _time_range(since: str | None, until: str | None) -> None:
    """Refuse an unparsable or empty --since/--until range before opening anything."""
    from driftline.checks import _ts

    lo, hi = _ts(since, "--since"), _ts(until, "--until")
    if lo is not None and hi is not None and lo >= hi:
        raise ConfigError(
            f"--since {shorten(since)} is not before --until {shorten(until)}; the range "
            "[--since, --until) would be empty. Swap them or widen the range."
        )


@app.command()
def check(
    since: Annotated[str | None, typer.Option(help="Start (ISO-8601, inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="End (ISO-8601, exclusive).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
    persist: Annotated[bool, typer.Option(help="Store results and alerts.")] = True,
    alerts: Annotated[
        bool, typer.Option("--alerts", help="Also print every alert, one line each.")
    ] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Recompute every window in range instead of only those whose data changed.",
        ),
    ] = False,
    windows: Annotated[
        int,
        typer.Option(
            min=0,
            help="Windows listed in the per-window table: the latest N and every window "
            "with alerts (0: all).",
        ),
    ] = 30,
    spec: SpecOpt = Path("driftline.yaml"),
    store: StoreOpt = Path("driftline.duckdb"),
) -> None:
    """Run the checks per window and cohort; print the incidents (newest first), a
    summary per window (the latest --windows and every window with alerts), and with
    --alerts every alert. Exit code 1 when any alert fires.

    Incremental: only windows with new or late rows since the last check are summarised
    and evaluated; the rest is read from the store (--full recomputes them)."""
    from driftline.monitor import connect

    _time_range(since, until)
    status = err.status("running checks", spinner="dots") if err.is_terminal else nullcontext()
    step("opening the spec and the store")
    with connect(store, spec) as mon:
        with status:
            step("running checks")
            report = mon.check(since, until, persist=persist, full=full)
        # printed with the store open: the results read back are fetched when asked for
        step("printing the results")
        if as_json:
            sys.stdout.write(report.to_json() + "\n")
        else:
            _print_report(report, every_alert=alerts, latest=windows)
        alerted = report.has_alerts
        del report  # done: nothing left to fetch before the store closes
    if alerted:
        raise typer.Exit(1)


def _print_report(report: Any, *, every_alert: bool = False, latest: int = 0) -> None:
    """The incidents first (one line each, newest first), then one line per window (its
    predictions, confidence, alerts and the incidents it belongs to: the ``latest``
    windows and every window with alerts, all when 0), then the alerts when asked. Every
    string from the data is printed as text."""
    incidents = list(report.incidents)
    if incidents:
        out.print(Text(f"{len(incidents)} incident(s), newest first", style="bold red"))
        for inc in incidents:
            line = Text("  ")
            line.append(f"{inc.severity:<8} ", style="red" if inc.severity == "critical" else "")
            line.append(f"{inc.id}  {inc.status:<7}  ")
            line.append(_cut(inc.headline, _MESSAGE_CHARS))
            line.append(f"  [{len(inc.alerts)} alert(s)]", style="dim")
            out.print(line)
    member: dict[str, list[str]] = {}
    for inc in incidents:
        for alert_id in inc.alerts:
            member.setdefault(alert_id, []).append(inc.id)
    per_window: dict[str, int] = {}
    in_window: dict[str, list[str]] = {}
    for a in report.alerts:
        per_window[a.window_start] = per_window.get(a.window_start, 0) + 1
        ids = in_window.setdefault(a.window_start, [])
        for inc_id in member.get(a.id, []):
            if inc_id not in ids:
                ids.append(inc_id)
    overall = [s for s in report.stats if s.cohort is None]
    title = f"per window ({report.window})"
    if latest and len(overall) > latest:
        shown = [
            s
            for i, s in enumerate(overall)
            if i >= len(overall) - latest or s.window_start in per_window
        ]
        title += (
            f": the latest {latest} of {len(overall)} and every window with alerts "
            "(--windows 0 lists all)"
        )
        overall = shown
    table = Table(title=Text(title))
    for col in ("window", "n", "conf mean", "conf p10", "alerts", "incidents"):
        left = col in ("window", "incidents")
        table.add_column(col, justify="left" if left else "right", no_wrap=col == "window")

    def f(v: float | None) -> str:
        return "" if v is None else f"{v:.3f}"

    for s in overall:
        table.add_row(
            s.window_start[:16],
            str(s.n),
            f(s.conf_mean),
            f(s.conf_p10),
            str(per_window.get(s.window_start, 0) or ""),
            " ".join(in_window.get(s.window_start, [])),
        )
    out.print(table)
    counts = report.status_counts()  # without building the results read back
    out.print("results: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if not report.alerts:
        out.print(Text("no alerts", style="green"))
        return
    hint = "" if every_alert else "; --alerts lists them"
    out.print(
        Text(f"{len(report.alerts)} alert(s) in {len(incidents)} incident(s){hint}", style="red")
    )
    if every_alert:
        for a in report.alerts:  # bounded: a message may quote a logged value
            out.print("  " + _cut(a.message, _MESSAGE_CHARS))


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where to write the demo.")] = Path(
        "driftline-demo"
    ),
    days: Annotated[int, typer.Option(help="Days of simulated traffic (>= 60).")] = 60,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Train a classifier on scikit-learn's bundled digits, simulate traffic with
    incidents, log it, run the checks and print what was caught and when."""
    from driftline.demo import run_demo

    result = run_demo(directory, days=days, seed=seed, console=out)
    if not result.all_caught:
        raise typer.Exit(1)


@app.command()
def report(
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the HTML file.")] = Path(
        "report.html"
    ),
    since: Annotated[str | None, typer.Option(help="Start (ISO-8601, inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="End (ISO-8601, exclusive).")] = None,
    spec: SpecOpt = Path("driftline.yaml"),
    store: StoreOpt = Path("driftline.duckdb"),
) -> None:
    """Run the checks and write one self-contained HTML report (opens offline)."""
    from driftline.monitor import check_output_path, connect

    check_output_path(out_path, "--out", "report.html")
    _time_range(since, until)
    status = err.status("running checks", spinner="dots") if err.is_terminal else nullcontext()
    step("opening the spec and the store")
    with connect(store, spec) as mon, status:
        step("writing the report")
        path = mon.report(out_path, since, until)
    out.print(str(path))


# -- the one boundary: exceptions -> exit codes ------------------------------------------------
#: What each command is doing when it fails, until it says more precisely (:func:`step`).
_STEPS = {
    "init": "inferring the spec",
    "log": "logging",
    "fit": "fitting the profile",
    "check": "running checks",
    "report": "writing the report",
    "demo": "running the demo",
}
#: Optional extras by the top-level module they provide: (extra, package).
_EXTRAS = {"sklearn": ("demo", "scikit-learn"), "pyspark": ("spark", "pyspark")}
#: Characters of a message shown before it is cut (its full length stated).
_MESSAGE_CHARS = 2000
_INTERNAL_CHARS = 300


class _State:
    step = "starting"
    debug = False


_state = _State()


def step(name: str) -> None:
    """Name what the command is doing now; an internal error names it."""
    _state.step = name


@app.callback()
def root(
    ctx: typer.Context,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="On an internal error, print the full traceback (or set DRIFTLINE_DEBUG=1).",
        ),
    ] = False,
) -> None:
    """Watch a classification model in production."""
    _state.debug = _state.debug or debug
    command = ctx.invoked_subcommand or ""
    step(_STEPS.get(command, f"running `driftline {command}`"))


def _env_debug() -> bool:
    flag = os.environ.get("DRIFTLINE_DEBUG", "").strip().lower()
    return flag not in ("", "0", "false", "no", "off")


def _cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the full length stated."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def _error(message: str) -> None:
    err.print(Text.assemble(("error: ", "bold red"), _cut(message, _MESSAGE_CHARS)))


def _traceback(exc: BaseException) -> None:
    if _state.debug:
        traceback.print_exception(exc, file=sys.stderr)
        sys.stderr.flush()


def run(argv: list[str] | None = None, application: typer.Typer | None = None) -> int:
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``) and return its exit
    code: 0 fine, 1 alerts, 2 bad input / configuration / missing extra, 3 internal
    error, 130 interrupted. The only place that catches ``Exception``; ``BaseException``
    (``SystemExit``, ``GeneratorExit``) passes through."""
    _state.step = "starting"
    _state.debug = _env_debug()
    try:
        # standalone_mode=False: click returns an Exit's code and raises the rest here
        code = (application or app)(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
        return 130
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(exc.format_message())
        return int(getattr(exc, "exit_code", 2) or 2)
    except DriftlineError as exc:
        _traceback(exc)
        _error(str(exc))
        return 2
    except ImportError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in _EXTRAS:
            return _internal(exc)
        extra, package = _EXTRAS[top]
        _traceback(exc)
        _error(
            f"{_state.step} needs {package}, which is not installed ({exc}); install it "
            f"with: pip install 'driftline[{extra}]'"
        )
        return 2
    except OSError as exc:  # the system refused a file operation: path, permission, disk
        _traceback(exc)
        _error(
            f"{_state.step} failed: {exc}. Check that the path exists, is the kind of file "
            "expected (a file, not a directory) and can be read and written, then run again."
        )
        return 2
    except Exception as exc:
        if _interrupted(exc):
            return 130
        if _out_of_memory(exc):
            return 2
        return _internal(exc)
    return code if isinstance(code, int) else 0


def _interrupted(exc: BaseException) -> bool:
    """Ctrl-C inside a DuckDB query surfaces as ``RuntimeError('Query interrupted')``
    raised from the ``KeyboardInterrupt``, or, when it lands while DuckDB runs Python
    code of its own (reading a logged DataFrame), as a ``duckdb.Error`` carrying only the
    text ``KeyboardInterrupt: <EMPTY MESSAGE>``: still an interruption, not a bug."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt) or str(current).startswith("KeyboardInterrupt"):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _out_of_memory(exc: Exception) -> bool:
    """DuckDB ran out of the memory it may use: a cap set too low, not a bug."""
    import duckdb

    if not isinstance(exc, duckdb.OutOfMemoryException):
        return False
    _traceback(exc)
    cap = os.environ.get("DRIFTLINE_MEMORY_LIMIT") or "2GB (the default)"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else "out of memory"
    _error(
        f"{_state.step} ran out of memory: DuckDB may use {cap} (DRIFTLINE_MEMORY_LIMIT) "
        f"and reports {_cut(first, 200)}. Raise the cap, e.g. DRIFTLINE_MEMORY_LIMIT=4GB, "
        "or check a shorter range with --since/--until."
    )
    return True


def _internal(exc: Exception) -> int:
    _traceback(exc)
    text = " ".join(str(exc).split())
    described = (
        f"{type(exc).__name__}: {_cut(text, _INTERNAL_CHARS)}" if text else type(exc).__name__
    )
    hint = "" if _state.debug else " (run again with --debug for the traceback)"
    err.print(f"internal error while {_state.step}: {described}{hint}")
    return 3


def main() -> None:
    """Entry point of ``driftline`` and ``python -m driftline``."""
    sys.exit(run())


if __name__ == "__main__":
    main()

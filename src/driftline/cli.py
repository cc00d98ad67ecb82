"""The ``driftline`` command line: init, log, fit, thresholds, check, report, queue, demo,
robustness, explain.

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
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from driftline._catalog import QUEUE_POLICIES, OnDuplicate, QueueFormat, untimed_note
from driftline.errors import ConfigError, DriftlineError, name_list, plain, shorten

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


EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Where sources are read and the checks run: duckdb (in this process) or spark "
        "(a Spark session; needs the spark extra and Java 17).",
    ),
]
SparkConfOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--spark-conf",
        help="A Spark setting KEY=VALUE for --engine spark (repeatable), e.g. "
        "spark.master=local[4] or spark.driver.memory=8g.",
    ),
]
#: The engines --engine names.
ENGINES = ("duckdb", "spark")
PredictionsOpt = Annotated[
    str | None,
    typer.Option(
        "--predictions",
        help="Read predictions where they lie instead of the stored ones: a Parquet "
        "file, directory (one batch per file) or glob, a Delta table's folder, or "
        "(--engine spark) a catalog table. Nothing is copied into the store.",
    ),
]
LabelsOpt = Annotated[
    str | None,
    typer.Option(
        "--labels",
        help="Labels where they lie (id, label, optional labelled_at), as --predictions.",
    ),
]


def _spark_reads_predictions(engine: str, predictions: str | None, stored: str) -> None:
    """--engine spark reads sources only: without --predictions, a :class:`ConfigError`
    naming the fix (``stored``: what the command does on the stored predictions)."""
    if engine == "spark" and predictions is None:
        raise ConfigError(
            "--engine spark reads --predictions PATH_OR_TABLE; add it, or leave --engine out "
            f"to {stored} on DuckDB."
        )


@contextmanager
def _session(engine: str, conf: list[str] | None, *needs: tuple[str, object]) -> Iterator[Any]:
    """The Spark session --engine spark asks for (stopped on the way out), or None for
    duckdb; ``needs`` are (option, value) pairs that only --engine spark can take."""
    if engine not in ENGINES:
        raise ConfigError(
            f"--engine {shorten(engine)} is not an engine; use one of {name_list(ENGINES)}."
        )
    pairs = _pairs(conf, "--spark-conf", "KEY=VALUE, e.g. spark.master=local[4]")
    if engine == "duckdb":
        for option, value in [("--spark-conf", pairs), *needs]:
            if value:
                raise ConfigError(
                    f"{option} needs --engine spark; add --engine spark, or leave {option} out."
                )
        yield None
        return
    from driftline.engine.spark import session_for

    step("starting Spark")
    with session_for(dict(pairs)) as session:  # one this process already ran is left running
        yield session


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
                    rep = mon.log_reference(f, name=name)  # stored and fitted, or neither
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
                out.print(f"  profile -> {mon.profile_path}", markup=False, highlight=False)
                _print_rechosen(mon.profile)
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
        if rep.rows:
            line += f" (batch {shorten(rep.batch_id)})"
    out.print(line, markup=False, highlight=False)
    if rep.unknown_ids:
        err.print(
            f"  {rep.unknown_ids:,} label(s) for ids never predicted (first: "
            f"{name_list(rep.unknown_id_examples)}): stored, they apply once those "
            "predictions are logged; if they should match, check the id column.",
            markup=False,
            highlight=False,
        )
    for col in rep.missing_features:
        err.print(f"  schema skew: column {shorten(col)} missing (stored as null)", markup=False)
    for col in rep.extra_columns:
        err.print(f"  schema skew: unknown column {shorten(col)} (kept raw)", markup=False)
    for col, typ in rep.retyped.items():
        err.print(f"  schema skew: column {shorten(col)} arrived as {typ} (raw kept)", markup=False)


@app.command()
def fit(
    name: Annotated[str, typer.Option(help="Reference name.")] = "reference",
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            help="Fit on this reference where it lies instead of the stored one: a Parquet "
            "file, directory or glob, a Delta table's folder, or (--engine spark) a catalog "
            "table.",
        ),
    ] = None,
    engine: EngineOpt = "duckdb",
    spark_conf: SparkConfOpt = None,
    spec: SpecOpt = Path("driftline.yaml"),
    store: StoreOpt = Path("driftline.duckdb"),
) -> None:
    """Refit the profile from the stored reference (after editing the spec), or from
    --reference read where it lies (on Spark with --engine spark)."""
    from driftline.monitor import connect

    if engine == "spark" and reference is None:
        raise ConfigError(
            "--engine spark reads --reference PATH_OR_TABLE; add it, or leave --engine out "
            "to fit on the stored reference."
        )
    with _session(engine, spark_conf) as session:
        step("opening the spec and the store")
        with connect(store, spec, spark=session, create=reference is not None) as mon:
            step("fitting the profile")
            prof = mon.fit_profile(name=name, reference=reference)
            out.print(f"profile of {prof.n_rows_} reference rows -> {mon.profile_path}")
            _print_rechosen(prof)


def _print_rechosen(prof: Any) -> None:
    """Say that a refit chose the decision thresholds again, and how."""
    chosen = prof.thresholds_
    if chosen is not None:
        out.print(
            f"  thresholds chosen again on {chosen.labelled} labelled holdout rows, "
            f"objective {_objective(chosen.config)}",
            markup=False,
            highlight=False,
        )


def _objective(cfg: Any) -> str:
    """A threshold objective and its setting, as the thresholds command prints it."""
    how = str(cfg.objective)
    if cfg.objective == "fbeta":
        how += f" (beta {cfg.beta:g})"
    elif cfg.target is not None:
        how += f" >= {cfg.target:g}"
    elif cfg.cost is not None:
        how += f" {cfg.cost}"
    return how


@app.command()
def upgrade(store: StoreOpt = Path("driftline.duckdb")) -> None:
    """Rewrite a store made before in the storage format new stores use, where logging a
    day to a long history costs what it costs in a new store. The old file is kept as
    <store>.before-upgrade; it needs the store's size in free disk space."""
    from driftline.store import upgrade_store

    step("upgrading the store")
    done = upgrade_store(store)
    if done.backup is None:
        out.print(Text(f"{store} is already in storage format {done.after}; nothing to do."))
        return
    rows = sum(done.rows.values())
    out.print(
        Text(
            f"{store}: storage format {done.before} -> {done.after}, {len(done.rows)} tables "
            f"and {rows:,} rows copied and counted. The store as it was is kept as "
            f"{done.backup}; delete it once satisfied."
        )
    )


def _cost_matrix(text: str | None) -> list[list[float]] | None:
    """``--cost tn,fp,fn,tp`` as the 2x2 matrix ``[[tn, fp], [fn, tp]]``."""
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        raise ConfigError(
            f"--cost {shorten(text)} is not four numbers; give the costs of a true negative, "
            "a false positive, a false negative and a true positive, e.g. --cost 0,1,5,0."
        )
    return [values[:2], values[2:]]


@app.command()
def thresholds(
    objective: Annotated[
        str | None,
        typer.Option(help="f1, fbeta (with --beta), precision or recall (with --target), cost."),
    ] = None,
    beta: Annotated[float | None, typer.Option(help="Beta of the fbeta objective.")] = None,
    target: Annotated[
        float | None, typer.Option(help="Precision or recall to reach, in (0, 1].")
    ] = None,
    cost: Annotated[
        str | None,
        typer.Option(help="Costs tn,fp,fn,tp of the cost objective (per class, one-vs-rest)."),
    ] = None,
    band: Annotated[
        float | None, typer.Option(help="Half-width of the near-threshold band monitored.")
    ] = None,
    tolerance: Annotated[
        float | None, typer.Option(help="How far below the best objective the margin reaches.")
    ] = None,
    name: Annotated[str, typer.Option(help="Reference name.")] = "reference",
    as_json: Annotated[bool, typer.Option("--json", help="Print the thresholds as JSON.")] = False,
    spec: SpecOpt = Path("driftline.yaml"),
    store: StoreOpt = Path("driftline.duckdb"),
) -> None:
    """Choose each class's decision threshold on the labelled holdout.

    The thresholds are chosen on the stored reference (its label column) and stored in
    the profile; printed is their gain over the default (0.5, or the argmax): precision,
    recall and F1 before and after, and the margin around each threshold. Options
    override the spec's thresholds section."""
    import json

    from driftline.monitor import connect

    given: dict[str, Any] = {
        "objective": objective,
        "beta": beta,
        "target": target,
        "cost": _cost_matrix(cost),
        "band": band,
        "tolerance": tolerance,
    }
    step("opening the spec and the store")
    with connect(store, spec, create=False) as mon:
        step("choosing the thresholds")
        fitted = mon.thresholds(name=name, **given)
        path = mon.profile_path
    step("printing the thresholds")
    if as_json:
        sys.stdout.write(json.dumps(fitted.to_dict(), indent=1) + "\n")
        return
    _print_thresholds(fitted)
    out.print(f"stored in the profile -> {path}")


def _print_thresholds(fitted: Any) -> None:
    """One row per class: the default and the chosen threshold, the margin, and the
    holdout's precision, recall and F1 at each (class names printed as text)."""
    default = "0.5" if fitted.binary else "argmax"
    out.print(
        f"thresholds chosen on {fitted.labelled} labelled holdout rows, "
        f"objective {_objective(fitted.config)}"
    )
    table = Table(title=Text(f"gain over the default ({default}) on the holdout"))
    for col in ("class", "threshold", "margin", "precision", "recall", "F1"):
        table.add_column(col, justify="left" if col == "class" else "right", no_wrap=True)

    def move(t: Any, key: str) -> str:
        if t.after is None:
            return f"{t.before[key]:.2f}"
        return f"{t.before[key]:.2f}->{t.after[key]:.2f}"

    before_f1, after_f1 = [], []
    for cls, t in fitted.classes.items():
        chosen = "-" if t.threshold is None else f"{t.threshold:.4f}"
        margin = "" if t.margin is None else f"{t.margin[0]:.3f}..{t.margin[1]:.3f}"
        table.add_row(
            _cut(str(cls), 40),
            chosen,
            margin,
            move(t, "precision"),
            move(t, "recall"),
            move(t, "f1"),
        )
        before_f1.append(t.before["f1"])
        after_f1.append(t.after["f1"] if t.after is not None else t.before["f1"])
    out.print(table)
    if len(fitted.classes) > 1:
        b, a = sum(before_f1) / len(before_f1), sum(after_f1) / len(after_f1)
        out.print(f"macro F1 (one-vs-rest) {b:.3f} -> {a:.3f} ({a - b:+.3f})")
    for cls, t in fitted.classes.items():
        if t.note:
            out.print(f"class {shorten(cls)}: keeps its default, {t.note}")


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
    predictions: PredictionsOpt = None,
    labels: LabelsOpt = None,
    engine: EngineOpt = "duckdb",
    spark_conf: SparkConfOpt = None,
    results_table: Annotated[
        str | None,
        typer.Option(
            "--results-table",
            help="Also write results, alerts and incidents to the Spark tables NAME, "
            "NAME_alerts and NAME_incidents (--engine spark), replacing the windows decided.",
        ),
    ] = None,
    spec: SpecOpt = Path("driftline.yaml"),
    store: StoreOpt = Path("driftline.duckdb"),
) -> None:
    """Run the checks per window and cohort; print the incidents (newest first), a
    summary per window (the latest --windows and every window with alerts), and with
    --alerts every alert. Exit code 1 when any alert fires.

    Incremental: only windows with new or late rows since the last check are summarised
    and evaluated; the rest is read from the store (--full recomputes them).

    With --predictions (and --labels) the data is read where it lies, on DuckDB or with
    --engine spark as Spark jobs; the store keeps which files it has seen, the summaries
    and the results."""
    from driftline.monitor import connect

    _time_range(since, until)
    _spark_reads_predictions(engine, predictions, "check the stored predictions")
    status = err.status("running checks", spinner="dots") if err.is_terminal else nullcontext()
    with _session(engine, spark_conf, ("--results-table", results_table)) as session:
        step("opening the spec and the store")
        with connect(store, spec, spark=session, create=predictions is not None) as mon:
            with status:
                step("running checks")
                report = mon.check(
                    since,
                    until,
                    persist=persist,
                    full=full,
                    predictions=predictions,
                    labels=labels,
                    results_table=results_table,
                )
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
    per_window: dict[str, int] = {}
    window_of: dict[str, str] = {}
    for a in report.alerts:
        per_window[a.window_start] = per_window.get(a.window_start, 0) + 1
        window_of[a.id] = a.window_start
    in_window: dict[str, list[str]] = {}  # a window's incidents, in the order listed above
    for inc in incidents:
        for start in dict.fromkeys(window_of[i] for i in inc.alerts if i in window_of):
            in_window.setdefault(start, []).append(inc.id)
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
    if report.untimed:
        out.print(
            Text(
                f"{untimed_note(report.untimed)} Log them again with it, or point the "
                "timestamp role back at the column they have.",
                style="yellow",
            )
        )
    if report.labels.get("labels_unjudged"):
        out.print(
            Text(
                f"{report.labels['labels_unjudged']:,} stored label(s) are not scored: "
                f"{report.labels['unjudged_why']}.",
                style="yellow",
            )
        )
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
    text: Annotated[
        bool,
        typer.Option(
            "--text",
            help="A support-ticket text classifier instead (TF-IDF + logistic regression): "
            "users typing instead of pasting, a new topic; LIME words per class.",
        ),
    ] = False,
    torch: Annotated[
        bool,
        typer.Option(
            "--torch",
            help="A PyTorch network on the digits instead, monitored through the wrapper "
            "with its penultimate-layer embeddings: a noisy camera in one region.",
        ),
    ] = False,
    engine: EngineOpt = "duckdb",
    spark_conf: SparkConfOpt = None,
) -> None:
    """Train a classifier on scikit-learn's bundled digits, simulate traffic with
    incidents, log it, run the checks and print what was caught and when.

    With --engine spark the digits demo's days are written as Parquet files (one per
    day) and checked where they lie on a Spark session, as a prediction log in a lake."""
    if text and torch:
        raise ConfigError("choose one of --text and --torch (or neither, for the digits demo).")
    if engine != "duckdb" and (text or torch):
        raise ConfigError(
            f"--engine {engine} runs the digits demo; leave out --text and --torch, or use "
            "--engine duckdb."
        )
    if text:
        from driftline.demo_text import run_text_demo

        where = directory if directory != Path("driftline-demo") else Path("driftline-demo-text")
        result = run_text_demo(where, days=days, seed=seed, console=out)
    elif torch:
        from driftline.demo_torch import run_torch_demo

        where = directory if directory != Path("driftline-demo") else Path("driftline-demo-torch")
        result = run_torch_demo(where, days=days, seed=seed, console=out)
    else:
        from driftline.demo import run_demo

        where = (
            directory
            if directory != Path("driftline-demo") or engine == "duckdb"
            else Path(f"driftline-demo-{engine}")
        )
        with _session(engine, spark_conf) as session:
            result = run_demo(
                where, days=days, seed=seed, console=out, engine=engine, spark=session
            )
    if not result.all_caught:
        raise typer.Exit(1)


@app.command()
def report(
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the HTML file.")] = Path(
        "report.html"
    ),
    since: Annotated[str | None, typer.Option(help="Start (ISO-8601, inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="End (ISO-8601, exclusive).")] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            help="Also explain (LIME per class) and perturb (robustness) with this model "
            "(joblib/pickle; loading runs code from the file: give only files you trust).",
        ),
    ] = None,
    predictions: PredictionsOpt = None,
    labels: LabelsOpt = None,
    engine: EngineOpt = "duckdb",
    spark_conf: SparkConfOpt = None,
    spec: SpecOpt = Path("driftline.yaml"),
    store: StoreOpt = Path("driftline.duckdb"),
) -> None:
    """Run the checks and write one self-contained HTML report (opens offline).

    With --predictions (and --labels) the data is read where it lies, on DuckDB or with
    --engine spark as Spark jobs, as `driftline check` reads it."""
    from driftline.monitor import check_output_path, connect

    check_output_path(out_path, "--out", "report.html")
    _time_range(since, until)
    _spark_reads_predictions(engine, predictions, "report on the stored predictions")
    if model is not None and predictions is not None:  # refused before the model is loaded
        raise ConfigError(
            "--model explains stored predictions and the stored reference (LIME, "
            "robustness), and --predictions are not stored; log a sample with `driftline "
            "log FILE` and report on the store, or leave out the model (--model)."
        )
    status = err.status("running checks", spinner="dots") if err.is_terminal else nullcontext()
    with _session(engine, spark_conf) as session:
        step("opening the spec and the store")
        with connect(store, spec, spark=session, create=predictions is not None) as mon, status:
            step("writing the report")
            fitted = _load_model(model) if model is not None else None
            path = mon.report(
                out_path, since, until, model=fitted, predictions=predictions, labels=labels
            )
    out.print(str(path))


def _pairs(values: list[str] | None, option: str, what: str) -> list[tuple[str, str]]:
    """``NAME=VALUE`` option values as pairs; refuses one without ``=``."""
    found = []
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"{option} {shorten(item)} is not NAME=VALUE; give it as {what}.")
        found.append((name, value))
    return found


#: The format a queue file is written in, by its name's suffix (``--format`` overrides).
_QUEUE_SUFFIXES: dict[str, QueueFormat] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".json": "label-studio",
}


@app.command()
def queue(
    policy: Annotated[
        list[str] | None,
        typer.Option(
            help="Queue policy (repeatable; each picks up to --budget rows): "
            + ", ".join(QUEUE_POLICIES)
            + "."
        ),
    ] = None,
    budget: Annotated[int, typer.Option(help="Rows per policy.")] = 100,
    stratify: Annotated[
        str | None,
        typer.Option(help="Split the budget by 'class', 'cohort' or 'cohort:<column>'."),
    ] = None,
    allocation: Annotated[
        str, typer.Option(help="Split the budget 'equal'-ly or 'proportional' to candidates.")
    ] = "equal",
    band: Annotated[
        float | None, typer.Option(help="Distance to the decision boundary to keep.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the tie-break among equal priorities.")] = 0,
    since: Annotated[str | None, typer.Option(help="Start (ISO-8601, inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="End (ISO-8601, exclusive).")] = None,
    cohorts: Annotated[
        list[str] | None, typer.Option(help="Only this cohort value: COLUMN=VALUE (repeatable).")
    ] = None,
    classes: Annotated[
        list[str] | None, typer.Option(help="Only rows predicted as this class (repeatable).")
    ] = None,
    exclude_labelled: Annotated[
        bool | None,
        typer.Option(
            "--exclude-labelled/--no-exclude-labelled",
            help="Leave out ids that carry a label (default: yes, except below-threshold-correct).",
        ),
    ] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option(help="A class's decision threshold: CLASS=VALUE (repeatable)."),
    ] = None,
    fmt: Annotated[
        QueueFormat | None,
        typer.Option("--format", help="csv, jsonl or label-studio (default: from --out)."),
    ] = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write the queue here (default: print it).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the queue and its plan as JSON.")
    ] = False,
    predictions: PredictionsOpt = None,
    labels: LabelsOpt = None,
    engine: EngineOpt = "duckdb",
    spark_conf: SparkConfOpt = None,
    spec: SpecOpt = Path("driftline.yaml"),
    store: StoreOpt = Path("driftline.duckdb"),
) -> None:
    """Pick the predictions to label next (computed in the engine) and write them as
    CSV, JSON lines or Label Studio tasks (plus the labelling config they assume).

    With --predictions (and --labels) the candidates are read where they lie, on DuckDB
    or with --engine spark as Spark jobs, as `driftline check` reads them."""
    from driftline.monitor import check_output_path, connect
    from driftline.queues import queue_config, write_queue

    _spark_reads_predictions(engine, predictions, "queue the stored predictions")
    if out_path is not None:
        check_output_path(out_path, "--out", "tasks.json")
        if fmt is None:
            fmt = _QUEUE_SUFFIXES.get(out_path.suffix.lower())
            if fmt is None:
                raise ConfigError(
                    f"--out {shorten(str(out_path))} does not say its format; pass --format "
                    "csv, jsonl or label-studio, or name the file .csv, .jsonl or .json."
                )
    elif fmt is not None:
        raise ConfigError("--format needs --out, the file to write; add --out FILE.")
    cohort_values: dict[str, list[str]] = {}
    for col, value in _pairs(cohorts, "--cohorts", "COLUMN=VALUE, e.g. segment=north"):
        cohort_values.setdefault(col, []).append(value)
    thresholds: dict[str, float] = {}
    for cls, value in _pairs(threshold, "--threshold", "CLASS=VALUE, e.g. spam=0.7"):
        try:
            thresholds[cls] = float(value)
        except ValueError as exc:
            raise ConfigError(
                f"--threshold {shorten(cls + '=' + value)}: {shorten(value)} is not a number; "
                "give a score between 0 and 1."
            ) from exc
    options: dict[str, Any] = {
        "budget": budget,
        "stratify": stratify,
        "allocation": allocation,
        "band": band,
        "seed": seed,
        "since": since,
        "until": until,
        "cohorts": cohort_values,
        "classes": _split(classes),
        "exclude_labelled": exclude_labelled,
    }
    if policy:
        options["policy"] = _split(policy)
    config = queue_config(**options)
    with _session(engine, spark_conf) as session:
        step("opening the spec and the store")
        with connect(store, spec, spark=session, create=predictions is not None) as mon:
            step("building the queue")
            result = mon.queue(
                config,
                thresholds=thresholds or None,
                predictions=predictions,
                labels=labels,
            )
    for s in result.strata:
        where = f" {shorten(s['stratum'])}" if s["stratum"] else ""
        have = "" if s["available"] is None else f" of {s['available']:,} candidates"
        err.print(
            f"{s['policy']}{where}: {s['picked']:,} picked (quota {s['quota']:,}{have})",
            markup=False,
            highlight=False,
        )
    if as_json:
        sys.stdout.write(result.to_json() + "\n")
    if out_path is None:
        if as_json:
            return
        table = Table(title=Text(f"label queue ({len(result.items)} rows)"))
        for col in ("policy", "rank", "id", "prediction", "confidence", "priority", "stratum"):
            table.add_column(
                col, justify="right" if col in ("rank", "confidence", "priority") else "left"
            )
        for i in result.items:
            table.add_row(
                i.policy,
                str(i.rank),
                _cut(i.id, 80),
                _cut(i.prediction, 40),
                f"{i.confidence:.3f}",
                f"{i.priority:.3f}",
                _cut(i.stratum, 40),
            )
        out.print(table)
        return
    assert fmt is not None
    step("writing the queue")
    for path in write_queue(result, out_path, fmt):
        out.print(str(path), markup=False, highlight=False)


ModelOpt = Annotated[
    Path,
    typer.Option(
        "--model",
        help="The fitted model, saved with joblib.dump or pickle (loading runs code from "
        "the file: give only files you trust). It must have predict_proba.",
    ),
]


def _load_model(path: Path) -> Any:
    if not path.is_file():
        raise ConfigError(
            f"--model {shorten(str(path))} is not a file; save the fitted model with "
            "joblib.dump(model, 'model.joblib') and pass that path."
        )
    try:
        try:
            import joblib
        except ImportError:  # joblib comes with scikit-learn; a plain pickle needs neither
            import pickle

            with path.open("rb") as fh:
                return pickle.load(fh)
        return joblib.load(path)
    except Exception as exc:  # an unreadable model file is bad input, not our failure
        raise ConfigError(
            f"--model {shorten(str(path))} could not be loaded ({type(exc).__name__}: "
            f"{shorten(str(exc), 200)}); save the fitted model with joblib.dump(model, "
            "path) in an environment with the same libraries."
        ) from exc


@app.command()
def robustness(
    model: ModelOpt,
    source: Annotated[
        str, typer.Option(help="Rows to perturb: 'reference' (training data) or 'predictions'.")
    ] = "reference",
    n: Annotated[int, typer.Option("--n", help="How many rows (drawn by seed).")] = 500,
    perturbation: Annotated[
        list[str] | None,
        typer.Option("--perturbation", help="Perturbations to run (default: all that apply)."),
    ] = None,
    rate: Annotated[float, typer.Option(help="Noise rate per character/word/value.")] = 0.05,
    numeric_scale: Annotated[
        float, typer.Option(help="Gaussian noise, in reference standard deviations.")
    ] = 0.1,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    fail_above: Annotated[
        float | None,
        typer.Option(help="Exit 1 when a perturbation's flip rate in any class exceeds this."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    spec: SpecOpt = Path("driftline.yaml"),
    store: StoreOpt = Path("driftline.duckdb"),
) -> None:
    """Perturb stored rows with in-domain noise (typos, case, whitespace, punctuation;
    Gaussian noise; category swaps) and report per perturbation and class how often the
    model's prediction flips."""
    import json

    from driftline.monitor import connect

    fitted = _load_model(model)
    with connect(store, spec, create=False) as mon:
        step("perturbing rows")
        result = mon.robustness(
            fitted,
            source=source,
            n=n,
            seed=seed,
            perturbations=_split(perturbation),
            rate=rate,
            numeric_scale=numeric_scale,
        )
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), default=str) + "\n")
    else:
        table = Table("perturbation", "class", "rows", "flipped", "flip rate", "mean |change|")
        for r in result.results:
            table.add_row(
                r.perturbation,
                r.klass,
                str(r.rows),
                str(r.flipped),
                f"{r.flip_rate:.3f}",
                f"{r.mean_abs_change:.4f}",
            )
        out.print(table)
        for f in result.flipped[:10]:
            out.print(
                f"flipped ({f.perturbation}) {f.before} -> {f.after}: {_cut(str(f.perturbed), 200)}"
            )
    if fail_above is not None and any(r.flip_rate > fail_above for r in result.results):
        raise typer.Exit(1)


@app.command()
def explain(
    model: ModelOpt,
    ids: Annotated[
        list[str] | None, typer.Option("--id", help="Explain these logged predictions.")
    ] = None,
    classes: Annotated[
        list[str] | None,
        typer.Option("--class", help="Aggregate LIME over rows predicted as these classes."),
    ] = None,
    n: Annotated[int, typer.Option("--n", help="Rows per class.")] = 50,
    select: Annotated[
        str, typer.Option(help="'random' (by seed) or 'least-confident' rows per class.")
    ] = "random",
    top: Annotated[int, typer.Option(help="Terms shown per class.")] = 10,
    num_samples: Annotated[int, typer.Option(help="LIME's perturbed samples per row.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    spec: SpecOpt = Path("driftline.yaml"),
    store: StoreOpt = Path("driftline.duckdb"),
) -> None:
    """LIME for logged predictions: per id the words or features that pushed the
    prediction, or per class the terms with the largest mean weight over n rows."""
    import json

    from driftline.monitor import connect

    if select not in ("random", "least-confident"):
        raise ConfigError(f"--select must be 'random' or 'least-confident'; got {select!r}.")
    fitted = _load_model(model)
    with connect(store, spec, create=False) as mon:
        step("explaining with LIME")
        found = mon.explain(
            fitted,
            ids=_split(ids),
            classes=_split(classes),
            n=n,
            select=select,
            seed=seed,
            num_samples=num_samples,
            **({} if ids else {"top": top}),
        )
    if as_json:
        sys.stdout.write(json.dumps([e.to_dict() for e in found], default=str) + "\n")
        return
    for e in found:
        if hasattr(e, "terms"):
            left = f"; {e.left_out} left out: values LIME cannot perturb" if e.left_out else ""
            out.print(Text(f"class {e.klass} ({e.rows} rows, {e.selection}{left})", style="bold"))
            for t in e.terms:
                out.print(
                    f"  {t.mean:+.4f} ±{t.std:.4f}  in {t.frequency:.0%}  {_cut(t.term, 120)}"
                )
        else:
            out.print(Text(f"class {e.klass} (p = {e.probability:.3f})", style="bold"))
            for term, weight in e.weights:
                out.print(f"  {weight:+.4f}  {_cut(term, 120)}")


# -- the one boundary: exceptions -> exit codes ------------------------------------------------
#: What each command is doing when it fails, until it says more precisely (:func:`step`).
_STEPS = {
    "init": "inferring the spec",
    "log": "logging",
    "fit": "fitting the profile",
    "check": "running checks",
    "report": "writing the report",
    "queue": "building the label queue",
    "demo": "running the demo",
    "robustness": "loading the model",
    "explain": "loading the model",
}
#: Optional extras by the top-level module they provide: (extra, package).
_EXTRAS = {
    "sklearn": ("demo", "scikit-learn"),
    "pyspark": ("spark", "pyspark"),
    "lime": ("explain", "lime"),
    "torch": ("torch", "torch"),
}
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
    """``text`` as one line of plain text: its control and format characters escaped (a
    logged ``\\n``, ``\\x1b`` or ``\\u202e`` is shown as that, never sent to the
    terminal), cut to ``limit`` characters with the full length stated.

    >>> print(_cut("eu" + chr(10) + chr(27) + "[31m", 80))
    eu\\n\\x1b[31m
    """
    text = plain(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def _error(message: str) -> None:
    err.print(Text.assemble(("error: ", "bold red"), _cut(message, _MESSAGE_CHARS)))


def _reflow_help(application: typer.Typer) -> None:
    """Give each command the help of its docstring with every paragraph on one line, so
    the terminal wraps it at its width: the help screens otherwise keep the docstring's
    line breaks past the first paragraph and break lines mid-sentence."""
    import inspect

    for info in application.registered_commands:
        if info.help is None and info.callback is not None and info.callback.__doc__:
            paragraphs = inspect.cleandoc(info.callback.__doc__).split("\n\n")
            info.help = "\n\n".join(" ".join(p.split()) for p in paragraphs)


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


_reflow_help(app)


def main() -> None:
    """Entry point of ``driftline`` and ``python -m driftline``."""
    from driftline._process import tune_collector

    tune_collector()
    sys.exit(run())


if __name__ == "__main__":
    main()

"""The ``driftline`` command line: init, log, fit, check, demo.

Exit codes: 0 fine, 1 ``check`` found alerts (for CI gates and cron), 2 bad input or
configuration (the message says what and how to fix it).
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from driftline._catalog import OnDuplicate
from driftline.errors import ConfigError, DriftlineError, name_list, shorten

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Watch a classification model in production: predictions over time, "
    "training-serving skew and honest drift alerts.",
)
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

SpecOpt = Annotated[Path, typer.Option("--spec", help="Spec YAML (column roles, window).")]
StoreOpt = Annotated[Path, typer.Option("--store", help="The DuckDB file.")]


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
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

    with connect(store, spec) as mon:
        prof = mon.fit_profile(name=name)
        out.print(f"profile of {prof.n_rows_} reference rows -> {mon.profile_path}")


@app.command()
def check(
    since: Annotated[str | None, typer.Option(help="Start (ISO-8601, inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="End (ISO-8601, exclusive).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
    persist: Annotated[bool, typer.Option(help="Store results and alerts.")] = True,
    spec: SpecOpt = Path("driftline.yaml"),
    store: StoreOpt = Path("driftline.duckdb"),
) -> None:
    """Run the checks per window and cohort. Exit code 1 when any alert fires."""
    from driftline.monitor import connect

    status = err.status("running checks", spinner="dots") if err.is_terminal else nullcontext()
    with connect(store, spec) as mon, status:
        report = mon.check(since, until, persist=persist)
    if as_json:
        sys.stdout.write(report.to_json() + "\n")
    else:
        _print_report(report)
    if report.has_alerts:
        raise typer.Exit(1)


def _print_report(report: Any) -> None:
    overall = [s for s in report.stats if s.cohort is None]
    table = Table(title=f"predictions per window ({report.window})")
    for col in ("window", "n", "conf mean", "p10", "p50", "p90", "rolling mean"):
        table.add_column(col, justify="right" if col != "window" else "left")

    def f(v: float | None) -> str:
        return "" if v is None else f"{v:.3f}"

    for s in overall:
        table.add_row(
            s.window_start[:16],
            str(s.n),
            f(s.conf_mean),
            f(s.conf_p10),
            f(s.conf_p50),
            f(s.conf_p90),
            f(s.rolling_mean),
        )
    out.print(table)
    counts: dict[str, int] = {}
    for r in report.results:
        counts[r.status] = counts.get(r.status, 0) + 1
    out.print("results: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if not report.alerts:
        out.print("[green]no alerts[/green]")
        return
    out.print(f"[red]{len(report.alerts)} alert(s)[/red]")
    for a in report.alerts:
        out.print("  " + a.message, markup=False)


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
    from driftline.monitor import connect

    status = err.status("running checks", spinner="dots") if err.is_terminal else nullcontext()
    with connect(store, spec) as mon, status:
        path = mon.report(out_path, since, until)
    out.print(str(path), markup=False, highlight=False, soft_wrap=True)


def main() -> None:
    """Entry point: one boundary that turns driftline errors into exit code 2."""
    try:
        code = app(standalone_mode=False)  # click returns an Exit's code here
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except DriftlineError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(2)
    except typer.Abort:
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(exc.format_message(), markup=False)
        sys.exit(exc.exit_code or 2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

"""Shared fixtures: a seeded predictions-DataFrame factory and a spec factory.

The two agree on column names: ``id``, ``ts``, ``pred``, one score column per class
(``score_a``, ...) or one list column ``probs``, ``label``, the cohort ``segment`` and the
features ``x``, ``y`` (numeric) and ``color`` (categorical). Also one local Spark
session (``spark``) for every Spark test of the run, and ``run_cli``, the command line
run in this process through its real exit-code boundary.

Nothing here skips. A test that asks for ``spark`` without pyspark installed fails and
names the extra to install; deselect Spark tests explicitly with ``-m "not spark"``.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pytest

CLASSES = ("a", "b", "c")

SpecFactory = Callable[..., dict[str, Any]]
PredictionsFactory = Callable[..., pd.DataFrame]


def _spec(*, list_scores: bool = False, **overrides: Any) -> dict[str, Any]:
    scores: dict[str, Any] = (
        {"column": "probs", "classes": list(CLASSES)}
        if list_scores
        else {"columns": {c: f"score_{c}" for c in CLASSES}}
    )
    spec: dict[str, Any] = {
        "id": "id",
        "timestamp": "ts",
        "prediction": "pred",
        "scores": scores,
        "label": "label",
        "cohorts": ["segment"],
        "features": {"numeric": ["x", "y"], "categorical": ["color"]},
    }
    spec.update(overrides)
    return spec


def _predictions(
    n: int = 20,
    seed: int = 0,
    *,
    id_prefix: str = "r",
    start: str = "2024-01-01",
    list_scores: bool = False,
    freq: str = "h",
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(len(CLASSES)), size=n)
    df = pd.DataFrame(
        {
            "id": [f"{id_prefix}{i}" for i in range(n)],
            "ts": pd.date_range(start, periods=n, freq=freq, tz="UTC"),
            "pred": np.array(CLASSES)[probs.argmax(axis=1)],
        }
    )
    if list_scores:
        df["probs"] = [list(row) for row in probs]
    else:
        for j, c in enumerate(CLASSES):
            df[f"score_{c}"] = probs[:, j]
    df["label"] = rng.choice(CLASSES, size=n)
    df["segment"] = rng.choice(["north", "south"], size=n)
    df["x"] = rng.normal(size=n)
    df["y"] = rng.normal(10.0, 2.0, size=n)
    df["color"] = rng.choice(["red", "green", "blue"], size=n)
    return df


@pytest.fixture(scope="session")
def make_spec() -> SpecFactory:
    """``make_spec(list_scores=False, **top_level_overrides)`` -> a spec mapping."""
    return _spec


@pytest.fixture(scope="session")
def make_predictions() -> PredictionsFactory:
    """``make_predictions(n=20, seed=0, id_prefix='r', start=..., list_scores=False,
    freq='h')``: one row every ``freq`` from ``start``."""
    return _predictions


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local Spark session (2 cores, UTC, no UI, warehouse and metastore in a temporary
    folder) from driftline's own builder, stopped at the end of the session."""
    from driftline.errors import DriftlineError

    try:
        from driftline.engine.spark import spark_session

        session = spark_session({"spark.app.name": "driftline-tests"})
    except DriftlineError as exc:
        pytest.fail(
            f"the Spark engine tests cannot start Spark: {exc} Or deselect them with "
            '`-m "not spark"`.',
            pytrace=False,
        )
    yield session
    session.stop()


@dataclass(frozen=True)
class CliResult:
    """What one ``driftline`` command did: its exit code and everything it printed."""

    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


class RunCli(Protocol):
    def __call__(
        self, *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> CliResult: ...


@pytest.fixture
def run_cli(capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> RunCli:
    """``run_cli(*args, cwd=None, env=None)``: ``driftline ARGS`` in this process.

    It runs ``driftline.cli.main`` with ``sys.argv`` set as the installed entry point
    sets it, so the exit code comes from the one boundary that maps exceptions to codes
    (``cli.run``; Typer's ``CliRunner`` would bypass it) and usage messages name the
    program ``driftline``. Output is captured at the file descriptors, as a subprocess's
    would be: not a terminal, so no colour, and anything DuckDB wrote to the real stdout
    would show. ``cwd`` and ``env`` apply to the one call; ``DRIFTLINE_DEBUG`` is unset
    for the test unless it sets it (the consoles print data as text whatever the
    environment; tests with hostile values check that).
    """
    from driftline import cli

    monkeypatch.delenv("DRIFTLINE_DEBUG", raising=False)

    def run(
        *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> CliResult:
        capfd.readouterr()  # what the test printed before is not the command's
        with monkeypatch.context() as scoped:
            if cwd is not None:
                scoped.chdir(cwd)
            for name, value in (env or {}).items():
                scoped.setenv(name, value)
            scoped.setattr(sys, "argv", ["driftline", *map(str, args)])
            collector = gc.get_threshold()  # main tunes its process's collector: not ours
            try:
                cli.main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            finally:
                gc.set_threshold(*collector)
        captured = capfd.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run

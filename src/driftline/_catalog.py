"""Shared vocabulary: sentinels, reserved names, the table of checks and the type families
every layer agrees on.

A leaf module: it imports nothing from driftline, so the spec, the store, the engine and
the renderers can all validate against it without importing one another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

__all__ = [
    "BASELINE_KINDS",
    "CHECKS",
    "DEFAULT_CHECK_FLOORS",
    "DEFAULT_FLOORS",
    "DRIFT_CHECKS",
    "INTERNAL_PREFIX",
    "MISSING_COHORT",
    "ON_DUPLICATE",
    "OTHER",
    "OVERALL",
    "QUEUE_FORMATS",
    "QUEUE_POLICIES",
    "SOURCE_FILE",
    "STORE_COLUMNS",
    "WHOLE_LIMIT",
    "BaselineKind",
    "CheckInfo",
    "OnDuplicate",
    "QueueFormat",
    "QueuePolicy",
    "Status",
    "fractional",
    "type_family",
    "untimed_note",
    "value_text_sql",
]

#: Cohort value of the overall scope (every row of a window).
OVERALL = "__all__"
#: Category that pools values outside the reference's categories.
OTHER = "__other__"
#: Cohort value shown for rows whose cohort column is null.
MISSING_COHORT = "(missing)"
#: Prefix of the batch id of a file read in place (``driftline.sources``): the rest is
#: the file's absolute path.
SOURCE_FILE = "file:"

#: Which reference a cohort value is judged against (``Profile.cohort_baseline``):
#: ``own``, its own baseline; else the overall one, because the value has fewer reference
#: rows than ``checks.cohort_baseline_min_rows`` (``few_rows``), never occurs in the
#: reference (``new_value``: a new segment), or the profile holds no baselines of its
#: column (``unavailable``: fitted by an older driftline, or the reference lacks it).
BaselineKind = Literal["own", "few_rows", "new_value", "unavailable"]
BASELINE_KINDS: tuple[str, ...] = get_args(BaselineKind)

#: The largest magnitude of a number kept in moments: beyond it a value counts with
#: +-inf (out of range, its own share, out of moments). Its square and the sums of squares
#: of any number of rows stay finite; at the largest double, one value's variance
#: overflowed and every check of the store failed.
MOMENT_LIMIT = 1e100
#: Prefix of every column driftline adds inside a query (window keys, bins, tokens, ...).
#: No user column may start with it, so no user column can be shadowed by one of ours.
INTERNAL_PREFIX = "__dl_"

#: Columns the store adds to the predictions table; a spec or a batch may not use these
#: names (compared case-insensitively: DuckDB identifiers are).
STORE_COLUMNS = frozenset({"confidence", "ingested_at", "_batch", "_raw"})

#: What logging predictions does with a prediction id the store already holds: refuse
#: the batch whole (the default: a file logged twice would count twice), or skip those
#: rows and store the new ones. The CLI's ``--on-duplicate`` choices and the API check.
OnDuplicate = Literal["refuse", "skip"]
ON_DUPLICATE: tuple[str, ...] = get_args(OnDuplicate)

#: The label-queue policies (what to label next; see :mod:`driftline.queues`): the one
#: list the config, the CLI's ``--policy`` choices and the engine's priorities share.
QueuePolicy = Literal[
    "least-confident",
    "margin",
    "entropy",
    "high-confidence",
    "near-threshold",
    "below-threshold-correct",
]
QUEUE_POLICIES: tuple[str, ...] = get_args(QueuePolicy)
#: The formats a label queue is written in (``driftline queue --format``).
QueueFormat = Literal["csv", "jsonl", "label-studio"]
QUEUE_FORMATS: tuple[str, ...] = get_args(QueueFormat)

#: Materiality floors: the smallest effect that alerts, per method, whatever the window
#: size (``spec.checks.floors`` overrides them per method, per check and per column). A
#: result beyond its calibrated no-drift bound but not beyond its floor *warns*: the
#: change is real at this window size, too small to act on. Effects are the statistic
#: itself, except ``chi2`` (Cramer's V) and ``wasserstein`` (in reference standard
#: deviations). A drift statistic's effect meets its floor by what it has beyond its
#: no-drift mean at the window's size (``|effect| - mean > floor``, the mean from the same
#: calibration as the bound), so what chance adds to a small window never counts.
#:
#: The distances' floors come from evidence (``benchmarks/bench_nannyml.py``,
#: ``benchmarks/results/nannyml.json``). NannyML's multiclass set drifts by little (KS
#: 0.05-0.09 on its numeric columns, total variation 0.04-0.14 on its categorical ones)
#: and loses 19 points of accuracy by it: a shift that size is material. At its 10-chunk
#: windows (6,000 rows, a 60,000-row reference) the smallest drifted effects beyond the
#: no-drift mean are: Jensen-Shannon 0.026 (``is_customer``, a binary column), PSI 0.039
#: (20 bins), KS 0.037, Wasserstein 0.060 sd, Cramer's V 0.017 (every drifted cell of the
#: car-loan set is larger). Each floor sits below its smallest with room for a chunk's
#: noise. What stays out of reach: PSI on a categorical column (not the default) puts
#: ``is_customer``'s shift at 0.005, so there it warns. The no-drift side is the bound's:
#: in the scenario suite's no-drift streams (3 x 20 windows of 20,000 rows, a 100,000-row
#: reference; default methods and KS / chi2) three results passed their bound by chance,
#: at most 0.010 beyond their no-drift mean (Cramer's V of ``payment`` in a 7,962-row
#: cohort: 0.019 before taking the mean off, which would have alerted); with these floors
#: the suite alerts every injected drift at onset and nothing else, and 100 no-drift
#: windows of 1M rows raise 0 alerts (62 of their 5,600 drift results warn). The floors
#: were 0.1 for every distance before, which left 22 of the 35 drifted multiclass cells
#: at warn.
DEFAULT_FLOORS: dict[str, float] = {
    "chi2": 0.015,
    "jensen_shannon": 0.02,
    "ks": 0.03,
    "psi": 0.02,
    "wasserstein": 0.05,
    "mean_difference": 0.02,
    "missing_fraction_change": 0.05,
    "rate": 0.01,
    "schema": 0.0,
    # accuracy points: a drop of realised accuracy smaller than this does not alert
    "accuracy_drop": 0.03,
    # the domain-classifier AUC beyond its no-drift mean (``embedding_drift``): 0.05 is a
    # classifier right on 55% of pairs, where chance alone gives 50%
    "domain_auc": 0.05,
}

#: Default floors of single checks, over their method's: the predicted-class mix (and
#: its distance from the class prior) alerts on Jensen-Shannon distances beyond 0.05, as
#: before: a moved class mix is the model's output moving, and no evidence bears on it
#: yet. Text style features keep 0.1: NannyML's sets have no text, and in the tests'
#: scenario streams a small cohort's style feature passed its bound by chance at 0.059
#: beyond its no-drift mean (PSI of ``comment:oov``, 390 rows, before the onset).
DEFAULT_CHECK_FLOORS: dict[str, float] = {
    "class_mix": 0.05,
    "class_prior": 0.05,
    "text_drift": 0.1,
}


# -- the checks ---------------------------------------------------------------------------
Status = Literal["ok", "warn", "alert", "insufficient", "no_data"]


@dataclass(frozen=True)
class CheckInfo:
    name: str
    method: str
    description: str


CHECKS: dict[str, CheckInfo] = {
    info.name: info
    for info in [
        CheckInfo(
            "class_mix",
            "jensen_shannon",
            "predicted-class mix vs the reference's predicted mix (Jensen-Shannon distance)",
        ),
        CheckInfo(
            "confidence_shift",
            "mean_difference",
            "mean confidence (max score) minus the reference's mean confidence",
        ),
        CheckInfo(
            "missing_fraction",
            "missing_fraction_change",
            "share of missing (null or NaN) values minus the reference's share",
        ),
        CheckInfo(
            "out_of_range",
            "rate",
            "share of non-missing values outside the reference's [min, max]",
        ),
        CheckInfo(
            "unseen_category",
            "rate",
            "share of values not among the reference's categories (bound: Good-Turing)",
        ),
        CheckInfo(
            "class_prior",
            "jensen_shannon",
            "predicted-class mix vs the training class prior (labels of the reference), beyond "
            "the distance the model already had on the reference",
        ),
        CheckInfo(
            "feature_drift",
            "spec.drift",
            "distribution of a numeric or categorical feature vs the reference, by the "
            "method spec.drift chooses",
        ),
        CheckInfo(
            "text_drift",
            "spec.drift",
            "distribution of a text style feature (length, digits, OOV rate, ...) vs the reference",
        ),
        CheckInfo(
            "score_drift",
            "spec.drift",
            "distribution of each class's score (column score:<class>; a binary model: the "
            "positive class) vs the reference, by spec.drift's numeric method: scores can move "
            "before the predicted class or the mean confidence does",
        ),
        CheckInfo(
            "threshold_above",
            "mean_difference",
            "share of rows whose class score is at or above the class's decision threshold "
            "(chosen on the holdout) minus the holdout's share (column: the class)",
        ),
        CheckInfo(
            "threshold_band",
            "mean_difference",
            "share of rows whose class score is within thresholds.band of the class's "
            "decision threshold minus the holdout's share (column: the class)",
        ),
        CheckInfo(
            "threshold_none",
            "mean_difference",
            "share of rows no class's score clears its decision threshold minus the "
            "holdout's share (a multi-class model with thresholds)",
        ),
        CheckInfo(
            "embedding_drift",
            "domain_auc",
            "embeddings vs the reference's, pooled (column <embedding>) and per predicted class "
            "(<embedding>:<class>): cross-validated domain-classifier AUC against its no-drift "
            "band from reference-vs-reference splits, with the MMD and its permutation p-value",
        ),
        CheckInfo("missing_column", "schema", "share of rows from batches lacking a column"),
        CheckInfo(
            "type_change",
            "schema",
            "share of rows from batches whose column type differs from the reference",
        ),
        CheckInfo("extra_column", "schema", "columns logged that the spec does not know"),
        CheckInfo(
            "cohort_baseline",
            "schema",
            "a cohort value judged against the overall reference rather than its own: too "
            "few reference rows (checks.cohort_baseline_min_rows), a profile without "
            "per-cohort baselines, or a value the reference never had (a new segment: warns)",
        ),
        CheckInfo(
            "timestamp_era",
            "schema",
            "share of rows timestamped before the reference's first timestamp or after the "
            "time of the check, by more than checks.timestamp_tolerance (overall scope; names "
            "the first ids)",
        ),
        CheckInfo(
            "performance",
            "accuracy_drop",
            "realised accuracy of the window's labelled predictions (latest label per id, "
            "attributed to the prediction's window) below the holdout's, beyond a bound "
            "bootstrapped from the holdout at the window's labelled count",
        ),
        CheckInfo(
            "performance_estimate",
            "accuracy_estimate",
            "accuracy estimated before labels arrive, from the confidence calibrated on the "
            "holdout (isotonic or temperature scaling), with its band; reported, never alerts",
        ),
        CheckInfo(
            "performance_gap",
            "accuracy_estimate",
            "realised minus estimated accuracy once labels arrive; warns when the realised "
            "accuracy lies outside the estimate's band, never alerts",
        ),
    ]
}


#: Checks that compare distributions column by column (the drift heatmap rows).
DRIFT_CHECKS = ("feature_drift", "text_drift", "score_drift")


# -- type families ------------------------------------------------------------------------
_NUMERIC_TYPES = frozenset(
    [
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "UHUGEINT",
        "FLOAT",
        "DOUBLE",
        "REAL",
    ]
)
_STRING_TYPES = frozenset({"VARCHAR", "STRING", "TEXT"})
_TIME_TYPES = frozenset({"DATE", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"})


def type_family(duck_type: str) -> str:
    """Collapse a DuckDB type to the family the schema compares: numeric, string, ..."""
    t = duck_type.upper()
    if t.endswith("]") or t.startswith(("LIST", "ARRAY")):  # before 'VARCHAR[]' reads as string
        return "list"
    if t.startswith("DECIMAL") or t in _NUMERIC_TYPES:
        return "numeric"
    if t in _STRING_TYPES or t.startswith("VARCHAR"):
        return "string"
    if t == "BOOLEAN":
        return "boolean"
    if t in _TIME_TYPES or t.startswith("TIMESTAMP"):
        return "temporal"
    return t.lower()


#: Whole numbers of a fractional column at most this large (in magnitude) are spelled as
#: integers when they are a cohort value or a category (:func:`value_text_sql`); beyond it
#: a double no longer holds every integer, and the number keeps its float spelling.
WHOLE_LIMIT = 1e15


def fractional(duck_type: str) -> bool:
    """Whether a column of this DuckDB type holds fractional numbers (a float or a
    decimal), whose values read as text otherwise than the same whole numbers as
    integers (``3.0``, ``3.00`` against ``3``)."""
    t = duck_type.upper()
    return t.startswith(("DECIMAL", "NUMERIC")) or t in (
        "FLOAT",
        "DOUBLE",
        "REAL",
        "FLOAT4",
        "FLOAT8",
    )


def value_text_sql(expr: str, duck_type: str) -> str:
    """SQL of a cohort value or category as driftline spells it: the value as text, and
    a whole number of a fractional column as the integer it is (``3.0`` reads ``3``, as
    in an integer column). pandas turns an integer column with one null into floats: its
    values would otherwise be new cohort values and unseen categories in that batch only.
    NaN is missing (null), as in a numeric column; an instant (a timestamp with a time
    zone) reads as its UTC wall time, as a naive timestamp does. The Ibis form is
    :func:`driftline.engine.summaries.value_text`.

    >>> value_text_sql('"x"', "BIGINT")
    'CAST("x" AS VARCHAR)'
    """
    if "TIME ZONE" in duck_type.upper():  # an instant: its UTC wall time (stores run in UTC)
        return f"CAST(CAST({expr} AS TIMESTAMP) AS VARCHAR)"
    if not fractional(duck_type):
        return f"CAST({expr} AS VARCHAR)"
    x = f"CAST({expr} AS DOUBLE)"
    return (
        f"CASE WHEN isnan({x}) THEN NULL "
        f"WHEN abs({x}) < {WHOLE_LIMIT:.0f} AND {x} = floor({x}) "
        f"THEN CAST(CAST({x} AS BIGINT) AS VARCHAR) ELSE CAST({x} AS VARCHAR) END"
    )


def untimed_note(count: int) -> str:
    """What a report says of ``count`` stored predictions left out of every window for
    want of a value in the timestamp column the spec names now (the CLI and the HTML
    report say it alike)."""
    return (
        f"{count:,} stored prediction(s) have no value in the timestamp column the spec "
        "names now (their batches did not bring it): left out of every window."
    )

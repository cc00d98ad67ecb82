"""Label queues: which predictions to label next, within a budget.

``Monitor.queue(policy="least-confident", budget=100, stratify="class")`` and
``driftline queue --policy least-confident --budget 100 --stratify class --format
label-studio --out tasks.json`` take the same options, :class:`QueueConfig`:

- ``policy``: one or more of :data:`~driftline._catalog.QUEUE_POLICIES`, each ranked in
  the engine (see :mod:`driftline.engine.queues` for the exact priority of each). Every
  policy picks up to ``budget`` rows; an id picked by one is never picked again by a
  later one, so a queue holds each id once.
- ``stratify``: ``"class"`` (the predicted class), ``"cohort"`` (the spec's first cohort
  column) or ``"cohort:<column>"``; the budget is split over the strata ``equal``-ly or
  in ``proportion`` to their candidates (``allocation``), and quota a stratum cannot
  fill goes to the others (:func:`allocate`).
- ``band``: for ``near-threshold``, keep only rows within ``band`` of the boundary (none:
  the closest rows, however far); for ``below-threshold-correct``, the margin under which
  a correct row of a class without a threshold counts as below it (default
  :data:`DEFAULT_BAND`).
- ``since`` / ``until`` (``[since, until)`` on the timestamp), ``cohorts`` (column ->
  values; ``(missing)`` selects nulls), ``classes`` (predicted classes).
- ``exclude_labelled``: leave out ids that already carry a label (default: yes, except
  for ``below-threshold-correct``, which picks among labelled rows only).
- ``seed``: ties in priority are broken by a hash of (seed, id): the same seed gives the
  same queue on every engine, another seed another order among ties.

**Thresholds.** ``near-threshold`` and ``below-threshold-correct`` measure a row's
distance to its decision boundary. Per-class thresholds are passed as ``thresholds``
(``{class: threshold}``); without them a binary model's positive class is decided at 0.5
and a multi-class model's boundary is the runner-up class (the margin), see
:func:`resolve_thresholds`. ``below-threshold-correct`` picks labelled rows whose latest
label equals the predicted class and whose predicted class's score is below that class's
threshold (or, for a class without one, whose margin is below ``band``): correct
predictions the threshold would not make, rows to add to the next training and
validation sets.

The result (:class:`LabelQueue`) is data: the rows picked, and the plan (the resolved
options, thresholds, and per policy and stratum the candidates, quota and rows picked).
It is written as CSV (plain text; cells of logged strings that a spreadsheet would run as
a formula are prefixed with ``'``, per OWASP), JSON lines, or Label Studio tasks (the row
as data, the model's prediction as a pre-annotation) with the labelling config they
assume (:func:`label_config`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import quoteattr

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from driftline._catalog import QUEUE_FORMATS, QUEUE_POLICIES, QueueFormat, QueuePolicy
from driftline.engine import Engine
from driftline.engine.queues import (
    ID,
    LABEL,
    PRIORITY,
    STRATUM,
    TIE,
    candidates,
    class_scores,
    ranked,
    rows_of,
)
from driftline.errors import ConfigError, name_list, shorten
from driftline.spec import Spec, _validation_message

__all__ = [
    "DEFAULT_BAND",
    "LS_FROM_NAME",
    "LS_TO_NAME",
    "LabelQueue",
    "QueueConfig",
    "QueueItem",
    "allocate",
    "build_queue",
    "label_config",
    "label_studio_tasks",
    "queue_config",
    "resolve_thresholds",
    "write_queue",
]

#: The margin under which a correct row of a class without a threshold counts as below
#: it (``below-threshold-correct`` without ``band``).
DEFAULT_BAND = 0.1
#: The names the Label Studio tasks and their labelling config share: the ``Choices``
#: control and the ``Table`` object that shows the row.
LS_FROM_NAME = "label"
LS_TO_NAME = "row"
#: What a Label Studio pre-annotation names as its source.
_LS_MODEL_VERSION = "driftline"
#: Characters a spreadsheet reads as the start of a formula (OWASP, CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NEEDS_LABELS = "below-threshold-correct"


def _default_policy() -> list[QueuePolicy]:
    return ["least-confident"]


class QueueConfig(BaseModel):
    """The options of a label queue (see the module docstring); the same names as the
    ``driftline queue`` flags."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: list[QueuePolicy] = Field(default_factory=_default_policy, min_length=1)
    budget: int = Field(default=100, ge=1)
    stratify: str | None = None
    allocation: Literal["equal", "proportional"] = "equal"
    band: float | None = Field(default=None, gt=0)
    seed: int = 0
    since: datetime | None = None
    until: datetime | None = None
    cohorts: dict[str, list[str]] = Field(default_factory=dict)
    classes: list[str] | None = None
    exclude_labelled: bool | None = None

    @field_validator("policy", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, (list, tuple)):
            unknown = [p for p in value if p not in QUEUE_POLICIES]
            if unknown:
                raise ValueError(
                    f"unknown queue policy {shorten(unknown[0])}; available: "
                    f"{', '.join(QUEUE_POLICIES)}"
                )
            if len(set(value)) != len(value):
                raise ValueError("a policy is listed twice; list each once")
        return value

    @field_validator("since", "until", mode="before")
    @classmethod
    def _time(cls, value: Any, info: Any) -> Any:
        from driftline.checks import _ts

        return _ts(value, info.field_name)

    @field_validator("cohorts", mode="before")
    @classmethod
    def _values_as_lists(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    def labelled_excluded(self, policy: str) -> bool:
        """Whether ``policy`` leaves out ids that carry a label."""
        if self.exclude_labelled is None:
            return policy != _NEEDS_LABELS
        return self.exclude_labelled


def queue_config(config: QueueConfig | None = None, **options: Any) -> QueueConfig:
    """``config`` with ``options`` applied (or a new one), refused with a
    :class:`~driftline.errors.ConfigError` naming the option when invalid."""
    try:
        if config is None:
            return QueueConfig.model_validate(options)
        return QueueConfig.model_validate({**config.model_dump(exclude_unset=True), **options})
    except ValidationError as exc:
        raise ConfigError("queue: " + _validation_message(exc, "the queue options")) from exc


def resolve_thresholds(
    spec: Spec, thresholds: Mapping[str, float] | None
) -> tuple[dict[str, float], str]:
    """The per-class thresholds the boundary policies use, and how they were set.

    Given: each must name a class of the spec and lie in [0, 1]; a binary model's other
    class gets ``1 - t`` (one cut decides both). Not given: a binary model's positive
    class at 0.5 (and its negative at 0.5); a multi-class model none (its boundary is the
    runner-up class: the margin).

    >>> from driftline.spec import Spec
    >>> binary = Spec(scores={"column": "p", "positive": "y", "negative": "n"})
    >>> resolve_thresholds(binary, None)
    ({'y': 0.5, 'n': 0.5}, "0.5 for the positive class 'y' (default)")
    >>> resolve_thresholds(binary, {"y": 0.8})[0]
    {'y': 0.8, 'n': 0.19999999999999996}
    """
    classes = spec.classes
    scores = spec.scores
    if thresholds is None:
        if scores.layout == "binary":
            assert scores.positive is not None
            assert scores.negative is not None
            how = f"0.5 for the positive class {scores.positive!r} (default)"
            return {scores.positive: 0.5, scores.negative: 0.5}, how
        return {}, "none: the boundary is the runner-up class (margin)"
    found: dict[str, float] = {}
    for cls, value in thresholds.items():
        if cls not in classes:
            raise ConfigError(
                f"thresholds name class {shorten(cls)}, which is not a class of the spec "
                f"({name_list(classes)}); give thresholds for the model's classes."
            )
        if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
            raise ConfigError(
                f"the threshold of class {shorten(cls)} is {value!r}; a threshold is a score "
                "between 0 and 1."
            )
        found[cls] = float(value)
    if scores.layout == "binary" and len(found) == 1:
        ((cls, value),) = found.items()
        other = scores.negative if cls == scores.positive else scores.positive
        assert other is not None
        found[other] = 1.0 - value
    return found, "given"


def allocate(
    budget: int, available: Mapping[str, int], how: Literal["equal", "proportional"] = "equal"
) -> dict[str, int]:
    """Split ``budget`` over strata with ``available`` candidates each: equally, or in
    proportion to ``available`` (largest remainders); a stratum never gets more than it
    has, and what it cannot use goes to the others, by the same rule, until the budget
    or the candidates run out. Remainders go to strata in name order.

    >>> allocate(10, {"a": 100, "b": 100, "c": 2})
    {'a': 4, 'b': 4, 'c': 2}
    >>> allocate(10, {"a": 90, "b": 10}, "proportional")
    {'a': 9, 'b': 1}
    >>> allocate(5, {"a": 1, "b": 1})
    {'a': 1, 'b': 1}
    """
    quota = dict.fromkeys(sorted(available), 0)
    left = min(budget, sum(available.values()))
    while left > 0:
        open_ = [s for s in quota if quota[s] < available[s]]
        weights = {s: 1.0 if how == "equal" else float(available[s]) for s in open_}
        total = sum(weights.values())
        shares = {s: left * w / total for s, w in weights.items()}
        give = {s: min(math.floor(shares[s]), available[s] - quota[s]) for s in open_}
        rest = left - sum(give.values())
        if rest > 0:
            order = sorted(open_, key=lambda s: (-(shares[s] - math.floor(shares[s])), s))
            for s in order:
                if rest == 0:
                    break
                if give[s] < available[s] - quota[s]:
                    give[s] += 1
                    rest -= 1
        for s, n in give.items():
            quota[s] += n
        left -= sum(give.values())
    return quota


@dataclass(frozen=True)
class QueueItem:
    """One row to label: why (policy, priority, rank), and what the model saw and said."""

    id: str
    policy: str
    #: place in the policy's queue, 0 first
    rank: int
    priority: float
    stratum: str
    timestamp: str | None
    prediction: str
    confidence: float
    #: the latest stored label (only ``below-threshold-correct`` and queues that keep
    #: labelled rows have one)
    label: str | None
    scores: dict[str, float]
    cohorts: dict[str, Any]
    features: dict[str, Any]


@dataclass
class LabelQueue:
    """A computed label queue: the rows picked (policy by policy) and the plan."""

    items: list[QueueItem]
    config: dict[str, Any]
    thresholds: dict[str, float]
    thresholds_how: str
    classes: list[str]
    #: one entry per policy x stratum: ``policy, stratum, available, quota, picked``
    strata: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "thresholds": self.thresholds,
            "thresholds_how": self.thresholds_how,
            "classes": self.classes,
            "strata": self.strata,
            "items": [asdict(i) for i in self.items],
        }

    def to_json(self) -> str:
        return _json(self.to_dict())

    @property
    def ids(self) -> list[str]:
        return [i.id for i in self.items]


def _details(
    engine: Engine,
    table: Any,
    spec: Spec,
    ids: list[str],
    scores: Mapping[str, Any],
    cohort_cols: list[str],
    feature_cols: list[str],
) -> dict[str, dict[str, Any]]:
    """The shown columns of the rows ``ids``, by id: one scan, a semi-join on the ids
    (the latest row of an id that repeats, in a table whose ids may)."""
    import ibis
    import pyarrow as pa

    if not ids:
        return {}
    columns: dict[str, Any] = {
        "__dl_ts": lambda t: t[spec.timestamp],
        "__dl_pred": lambda t: t[spec.prediction].cast("string"),
        **{f"__dl_s{i}": build for i, build in enumerate(scores.values())},
        **{f"__dl_c{i}": _column(c) for i, c in enumerate(cohort_cols)},
        **{f"__dl_f{i}": _column(c) for i, c in enumerate(feature_cols)},
    }
    wanted = ibis.memtable(pa.table({ID: pa.array(ids, pa.string())}))
    found: dict[str, dict[str, Any]] = {}
    for row in engine.run(rows_of(table, spec, wanted, columns)).to_pylist():
        seen = found.get(row[ID])
        if seen is None or (row["__dl_ts"] or datetime.min) > (seen["__dl_ts"] or datetime.min):
            found[row[ID]] = row
    return found


def _column(name: str) -> Any:
    def build(t: Any) -> Any:
        return t[name]

    return build


def _strata_column(spec: Spec, stratify: str | None) -> str | None:
    """``"class"``, a cohort column, or None; refuses what the spec cannot stratify by."""
    if stratify is None or stratify == "class":
        return stratify
    if stratify == "cohort":
        if not spec.cohorts:
            raise ConfigError(
                "stratify 'cohort' needs a cohort column, and the spec lists none; add "
                "one under cohorts, or stratify by 'class'."
            )
        return spec.cohorts[0]
    if stratify.startswith("cohort:"):
        col = stratify.removeprefix("cohort:")
        if col in spec.cohorts:
            return col
        raise ConfigError(
            f"stratify names cohort column {shorten(col)}, which is not a cohort of the "
            f"spec ({name_list(spec.cohorts)}); use one of them, e.g. "
            f"'cohort:{spec.cohorts[0] if spec.cohorts else 'segment'}'."
        )
    raise ConfigError(
        f"stratify is {shorten(stratify)}; use 'class' (the predicted class), 'cohort' "
        "(the first cohort column) or 'cohort:<column>'."
    )


def _check_filters(spec: Spec, config: QueueConfig) -> None:
    for col in config.cohorts:
        if col not in spec.cohorts:
            raise ConfigError(
                f"cohorts filter names column {shorten(col)}, which is not a cohort of the "
                f"spec ({name_list(spec.cohorts)}); filter on a cohort column."
            )
    for cls in config.classes or []:
        if cls not in spec.classes:
            raise ConfigError(
                f"classes filter names {shorten(cls)}, which is not a class of the spec "
                f"({name_list(spec.classes)}); use the classes the model predicts."
            )
    if config.since is not None and config.until is not None and config.since >= config.until:
        raise ConfigError(
            f"since ({config.since.isoformat()}) is not before until "
            f"({config.until.isoformat()}); the range [since, until) would be empty. Swap "
            "them or widen the range."
        )
    if _NEEDS_LABELS in config.policy and config.exclude_labelled:
        raise ConfigError(
            f"policy {_NEEDS_LABELS!r} picks among labelled rows, and exclude_labelled is "
            "on; drop exclude_labelled (--no-exclude-labelled) or ask for that policy in "
            "another queue."
        )


def build_queue(
    engine: Engine,
    table: Any,
    spec: Spec,
    config: QueueConfig,
    *,
    labels: Any | None,
    thresholds: Mapping[str, float] | None = None,
    thresholds_how: str | None = None,
    unique_ids: bool = True,
) -> LabelQueue:
    """The queue of ``config`` over ``table`` (the predictions, an Ibis table on
    ``engine``), ``labels`` the labels table (an Ibis table: ``id``, ``label``,
    ``labelled_at``, ``_batch``; None without labels). ``thresholds`` per class, or
    None (see :func:`resolve_thresholds`); ``thresholds_how`` says where given ones
    come from (default ``given``)."""
    import ibis
    import pyarrow as pa

    _check_filters(spec, config)
    stratify = _strata_column(spec, config.stratify)
    resolved, how = resolve_thresholds(spec, thresholds)
    if thresholds is not None and thresholds_how is not None:
        how = thresholds_how
    scores = class_scores(spec)
    cohort_cols = [c for c in spec.cohorts if c in table.columns]
    feature_cols = [c for c in spec.feature_kinds if c in table.columns and c not in cohort_cols]
    picked: list[str] = []
    items: list[QueueItem] = []
    strata: list[dict[str, Any]] = []
    for policy in config.policy:
        band = config.band
        if policy == _NEEDS_LABELS and band is None:
            band = DEFAULT_BAND
        exclude = ibis.memtable(pa.table({ID: pa.array(picked, pa.string())})) if picked else None
        cands = candidates(
            table,
            spec,
            policy=policy,
            seed=config.seed,
            thresholds=resolved,
            band=band,
            labels=labels,
            stratify=stratify,
            since=config.since,
            until=config.until,
            cohorts=config.cohorts,
            classes=config.classes,
            exclude_labelled=config.labelled_excluded(policy),
            exclude=exclude,
            unique_ids=unique_ids,
        )
        if stratify is None:
            available: dict[str, int] | None = None
            quotas = {"": config.budget}
        else:
            counts = engine.run(cands.group_by(STRATUM).aggregate(n=cands.count()))
            available = dict(zip(counts[STRATUM].to_pylist(), counts["n"].to_pylist(), strict=True))
            quotas = allocate(config.budget, available, config.allocation)
        limit = max(quotas.values(), default=0)
        strata_picked = None if stratify is None else sorted(s for s, q in quotas.items() if q)
        picks = [] if limit == 0 else engine.run(ranked(cands, limit, strata_picked)).to_pylist()
        picks.sort(key=lambda r: (-r[PRIORITY], r[TIE], r[ID]))
        got: dict[str, int] = {}
        kept = []
        for r in picks:  # each stratum cut to its quota, best first
            if got.get(r[STRATUM], 0) < quotas.get(r[STRATUM], 0):
                got[r[STRATUM]] = got.get(r[STRATUM], 0) + 1
                kept.append(r)
        details = _details(
            engine, table, spec, [r[ID] for r in kept], scores, cohort_cols, feature_cols
        )
        for rank, r in enumerate(kept):
            d = details[r[ID]]
            class_score = {c: d[f"__dl_s{i}"] for i, c in enumerate(scores)}
            ts = d["__dl_ts"]
            items.append(
                QueueItem(
                    id=r[ID],
                    policy=policy,
                    rank=rank,
                    priority=float(r[PRIORITY]),
                    stratum=r[STRATUM],
                    timestamp=None if ts is None else ts.isoformat(),
                    prediction=d["__dl_pred"],
                    confidence=max(class_score.values()),
                    label=r[LABEL],
                    scores=class_score,
                    cohorts={c: d[f"__dl_c{i}"] for i, c in enumerate(cohort_cols)},
                    features={c: d[f"__dl_f{i}"] for i, c in enumerate(feature_cols)},
                )
            )
            picked.append(r[ID])
        for s, q in quotas.items():
            strata.append(
                {
                    "policy": policy,
                    "stratum": s,
                    "available": None if available is None else available.get(s, 0),
                    "quota": q,
                    "picked": got.get(s, 0),
                }
            )
    return LabelQueue(
        items=items,
        config=config.model_dump(mode="json"),
        thresholds=resolved,
        thresholds_how=how,
        classes=list(scores),
        strata=strata,
    )


# -- exports ----------------------------------------------------------------------------------
def label_config(classes: Sequence[str]) -> str:
    """The Label Studio labelling config the tasks of :func:`label_studio_tasks` assume:
    the row shown as a table, one choice per class (create the project with it). The
    layout of Label Studio's "Tabular Data" template
    (https://labelstud.io/templates/tabular_data).

    >>> print(label_config(["a", "b"]))
    <View>
      <Header value="Which class is this row? The model's answer is preselected."/>
      <Table name="row" value="$row"/>
      <Choices name="label" toName="row" choice="single" showInline="true">
        <Choice value="a"/>
        <Choice value="b"/>
      </Choices>
    </View>
    """
    choices = "".join(f"    <Choice value={quoteattr(c)}/>\n" for c in classes)
    return (
        "<View>\n"
        '  <Header value="Which class is this row? The model\'s answer is preselected."/>\n'
        f'  <Table name="{LS_TO_NAME}" value="${LS_TO_NAME}"/>\n'
        f'  <Choices name="{LS_FROM_NAME}" toName="{LS_TO_NAME}" choice="single" '
        'showInline="true">\n'
        f"{choices}"
        "  </Choices>\n"
        "</View>"
    )


def _row(item: QueueItem) -> dict[str, Any]:
    """The row as shown to a labeller: when, the model's answer, cohorts and features."""
    row: dict[str, Any] = {"timestamp": item.timestamp}
    row.update(item.cohorts)
    row.update(item.features)
    row["prediction"] = item.prediction
    row["confidence"] = item.confidence
    row.update({f"score:{c}": v for c, v in item.scores.items()})
    return row


def label_studio_tasks(queue: LabelQueue) -> list[dict[str, Any]]:
    """The queue as Label Studio tasks: ``data`` (the id, the queue and the row) and the
    model's prediction as a pre-annotation (``predictions``), in Label Studio's task
    import format (https://labelstud.io/guide/predictions)."""
    tasks = []
    for item in queue.items:
        tasks.append(
            {
                "data": {
                    "id": item.id,
                    "policy": item.policy,
                    "rank": item.rank,
                    "priority": item.priority,
                    "stratum": item.stratum,
                    LS_TO_NAME: _row(item),
                },
                "predictions": [
                    {
                        "model_version": _LS_MODEL_VERSION,
                        "score": item.confidence,
                        "result": [
                            {
                                "from_name": LS_FROM_NAME,
                                "to_name": LS_TO_NAME,
                                "type": "choices",
                                "value": {"choices": [item.prediction]},
                            }
                        ],
                    }
                ],
            }
        )
    return tasks


def _json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as null: JSON has no such numbers (a NaN
    feature would make a file Label Studio and JSON parsers refuse)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _json(value: Any, indent: int | None = None) -> str:
    return json.dumps(_json_safe(value), indent=indent, default=str, allow_nan=False)


def _cell(value: Any) -> Any:
    """A CSV cell: a string a spreadsheet would run as a formula is prefixed with ``'``
    (OWASP CSV injection); numbers are written as numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv(queue: LabelQueue) -> str:
    first = queue.items[0] if queue.items else None
    extra = [] if first is None else list(_row(first))
    head = ["id", "policy", "rank", "priority", "stratum", "label", *extra]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([_cell(h) for h in head])
    for item in queue.items:
        row = _row(item)
        base = [item.id, item.policy, item.rank, item.priority, item.stratum, item.label]
        writer.writerow([_cell(v) for v in [*base, *(row.get(k) for k in extra)]])
    return buf.getvalue()


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory, so a
    reader never sees half a file and a failure leaves the old one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_queue(queue: LabelQueue, path: str | Path, format: QueueFormat) -> list[Path]:
    """Write the queue to ``path`` as ``format`` (atomically); Label Studio tasks also
    write their labelling config next to them (``<name>.label-config.xml``). Returns the
    files written."""
    p = Path(path)
    if format not in QUEUE_FORMATS:
        raise ConfigError(
            f"queue format {shorten(format)} is not known; available: {', '.join(QUEUE_FORMATS)}."
        )
    if format == "csv":
        _atomic_write(p, _csv(queue))
        return [p]
    if format == "jsonl":
        lines = (_json(asdict(i)) for i in queue.items)
        _atomic_write(p, "".join(line + "\n" for line in lines))
        return [p]
    _atomic_write(p, _json(label_studio_tasks(queue), indent=1) + "\n")
    config_path = p.with_name(p.stem + ".label-config.xml")
    _atomic_write(config_path, label_config(queue.classes) + "\n")
    return [p, config_path]

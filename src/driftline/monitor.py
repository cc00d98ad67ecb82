"""The Python API: ``driftline.connect(path)`` and the verbs the CLI also offers.

The engine (Ibis), the checks and the profile are imported by the verbs that use them:
logging a batch needs the store only, so ``driftline log`` starts without them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from driftline._catalog import OnDuplicate
from driftline.errors import ConfigError, ProfileError, shorten
from driftline.spec import Spec, load_spec
from driftline.store import RESULT_COLUMNS, IngestReport, Store

if TYPE_CHECKING:
    from driftline.checks import CheckReport, History
    from driftline.embeddings import EmbeddingProjection
    from driftline.engine import DuckDBEngine
    from driftline.profile import Profile

__all__ = ["Monitor", "check_output_path", "connect"]


def check_output_path(path: str | Path, name: str = "path", example: str = "report.html") -> None:
    """Refuse an output path that cannot become a file before any work is done: a
    directory, or a path under an existing file. ``name`` is the option or argument named
    in the message (``--out`` on the command line)."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(
            f"{name} {shorten(str(p))} is a directory; give a file path such as "
            f"{(p / example).as_posix()}."
        )
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(
                    f"{name} {shorten(str(p))} cannot be written: {shorten(str(parent))} is a "
                    "file, not a directory. Choose a path inside a directory."
                )
            break


def connect(
    path: str | Path = "driftline.duckdb",
    spec: str | Path | Mapping[str, Any] | Spec = "driftline.yaml",
    *,
    profile: str | Path | None = None,
) -> Monitor:
    """Open (or create) a driftline store for one model.

    ``spec`` is a YAML path, a mapping or a :class:`~driftline.Spec`. The profile is kept
    next to the spec file (``<spec>.profile.json``), or next to the store when the spec is
    not a file; pass ``profile`` to choose its path.
    """
    return Monitor(path, spec, profile=profile)


class Monitor:
    """An open store plus its spec and profile. Use as a context manager."""

    def __init__(
        self,
        path: str | Path,
        spec: str | Path | Mapping[str, Any] | Spec,
        *,
        profile: str | Path | None = None,
    ) -> None:
        self.spec = load_spec(spec)
        if profile is not None:
            self.profile_path = Path(profile)
        elif isinstance(spec, (str, Path)):
            self.profile_path = Path(spec).with_suffix(".profile.json")
        else:
            self.profile_path = Path(path).with_suffix(".profile.json")
        self.store = Store(path, self.spec)
        self._engine: DuckDBEngine | None = None
        self._profile: Profile | None = None

    @property
    def engine(self) -> DuckDBEngine:
        """The engine over the store's connection (Ibis is imported on first use)."""
        if self._engine is None:
            from driftline.engine import DuckDBEngine

            self._engine = DuckDBEngine.from_connection(self.store.con)
        return self._engine

    # -- context manager ------------------------------------------------------------------
    def __enter__(self) -> Monitor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()

    # -- logging ----------------------------------------------------------------------------
    def log_predictions(
        self, data: Any, *, batch_id: str | None = None, on_duplicate: OnDuplicate = "refuse"
    ) -> IngestReport:
        """Append a batch of predictions (DataFrame, Arrow, path or list of dicts).

        A prediction id already stored refuses the batch whole, unless
        ``on_duplicate="skip"``: then only the new rows are stored (``report.skipped``).
        """
        return self.store.log_predictions(data, batch_id=batch_id, on_duplicate=on_duplicate)

    def log_labels(self, data: Any, *, batch_id: str | None = None) -> IngestReport:
        """Append labels that arrived later; the latest label per id wins."""
        return self.store.log_labels(data, batch_id=batch_id)

    def log_reference(
        self, data: Any, *, name: str = "reference", fit: bool = True
    ) -> IngestReport:
        """Store the reference (the labelled holdout scored by the model) and fit the profile."""
        report = self.store.log_reference(data, name=name)
        if fit:
            self.fit_profile(name=name)
        return report

    # -- profile ----------------------------------------------------------------------------
    def fit_profile(self, *, name: str = "reference", **params: Any) -> Profile:
        """Fit the profile on the stored reference ``name`` and save it next to the spec."""
        from driftline.profile import Profile

        table = "reference_" + name
        if not self.store.has_table(table):
            raise ProfileError(
                f"no reference named {name!r} in {self.store.path!r}; log one first with "
                "`driftline log --reference FILE` or `Monitor.log_reference(df)`."
            )
        prof = Profile(self.spec, **params).fit(
            self.engine, self.engine.table(table), self.store.reference_columns(name)
        )
        prof.save(self.profile_path)
        self._profile = prof
        return prof

    @property
    def profile(self) -> Profile:
        if self._profile is None:
            from driftline.profile import Profile

            self._profile = Profile.load(self.profile_path, self.spec)
        return self._profile

    # -- checks -----------------------------------------------------------------------------
    def check(
        self,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        *,
        persist: bool = True,
        full: bool = False,
    ) -> CheckReport:
        """Run every check per window and cohort over ``[since, until)``.

        Incremental: only the windows whose data changed since the last check (new
        batches, late rows) are summarised and evaluated, the others read from the
        store (see :mod:`driftline.checks._incremental`); ``full=True`` recomputes every
        window in range. ``persist`` stores the results and alerts, once per window x
        scope x check x column, replacing those of the windows evaluated again, and the
        run in the run log (the summaries are kept either way)."""
        from driftline.checks import History, _ts, run_checks
        from driftline.incidents import find_incidents

        if not self.store.has_table("predictions"):
            from driftline.errors import EmptyWindowError

            raise EmptyWindowError(
                "the store holds no predictions yet; log some with `driftline log FILE` "
                "or `Monitor.log_predictions(df)`."
            )
        lo, hi = _ts(since, "since"), _ts(until, "until")
        if lo is not None and hi is not None and lo >= hi:
            raise ConfigError(
                f"since ({lo.isoformat()}) is not before until ({hi.isoformat()}); the range "
                "[since, until) would be empty. Swap them or widen the range."
            )
        # the spec may have gained a column since the last batch: older rows read it as null
        self.store._ensure_predictions()
        calibrations = self.store.load_calibrations()
        known = set(calibrations)
        history = History(self.store, full=full)
        report = run_checks(
            self.engine,
            self.engine.table("predictions"),
            self.spec,
            self.profile,
            batches=self.store.batches().to_pylist(),
            since=since,
            until=until,
            calibrations=calibrations,
            history=history,
        )
        # an internal cache, kept even when results are not persisted
        self.store.save_calibrations(calibrations, known)
        report.incidents = find_incidents(report, self.profile)
        if persist:
            self._persist(report, history, lo, hi)
        return report

    def embeddings(
        self,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        *,
        by: str = "prediction",
        method: str | None = None,
        cohort: str | None = None,
        cap: int | None = None,
        reference: str = "reference",
    ) -> EmbeddingProjection:
        """Reference and serving embeddings in one 2-D view fitted on the reference
        sample (``method``: ``pca`` or ``umap``; default ``spec.embeddings.projection``),
        per class: ``by="prediction"`` (the predicted class) or ``"label"`` (the true
        class; serving rows without a label are left out). Serving points are drawn per
        window of the spec (and value of ``cohort``) in ``[since, until)``, at most
        ``cap`` (default ``embeddings.sample_cap``) per class, reproducibly in the
        engine. The drift decisions are the ``embedding_drift`` results of :meth:`check`.
        """
        from driftline.checks import _ts
        from driftline.embeddings import project

        if by not in ("prediction", "label"):
            raise ConfigError(
                f"by={by!r} is not understood; embeddings are drawn per 'prediction' (the "
                "predicted class) or per 'label' (the true class)."
            )
        table = "reference_" + reference
        if not self.store.has_table(table) or not self.store.has_table("predictions"):
            missing = "a reference" if not self.store.has_table(table) else "predictions"
            raise ProfileError(
                f"the store holds no {missing} yet; log the reference and predictions "
                "(with their embedding column) before projecting embeddings."
            )
        ref = self.engine.table(table)
        serving = self.engine.table("predictions")
        ts = serving[self.spec.timestamp]
        lo, hi = _ts(since, "since"), _ts(until, "until")
        if lo is not None:
            serving = serving.filter(ts >= lo)
        if hi is not None:
            serving = serving.filter(ts < hi)
        ref_by = serving_by = self.spec.prediction
        if by == "label":
            ref_by = self.spec.label or "label"
            serving_by = "__dl_label"
            if not self.store.has_table("labels"):
                raise ProfileError(
                    "the store holds no labels yet; log them with `driftline log --labels "
                    "FILE` (or `Monitor.log_labels(df)`), or project by='prediction'."
                )
            labels = self.store.latest_labels()
            labels = labels.select(__dl_lid=labels["id"], __dl_label=labels["label"])
            serving = serving.join(
                labels, serving[self.spec.id].cast("string") == labels["__dl_lid"].cast("string")
            )
        return project(
            self.engine,
            ref,
            serving,
            self.spec,
            by=ref_by,
            serving_by=serving_by,
            method=method,
            window=self.spec.window_parsed,
            cohort=cohort,
            cap=cap,
        )

    def report(
        self,
        path: str | Path = "report.html",
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> Path:
        """Run the checks (without storing results) and write the HTML report to ``path``."""
        from driftline.report import render_report

        check_output_path(path)
        return render_report(self.check(since, until, persist=False), path)

    def _persist(
        self, report: CheckReport, history: History, lo: datetime | None, hi: datetime | None
    ) -> None:
        """Store the results and alerts of the windows this run evaluated (not those cut
        by since / until), replacing what the store held for them, and the run's row in
        the run log."""
        from driftline.checks._incremental import decided_rows

        now = datetime.now(timezone.utc).replace(tzinfo=None)
        keep = history.evaluated - history.transient
        rows = []
        place: dict[tuple[str | None, str | None, int], int] = {}
        starts: dict[int, datetime] = {}
        for r in report.results:
            if r.window not in keep:
                continue
            group = (r.cohort, r.cohort_value, r.window)
            ord_ = place[group] = place.get(group, -1) + 1
            row = {name: getattr(r, name, None) for name, _ in RESULT_COLUMNS}
            start = starts.setdefault(r.window, _naive(r.window_start))
            row.update(
                run_id=report.run_id,
                created_at=now,
                window_start=start,
                window_end=_naive(r.window_end),
                details=json.dumps(r.details, default=str),
                fingerprint=history.result_fp,
                summarised_by=history.summarised_by.get(r.window, report.run_id),
                ord=ord_,
            )
            rows.append(row)
        alerts = [
            {
                "run_id": report.run_id,
                "created_at": now,
                "window_start": _naive(a.window_start),
                "cohort": a.cohort,
                "cohort_value": a.cohort_value,
                "check": a.check,
                "column": a.column,
                "message": a.message,
                "id": a.id,
            }
            for a in report.alerts
            if a.window in keep
        ]
        run = {
            "run_id": report.run_id,
            "created_at": now,
            "since": lo,
            "until": hi,
            "full": history.full,
            "summary_fingerprint": history.summary_fp or None,
            "result_fingerprint": history.result_fp or None,
            "windows_summarised": history.summarised,
            "windows_evaluated": sorted(keep),
            "results": len(rows),
            "alerts": len(alerts),
        }
        if history.rows:  # row windows: every stored result in range is replaced
            self.store.save_run(rows, alerts, run, between=(lo, hi))
        else:
            decided = decided_rows(report.results, keep, history, report.run_id)
            windows = sorted(set(starts.values()))
            self.store.save_run(rows, alerts, run, windows=windows, decided=decided)


def _naive(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).replace(tzinfo=None)

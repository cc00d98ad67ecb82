"""The Python API: ``driftline.connect(path)`` and the verbs the CLI also offers.

The engine (Ibis), the checks and the profile are imported by the verbs that use them:
logging a batch needs the store only, so ``driftline log`` starts without them.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from driftline._catalog import OnDuplicate
from driftline.errors import ConfigError, ProfileError, name_list, shorten
from driftline.spec import Spec, ThresholdConfig, load_spec
from driftline.store import RESULT_COLUMNS, IngestReport, Store

if TYPE_CHECKING:
    import ibis

    from driftline.checks import CheckReport, History
    from driftline.checks._incremental import StoredTexts
    from driftline.embeddings import EmbeddingProjection
    from driftline.engine import DuckDBEngine, Engine
    from driftline.incidents import Earlier, Incident
    from driftline.profile import Profile
    from driftline.queues import LabelQueue, QueueConfig
    from driftline.sources import Source
    from driftline.thresholds import Thresholds

__all__ = ["Monitor", "check_output_path", "connect", "threshold_config"]


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
    spark: Any = None,
    create: bool = True,
) -> Monitor:
    """Open (or create) a driftline store for one model.

    ``spec`` is a YAML path, a mapping or a :class:`~driftline.Spec`. The profile is kept
    next to the spec file (``<spec>.profile.json``), or next to the store when the spec is
    not a file; pass ``profile`` to choose its path.

    ``spark`` (a ``SparkSession``, e.g. from :func:`driftline.engine.spark.spark_session`)
    runs the checks of sources (``check(predictions=...)``, ``fit_profile(reference=...)``)
    as Spark jobs; the store (``path``) keeps what a check remembers either way.
    ``create=False`` refuses a ``path`` that does not exist rather than creating an empty
    store there (a mistyped ``--store`` leaves no file behind).
    """
    return Monitor(path, spec, profile=profile, spark=spark, create=create)


class Monitor:
    """An open store plus its spec and profile. Use as a context manager."""

    def __init__(
        self,
        path: str | Path,
        spec: str | Path | Mapping[str, Any] | Spec,
        *,
        profile: str | Path | None = None,
        spark: Any = None,
        create: bool = True,
    ) -> None:
        self.spec = load_spec(spec)
        if not create and not Path(path).exists():
            raise ConfigError(
                f"no store at {shorten(str(path))}: log predictions into it first (driftline "
                "log FILE --store PATH), or point --store at an existing store."
            )
        if profile is not None:
            self.profile_path = Path(profile)
        elif isinstance(spec, (str, Path)):
            self.profile_path = Path(spec).with_suffix(".profile.json")
        else:
            self.profile_path = Path(path).with_suffix(".profile.json")
        self.store = Store(path, self.spec)
        self.spark = spark
        self._engine: DuckDBEngine | None = None
        self._source_engine: Engine | None = None
        self._profile: Profile | None = None
        # what the reports of this store's checks have yet to fetch of the results they
        # read back (see checks._incremental.StoredTexts): fetched before the stored
        # results change or the store closes
        self._unfetched: weakref.WeakSet[StoredTexts] = weakref.WeakSet()

    @property
    def engine(self) -> DuckDBEngine:
        """The engine over the store's connection (Ibis is imported on first use)."""
        if self._engine is None:
            from driftline.engine import DuckDBEngine

            self._engine = DuckDBEngine.from_connection(self.store.con)
        return self._engine

    @property
    def source_engine(self) -> Engine:
        """The engine that reads sources: Spark when the monitor was given a session,
        else DuckDB over the store's connection."""
        if self.spark is None:
            return self.engine
        if self._source_engine is None:
            from driftline.engine.spark import SparkEngine

            self._source_engine = SparkEngine(self.spark)
        return self._source_engine

    def _source(self, kind: str, source: str | Path) -> Source:
        from driftline.sources import labels_source, predictions_source, reference_source

        if self.spec.text_embedding is not None:
            from driftline.errors import UnsupportedOperationError

            raise UnsupportedOperationError(
                "a source read in place carries no text embeddings (spec.text_embedding "
                "computes them when a batch is logged); log the batches with `driftline "
                "log`, or write the embedding column into the files."
            )
        read = {
            "predictions": predictions_source,
            "labels": labels_source,
            "reference": reference_source,
        }[kind]
        return read(source, self.source_engine, self.store)

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
        self._fetch_read_back()
        self.store.close()

    def _fetch_read_back(self) -> None:
        for texts in list(self._unfetched):
            texts.fetch()
        self._unfetched.clear()

    # -- logging ----------------------------------------------------------------------------
    def log_predictions(
        self, data: Any, *, batch_id: str | None = None, on_duplicate: OnDuplicate = "refuse"
    ) -> IngestReport:
        """Append a batch of predictions (DataFrame, Arrow, path or list of dicts).

        A prediction id already stored refuses the batch whole, unless
        ``on_duplicate="skip"``: then only the new rows are stored (``report.skipped``).
        """
        if (
            self.spec.text_embedding is not None
            and batch_id is not None
            and self.store._already(batch_id, "predictions") is not None
        ):
            return self.store.log_predictions(data, batch_id=batch_id)  # a retry: no work
        data = self._embed_text(data, fit=False)
        return self.store.log_predictions(data, batch_id=batch_id, on_duplicate=on_duplicate)

    def log_labels(self, data: Any, *, batch_id: str | None = None) -> IngestReport:
        """Append labels that arrived later; the latest label per id wins."""
        return self.store.log_labels(data, batch_id=batch_id)

    def log_reference(
        self, data: Any, *, name: str = "reference", fit: bool = True
    ) -> IngestReport:
        """Store the reference (the labelled holdout scored by the model) and fit the
        profile. With ``fit``, both or neither: a reference whose profile (or thresholds,
        chosen again) cannot be fitted leaves the stored reference and the profile as
        they were."""
        data = self._embed_text(data, fit=True)
        if not fit:
            return self.store.log_reference(data, name=name)
        before = self.profile_path.read_bytes() if self.profile_path.exists() else None
        try:
            with self.store.reference_kept(name):
                report = self.store.log_reference(data, name=name)
                self.fit_profile(name=name)
        except BaseException:
            if before is None:
                self.profile_path.unlink(missing_ok=True)
            else:
                self.profile_path.write_bytes(before)
            self._profile = None
            raise
        return report

    @property
    def text_embedder_path(self) -> Path:
        """Where the fitted text embedder is kept (``spec.text_embedding``), next to the
        profile."""
        return self.profile_path.with_name(self.profile_path.stem + ".text-embedder.npz")

    def _embed_text(self, data: Any, *, fit: bool) -> Any:
        """``data`` with the spec's embedding column computed from its text column, when
        the spec asks for it and the batch carries no embeddings of its own."""
        te = self.spec.text_embedding
        if te is None:
            return data
        from driftline._io import to_arrow
        from driftline.text_embeddings import SentenceEmbedder, TfidfSvdEmbedder, text_embedder

        table = to_arrow(data)
        emb_col = self.spec.embedding
        assert emb_col is not None  # the spec requires it with text_embedding
        if emb_col in table.column_names:
            return table
        if te.column not in table.column_names:
            return table  # the store reports the missing text column as schema skew
        texts = table.column(te.column).to_pylist()
        marker = self.text_embedder_path
        embedder: SentenceEmbedder | TfidfSvdEmbedder
        if fit:
            embedder = text_embedder(te.model).fit(texts)
            if isinstance(embedder, TfidfSvdEmbedder):
                embedder.save(marker)
            else:
                marker.write_bytes(b"")  # the sentence model: nothing fitted to keep
        elif not marker.exists():
            raise ProfileError(
                f"text_embedding embeds {shorten(te.column)} in the space fitted on the "
                "reference, and no reference was logged yet; log it first with `driftline "
                "log --reference FILE`."
            )
        elif marker.stat().st_size == 0:
            embedder = SentenceEmbedder()
        else:
            embedder = TfidfSvdEmbedder.load(marker)
        import pyarrow as pa

        vectors = embedder.transform(texts)
        return table.append_column(
            emb_col, pa.array(list(vectors.tolist()), pa.list_(pa.float64()))
        )

    # -- profile ----------------------------------------------------------------------------
    def fit_profile(
        self, *, name: str = "reference", reference: str | Path | None = None, **params: Any
    ) -> Profile:
        """Fit the profile on the stored reference ``name`` and save it next to the spec;
        with ``reference`` (a source: Parquet path, Delta table, catalog table), on that
        table read where it lies (on Spark with ``connect(..., spark=)``), nothing stored.
        Returns the fitted profile; the checks judge with it as saved (read back).
        Decision thresholds are chosen again on the new profile: by the spec's
        ``thresholds`` section, else as the profile replaced had them chosen (by
        :meth:`thresholds`, with the settings it recorded)."""
        from driftline.profile import Profile

        engine, table, columns = self._reference(name, reference)
        chosen = _chosen_thresholds(self.profile_path)
        fitted = Profile(self.spec, **params).fit(engine, table, columns)
        fitted.save(self.profile_path)
        # judged with as every later process reads it: saving orders its mappings by key
        # (category counts, ...), and a categorical column's calibrated bound depends on
        # its categories' order (the resampler's draws and the bound cache key)
        self._profile = Profile.load(self.profile_path, self.spec)
        if self.spec.thresholds is not None:  # configured: chosen again on the new profile
            self.thresholds(name=name, reference=reference)
            fitted.thresholds_ = self.profile.thresholds_
        elif chosen is not None:  # chosen by `driftline thresholds`: again, the same way
            self.thresholds(name=name, reference=reference, **chosen)
            fitted.thresholds_ = self.profile.thresholds_
        return fitted

    def _reference(
        self, name: str, reference: str | Path | None, what: str = "a reference"
    ) -> tuple[Engine, ibis.Table, dict[str, str]]:
        """The reference's engine, table and column types: the stored ``name``, or the
        source ``reference``."""
        if reference is not None:
            src = self._source("reference", reference)
            return self.source_engine, src.table, src.columns
        table = "reference_" + name
        if not self.store.has_table(table):
            raise ProfileError(
                f"no reference named {name!r} in {self.store.path!r}; log {what} first with "
                "`driftline log --reference FILE` or `Monitor.log_reference(df)`, or give "
                "one where it lies (--reference PATH_OR_TABLE, reference=...)."
            )
        return self.engine, self.engine.table(table), self.store.reference_columns(name)

    def thresholds(
        self, *, name: str = "reference", reference: str | Path | None = None, **config: Any
    ) -> Thresholds:
        """Choose each class's decision threshold on the stored holdout ``name`` (the
        reference, with its labels) and store them in the profile, replacing any chosen
        before; the threshold-relative checks then judge every window against them (the
        summaries and results that depend on them are recomputed on the next check).

        ``config``: the fields of :class:`~driftline.spec.ThresholdConfig` (``objective``,
        ``beta``, ``target``, ``cost``, ``band``, ``tolerance``), over the spec's
        ``thresholds`` section; a new ``objective`` takes none of the spec's objective
        settings. Returns the fitted :class:`~driftline.thresholds.Thresholds`: per class
        the threshold, the holdout's precision, recall and F1 before and after, the
        precision-recall curve and the margin."""
        from driftline.thresholds import fit_thresholds, holdout

        settings = threshold_config(self.spec, config)
        prof = self.profile
        engine, table, _ = self._reference(name, reference, "the labelled holdout")
        fitted = fit_thresholds(holdout(engine, table, self.spec), self.spec, settings)
        prof.thresholds_ = fitted
        prof.save(self.profile_path)
        return fitted

    @property
    def profile(self) -> Profile:
        if self._profile is None:
            from driftline.profile import Profile

            loaded = Profile.load(self.profile_path, self.spec)
            if loaded.version_ < 4 and self.store.has_table("reference_reference"):
                old = loaded.old_spellings(self.store.reference_columns("reference"))
                if old:
                    raise ProfileError(
                        f"profile {str(self.profile_path)!r} was fitted by an older "
                        "driftline, which spelled the whole numbers of the reference's float "
                        f"or decimal column(s) {name_list(old)} as '3.0'; driftline now reads "
                        "them as '3' (as in an integer column), so the profile's categories "
                        "and cohort baselines would not match the data. Refit it with "
                        "`driftline fit` (or `Monitor.fit_profile()`)."
                    )
            self._profile = loaded
        return self._profile

    # -- checks -----------------------------------------------------------------------------
    def check(
        self,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        *,
        persist: bool = True,
        full: bool = False,
        predictions: str | Path | None = None,
        labels: str | Path | None = None,
        results_table: str | None = None,
    ) -> CheckReport:
        """Run every check per window and cohort over ``[since, until)``.

        Incremental: only the windows whose data changed since the last check (new
        batches, late rows) are summarised and evaluated, the others read from the
        store (see :mod:`driftline.checks._incremental`); ``full=True`` recomputes every
        window in range. ``persist`` stores the results and alerts, once per window x
        scope x check x column, replacing those of the windows evaluated again, and the
        run in the run log (the summaries are kept either way).

        ``predictions`` and ``labels`` are sources read where they lie instead of the
        stored tables (a Parquet file, directory or glob, a Delta table, on Spark a
        catalog table; see :mod:`driftline.sources`), on Spark when the monitor has a
        session; the store records which files it has seen and keeps the summaries, so
        a new file is summarised alone. Without ``labels``, the stored labels are used.
        ``results_table`` (Spark) also writes the results, alerts and incidents to the
        Spark tables ``NAME``, ``NAME_alerts`` and ``NAME_incidents``, replacing the rows
        of the windows this run decided (:meth:`write_results_table`)."""
        from driftline.checks import History, _ts, run_checks
        from driftline.incidents import find_incidents

        if results_table is not None and self.spark is None:
            raise ConfigError(
                f"results_table {shorten(results_table)} is a Spark table; connect with "
                "spark=session (CLI: --engine spark), or leave it out to keep the results "
                "in the store only."
            )
        if predictions is None and not self.store.has_table("predictions"):
            from driftline.errors import EmptyWindowError

            raise EmptyWindowError(
                "the store holds no predictions yet; log some with `driftline log FILE` "
                "or `Monitor.log_predictions(df)`, or check them where they lie "
                "(--predictions PATH_OR_TABLE, predictions=...)."
            )
        lo, hi = _ts(since, "since"), _ts(until, "until")
        if lo is not None and hi is not None and lo >= hi:
            raise ConfigError(
                f"since ({lo.isoformat()}) is not before until ({hi.isoformat()}); the range "
                "[since, until) would be empty. Swap them or widen the range."
            )
        if lo is not None and self.spec.window_parsed.rows is not None:
            # row-count windows are counted from ``since``: from the start of the stored
            # window holding it, the windows are those a check of every window has
            since = lo = self._row_window_start(lo)
        profile = self.profile  # before any source is read: a missing profile says so first
        engine, table = self._predictions_on(predictions)
        label_table = self._labels_on(engine, labels)
        calibrations = self.store.load_calibrations()
        known = set(calibrations)
        history = History(self.store, full=full, persist=persist)
        report = run_checks(
            engine,
            table,
            self.spec,
            profile,
            batches=self.store.batches().to_pylist(),
            since=since,
            until=until,
            calibrations=calibrations,
            history=history,
            labels=label_table,
        )
        # an internal cache, kept even when results are not persisted
        self.store.save_calibrations(calibrations, known)
        earlier = self._earlier(lo, history.result_fp) if lo is not None else None
        report.incidents = find_incidents(report, profile, earlier)
        if persist or results_table is not None:
            self._fetch_read_back()  # by earlier reports, before the stored results change
            rows, alerts, windows = self._persist(report, history, lo, hi, store=persist)
            if results_table is not None:
                self.write_results_table(results_table, rows, alerts, report.incidents, windows)
        if history.texts is not None and history.texts.pending:
            self._unfetched.add(history.texts)
        return report

    def _predictions_on(self, predictions: str | Path | None) -> tuple[Engine, ibis.Table]:
        """The engine a verb runs on and the predictions table it reads: the source
        ``predictions`` on the source engine (Spark with a session), else the stored
        predictions on DuckDB (the spec may have gained a column since the last batch:
        older rows read it as null)."""
        if predictions is not None:
            return self.source_engine, self._source("predictions", predictions).table
        self.store.ensure_predictions()
        return self.engine, self.engine.table("predictions")

    def _labels_on(self, engine: Engine, labels: str | Path | None) -> ibis.Table | None:
        """The labels table the checks read on ``engine``: the source ``labels``, else the
        stored labels (copied to Spark through Arrow when the checks run there)."""
        if labels is not None:
            return self._source("labels", labels).table
        if engine is self.engine:
            return self.engine.table("labels")
        stored = self.store.con.execute("SELECT * FROM labels").to_arrow_table()
        from driftline.engine.spark import arrow_view

        return engine.table(arrow_view(self.spark, "__dl_stored_labels", stored))

    def write_results_table(
        self,
        name: str,
        results: list[dict[str, Any]],
        alerts: list[dict[str, Any]],
        incidents: Sequence[Incident],
        windows: Sequence[datetime],
    ) -> None:
        """Write results, alerts and incidents to the Spark tables ``name``,
        ``name_alerts`` and ``name_incidents`` (columns as the store's results and alerts
        tables; an incident as its id, kind, status, start, end, headline and the whole
        incident as JSON). The rows of ``windows`` (results and alerts, by
        ``window_start``) are replaced, the others kept; the incidents table holds the
        incidents of the latest run (they are recomputed from every window in range)."""
        import dataclasses

        import pyarrow as pa

        from driftline.engine.spark import write_table
        from driftline.store import ALERT_COLUMNS, RESULT_COLUMNS, table_rows

        starts = list(windows)
        write_table(
            self.spark,
            name,
            table_rows(RESULT_COLUMNS, results),
            key="window_start",
            replace=starts,
        )
        write_table(
            self.spark,
            name + "_alerts",
            table_rows(ALERT_COLUMNS, alerts),
            key="window_start",
            replace=starts,
        )
        rows = [
            {
                "id": i.id,
                "kind": i.kind,
                "status": i.status,
                "start": i.start,
                "end": i.end,
                "headline": i.headline,
                "incident": json.dumps(dataclasses.asdict(i), default=str),
            }
            for i in incidents
        ]
        schema = pa.schema(
            [(c, pa.string()) for c in ("id", "kind", "status", "start", "end", "headline")]
            + [("incident", pa.string())]
        )
        write_table(
            self.spark,
            name + "_incidents",
            pa.Table.from_pylist(rows, schema=schema),
            key="id",
            replace=None,
        )

    def queue(
        self,
        config: QueueConfig | None = None,
        *,
        thresholds: Mapping[str, float] | None = None,
        predictions: str | Path | None = None,
        labels: str | Path | None = None,
        **options: Any,
    ) -> LabelQueue:
        """Which predictions to label next: ``options`` are the fields of
        :class:`~driftline.queues.QueueConfig` (``policy``, ``budget``, ``stratify``, ...),
        applied over ``config``; ``thresholds`` the per-class decision thresholds (default:
        those chosen on the holdout and stored in the profile, else see
        :func:`~driftline.queues.resolve_thresholds`). Computed in the engine; write it
        with :func:`~driftline.queues.write_queue`. ``predictions`` and ``labels`` are
        sources read where they lie (see :meth:`check`), on Spark with a session."""
        from driftline.errors import EmptyWindowError
        from driftline.queues import build_queue, queue_config

        resolved = queue_config(config, **options)
        if predictions is None and not self.store.has_table("predictions"):
            raise EmptyWindowError(
                "the store holds no predictions to queue for labelling yet; log some with "
                "`driftline log FILE` or `Monitor.log_predictions(df)`."
            )
        engine, table = self._predictions_on(predictions)
        how = None
        if thresholds is None and self.profile_path.exists():
            # the thresholds chosen on the holdout (`driftline thresholds`), when there are
            from driftline.thresholds import thresholds_for

            if (fitted := getattr(self.profile, "thresholds_", None)) is not None:
                chosen = thresholds_for(self.profile)
                thresholds = {c: t for c, t in chosen.items() if t is not None} or None
                how = (
                    f"chosen on the holdout ({fitted.labelled} labelled rows, objective "
                    f"{fitted.config.objective})"
                )
        return build_queue(
            engine,
            table,
            self.spec,
            resolved,
            labels=self._labels_on(engine, labels),
            thresholds=thresholds,
            thresholds_how=how,
        )

    def embeddings(
        self,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        *,
        by: str = "prediction",
        method: str | None = None,
        cohort: str | None = None,
        cap: int | None = None,
        name: str = "reference",
        reference: str | Path | None = None,
        predictions: str | Path | None = None,
        labels: str | Path | None = None,
    ) -> EmbeddingProjection:
        """Reference and serving embeddings in one 2-D view fitted on the reference
        sample (``method``: ``pca`` or ``umap``; default ``spec.embeddings.projection``),
        per class: ``by="prediction"`` (the predicted class) or ``"label"`` (the true
        class; serving rows without a label are left out). Serving points are drawn per
        window of the spec (and value of ``cohort``) in ``[since, until)``, at most
        ``cap`` (default ``embeddings.sample_cap``) per class, reproducibly in the
        engine. The drift decisions are the ``embedding_drift`` results of :meth:`check`.

        The reference is the stored one named ``name``, or the source ``reference``;
        ``predictions`` and ``labels`` are sources read where they lie (see
        :meth:`check`), sampled on Spark when the monitor has a session. Each sample is
        drawn by the engine that holds its table and reaches Python as Arrow, capped;
        the rows drawn rank first by the md5 of the seed and the id, which both engines
        compute alike, so DuckDB and Spark draw the same rows
        (:mod:`driftline.engine.embeddings`).
        """
        from driftline.checks import _ts
        from driftline.embeddings import project
        from driftline.engine.labels import latest_labels

        if by not in ("prediction", "label"):
            raise ConfigError(
                f"by={by!r} is not understood; embeddings are drawn per 'prediction' (the "
                "predicted class) or per 'label' (the true class)."
            )
        if reference is None and not self.store.has_table("reference_" + name):
            raise ProfileError(
                f"the store holds no reference named {name!r} yet; log the reference (with "
                "its embedding column) before projecting embeddings, or give one where it "
                "lies (reference=...)."
            )
        if predictions is None and not self.store.has_table("predictions"):
            raise ProfileError(
                "the store holds no predictions yet; log them (with their embedding column) "
                "before projecting embeddings, or give them where they lie (predictions=...)."
            )
        ref_engine, ref, _ = self._reference(name, reference)
        engine, serving = self._predictions_on(predictions)
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
            if labels is None and not (
                self.store.has_table("labels") and self.store._scalar("SELECT count(*) FROM labels")
            ):
                raise ProfileError(
                    "the store holds no labels yet; log them with `driftline log --labels "
                    "FILE` (or `Monitor.log_labels(df)`), give them where they lie "
                    "(labels=...), or project by='prediction'."
                )
            latest = latest_labels(self._labels_on(engine, labels))
            latest = latest.select(__dl_lid=latest["id"], __dl_label=latest["label"])
            serving = serving.join(
                latest, serving[self.spec.id].cast("string") == latest["__dl_lid"].cast("string")
            )
        return project(
            engine,
            ref,
            serving,
            self.spec,
            by=ref_by,
            serving_by=serving_by,
            method=method,
            window=self.spec.window_parsed,
            cohort=cohort,
            cap=cap,
            reference_engine=ref_engine,
        )

    def report(
        self,
        path: str | Path = "report.html",
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        *,
        model: Any = None,
        explain_rows: int = 20,
        seed: int = 0,
        predictions: str | Path | None = None,
        labels: str | Path | None = None,
    ) -> Path:
        """Run the checks (without storing results) and write the HTML report to ``path``.

        With ``model`` (anything with ``predict_proba``) the report's model section holds
        LIME per class over ``explain_rows`` logged rows of each class and the robustness
        checks on the reference. ``predictions`` and ``labels`` are sources read where
        they lie (see :meth:`check`); the model section reads stored rows, so ``model``
        is refused with them."""
        from driftline.report import render_report

        check_output_path(path)
        if model is not None and predictions is not None:
            from driftline.errors import UnsupportedOperationError

            raise UnsupportedOperationError(
                "the report's model section (LIME, robustness) explains stored predictions "
                "and the stored reference, and predictions read where they lie are not "
                "stored; log a sample with `driftline log FILE` and report on the store, or "
                "leave out the model (--model)."
            )
        report = self.check(since, until, persist=False, predictions=predictions, labels=labels)
        if model is None:
            return render_report(report, path)
        explanations = self.explain(model, n=explain_rows, num_samples=500, seed=seed)
        robustness = self.robustness(model, n=300, seed=seed)
        return render_report(report, path, explanations=explanations, robustness=robustness)

    # -- the model: samples, robustness, explanations ---------------------------------------
    def sample(
        self,
        n: int = 500,
        *,
        source: str = "predictions",
        seed: int = 0,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        predicted: str | None = None,
        ids: Sequence[str] | None = None,
    ) -> Any:
        """Up to ``n`` stored rows as a pandas DataFrame, drawn reproducibly: ordered by
        the md5 of ``seed`` and the id, so the same seed gives the same rows and another
        seed others. ``source`` is ``"predictions"`` or ``"reference"``; ``predicted``
        keeps one predicted class, ``ids`` exactly those ids."""
        from driftline._ingest import quote
        from driftline.checks import _ts

        if n < 1:
            raise ConfigError(f"n must be at least 1; got {n}.")
        if source == "reference":
            table = "reference_reference"
            if not self.store.has_table(table):
                raise ProfileError(
                    "the store holds no reference; log one with `driftline log --reference "
                    "FILE` or `Monitor.log_reference(df)`."
                )
        elif source == "predictions":
            table = "predictions"
            if not self.store.has_table(table):
                raise ConfigError(
                    "the store holds no predictions yet; log some with `driftline log FILE`."
                )
        else:
            raise ConfigError(f"source must be 'predictions' or 'reference'; got {source!r}.")
        s = self.spec
        where: list[str] = ["TRUE"]
        params: list[Any] = []
        if source == "predictions":
            for bound, op, name in ((since, ">=", "since"), (until, "<", "until")):
                if (t := _ts(bound, name)) is not None:
                    where.append(f"{quote(s.timestamp)} {op} CAST(? AS TIMESTAMP)")
                    params.append(t.replace(tzinfo=None))
        if predicted is not None:
            if predicted not in s.classes:
                raise ConfigError(
                    f"class {shorten(predicted)} is not a class of the spec; its classes are "
                    f"{', '.join(map(repr, s.classes[:5]))}."
                )
            where.append(f"CAST({quote(s.prediction)} AS VARCHAR) = ?")
            params.append(predicted)
        if ids is not None:
            where.append(f"CAST({quote(s.id)} AS VARCHAR) IN (SELECT unnest(?::VARCHAR[]))")
            params.append([str(i) for i in ids])
        order = f"md5(CAST(? AS VARCHAR) || CAST({quote(s.id)} AS VARCHAR))"
        sql = f"SELECT * FROM {quote(table)} WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?"
        return self.store.con.execute(sql, [*params, str(seed), n]).fetch_df()

    def robustness(
        self,
        model: Any,
        *,
        source: str = "reference",
        n: int = 500,
        seed: int = 0,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        **options: Any,
    ) -> Any:
        """Perturb ``n`` stored rows (the reference: a training-data check; or logged
        predictions) and report how often ``model``'s prediction flips
        (:func:`driftline.robustness.check_robustness`; ``options`` are its
        :class:`~driftline.robustness.RobustnessConfig` fields). The model is called
        with a DataFrame of the spec's features, or a list of strings when the spec's
        only feature is one text column."""
        from driftline.robustness import check_robustness

        rows = self._model_inputs(
            self.sample(n, source=source, seed=seed, since=since, until=until), model
        )
        reference = self._model_inputs(self.sample(5000, source="reference", seed=seed), model)
        return check_robustness(
            model,
            rows,
            reference=reference if hasattr(rows, "columns") else None,
            text_columns=self.spec.features.text,
            seed=seed,
            **options,
        )

    def explain(
        self,
        model: Any,
        *,
        ids: Sequence[str] | None = None,
        classes: Sequence[str] | None = None,
        n: int = 100,
        select: str = "random",
        seed: int = 0,
        **options: Any,
    ) -> list[Any]:
        """LIME for logged predictions: one :class:`~driftline.explain.Explanation` per
        id in ``ids``, or else one :class:`~driftline.explain.ClassExplanation` per class
        in ``classes`` (default: every class) over up to ``n`` logged rows predicted as
        it. The reference is LIME's training data for a tabular model."""
        from driftline.explain import check_lime_options, explain, explain_class

        # before the rows are sampled: refused at once
        check_lime_options(options.get("num_features"), options.get("num_samples"))
        text_only = self._text_only()
        reference = (
            None
            if text_only
            else self._model_inputs(self.sample(5000, source="reference", seed=seed), model)
        )
        model_classes = getattr(getattr(model, "unwrapped", model), "classes_", None)
        names = list(self.spec.classes) if model_classes is None else None
        if ids is not None:
            rows = self.sample(len(ids), ids=ids)
            found = set(rows[self.spec.id].astype(str))
            missing = [i for i in ids if str(i) not in found]
            if missing:
                raise ConfigError(
                    f"no logged prediction has id {shorten(str(missing[0]))}; give ids of "
                    "stored predictions."
                )
            inputs = self._model_inputs(rows, model)
            return [
                explain(
                    model,
                    inputs[k] if text_only else inputs.iloc[[k]],
                    reference=reference,
                    classes=names,
                    seed=seed,
                    **options,
                )
                for k in range(len(rows))
            ]
        out = []
        for klass in classes if classes is not None else self.spec.classes:
            rows = self.sample(max(n * 5, 200), predicted=str(klass), seed=seed)
            if len(rows) == 0:
                continue
            out.append(
                explain_class(
                    model,
                    self._model_inputs(rows, model),
                    klass,
                    reference=reference,
                    classes=names,
                    n=n,
                    select=select,  # type: ignore[arg-type]
                    seed=seed,
                    **options,
                )
            )
        return out

    def _text_only(self) -> bool:
        f = self.spec.features
        return len(f.text) == 1 and not f.numeric and not f.categorical

    def _model_inputs(self, rows: Any, model: Any = None) -> Any:
        """What the model is called with: the columns it was fitted on
        (``feature_names_in_``, in that order) when it names them, else the spec's
        features; a list of strings when the spec's one feature is a text column."""
        f = self.spec.features
        if self._text_only():
            return [str(v) if v is not None else "" for v in rows[f.text[0]]]
        fitted = getattr(getattr(model, "unwrapped", model), "feature_names_in_", None)
        if fitted is not None:
            missing = [str(c) for c in fitted if str(c) not in rows.columns]
            if missing:
                raise ConfigError(
                    f"the model was fitted on column {shorten(missing[0])}, which the store "
                    "does not hold; log it as a feature (the spec's features), or explain "
                    "a model fitted on the logged columns."
                )
            return rows[[str(c) for c in fitted]].reset_index(drop=True)
        cols = [c for c in (*f.numeric, *f.categorical, *f.text) if c in rows.columns]
        return rows[cols].reset_index(drop=True)

    def _row_window_start(self, since: datetime) -> datetime:
        """The start of the row-count window holding ``since`` that the store keeps,
        decided under this spec and profile (``since`` itself when none holds it)."""
        from driftline.checks._incremental import fingerprints

        if not self.store.has_table("results"):
            return since
        at = since.astimezone(timezone.utc).replace(tzinfo=None) if since.tzinfo else since
        row = self.store.con.execute(
            "SELECT max(window_start) FROM results WHERE window_start <= ? AND window_end > ? "
            "AND fingerprint = ?",
            [at, at, fingerprints(self.spec, self.profile)[1]],
        ).fetchone()
        if not row or not isinstance(row[0], datetime):
            return since
        return row[0].replace(tzinfo=timezone.utc)

    def _earlier(self, before: datetime, fingerprint: str) -> Earlier | None:
        """The stored windows before ``before`` decided under ``fingerprint`` (the spec
        and profile of this check) and their alerts, for the incidents of a check
        ``--since``: one that began before the range keeps its start and id."""
        from driftline.checks import Alert, _iso, alert_id
        from driftline.incidents import Earlier

        if not fingerprint or not self.store.has_table("results"):
            return None
        until = before.astimezone(timezone.utc).replace(tzinfo=None) if before.tzinfo else before
        where = "FROM results WHERE window_start < ? AND fingerprint = ?"
        con, params = self.store.con, [until, fingerprint]
        found = con.execute(f'SELECT DISTINCT "window" {where}', params).fetchall()
        windows = [int(r[0]) for r in found]
        rows = con.execute(
            'SELECT "window", window_start, cohort, cohort_value, "check", "column", value, '
            f"bound {where} AND status = 'alert'",
            params,
        ).fetchall()
        alerts = [
            Alert(int(w), _iso(start), c, v, chk, col, val, bound, "", alert_id(w, c, v, chk, col))
            for w, start, c, v, chk, col, val, bound in rows
        ]
        return Earlier(sorted(windows), alerts)

    def _persist(
        self,
        report: CheckReport,
        history: History,
        lo: datetime | None,
        hi: datetime | None,
        *,
        store: bool = True,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[datetime]]:
        """Store the results and alerts of the windows this run evaluated (not those cut
        by since / until), replacing what the store held for them, and the run's row in
        the run log (``store=False``: only build them). Returns the result rows, the
        alert rows and the windows' starts."""
        from driftline.checks._incremental import decided_rows

        now = datetime.now(timezone.utc).replace(tzinfo=None)
        keep = history.evaluated - history.transient
        rows = []
        place: dict[tuple[str | None, str | None, int], int] = {}
        starts: dict[int, datetime] = {}
        decided = report.window_results(keep)  # not the results read back
        for r in decided:
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
        windows = sorted(set(starts.values()))
        if not store:
            return rows, alerts, windows
        checked = (lo, hi, history.result_fp) if history.result_fp else None
        if history.rows:  # row windows: every stored result in range is replaced
            self.store.save_run(
                rows, alerts, run, between=(lo, hi), checked=checked, overlapping=True
            )
        else:
            texts = decided_rows(decided, keep, history, report.run_id)
            self.store.save_run(rows, alerts, run, windows=windows, decided=texts, checked=checked)
        return rows, alerts, windows


def _chosen_thresholds(path: Path) -> dict[str, Any] | None:
    """The settings the thresholds of the profile saved at ``path`` were chosen with
    (by ``driftline thresholds``), or None: no profile, none chosen, or a profile this
    version cannot read (refitting replaces it)."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))["thresholds"]["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return config if isinstance(config, dict) else None


def threshold_config(spec: Spec, given: Mapping[str, Any]) -> ThresholdConfig:
    """The spec's ``thresholds`` section with ``given`` over it (a given ``objective``
    replaces the spec's objective and its settings: ``beta``, ``target``, ``cost``);
    keys that are not options, or values it cannot take, are a :class:`ConfigError`."""
    from pydantic import ValidationError

    from driftline.spec import ThresholdConfig

    base = spec.thresholds.model_dump(exclude_defaults=True) if spec.thresholds else {}
    given = {k: v for k, v in given.items() if v is not None}
    if "objective" in given:
        base = {k: v for k, v in base.items() if k in ("band", "tolerance")}
    try:
        return ThresholdConfig(**{**base, **given})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'thresholds'}: "
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        )
        allowed = ", ".join(ThresholdConfig.model_fields)
        raise ConfigError(
            f"threshold options are not valid: {problems}. The options are {allowed}; fix "
            "the spec's thresholds section or the options given."
        ) from exc


def _naive(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).replace(tzinfo=None)

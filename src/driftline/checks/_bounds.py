"""Alert bounds calibrated on the reference at the window's size (cached), and the
verdict of a result: ok, warn (beyond the bound), alert (beyond the bound and the floor).

Confirmation (``checks.confirm_quantile``, default 0.995): a window has many drift
results (features x checks), and the 0.999 bound of each, calibrated at the size grid's
point below the window's size, is what keeps a window without drift quiet. Once one of
them alerts, the window has drifted; the others of that window and cohort value are then
judged at their 0.995 quantile at the window's own size, and those beyond it (and beyond
their floor) alert too. A window with no drift alerts no more often than before (a
confirmation needs an alert of the usual rule first), while drift that moves several
columns at once, the common case, is caught in all of them at a few hundred rows.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from driftline.checks._registry import Status
from driftline.methods import Calibration, Resampler, get_method, size_grid
from driftline.spec import Spec


# --------------------------------------------------------------------------------------
# bounds
# --------------------------------------------------------------------------------------
def _z(quantile: float) -> float:
    """Two-sided normal quantile for a false-alarm rate of ``1 - quantile``."""
    return NormalDist().inv_cdf(1 - (1 - quantile) / 2)


@dataclass
class _Kept:
    """Bytes of pseudo-reference draws kept for reuse, against :attr:`_Bounds.KEEP_BYTES`."""

    bytes: int = 0


class _Bounds:
    """Alert bounds for one run: calibrated on the reference, cached.

    Calibrations are keyed by everything they depend on (method, reference counts,
    edges, the window size rounded down to the size grid, reps, quantile, seed), so the
    cache can outlive the run: the store keeps it, and a daily check reuses it.

    A run asks for the same floors and closed-form bounds over and over (a thousand
    features share a window's size, most share their missing share): each is worked out
    once per run and remembered, by its arguments.
    """

    #: bytes of pseudo-reference draws a run may keep for reuse across window sizes
    #: (:class:`~driftline.methods.Resampler`); columns beyond it draw them per size
    KEEP_BYTES = 256 * 2**20
    #: most threads :meth:`prefetch` calibrates on (each holds a column's draws)
    THREADS = 4

    def __init__(
        self,
        spec: Spec,
        cache: MutableMapping[str, Calibration] | None = None,
        kept: _Kept | None = None,
    ) -> None:
        self.cfg = spec.checks
        self.z = _z(self.cfg.alert_quantile)
        self.cache: MutableMapping[str, Calibration] = {} if cache is None else cache
        #: the draws kept, counted with those of every bounds sharing it: a run's
        #: evaluators (one per cohort value) live together and keep within one budget
        self.kept = _Kept() if kept is None else kept
        self._floors: dict[tuple[str, str, str | None], tuple[float, str]] = {}
        self._known: dict[tuple[Any, ...], tuple[float, str]] = {}
        self._grid: dict[int, int] = {}  # window size -> its size-grid point

    def calibrate(
        self, method: str, ref_counts: Sequence[float], n: int, edges: Any = None
    ) -> Calibration:
        return self.calibrator(method, ref_counts, edges)(n)

    def calibrator(
        self, method: str, ref_counts: Sequence[float], edges: Any = None
    ) -> _Calibrator:
        """``calibrate`` for one reference: window size -> calibration."""
        return _Calibrator(self, method, ref_counts, edges)

    def prefetch(self, wanted: Sequence[tuple[_Calibrator, Iterable[int]]]) -> None:
        """Compute the missing calibrations of several references at once, on up to
        :attr:`THREADS` threads: first each reference's pseudo-reference draws, then
        every (reference, window size) pair. numpy's multinomial draws and array
        arithmetic release the GIL, so a store's first check calibrates in parallel.
        Every calibration draws from its own seeded generator: the bounds are the same as
        one by one, in any order.

        References that share a cache key (same method, counts and edges: quantile bins
        give most numeric columns the same counts) are calibrated once: on a thousand
        features that is a few dozen simulations instead of thousands."""
        todo: list[tuple[_Calibrator, list[int]]] = []
        claimed: set[str] = set()
        for cal, sizes in wanted:
            grids = [g for g in cal.missing(sizes) if cal.key(g) not in claimed]
            claimed.update(cal.key(g) for g in grids)
            if grids:
                todo.append((cal, grids))
        # created in this thread: the memory budget of kept draws is counted in one place
        resamplers = [cal.resampler() for cal, _ in todo]
        jobs = [(cal, g) for cal, grids in todo for g in grids]
        threads = min(self.THREADS, os.cpu_count() or 1, len(jobs))
        if threads < 2:
            for cal, g in jobs:
                self.cache.update(cal.compute([g]))
            return
        with ThreadPoolExecutor(threads, thread_name_prefix="driftline-calibrate") as pool:
            prepared = zip(resamplers, [grids for _, grids in todo], strict=True)
            list(pool.map(lambda job: job[0].prepare(job[1]), prepared))
            found = list(pool.map(lambda job: job[0].compute([job[1]]), jobs))
        for calibrations in found:
            self.cache.update(calibrations)

    def grid(self, n: int) -> int:
        """``size_grid(n)``, remembered: every column of a scope asks for the same sizes."""
        found = self._grid.get(n)
        if found is None:
            found = self._grid[n] = size_grid(n)
        return found

    def decide(self, check: str, calibrated: float, how: str) -> tuple[float, str]:
        """The bound of ``check``: ``checks.fixed_bounds`` when set, else calibrated."""
        fixed = self.cfg.fixed_bounds.get(check)
        if fixed is not None:
            return fixed, f"fixed bound {fixed:g} (spec checks.fixed_bounds)"
        return calibrated, f"calibrated: {how}"

    def verdict(
        self,
        check: str,
        method: str,
        column: str | None,
        value: float,
        effect: float,
        bound: float,
        to_value: Callable[[float], float] | None = None,
        bias: float = 0.0,
    ) -> Verdict:
        """``alert`` when ``value`` is beyond ``bound`` and ``effect`` beyond the floor
        (``spec.checks.floors``); ``warn`` when only the bound is passed; else ``ok``.
        With a fixed bound the floor does not apply. ``to_value`` turns an effect into
        the value's units, to say which threshold was the higher.

        ``bias`` is the effect's no-drift mean at the window's size (the calibration's):
        a distance between two samples is positive by chance alone, the more so the
        smaller they are, so the floor is met by the effect beyond that mean, ``|effect|
        - bias > floor``. What chance adds to a small window never counts as material.
        """
        if check in self.cfg.fixed_bounds:
            return Verdict("alert" if abs(value) > bound else "ok", None, None, "fixed")
        floor, where = self._floor(check, method, column)
        if bias > 0:
            where = f"{where}, beyond the no-drift mean {bias:.3g}"
        beyond = abs(value) > bound
        status: Status = ("alert" if abs(effect) - bias > floor else "warn") if beyond else "ok"
        floor_value = to_value(floor + bias) if to_value is not None else floor + bias
        return Verdict(status, floor, where, "floor" if floor_value > bound else "bound")

    def _floor(self, check: str, method: str, column: str | None) -> tuple[float, str]:
        """``spec.checks.floors.resolve``, once per (check, method, column) and run."""
        key = (check, method, column)
        found = self._floors.get(key)
        if found is None:
            found = self._floors[key] = self.cfg.floors.resolve(check, method, column)
        return found

    def _remembered(
        self, compute: Callable[..., tuple[float, str]], *args: Any
    ) -> tuple[float, str]:
        """``compute(*args)``, computed once per run: a bound and its ``how`` depend on
        their arguments only."""
        key = (compute.__name__, *args)
        found = self._known.get(key)
        if found is None:
            found = self._known[key] = compute(*args)
        return found

    def normal(self, check: str, sd: float, n: int, n_ref: int) -> tuple[float, str]:
        """Bound on |mean difference| between a window of n and a reference of n_ref."""
        return self._remembered(self._normal, check, sd, n, n_ref)

    def _normal(self, check: str, sd: float, n: int, n_ref: int) -> tuple[float, str]:
        se = sd * math.sqrt(1 / n + 1 / max(n_ref, 1))
        how = (
            f"q{self.cfg.alert_quantile:g} of the no-drift difference of means "
            f"(normal, sd {sd:.3g}, window n={n}, reference n={n_ref})"
        )
        return self.decide(check, self.z * se, how)

    def rate(self, check: str, p0: float, n: int, what: str) -> tuple[float, str]:
        """Bound on a rate whose no-drift expectation is p0 (binomial, one-sided)."""
        return self._remembered(self._rate, check, p0, n, what)

    def _rate(self, check: str, p0: float, n: int, what: str) -> tuple[float, str]:
        z1 = NormalDist().inv_cdf(self.cfg.alert_quantile)
        b = p0 + z1 * math.sqrt(max(p0 * (1 - p0), 0.0) / n) + 1.0 / n
        how = f"q{self.cfg.alert_quantile:g} of a binomial rate around {what} {p0:.3g} (n={n})"
        return self.decide(check, b, how)

    def beyond_range(self, n: int, n_ref: int) -> tuple[float, str]:
        """Bound on the share of values outside the reference's [min, max].

        The reference's extremes are themselves sample extremes: the mass beyond one of
        them follows Beta(1, n_ref), so its ``alert_quantile`` is
        ``1 - (1 - q) ** (1 / n_ref)``; both tails together, plus the window's binomial
        noise, make the bound.
        """
        return self._remembered(self._beyond_range, n, n_ref)

    def _beyond_range(self, n: int, n_ref: int) -> tuple[float, str]:
        q = self.cfg.alert_quantile
        p0 = 2 * (1 - (1 - q) ** (1 / n_ref))
        z1 = NormalDist().inv_cdf(q)
        b = p0 + z1 * math.sqrt(p0 * (1 - p0) / n) + 1.0 / n
        how = (
            f"q{q:g} of the mass beyond the reference's extremes (Beta(1, {n_ref}) per tail) "
            f"plus binomial noise at n={n}"
        )
        return self.decide("out_of_range", b, how)

    def resampled(
        self, check: str, method: str, ref_counts: Sequence[int], n: int
    ) -> tuple[float, str]:
        cal = self.calibrate(method, ref_counts, n)
        return self.decide(check, float(cal.bound), cal.how)


@dataclass(frozen=True)
class Verdict:
    """How one result was decided (see :meth:`_Bounds.verdict`)."""

    status: Status
    floor: float | None
    floor_how: str | None
    decided_by: str


class _Calibrator:
    """Calibrations of one reference (method, counts, edges) at any window size.

    The cache key is the SHA-256 of a JSON list whose head (method, counts, edges) is the
    same for every window of a column, so that head is hashed once here; a reference of
    5000 categories would otherwise be serialised for every window. A size calibrated
    from the moments of fewer resamples (:meth:`Resampler.uses_moments`) has
    ``"moments"`` at the end of its list: a store's bounds from before it are not mistaken
    for its own.
    """

    def __init__(
        self, bounds: _Bounds, method: str, ref_counts: Sequence[float], edges: Any
    ) -> None:
        self.bounds = bounds
        self.method = method
        self.counts = [float(c) for c in ref_counts]
        self.edges = edges
        bins = None if edges is None else [float(e) for e in edges]
        # json.dumps([*head, *tail]) == json.dumps(head)[:-1] + ", " + json.dumps(tail)[1:]
        self._head = hashlib.sha256(json.dumps([method, self.counts, bins])[:-1].encode())
        self._cell_sum = get_method(method).cell_sum
        self._cells = sum(1 for c in self.counts if c > 0)
        self._n_reference = max(1, round(sum(self.counts)))
        self._keys: dict[tuple[int, float], str] = {}
        self._by_size: dict[int, Calibration] = {}  # window size -> its calibration
        self._confirming: dict[int, Calibration] = {}  # the same, at confirm_quantile
        self._resampler: Resampler | None = None

    def key(self, grid: int, quantile: float | None = None) -> str:
        """The cache key at window size ``grid``, at ``quantile`` (default: the alert's)."""
        cfg = self.bounds.cfg
        q = cfg.alert_quantile if quantile is None else quantile
        key = self._keys.get((grid, q))
        if key is None:
            fields: list[Any] = [grid, cfg.calibration_reps, q, cfg.seed]
            if Resampler.moments_apply(self._cell_sum, self._cells, grid, self._n_reference):
                fields.append("moments")
            tail = json.dumps(fields)
            digest = self._head.copy()
            digest.update((", " + tail[1:]).encode())
            key = self._keys[(grid, q)] = digest.hexdigest()[:32]
        return key

    def missing(self, sizes: Iterable[int]) -> list[int]:
        """The size-grid points of ``sizes`` not in the cache yet."""
        grids = sorted({self.bounds.grid(n) for n in sizes})
        return [g for g in grids if self.key(g) not in self.bounds.cache]

    def resampler(self) -> Resampler:
        if self._resampler is None:
            cfg, bounds = self.bounds.cfg, self.bounds
            r = Resampler(
                self.method,
                self.counts,
                edges=self.edges,
                reps=cfg.calibration_reps,
                quantile=cfg.alert_quantile,
                seed=cfg.seed,
            )
            r.keep = bounds.kept.bytes + r.nbytes <= bounds.KEEP_BYTES
            bounds.kept.bytes += r.nbytes if r.keep else 0
            self._resampler = r
        return self._resampler

    def compute(self, grids: Sequence[int]) -> dict[str, Calibration]:
        """Calibrations at ``grids`` (size-grid points), by cache key; reads no cache."""
        resampler = self.resampler()
        return {self.key(g): resampler.bound(g) for g in grids}

    def __call__(self, n: int) -> Calibration:
        found = self._by_size.get(n)
        if found is None:
            grid = self.bounds.grid(n)
            key = self.key(grid)
            cache = self.bounds.cache
            if key not in cache:
                cache.update(self.compute([grid]))
            found = self._by_size[n] = cache[key]
        return found

    def confirming(self, n: int) -> Calibration:
        """The calibration at ``checks.confirm_quantile`` and the window's own size ``n``
        (not the size grid's point below it), cached like the alert's. Asked only in a
        window that has an alert, so a run without drift computes none."""
        found = self._confirming.get(n)
        if found is None:
            q = self.bounds.cfg.confirm_at
            assert q is not None, "confirmation is off (checks.confirm_quantile: null)"
            key = self.key(n, q)
            cache = self.bounds.cache
            if key not in cache:
                cache[key] = self.resampler().bound(n, q)
            found = self._confirming[n] = cache[key]
        return found

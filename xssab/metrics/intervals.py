"""Pair-level bootstrap intervals and paired comparisons for any per-pair summary.

The unit of evidence of the benchmark is the pair: every summary (a DPR area, a gap to
random, a localisation mean, a deletion AUC, ...) is a function of per-pair arrays on a
fixed pair list. This module resamples **pair indices** and recomputes the summary on
each resample, so a summary that is not a plain mean (an area of a curve whose points
are rates over one class, a difference of two methods) gets its interval the same way as
a mean does.

How to use it: write each summary as a *statistic* ``stat(idx) -> values``, where ``idx``
is an integer array of pair indices of shape ``(..., n)`` (one resample per leading
position; the full sample is ``np.arange(n)``) and ``values`` has shape ``(...)`` for a
number or ``(..., K)`` for a curve of ``K`` points. Index your per-pair arrays with
``idx`` and reduce over the pair axis; :func:`class_mean` and :func:`nan_mean` build the
common cases. Then::

    plan = Bootstrap(strata=same, n_resamples=1000, level=0.95, seed=0)
    res = plan.run({"gap_fmr": gap_fmr, "gap_fmr xssab-xcos": diff})
    res["gap_fmr"].low, res["gap_fmr"].high, res["gap_fmr xssab-xcos"].p_value

Choices (and why):

* **Stratified by class** (``strata``, e.g. genuine/impostor): the benchmark fixes how
  many genuine and impostor pairs it holds, and FMR/FNMR are rates over one class each,
  so a resample keeps each class's size (the denominators stay fixed, no resample can
  lose a class). ``strata=None`` resamples all pairs together.
* **Paired**: every statistic of one :meth:`Bootstrap.run` call sees the SAME resampled
  indices, so a difference between two methods (or between a method and the random
  strategy) is computed on the same pairs in every resample, as the protocol intends.
  Differences are therefore just statistics (:func:`difference`).
* **Percentile intervals by default**; ``method="BCa"`` is available. The summaries are
  means or linear functions of means of bounded per-pair values, whose bootstrap
  distributions are close to symmetric at the pair counts the bench uses (>= 100 per
  class), where percentile and BCa agree to the Monte Carlo error (measured with the
  honest-interval simulation in tests/metrics/test_intervals.py: both within a point or
  two of 95 %). BCa needs a jackknife over every pair (n extra evaluations) and returns
  NaN when the bootstrap distribution is degenerate (a curve stuck at 0, common on small
  sets); percentile intervals never do (they return ``[v, v]``). Where BCa gives NaN we
  fall back to the percentile interval of that component and say so in ``method``.
* **p-value** of a statistic against 0 (used for differences): two-sided bootstrap
  p-value from the same resamples, ``min(1, 2 * min(#(d* <= 0) + 1, #(d* >= 0) + 1) /
  (B + 1))``. With percentile intervals, ``p < 1 - level`` agrees with "the interval
  excludes 0" up to the ``+1`` correction. Several comparisons are made per run; report
  their number (the bench does) or control the false-discovery rate with
  :func:`benjamini_hochberg`.
* **Seeded**: ``seed`` fixes the resamples (``numpy.random.default_rng(seed)``); the
  same seed, data and statistics give the same intervals.
* The decision threshold of the benchmark is fixed (EER of the unpatched set) and is
  NOT resampled; intervals are conditional on it.
"""

from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from ..errors import XssabError

DEFAULT_RESAMPLES = 1000
DEFAULT_LEVEL = 0.95
#: values closer to 0 than this are rounding noise of the summed statistics
ZERO_TOL = 1e-12
METHODS = ("percentile", "BCa")

Statistic = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Interval:
    """A summary with its bootstrap interval (arrays of shape (K,) for curves).

    ``p_value``: two-sided bootstrap p-value of "the statistic is 0" (see module doc).
    """

    estimate: float | np.ndarray
    low: float | np.ndarray
    high: float | np.ndarray
    p_value: float | np.ndarray
    level: float
    method: str
    n_resamples: int
    distribution: np.ndarray = field(repr=False, compare=False)

    def ci(self) -> list:
        """``[lo, hi]`` (a scalar) or ``[[lo, hi], ...]`` (a curve), JSON-ready."""
        if np.ndim(self.low) == 0:
            return [_num(self.low), _num(self.high)]
        return [[_num(lo), _num(hi)] for lo, hi in zip(self.low, self.high)]

    def contains(self, value: float = 0.0) -> bool | np.ndarray:
        return (np.asarray(self.low) <= value) & (value <= np.asarray(self.high))

    @property
    def significant(self) -> bool | np.ndarray:
        """The interval excludes 0 (for a difference: the data supports a winner)."""
        return ~self.contains(0.0)


def _num(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def _check_level(level: float) -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise XssabError(f"confidence level {level}: expected a number between 0 and 1 "
                         "(e.g. 0.95)")
    return level


def _scipy_bootstrap():
    """``scipy.stats.bootstrap`` and the name of its seed argument (``rng`` since SciPy
    1.15, ``random_state`` before). Imported when first used: ``scipy.stats`` takes
    ~0.5 s to import, which a run pays only when it computes intervals."""
    from scipy import stats

    try:
        params = inspect.signature(stats.bootstrap).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return stats.bootstrap, "random_state"
    return stats.bootstrap, ("rng" if "rng" in params else "random_state")


@dataclass
class Bootstrap:
    """A pair-level bootstrap plan (see the module docstring).

    ``n_pairs`` or ``strata`` gives the sample: ``strata`` is one label per pair (e.g.
    ``same``), pairs are resampled within each label with its own size.
    """

    strata: Sequence | np.ndarray | None = None
    n_pairs: int | None = None
    n_resamples: int = DEFAULT_RESAMPLES
    level: float = DEFAULT_LEVEL
    method: str = "percentile"
    seed: int = 0
    batch: int | None = None

    def __post_init__(self):
        _check_level(self.level)
        if int(self.n_resamples) < 2:
            raise XssabError(f"--bootstrap {self.n_resamples}: expected at least 2 "
                             "resamples (1000 or more for a 95% interval)")
        meth = {m.lower(): m for m in METHODS}.get(str(self.method).lower())
        if meth is None:
            raise XssabError(f"bootstrap method {self.method!r}: expected one of "
                             f"{', '.join(METHODS)}")
        self.method = meth
        if self.strata is not None:
            labels = np.asarray(self.strata)
            if self.n_pairs is not None and int(self.n_pairs) != labels.shape[0]:
                raise ValueError(f"n_pairs {self.n_pairs} != {labels.shape[0]} strata labels")
            self.n_pairs = int(labels.shape[0])
            self._groups = [np.flatnonzero(labels == u) for u in np.unique(labels)]
        elif self.n_pairs is not None:
            self._groups = [np.arange(int(self.n_pairs))]
        else:
            raise ValueError("give n_pairs or strata")
        if self.n_pairs < 1:
            raise XssabError("cannot compute an interval over 0 pairs")

    def run(self, statistics: Mapping[str, Statistic]) -> dict[str, Interval]:
        """Intervals of every statistic, all on the same resampled pair indices."""
        names = list(statistics)
        full = np.arange(self.n_pairs)
        estimates = {k: np.array(statistics[k](full), dtype=np.float64) for k in names}
        for v in estimates.values():
            v[np.abs(v) < ZERO_TOL] = 0.0
        sizes = {k: int(estimates[k].size) for k in names}
        offsets = np.cumsum([0] + [sizes[k] for k in names])
        groups = self._groups

        def stat(*samples, axis=-1):
            # samples: resampled global pair indices of each stratum, shape (..., n_s)
            idx = np.concatenate([np.moveaxis(np.asarray(s), axis, -1) for s in samples],
                                 axis=-1)
            out = []
            for k in names:
                v = np.asarray(statistics[k](idx), dtype=np.float64)
                lead = idx.shape[:-1]
                v = v.reshape(lead + (sizes[k],))
                out.append(v)
            allv = np.concatenate(out, axis=-1)  # (..., K_total)
            return np.moveaxis(allv, -1, 0)  # scipy: output axis first

        bootstrap, rng_kw = _scipy_bootstrap()
        kw = {rng_kw: np.random.default_rng(self.seed)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # degenerate/NaN components handled below
            with np.errstate(invalid="ignore", divide="ignore"):
                res = bootstrap(tuple(groups), stat, n_resamples=int(self.n_resamples),
                                    paired=False, vectorized=True,
                                    confidence_level=self.level, method=self.method,
                                    batch=self.batch, **kw)
        dist = np.asarray(res.bootstrap_distribution, dtype=np.float64)
        dist = dist.reshape(int(offsets[-1]), -1)
        lo = np.atleast_1d(np.array(res.confidence_interval.low, dtype=np.float64))
        hi = np.atleast_1d(np.array(res.confidence_interval.high, dtype=np.float64))
        plo, phi = _percentile_ci(dist, self.level)
        method = np.full(lo.shape, self.method, dtype=object)
        bad = ~(np.isfinite(lo) & np.isfinite(hi))
        if self.method != "percentile" and bad.any():
            lo, hi = lo.copy(), hi.copy()
            lo[bad], hi[bad] = plo[bad], phi[bad]
            method[bad] = "percentile (BCa undefined)"
        # sums of resample counts x values carry ~1e-17 rounding: a difference that is 0
        # on a resample must read as 0 (contains(0), p-values), not as +1.7e-17
        for arr in (dist, lo, hi):
            arr[np.abs(arr) < ZERO_TOL] = 0.0
        pv = _p_value(dist)
        out = {}
        for j, k in enumerate(names):
            sl = slice(int(offsets[j]), int(offsets[j + 1]))
            scalar = estimates[k].ndim == 0
            pick = (lambda a: float(a[sl][0])) if scalar else (lambda a: a[sl].copy())
            meths = set(method[sl])
            out[k] = Interval(estimate=float(estimates[k]) if scalar else estimates[k].ravel(),
                              low=pick(lo), high=pick(hi), p_value=pick(pv),
                              level=self.level,
                              method=meths.pop() if len(meths) == 1 else "mixed",
                              n_resamples=int(self.n_resamples), distribution=dist[sl])
        return out


def _percentile_ci(dist: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    a = (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lo = np.nanpercentile(dist, 100 * a, axis=-1) if dist.size else np.zeros(0)
        hi = np.nanpercentile(dist, 100 * (1 - a), axis=-1) if dist.size else np.zeros(0)
    return np.asarray(lo, np.float64), np.asarray(hi, np.float64)


def _p_value(dist: np.ndarray) -> np.ndarray:
    """Two-sided bootstrap p-value of 0 for each row of ``dist`` (K, B); NaN rows -> NaN."""
    ok = np.isfinite(dist)
    b = ok.sum(axis=-1)
    le = ((dist <= 0) & ok).sum(axis=-1)
    ge = ((dist >= 0) & ok).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 2.0 * np.minimum(le + 1, ge + 1) / (b + 1)
    p = np.minimum(p, 1.0)
    return np.where(b > 0, p, np.nan)


# ----------------------------------------------------------------------- statistics
_COUNTS: list = [None, 0, None]  # (idx array, n, counts): the last resample's counts


def pair_counts(idx, n: int) -> np.ndarray:
    """How often each of the ``n`` pairs occurs in each resample: ``idx`` (..., m) ->
    float64 (..., n). Statistics of one resample batch share the result (memoised on the
    ``idx`` object), so summaries cost a matrix product instead of a gather."""
    idx = np.asarray(idx)
    if _COUNTS[0] is idx and _COUNTS[1] == n:
        return _COUNTS[2]
    lead = idx.shape[:-1]
    rows = int(np.prod(lead)) if lead else 1
    flat = idx.reshape(rows, -1) + (np.arange(rows, dtype=np.int64)[:, None] * n)
    c = np.bincount(flat.ravel(), minlength=rows * n).astype(np.float64)
    c = c.reshape(lead + (n,))
    _COUNTS[:] = [idx, n, c]
    return c


def class_mean(values, members) -> Statistic:
    """Mean of ``values[i]`` over the pairs with ``members[i]`` True (e.g. FMR at each
    percent = class_mean(decisions, ~same)). ``values``: (n,) or (n, K)."""
    v = np.asarray(values, dtype=np.float64)
    m = np.asarray(members, dtype=bool)
    if m.shape[0] != v.shape[0]:
        raise ValueError(f"{v.shape[0]} values but {m.shape[0]} membership flags")
    n = v.shape[0]
    vm = np.where(m.reshape((-1,) + (1,) * (v.ndim - 1)), v, 0.0).reshape(n, -1)
    mf = m.astype(np.float64)
    tail = v.shape[1:]

    def stat(idx):
        c = pair_counts(idx, n)
        num = (c @ vm).reshape(c.shape[:-1] + tail)
        den = (c @ mf).reshape(c.shape[:-1] + (1,) * len(tail))
        with np.errstate(invalid="ignore", divide="ignore"):
            return num / den
    return stat


def nan_mean(values) -> Statistic:
    """Mean of ``values[idx]`` over pairs, ignoring NaN (pairs with no value, e.g. no
    AUROC); NaN when a resample holds no value."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    v0 = np.where(ok, v, 0.0)
    okf = ok.astype(np.float64)
    n = v.shape[0]

    def stat(idx):
        c = pair_counts(idx, n)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (c @ v0) / (c @ okf)
    return stat


def difference(a: Statistic, b: Statistic) -> Statistic:
    """``a - b`` on the same resample (a paired comparison)."""
    return lambda idx: np.asarray(a(idx), np.float64) - np.asarray(b(idx), np.float64)


def trapezoid_weights(percents: Sequence[float]) -> np.ndarray:
    """Weights ``w`` with ``curve_area(percents, y) == y @ w`` (trapezoid over p / 100):
    an area of a class-rate curve is the class mean of the per-pair areas."""
    x = np.asarray(percents, dtype=np.float64) / 100.0
    w = np.zeros_like(x)
    dx = np.diff(x)
    w[:-1] += dx / 2.0
    w[1:] += dx / 2.0
    return w


def benjamini_hochberg(p_values: Sequence[float], q: float = 0.05) -> np.ndarray:
    """Which hypotheses are rejected at false-discovery rate ``q`` (NaN never is)."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.zeros(p.shape, dtype=bool)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = ok.size
    below = p[order] <= q * np.arange(1, m + 1) / m
    if below.any():
        k = int(np.flatnonzero(below).max())
        out[order[:k + 1]] = True
    return out


__all__ = ["Bootstrap", "DEFAULT_LEVEL", "DEFAULT_RESAMPLES", "Interval", "METHODS",
           "benjamini_hochberg", "class_mean", "difference", "nan_mean", "pair_counts",
           "trapezoid_weights"]

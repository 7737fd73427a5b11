"""The benchmark's summaries with intervals, and paired comparisons between methods.

Built on :mod:`xssab.metrics.intervals` (pair-level bootstrap, stratified by
genuine/impostor, the same resamples for every statistic of one call). Inputs are plain
per-pair arrays, so anything that keeps them (the bench, a results.json read back by
``xssab report``) can recompute every summary:

* ``same`` (n,) bool: genuine pair;
* per method ``decisions_best_worst`` (n, P) bool: after replacing ``PERCENTS[j]`` % of
  pixels, the pair is still a false decision (genuine: ``s < t``; impostor: ``s >= t``);
* the shared ``decisions_random`` (n, P) bool (random replacement, one per model);
* per method ``auroc`` and ``auroc_control`` (n,) float, NaN where a pair has none;
* per method ``pair_index``: which of the n pairs it ran on (x-face may run on a subset).

A method's summaries rest on its own pairs (``pairs`` in the output). A comparison of two
methods rests on the pairs both ran on (its own ``pairs``); the gap of a method always
uses the random strategy on the method's own pairs.
"""

from __future__ import annotations

from itertools import combinations
from typing import Mapping, Sequence

import numpy as np

from . import dpr
from .intervals import (Bootstrap, Interval, benjamini_hochberg, class_mean, difference,
                        nan_mean, trapezoid_weights)

#: metric -> +1 when higher is better, -1 when lower is better (comparisons)
COMPARED: dict[str, int] = {"gap_fmr": +1, "gap_fnmr": +1, "localization_difference": +1}
#: sub-ranges of the replaced percentage with their own areas (5-95 is the full area)
SUB_RANGES = ((5, 30), (30, 95))
SCALARS = ("area_fmr_best_worst", "area_fmr_random", "gap_fmr", "area_fnmr_best_worst",
           "area_fnmr_random", "gap_fnmr", "localization_auroc",
           "localization_auroc_control", "localization_difference") + tuple(
    f"{kind}_{rate}{sfx}_{lo}_{hi}" for lo, hi in SUB_RANGES for rate in ("fmr", "fnmr")
    for kind, sfx in (("area", "_best_worst"), ("area", "_random"), ("gap", ""))) + tuple(
    f"halving_{rate}_{strat}" for rate in ("fmr", "fnmr")
    for strat in ("best_worst", "random")) + ("halving_gap_fmr", "halving_gap_fnmr")


def halving_percent(curve, start, percents: Sequence[float] = dpr.PERCENTS) -> np.ndarray:
    """Replaced percentage at which a rate curve (..., P) first falls to half its value
    ``start`` (...) before any replacement (linear interpolation between the measured
    percents, from (0, start)); NaN when it never does up to the last percent, or when
    ``start`` is 0."""
    c = np.asarray(curve, dtype=np.float64)
    r0 = np.asarray(start, dtype=np.float64)[..., None]
    p = np.concatenate([[0.0], np.asarray(percents, dtype=np.float64)])
    cc = np.concatenate([np.broadcast_to(r0, c.shape[:-1] + (1,)), c], axis=-1)
    below = cc <= r0 / 2.0
    below[..., 0] = False
    has = below.any(axis=-1)
    j = np.argmax(below, axis=-1)
    jm = np.maximum(j - 1, 0)
    c1 = np.take_along_axis(cc, jm[..., None], -1)[..., 0]
    c2 = np.take_along_axis(cc, j[..., None], -1)[..., 0]
    half = r0[..., 0] / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(c1 != c2, (c1 - half) / (c1 - c2), 1.0)
    out = p[jm] + frac * (p[j] - p[jm])
    return np.where(has & (r0[..., 0] > 0), out, np.nan)


def _halving(curve_stat, start_stat, percents):
    return lambda idx: halving_percent(curve_stat(idx), start_stat(idx), percents)


def decisions(scores, same, threshold: float) -> np.ndarray:
    """(n, P) bool: the pair is still a false decision at each percent."""
    s = np.asarray(scores, dtype=np.float64)
    g = np.asarray(same, dtype=bool)[:, None]
    return np.where(g, s < threshold, s >= threshold)


def method_statistics(same, dec_best_worst, dec_random, auroc=None, auroc_control=None,
                      percents: Sequence[float] = dpr.PERCENTS, initial=None) -> dict:
    """Statistics (for :meth:`Bootstrap.run`) of one method on its own pairs.

    ``initial`` (n,) bool: the pair is a false decision before any replacement (patched
    pair); with it the halving percentages ``halving_*`` are computed too."""
    same = np.asarray(same, dtype=bool)
    bw = np.asarray(dec_best_worst, dtype=np.float64)
    rnd = np.asarray(dec_random, dtype=np.float64)
    w = trapezoid_weights(percents)
    a_bw, a_r = bw @ w, rnd @ w
    st = {"area_fmr_best_worst": class_mean(a_bw, ~same),
          "area_fmr_random": class_mean(a_r, ~same),
          "gap_fmr": class_mean(a_r - a_bw, ~same),
          "area_fnmr_best_worst": class_mean(a_bw, same),
          "area_fnmr_random": class_mean(a_r, same),
          "gap_fnmr": class_mean(a_r - a_bw, same),
          "curve_fmr_best_worst": class_mean(bw, ~same),
          "curve_fnmr_best_worst": class_mean(bw, same),
          "curve_fmr_random": class_mean(rnd, ~same),
          "curve_fnmr_random": class_mean(rnd, same)}
    pc = np.asarray(percents, dtype=np.float64)
    for lo, hi in SUB_RANGES:
        sel = (pc >= lo) & (pc <= hi)
        if sel.sum() < 2:
            continue
        ws = trapezoid_weights(pc[sel])
        s_bw, s_r = bw[:, sel] @ ws, rnd[:, sel] @ ws
        for rate, cls in (("fmr", ~same), ("fnmr", same)):
            st[f"area_{rate}_best_worst_{lo}_{hi}"] = class_mean(s_bw, cls)
            st[f"area_{rate}_random_{lo}_{hi}"] = class_mean(s_r, cls)
            st[f"gap_{rate}_{lo}_{hi}"] = class_mean(s_r - s_bw, cls)
    if initial is not None:
        init = np.asarray(initial, dtype=np.float64)
        for rate, cls in (("fmr", ~same), ("fnmr", same)):
            r0 = class_mean(init, cls)
            h = {strat: _halving(st[f"curve_{rate}_{strat}"], r0, pc)
                 for strat in ("best_worst", "random")}
            st[f"halving_{rate}_best_worst"] = h["best_worst"]
            st[f"halving_{rate}_random"] = h["random"]
            st[f"halving_gap_{rate}"] = difference(h["random"], h["best_worst"])
    if auroc is not None:
        au = np.asarray(auroc, dtype=np.float64)
        st["localization_auroc"] = nan_mean(au)
        if auroc_control is not None:
            ac = np.asarray(auroc_control, dtype=np.float64)
            st["localization_auroc_control"] = nan_mean(ac)
            st["localization_difference"] = nan_mean(au - ac)
    return st


def _plan(same, n_resamples, level, method, seed) -> Bootstrap:
    return Bootstrap(strata=np.asarray(same, bool), n_resamples=n_resamples, level=level,
                     method=method, seed=seed)


def model_intervals(same, dec_random, methods: Mapping[str, Mapping[str, np.ndarray]], *,
                    n_resamples: int = 1000, level: float = 0.95, method: str = "percentile",
                    seed: int = 0, percents: Sequence[float] = dpr.PERCENTS,
                    compared: Mapping[str, int] = COMPARED, initial=None) -> dict:
    """Intervals for every method of one model, and the paired comparisons.

    ``methods[name]``: ``decisions_best_worst`` (m, P), ``pair_index`` (m,) into the n
    pairs (default: all), optional ``auroc`` / ``auroc_control`` (m,).
    Returns ``{"methods": {name: {"pairs", "genuine_pairs", "impostor_pairs",
    <summary>: Interval, "curve_*": Interval}}, "comparisons": [...]}``.
    """
    same = np.asarray(same, dtype=bool)
    rnd = np.asarray(dec_random, dtype=bool)
    n = same.shape[0]
    idx_of, stats_of = {}, {}
    out: dict = {"methods": {}, "comparisons": []}
    for name, arr in methods.items():
        ix = np.asarray(arr.get("pair_index", np.arange(n)), dtype=np.int64)
        idx_of[name] = ix
        s = same[ix]
        st = method_statistics(s, arr["decisions_best_worst"], rnd[ix], arr.get("auroc"),
                               arr.get("auroc_control"), percents,
                               None if initial is None else np.asarray(initial, bool)[ix])
        stats_of[name] = (ix, arr)
        res = _plan(s, n_resamples, level, method, seed).run(st)
        res.update({"pairs": int(ix.size), "genuine_pairs": int(s.sum()),
                    "impostor_pairs": int((~s).sum())})
        out["methods"][name] = res
    comps = []
    for a, b in combinations(list(methods), 2):
        shared = np.intersect1d(idx_of[a], idx_of[b])
        if shared.size == 0:
            continue
        s = same[shared]
        sts = {}
        for who in (a, b):
            ix, arr = stats_of[who]
            pos = np.searchsorted(ix, shared) if np.all(np.diff(ix) > 0) else \
                np.array([int(np.flatnonzero(ix == k)[0]) for k in shared])
            sub = {k: (None if arr.get(k) is None else np.asarray(arr[k])[pos])
                   for k in ("decisions_best_worst", "auroc", "auroc_control")}
            sts[who] = method_statistics(s, sub["decisions_best_worst"], rnd[shared],
                                         sub["auroc"], sub["auroc_control"], percents)
        diffs = {k: difference(sts[a][k], sts[b][k]) for k in compared
                 if k in sts[a] and k in sts[b]}
        if not diffs:
            continue
        res = _plan(s, n_resamples, level, method, seed).run(diffs)
        for k, iv in res.items():
            comps.append({"a": a, "b": b, "metric": k, "higher_is_better": compared[k] > 0,
                          "pairs": int(shared.size), "genuine_pairs": int(s.sum()),
                          "impostor_pairs": int((~s).sum()), "interval": iv})
    if comps:
        rej = benjamini_hochberg([c["interval"].p_value for c in comps], q=1 - level)
        for c, r in zip(comps, rej):
            iv = c["interval"]
            d = iv.estimate
            better = c["a"] if (d > 0) == c["higher_is_better"] else c["b"]
            c["winner"] = None if (d == 0 or not np.isfinite(d)) else better
            c["significant"] = bool(iv.significant)
            c["significant_fdr"] = bool(r)
    out["comparisons"] = comps
    return out


def interval_fields(res: Mapping, names: Sequence[str] = SCALARS) -> dict:
    """``{x: value, x_ci: [lo, hi]}`` for the scalar summaries present in ``res``."""
    out = {}
    for k in names:
        iv = res.get(k)
        if isinstance(iv, Interval):
            out[k] = None if not np.isfinite(iv.estimate) else float(iv.estimate)
            out[f"{k}_ci"] = iv.ci()
    return out


def curve_bands(res: Mapping) -> dict:
    """``{"best_worst": {"fmr_ci": [[lo, hi]...], "fnmr_ci": ...}, "random": {...}}``."""
    out: dict = {}
    for strat in dpr.STRATEGIES:
        for rate in ("fmr", "fnmr"):
            iv = res.get(f"curve_{rate}_{strat}")
            if isinstance(iv, Interval):
                out.setdefault(strat, {})[f"{rate}_ci"] = iv.ci()
    return out


def comparison_record(c: Mapping) -> dict:
    """JSON-ready form of one comparison."""
    iv: Interval = c["interval"]
    est = float(iv.estimate)
    return {"a": c["a"], "b": c["b"], "metric": c["metric"],
            "difference": est if np.isfinite(est) else None, "difference_ci": iv.ci(),
            "p_value": None if not np.isfinite(iv.p_value) else float(iv.p_value),
            "higher_is_better": c["higher_is_better"], "winner": c.get("winner"),
            "significant": c.get("significant"), "significant_fdr": c.get("significant_fdr"),
            "pairs": c["pairs"], "genuine_pairs": c["genuine_pairs"],
            "impostor_pairs": c["impostor_pairs"]}


__all__ = ["COMPARED", "SCALARS", "comparison_record", "curve_bands", "decisions",
           "interval_fields", "method_statistics", "model_intervals"]

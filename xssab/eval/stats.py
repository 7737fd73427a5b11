"""Intervals, comparisons and per-pair values of a benchmark run, for results.json.

Per-pair values (``per_pair`` in results.json) are everything the summaries are
computed from, so ``xssab report --recompute`` (or anyone) can recompute every summary
and interval from the file alone:

* per model: ``same`` (1 = genuine), ``similarity_unpatched`` / ``similarity_patched``
  (cosine of the pair before / after patching), ``match_patched`` (1 = ``s >= t``), and
  ``decisions_random``: one string of ``0``/``1`` per pair, character ``j`` = the pair is
  still a false decision after replacing ``percent[j]`` % of its pixels at random;
* per method: ``pair_index`` (the run's pairs it ran on), ``decisions_best_worst`` (the
  same strings for its own replacement order) and ``localization_auroc`` /
  ``localization_auroc_control`` per pair (null where a pair has none).

The summaries and their intervals: :mod:`xssab.metrics.summaries` (pair-level bootstrap,
stratified by genuine/impostor, paired, seeded with the run's seed).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..metrics import dpr as dprm
from ..metrics import summaries as S

COMPARISON_METRICS = tuple(S.COMPARED)


def bits(dec: np.ndarray) -> list[str]:
    """(n, P) bool -> one ``"0101..."`` string per pair."""
    dec = np.asarray(dec, dtype=bool)
    table = np.array([ord("0"), ord("1")], dtype=np.uint8)
    return [row.tobytes().decode("ascii") for row in table[dec.astype(np.uint8)]]


def unbits(rows) -> np.ndarray:
    """Inverse of :func:`bits`."""
    rows = list(rows)
    if not rows:
        return np.zeros((0, len(dprm.PERCENTS)), dtype=bool)
    return np.array([[c == "1" for c in r] for r in rows], dtype=bool)


def _nan(v) -> np.ndarray:
    return np.array([np.nan if x is None else float(x) for x in np.asarray(v, dtype=object)
                     ], dtype=np.float64)


def per_pair_arrays(result) -> dict[str, dict]:
    """``{model: {"same", "decisions_random", "methods": {name: {...}}}}`` from a
    :class:`~xssab.eval.BenchResult` (the input of :func:`model_stats`)."""
    same = np.asarray(result.data.same, dtype=bool)
    out = {}
    for mn, m in result.models.items():
        t = m.verification.threshold
        methods = {}
        for xn, x in m.methods.items():
            idx = (np.arange(len(same)) if x.pair_index is None
                   else np.asarray(x.pair_index, dtype=np.int64))
            methods[xn] = {
                "pair_index": idx,
                "decisions_best_worst": S.decisions(x.best_worst.scores, same[idx], t),
                "auroc": _nan(x.localization.per_pair),
                "auroc_control": _nan(x.localization.per_pair_control)}
        out[mn] = {"same": same, "threshold": t,
                   "similarity_unpatched": np.asarray(m.verification.s_unpatched, float),
                   "similarity_patched": np.asarray(m.verification.s_patched, float),
                   "decisions_random": S.decisions(m.random.scores, same, t),
                   "methods": methods}
    return out


def per_pair_arrays_from_dict(res: Mapping) -> dict[str, dict]:
    """The same arrays read back from a results.json (``per_pair`` fields)."""
    out = {}
    for mn, m in res["models"].items():
        pp = m.get("per_pair")
        if not pp:
            continue
        same = np.asarray(pp["same"], dtype=bool)
        methods = {}
        for xn, x in m["methods"].items():
            q = x.get("per_pair")
            if not q:
                continue
            methods[xn] = {"pair_index": np.asarray(q["pair_index"], dtype=np.int64),
                           "decisions_best_worst": unbits(q["decisions_best_worst"]),
                           "auroc": _nan(q["localization_auroc"]),
                           "auroc_control": _nan(q["localization_auroc_control"])}
        out[mn] = {"same": same, "threshold": m["threshold"],
                   "similarity_unpatched": _nan(pp["similarity_unpatched"]),
                   "similarity_patched": _nan(pp["similarity_patched"]),
                   "decisions_random": unbits(pp["decisions_random"]), "methods": methods}
    return out


def model_stats(arrays: Mapping, *, n_resamples: int = 1000, level: float = 0.95,
                method: str = "percentile", seed: int = 0) -> dict:
    """Intervals and comparisons of one model (``per_pair_arrays(...)[model]``)."""
    initial = None
    if arrays.get("similarity_patched") is not None:  # false decision before replacement
        sp = np.asarray(arrays["similarity_patched"], dtype=np.float64)[:, None]
        initial = S.decisions(sp, arrays["same"], arrays["threshold"])[:, 0]
    return S.model_intervals(arrays["same"], arrays["decisions_random"], arrays["methods"],
                             n_resamples=n_resamples, level=level, method=method,
                             seed=seed, initial=initial)


def annotate(res: dict, arrays: Mapping[str, Mapping], *, n_resamples: int = 1000,
             level: float = 0.95, method: str = "percentile", seed: int = 0,
             per_pair: bool = True) -> dict:
    """Add intervals (``x_ci``), ``pairs``, curve bands, ``comparisons`` and (with
    ``per_pair``) the per-pair values to a results dict, in place; returns it."""
    res["intervals"] = {"level": level, "resamples": int(n_resamples), "method": method,
                        "seed": int(seed), "unit": "pair",
                        "resampling": "pairs resampled within genuine and within impostor "
                                      "pairs (class sizes fixed); the same resamples for "
                                      "every statistic of a model (paired); threshold "
                                      "fixed, not resampled",
                        "p_value": "two-sided bootstrap p-value of difference = 0; "
                                   "significant_fdr: Benjamini-Hochberg at 1 - level over "
                                   "the model's comparisons"}
    for mn, a in arrays.items():
        m = res["models"][mn]
        st = model_stats(a, n_resamples=n_resamples, level=level, method=method, seed=seed)
        m["ci_level"] = level
        m["genuine_pairs"] = int(np.sum(a["same"]))
        m["impostor_pairs"] = int(np.sum(~np.asarray(a["same"], bool)))
        for xn, iv in st["methods"].items():
            x = m["methods"][xn]
            # the point values stay the stages' own (identical up to rounding); add _ci
            for k, v in S.interval_fields(iv).items():
                if k.endswith("_ci") or k not in x:
                    x[k] = v
            x["pairs"] = iv["pairs"]
            x["genuine_pairs"], x["impostor_pairs"] = iv["genuine_pairs"], iv["impostor_pairs"]
            for strat, band in S.curve_bands(iv).items():
                x["dpr"][strat].update(band)
                x["dpr"][strat]["pairs"] = iv["pairs"]
            if per_pair:
                q = a["methods"][xn]
                x["per_pair"] = {
                    "pair_index": [int(i) for i in q["pair_index"]],
                    "decisions_best_worst": bits(q["decisions_best_worst"]),
                    "localization_auroc": _list(q["auroc"]),
                    "localization_auroc_control": _list(q["auroc_control"])}
        m["comparisons"] = [S.comparison_record(c) for c in st["comparisons"]]
        _verification_intervals(m, a, n_resamples, level, method, seed)
        if per_pair:
            m["per_pair"] = {"same": [int(v) for v in a["same"]],
                             "similarity_unpatched": _list(a["similarity_unpatched"]),
                             "similarity_patched": _list(a["similarity_patched"]),
                             "match_patched": [int(v >= a["threshold"])
                                               for v in a["similarity_patched"]],
                             "decisions_random": bits(a["decisions_random"])}
    return res


def _verification_intervals(m: dict, a: Mapping, n_resamples, level, method, seed):
    """Intervals of the unpatched / patched FMR and FNMR of the run's pairs."""
    from ..metrics.intervals import Bootstrap, class_mean

    g = np.asarray(a["same"], dtype=bool)
    t = a["threshold"]
    st = {}
    for which, key in (("unpatched", "similarity_unpatched"),
                       ("patched", "similarity_patched")):
        s = np.asarray(a[key], dtype=np.float64)
        st[f"{which}.fmr"] = class_mean(s >= t, ~g)
        st[f"{which}.fnmr"] = class_mean(s < t, g)
    res = Bootstrap(strata=g, n_resamples=n_resamples, level=level, method=method,
                    seed=seed).run(st)
    for k, iv in res.items():
        which, rate = k.split(".")
        m.setdefault(which, {})[f"{rate}_ci"] = iv.ci()


def _list(v) -> list:
    return [None if not np.isfinite(x) else float(x) for x in np.asarray(v, np.float64)]


def verdicts(model_res: Mapping) -> list[dict[str, Any]]:
    """Per metric: the best method and whether the data supports it against each other
    method (its comparisons' intervals exclude 0)."""
    comps = model_res.get("comparisons") or []
    methods = list(model_res.get("methods", {}))
    out = []
    for metric in COMPARISON_METRICS:
        vals = {x: model_res["methods"][x].get(metric) for x in methods}
        vals = {x: v for x, v in vals.items() if isinstance(v, (int, float))}
        if not vals:
            continue
        hib = S.COMPARED[metric] > 0
        best = max(vals, key=lambda x: vals[x] if hib else -vals[x])
        rel = [c for c in comps if c["metric"] == metric and best in (c["a"], c["b"])]
        beaten = [c["b"] if c["a"] == best else c["a"] for c in rel
                  if c.get("winner") == best and c.get("significant")]
        unsure = [c["b"] if c["a"] == best else c["a"] for c in rel
                  if not (c.get("winner") == best and c.get("significant"))]
        out.append({"metric": metric, "best": best, "value": vals[best],
                    "beats_significantly": beaten, "not_separated_from": unsure})
    return out


__all__ = ["annotate", "bits", "model_stats", "per_pair_arrays",
           "per_pair_arrays_from_dict", "unbits", "verdicts"]

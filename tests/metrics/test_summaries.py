"""Bench summaries with intervals and paired comparisons (xssab/metrics/summaries.py)."""

import numpy as np
import pytest

from xssab.metrics import dpr
from xssab.metrics.summaries import (comparison_record, curve_bands, decisions,
                                     interval_fields, model_intervals)


def _data(seed=0, n=60):
    rng = np.random.default_rng(seed)
    same = np.arange(n) % 2 == 0
    t = 0.3
    flip = rng.uniform(0, 100, n)
    pct = np.asarray(dpr.PERCENTS, float)
    # scores that fall (genuine: rise) through t at each pair's flip percent
    sign = np.where(same, -1.0, 1.0)[:, None]
    def scores(shift):
        return t + sign * np.where(pct[None] < (flip + shift)[:, None], 0.1, -0.1)
    s_rand = scores(rng.normal(0, 10, n))
    s_good = scores(-40 + rng.normal(0, 10, n))   # flips much sooner: better than random
    s_noise = scores(rng.normal(0, 10, n))        # a random map
    return same, t, s_rand, s_good, s_noise, rng


def test_summaries_equal_the_bench_formulas():
    same, t, s_rand, s_good, _, rng = _data()
    au, ac = rng.random(60), rng.random(60)
    au[3] = ac[3] = np.nan
    res = model_intervals(same, decisions(s_rand, same, t),
                          {"good": {"decisions_best_worst": decisions(s_good, same, t),
                                    "auroc": au, "auroc_control": ac}},
                          n_resamples=200)
    g = res["methods"]["good"]
    fmr, fnmr = dpr.rates(s_good, same, t)
    rf, rn = dpr.rates(s_rand, same, t)
    f = interval_fields(g)
    assert f["area_fmr_best_worst"] == pytest.approx(dpr.curve_area(dpr.PERCENTS, fmr))
    assert f["gap_fnmr"] == pytest.approx(dpr.curve_area(dpr.PERCENTS, rn)
                                          - dpr.curve_area(dpr.PERCENTS, fnmr))
    assert f["localization_difference"] == pytest.approx(np.nanmean(au) - np.nanmean(ac))
    lo, hi = f["gap_fnmr_ci"]
    assert lo <= f["gap_fnmr"] <= hi
    bands = curve_bands(g)
    assert len(bands["best_worst"]["fmr_ci"]) == 19 and len(bands["random"]["fnmr_ci"]) == 19
    assert g["pairs"] == 60 and g["genuine_pairs"] == 30


def test_comparisons_on_the_shared_subset_find_the_better_method():
    same, t, s_rand, s_good, s_noise, _ = _data(1, 200)
    sub = np.arange(0, 200, 4)  # e.g. x-face on a quarter of the same pairs
    res = model_intervals(same, decisions(s_rand, same, t), {
        "good": {"decisions_best_worst": decisions(s_good, same, t)},
        "noise": {"decisions_best_worst": decisions(s_noise, same, t)},
        "sub": {"decisions_best_worst": decisions(s_noise, same, t)[sub],
                "pair_index": sub}}, n_resamples=500)
    assert res["methods"]["sub"]["pairs"] == 50
    comps = {(c["a"], c["b"], c["metric"]): c for c in res["comparisons"]}
    c = comps[("good", "noise", "gap_fmr")]
    assert c["winner"] == "good" and c["significant"] and c["pairs"] == 200
    rec = comparison_record(c)
    assert rec["difference_ci"][0] > 0 and rec["p_value"] < 0.01
    # the noise map run on a subset vs the same noise map: identical on shared pairs
    c = comps[("noise", "sub", "gap_fnmr")]
    assert c["pairs"] == 50 and c["interval"].estimate == 0 and not c["significant"]
    assert c["winner"] is None

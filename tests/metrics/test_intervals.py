"""Pair-level bootstrap intervals (xssab/metrics/intervals.py)."""

import numpy as np
import pytest

from xssab.errors import XssabError
from xssab.metrics import dpr
from xssab.metrics.intervals import (Bootstrap, benjamini_hochberg, class_mean, difference,
                                     nan_mean, trapezoid_weights)


def synth_random_method(rng, n_gen=100, n_imp=100, n_p=19, fooled=0.7, pair_mu=None):
    """Per-pair DPR decisions shaped like the real ones for a method whose map is noise:
    each pair has a latent percent at which its false decision flips; the best_worst and
    random strategies draw it from the SAME per-pair distribution (so the true gap is 0).
    A share of pairs is not fooled by the patches at all (all decisions False)."""
    n = n_gen + n_imp
    same = np.r_[np.ones(n_gen, bool), np.zeros(n_imp, bool)]
    mu = pair_mu if pair_mu is not None else rng.uniform(0, 100, n)
    pct = np.asarray(dpr.PERCENTS, float)[:n_p]
    live = rng.random(n) < fooled
    dec = {}
    for s in ("best_worst", "random"):
        flip = mu + rng.normal(0, 15, n)
        dec[s] = (pct[None, :] < flip[:, None]) & live[:, None]
    return same, dec


def gap_stats(same, dec):
    w = trapezoid_weights(dpr.PERCENTS)
    a_bw, a_r = dec["best_worst"] @ w, dec["random"] @ w
    d = a_r - a_bw
    return {"gap_fmr": class_mean(d, ~same), "gap_fnmr": class_mean(d, same)}


def test_trapezoid_weights_match_curve_area():
    rng = np.random.default_rng(0)
    y = rng.random(19)
    assert np.isclose(y @ trapezoid_weights(dpr.PERCENTS), dpr.curve_area(dpr.PERCENTS, y))


def test_estimate_is_the_full_sample_value_and_area_equals_class_mean_of_pair_areas():
    rng = np.random.default_rng(1)
    same, dec = synth_random_method(rng, 30, 20)
    fmr, fnmr = dpr.rates(np.where(dec["best_worst"], 1.0, -1.0) * np.where(same, -1, 1)[:, None],
                          same, 0.0)
    w = trapezoid_weights(dpr.PERCENTS)
    res = Bootstrap(strata=same, n_resamples=200).run({
        "area_fmr": class_mean(dec["best_worst"] @ w, ~same),
        "fmr": class_mean(dec["best_worst"], ~same)})
    assert res["area_fmr"].estimate == pytest.approx(dpr.curve_area(dpr.PERCENTS, fmr))
    assert np.allclose(res["fmr"].estimate, fmr)
    lo, hi = np.asarray(res["fmr"].low), np.asarray(res["fmr"].high)
    assert lo.shape == (19,) and np.all(lo <= np.asarray(fmr) + 1e-12)
    assert np.all(np.asarray(fmr) <= hi + 1e-12)
    assert len(res["fmr"].ci()) == 19 and len(res["area_fmr"].ci()) == 2


def test_seeded_and_stratified():
    rng = np.random.default_rng(2)
    same = np.r_[np.ones(7, bool), np.zeros(13, bool)]
    v = rng.random(20)
    seen = []

    def spy(idx):
        seen.append(np.asarray(idx))
        return np.asarray(v)[idx].mean(-1)

    a = Bootstrap(strata=same, n_resamples=300, seed=5).run({"m": spy})["m"]
    b = Bootstrap(strata=same, n_resamples=300, seed=5).run({"m": nan_mean(v)})["m"]
    c = Bootstrap(strata=same, n_resamples=300, seed=6).run({"m": nan_mean(v)})["m"]
    assert (a.low, a.high) == pytest.approx((b.low, b.high))
    assert (a.low, a.high) != (c.low, c.high)
    # every resample keeps 7 genuine and 13 impostor pairs
    for idx in seen[1:]:
        assert np.all(same[idx].sum(-1) == 7)


def test_paired_difference_is_narrower_than_unpaired_and_has_a_p_value():
    rng = np.random.default_rng(3)
    n = 200
    base = rng.normal(0, 1, n)  # per-pair difficulty shared by both methods
    a, b = base + 0.1 + rng.normal(0, 0.1, n), base + rng.normal(0, 0.1, n)
    res = Bootstrap(n_pairs=n, n_resamples=1000).run(
        {"d": difference(nan_mean(a), nan_mean(b))})["d"]
    assert res.significant and res.p_value < 0.01
    assert res.low > 0
    # unpaired (independent resamples of a and b) would be about 10x wider
    assert res.high - res.low < 0.3 * 2 * 1.96 * np.sqrt(2 / n)
    same = Bootstrap(n_pairs=n, n_resamples=1000).run(
        {"d": difference(nan_mean(b), nan_mean(b))})["d"]
    assert same.low == same.high == 0 and same.p_value == 1.0 and not same.significant


def test_nan_values_are_left_out_and_bca_falls_back_on_degenerate_data():
    v = np.array([0.6, np.nan, 0.8, 0.7, np.nan, 0.9])
    r = Bootstrap(n_pairs=6, n_resamples=200).run({"m": nan_mean(v)})["m"]
    assert r.estimate == pytest.approx(0.75)
    z = Bootstrap(n_pairs=30, n_resamples=200, method="bca").run(
        {"zero": nan_mean(np.zeros(30))})["zero"]
    assert (z.low, z.high) == (0.0, 0.0) and "percentile" in z.method


def test_bad_input_is_a_one_line_error():
    with pytest.raises(XssabError, match="level"):
        Bootstrap(n_pairs=3, level=95)
    with pytest.raises(XssabError, match="resamples"):
        Bootstrap(n_pairs=3, n_resamples=1)
    with pytest.raises(XssabError, match="method"):
        Bootstrap(n_pairs=3, method="studentized")


def test_benjamini_hochberg():
    rej = benjamini_hochberg([0.001, 0.04, 0.03, 0.5, np.nan], q=0.05)
    assert rej.tolist() == [True, False, False, False, False]
    assert benjamini_hochberg([0.01, 0.02, 0.03], q=0.05).all()


@pytest.mark.parametrize("method", ["percentile", "BCa"])
def test_random_method_gap_intervals_contain_zero_at_the_nominal_rate(method):
    """The honest-interval check: a map of pure noise has true gap 0, so over many
    independent draws of its maps (fixed pairs) the 95% intervals of both gaps must
    contain 0 about 95% of the time. 300 repetitions: the binomial standard error of the
    coverage is 1.3 points, so [0.91, 0.985] fails intervals that are clearly too narrow
    or too wide."""
    reps = 300
    rng = np.random.default_rng(2026)
    mu = rng.uniform(0, 100, 200)
    cover = {"gap_fmr": 0, "gap_fnmr": 0}
    for r in range(reps):
        same, dec = synth_random_method(rng, pair_mu=mu)
        res = Bootstrap(strata=same, n_resamples=1000, method=method, seed=r).run(
            gap_stats(same, dec))
        for k in cover:
            cover[k] += bool(res[k].contains(0.0))
    for k, c in cover.items():
        assert 0.91 <= c / reps <= 0.985, (k, c / reps)


def test_the_coverage_check_catches_intervals_that_ignore_the_pair():
    """Power of the check above: resampling (pair, percent) cells as if independent
    ignores that one pair's decisions move together, and its intervals are too narrow."""
    reps = 150
    rng = np.random.default_rng(7)
    mu = rng.uniform(0, 100, 200)
    covered = 0
    for r in range(reps):
        same, dec = synth_random_method(rng, pair_mu=mu)
        cells = (dec["random"].astype(float) - dec["best_worst"])[~same].ravel() * 0.9
        res = Bootstrap(n_pairs=cells.size, n_resamples=500, seed=r).run(
            {"gap": nan_mean(cells)})
        covered += bool(res["gap"].contains(0.0))
    assert covered / reps < 0.85


def test_zero_reads_as_zero_despite_rounding():
    """Per-pair gaps that cancel exactly (0.1 + 0.2 - 0.3) sum to ~1.5e-17 in floating
    point; a statistic that is 0 must read as 0 (estimate, resamples, contains(0))."""
    v = np.array([0.1, 0.2, -0.3] * 10 + [0.05, -0.05])
    r = Bootstrap(n_pairs=v.size, n_resamples=300, seed=1).run({"m": nan_mean(v)})["m"]
    assert r.estimate == 0.0
    d = r.distribution
    assert not np.any((np.abs(d) < 1e-12) & (d != 0))

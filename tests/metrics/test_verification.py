"""Verification metrics against independent oracles.

``eer``, ``kfold_accuracy`` and ``error_rates`` drive calibration and every benchmark
number, and other tests use them as the expected value, so here they are checked against
(1) hand-worked cases, (2) a brute-force search over every candidate threshold in exact
rational arithmetic (``fractions.Fraction``), ties included, and (3) scikit-learn's
``roc_curve`` / ``KFold`` as a second, independent implementation.

Conventions under test (docs/benchmark.md, step 4): a pair matches
when ``s >= t``; the EER point is the distinct score minimising ``|FNMR - FMR|``
(= ``|1 - TPR - FPR|``), ties to the highest threshold, EER = mean of FNMR and FMR there;
k-fold: the most accurate threshold on the other folds (ties to the lowest), unshuffled
consecutive folds as scikit-learn's ``KFold``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sklearn.metrics as sklearn_metrics  # the [dev] extra: a second implementation
import sklearn.model_selection as sklearn_model_selection

from xssab.metrics.verification import eer, error_rates, kfold_accuracy


# ------------------------------------------------------------------ brute-force oracles
def _rates(scores, labels, t):
    """(FMR, FNMR) at t as exact fractions, by counting."""
    gen = [s for s, g in zip(scores, labels) if g]
    imp = [s for s, g in zip(scores, labels) if not g]
    fmr = Fraction(sum(s >= t for s in imp), len(imp))
    fnmr = Fraction(sum(s < t for s in gen), len(gen))
    return fmr, fnmr


def _brute_eer(scores, labels):
    """Every distinct score as threshold, highest first; first minimal |FNMR - FMR| wins."""
    best = None
    for t in sorted(set(scores.tolist()), reverse=True):
        fmr, fnmr = _rates(scores, labels, t)
        gap = abs(fnmr - fmr)
        if best is None or gap < best[0]:
            best = (gap, t, (fmr + fnmr) / 2)
    return best


def _brute_best_threshold(scores, labels):
    """Most accurate ``s >= c``: every distinct score plus 'reject all'; ties to the lowest."""
    cands = sorted(set(scores.tolist())) + [float("inf")]
    best = None
    for c in cands:
        correct = sum((s >= c) == g for s, g in zip(scores, labels))
        if best is None or correct > best[0]:
            best = (correct, c)
    return best[1]


def _random_case(rng, n_max=40, levels=None):
    """Scores with many exact ties (few distinct levels) and both classes present."""
    while True:
        n = int(rng.integers(2, n_max))
        lv = int(levels or rng.integers(2, 12))
        scores = rng.integers(0, lv, n).astype(np.float64) / lv - 0.3
        labels = rng.random(n) < rng.uniform(0.2, 0.8)
        if labels.any() and (~labels).any():
            return scores, labels


# ------------------------------------------------------------------ hand-worked cases
def test_eer_hand_worked():
    # separable: every threshold in (0.2, 0.8] is perfect; the highest distinct one wins
    assert eer([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]) == (0.0, 0.8)
    # genuine 0.9 0.8 0.6 0.3, impostor 0.7 0.4 0.2 0.1; at t=0.6: FNMR 1/4 (0.3),
    # FMR 1/4 (0.7) -- the only point where they are equal
    e, t = eer([0.9, 0.8, 0.6, 0.3, 0.7, 0.4, 0.2, 0.1], [1, 1, 1, 1, 0, 0, 0, 0])
    assert (e, t) == (0.25, 0.6)
    # fully inverted scores: at t=0.8 both impostors match and both genuines fail:
    # FNMR = FMR = 1 (gap 0), so the EER is 1
    assert eer([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) == (1.0, 0.8)


def test_eer_exact_tie_goes_to_highest_threshold():
    # genuine 0.9 0.5 0.2, impostor 0.8 0.5 0.1. |FNMR - FMR|: t=0.9 2/3, t=0.8 1/3,
    # t=0.5 (a genuine and an impostor tie) 1/3, t=0.2 2/3. Exact tie between 0.8 and 0.5;
    # in floats 1 - 1/3 - 1/3 rounds above |1 - 2/3 - 2/3|, which picked 0.5.
    e, t = eer([0.9, 0.5, 0.2, 0.8, 0.5, 0.1], [1, 1, 1, 0, 0, 0])
    assert t == 0.8 and e == pytest.approx(0.5)
    # unequal class sizes: the tie is between points with DIFFERENT EER values
    # (4 genuine, 7 impostor; t=5/7: FNMR 1/2, FMR 3/7; t=3/7: FNMR 1/2, FMR 4/7)
    s = np.array([5, 6, 2, 1, 5, 1, 7, 0, 5, 3, 2], float) / 7
    lab = np.array([0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0], bool)
    e, t = eer(s, lab)
    assert t == s[0] and e == pytest.approx((0.5 + 3 / 7) / 2, abs=1e-15)


def test_error_rates_hand_worked():
    s = [0.9, 0.5, 0.3, 0.5, 0.2, 0.1]
    lab = [1, 1, 1, 0, 0, 0]
    assert error_rates(s, lab, 0.5) == (pytest.approx(1 / 3), pytest.approx(1 / 3))
    assert error_rates(s, lab, 0.50001) == (0.0, pytest.approx(2 / 3))  # s == t matches
    assert error_rates(s, lab, -1.0) == (1.0, 0.0)
    assert error_rates(s, lab, 2.0) == (0.0, 1.0)
    fmr, fnmr = error_rates([0.4], [1], 0.5)
    assert np.isnan(fmr) and fnmr == 1.0


def test_kfold_hand_worked():
    # 2 folds of 4. Fold 0 = first four; trained on fold 1 (0.7 G, 0.6 I, 0.4 G, 0.1 I):
    # c=0.4 gets 3/4, c=0.7 gets 3/4 (tie, lowest wins) -> 0.4; tested on fold 0:
    # 0.9 G ok, 0.8 I wrong, 0.3 G wrong, 0.2 I ok -> 0.5.
    # Trained on fold 0 (0.9 G, 0.8 I, 0.3 G, 0.2 I): c=0.3 -> 3/4, c=0.9 -> 3/4 -> 0.3;
    # tested on fold 1: 0.7 ok, 0.6 I wrong, 0.4 ok, 0.1 ok -> 0.75.
    s = [0.9, 0.8, 0.3, 0.2, 0.7, 0.6, 0.4, 0.1]
    lab = [1, 0, 1, 0, 1, 0, 1, 0]
    r = kfold_accuracy(s, lab, folds=2)
    assert r.fold_thresholds == [0.4, 0.3]
    assert r.fold_accuracies == [0.5, 0.75]
    assert r.mean == pytest.approx(0.625) and r.std == pytest.approx(0.125)
    # the same through explicit fold ids (interleaved this time)
    r2 = kfold_accuracy(np.array(s)[[0, 4, 1, 5, 2, 6, 3, 7]],
                        np.array(lab)[[0, 4, 1, 5, 2, 6, 3, 7]], folds=[0, 1] * 4)
    assert r2.fold_accuracies == [0.5, 0.75]


def test_kfold_reject_all_is_a_candidate():
    # training folds hold impostors only: rejecting everything is the only perfect
    # threshold (a threshold at the maximum score would accept its pair)
    r = kfold_accuracy([0.5, 0.4, 0.9, 0.1], [0, 0, 1, 0], folds=[0, 0, 1, 1])
    assert r.fold_thresholds[0] > 0.5
    assert r.fold_accuracies[0] == 1.0


# ------------------------------------------------------------------ brute force
def test_eer_matches_brute_force_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(300):
        scores, labels = _random_case(rng)
        gap, t_ref, e_ref = _brute_eer(scores, labels)
        e, t = eer(scores, labels)
        assert t == t_ref, (scores, labels)
        assert e == pytest.approx(float(e_ref), abs=1e-12)
        fmr, fnmr = _rates(scores, labels, t)
        assert abs(fnmr - fmr) == gap  # the returned point reaches the minimal gap


def test_error_rates_match_counting():
    rng = np.random.default_rng(1)
    for _ in range(100):
        scores, labels = _random_case(rng)
        for t in np.r_[np.unique(scores), scores.min() - 1, scores.max() + 1]:
            fmr, fnmr = error_rates(scores, labels, t)
            ref = _rates(scores, labels, t)
            assert (fmr, fnmr) == (float(ref[0]), float(ref[1]))


def test_kfold_matches_brute_force_and_sklearn_folds():
    rng = np.random.default_rng(2)
    kfold = sklearn_model_selection.KFold
    for trial in range(60):
        scores, labels = _random_case(rng, n_max=45)
        n = scores.size
        k = int(rng.integers(2, min(10, n) + 1))
        r = kfold_accuracy(scores, labels, folds=k)
        # folds: scikit-learn's unshuffled KFold (consecutive, sizes differ by <= 1)
        splits = list(kfold(n_splits=k).split(scores))
        assert len(r.fold_accuracies) == len(splits) == k
        for (train, test), acc, thr in zip(splits, r.fold_accuracies, r.fold_thresholds):
            c = _brute_best_threshold(scores[train], labels[train])
            if np.isinf(c):  # 'reject all': any value above the training maximum
                assert thr > scores[train].max()
                c = thr
            assert thr == c
            assert acc == pytest.approx(np.mean((scores[test] >= c) == labels[test]))
        assert r.mean == pytest.approx(np.mean(r.fold_accuracies))
        assert r.std == pytest.approx(np.std(r.fold_accuracies))


def test_kfold_rejects_bad_folds():
    with pytest.raises(ValueError, match="k="):
        kfold_accuracy([0.1, 0.9], [0, 1], folds=10)
    with pytest.raises(ValueError, match="one fold id per pair"):
        kfold_accuracy([0.1, 0.9, 0.5], [0, 1, 1], folds=[0, 1])


# ------------------------------------------------------------------ scikit-learn oracle
def _sklearn_eer(scores, labels):
    fpr, tpr, thr = sklearn_metrics.roc_curve(labels, scores, drop_intermediate=False)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    tp = np.rint(tpr * n_pos).astype(np.int64)
    fp = np.rint(fpr * n_neg).astype(np.int64)
    gap = np.abs((n_pos - tp) * n_neg - fp * n_pos)  # exact |1 - TPR - FPR| * n_pos * n_neg
    keep = np.isfinite(thr) & (thr <= scores.max())  # drop the 'accept nothing' point
    i = np.flatnonzero(keep)[np.argmin(gap[keep])]
    return float((1 - tpr[i] + fpr[i]) / 2), float(thr[i]), (fpr, tpr, thr)


def test_eer_and_error_rates_match_sklearn_roc_curve():
    rng = np.random.default_rng(3)
    cases = [_random_case(rng) for _ in range(100)]
    # continuous scores, LFW-sized balanced classes
    for n in (600, 6000):
        labels = np.arange(n) % 2 == 0
        cases.append((np.where(labels, rng.normal(0.5, 0.2, n), rng.normal(0.1, 0.2, n)),
                      labels))
    for scores, labels in cases:
        e_ref, t_ref, (fpr, tpr, thr) = _sklearn_eer(scores, labels)
        e, t = eer(scores, labels)
        assert t == t_ref
        assert e == pytest.approx(e_ref, abs=1e-12)
        # error_rates at every ROC threshold reproduce scikit-learn's curve
        for f, tp_rate, th in list(zip(fpr, tpr, thr))[1:][:50]:
            fmr, fnmr = error_rates(scores, labels, th)
            assert fmr == pytest.approx(f, abs=1e-12)
            assert fnmr == pytest.approx(1 - tp_rate, abs=1e-12)


def test_eer_input_errors():
    with pytest.raises(ValueError, match="genuine and impostor"):
        eer([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="same length"):
        eer([0.1, 0.2], [1, 0, 1])

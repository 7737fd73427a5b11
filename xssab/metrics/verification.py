"""Verification metrics: EER and its threshold, LFW-style k-fold accuracy, FMR/FNMR."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _roc(scores: np.ndarray, labels: np.ndarray):
    """Thresholds (every distinct score, descending) with FPR and TPR of ``s >= thr``."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    if scores.shape != labels.shape or scores.ndim != 1:
        raise ValueError("scores and labels must be 1-D arrays of the same length")
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("EER needs both genuine and impostor pairs")
    order = np.argsort(-scores, kind="mergesort")
    s, lab = scores[order], labels[order]
    # last index of each group of equal scores: everything up to it is accepted
    last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]
    tp = np.cumsum(lab)[last]
    fp = np.cumsum(~lab)[last]
    thr = s[last]
    tpr = np.r_[0.0, tp / n_pos]
    fpr = np.r_[0.0, fp / n_neg]
    thr = np.r_[np.inf, thr]
    return thr, fpr, tpr, np.r_[0, tp], np.r_[0, fp], n_pos, n_neg


def eer(scores, labels) -> tuple[float, float]:
    """Equal error rate and its threshold.

    The ROC point where ``|1 - TPR - FPR|`` is smallest (the xSSAB paper's definition);
    the EER reported is the mean of FNMR and FMR there; the threshold is the score at
    that point (a pair matches when ``s >= threshold``). Candidates are the distinct
    scores. Ties (equal gaps at several points, common when genuine and impostor counts
    are equal) go to the highest threshold; the gap is compared in exact integer
    arithmetic, ``|FN * n_neg - FP * n_pos|``, so rounding cannot break a tie.
    """
    thr, fpr, tpr, tp, fp, n_pos, n_neg = _roc(scores, labels)
    # |1 - TPR - FPR| * n_pos * n_neg, exact in int64 (n_pos * n_neg < 9e18)
    tp, fp = tp.astype(np.int64), fp.astype(np.int64)
    gap = np.abs((n_pos - tp) * n_neg - fp * n_pos)
    # threshold +inf (index 0) accepts nothing: never the operating point; argmin takes
    # the first minimum, i.e. the highest threshold among ties
    i = 1 + int(np.argmin(gap[1:]))
    return float((1.0 - tpr[i] + fpr[i]) / 2.0), float(thr[i])


def error_rates(scores, labels, threshold: float) -> tuple[float, float]:
    """(FMR, FNMR) at ``threshold``: impostors with s >= t, genuines with s < t."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    fmr = float(np.mean(scores[~labels] >= threshold)) if (~labels).any() else float("nan")
    fnmr = float(np.mean(scores[labels] < threshold)) if labels.any() else float("nan")
    return fmr, fnmr


@dataclass
class KFoldAccuracy:
    mean: float
    std: float
    fold_accuracies: list[float]
    fold_thresholds: list[float]


def _best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold with the highest accuracy of ``s >= c`` on these pairs.

    Candidates: every distinct score, and one just above the maximum (reject all). Ties go
    to the lowest candidate.
    """
    cand = np.unique(scores)
    cand = np.r_[cand, np.nextafter(cand[-1], np.inf)] if cand.size else cand
    # accuracy of s >= c for every candidate c, vectorised through sorting
    order = np.argsort(scores, kind="mergesort")
    s, lab = scores[order], labels[order]
    # for candidate c, predicted positive = s[k:] with k its first sorted index
    first = np.searchsorted(s, cand, side="left")
    pos_after = np.r_[np.cumsum(lab[::-1])[::-1], 0]  # genuine count in s[k:]
    neg_before = np.r_[0, np.cumsum(~lab)]  # impostor count in s[:k]
    correct = pos_after[first] + neg_before[first]
    i = int(np.argmax(correct))
    return float(cand[i])


def kfold_accuracy(scores, labels, folds=10) -> KFoldAccuracy:
    """LFW protocol: best threshold on 9 folds, accuracy on the 10th, no shuffling.

    ``folds`` is a number k of consecutive folds (sizes differ by at most one, the first
    ``n % k`` folds one larger: scikit-learn's unshuffled ``KFold``) or an array of fold
    ids per pair.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    if scores.shape != labels.shape or scores.ndim != 1:
        raise ValueError("scores and labels must be 1-D arrays of the same length")
    if np.isscalar(folds):
        k = int(folds)
        if k < 2 or k > scores.size:
            raise ValueError(f"k-fold accuracy needs 2 <= k <= pairs, got k={k} for "
                             f"{scores.size} pairs")
        sizes = np.full(k, scores.size // k)
        sizes[: scores.size % k] += 1
        fold_ids = np.repeat(np.arange(k), sizes)
    else:
        fold_ids = np.asarray(folds)
        if fold_ids.shape != scores.shape:
            raise ValueError("folds must give one fold id per pair")
    accs, thrs = [], []
    for f in np.unique(fold_ids):
        test = fold_ids == f
        thr = _best_threshold(scores[~test], labels[~test])
        acc = float(np.mean((scores[test] >= thr) == labels[test]))
        accs.append(acc)
        thrs.append(thr)
    return KFoldAccuracy(float(np.mean(accs)), float(np.std(accs)), accs, thrs)

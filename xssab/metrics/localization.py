"""Localisation score: how well a map finds the planted patches of the patched set.

For an impostor pair the planted patches were copied from the second image, so they should
rank HIGH in the combined map ``C`` (high = similar); for a genuine pair they come from a
foreign donor and should rank LOW. The score of one pair is the AUROC of ``C`` (impostor)
or ``-C`` (genuine) as a detector of the patch mask, computed over all pixels by ranks
(Mann-Whitney U, tied values share their average rank, so a constant map scores 0.5).
The set's score is the plain mean over pairs (each pair weighs the same, whatever its
patched area); pairs whose mask is all inside or all outside have no AUROC and are left
out of the mean.

The control is the same computation with the map of the UNPATCHED image against the same
mask: uniformly placed patches cluster at the centre where face-model maps concentrate,
so a map scores above 0.5 from position alone. ``score - control`` is the localisation
score proper.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def auroc(scores, labels) -> float | None:
    """Area under the ROC curve of ``scores`` detecting ``labels`` (True = positive).

    Computed from ranks (Mann-Whitney U / (n_pos * n_neg)) with average ranks for ties,
    which equals the trapezoidal ROC area. ``None`` when either class is empty.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=bool).ravel()
    if s.shape != y.shape:
        raise ValueError(f"scores {s.shape} and labels {y.shape} differ in size")
    n_pos = int(y.sum())
    n_neg = int(y.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return None
    if np.isnan(s).any():  # scipy's NaN policy (NaN ranks, a NaN AUROC)
        from scipy.stats import rankdata

        ranks = rankdata(s, method="average")
        u = float(ranks[y].sum()) - n_pos * (n_pos + 1) / 2.0
        return u / (n_pos * n_neg)
    u = positive_rank_sum(s, y) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


def positive_rank_sum(s: np.ndarray, y: np.ndarray) -> float:
    """Sum of the average ranks (1-based, ties share their mean rank) of the values
    ``s[y]`` among all of ``s`` (no NaN): ``rankdata(s, "average")[y].sum()``, exactly
    (half-integers, summed exactly in float64), from one unstable sort: tied values get
    the same average whatever their order."""
    order = np.argsort(s)
    srt = s[order]
    start = np.flatnonzero(np.r_[True, srt[1:] != srt[:-1]])  # first index of each value
    end = np.r_[start[1:], srt.size]
    avg = (start + 1 + end) / 2.0  # mean of the ranks start+1 .. end
    pos = np.add.reduceat(y[order].astype(np.int64), start)
    return float(np.dot(avg, pos))


def pair_auroc(cmap, mask, same: bool) -> float | None:
    """AUROC of one pair: ``C`` for impostor pairs, ``-C`` for genuine pairs."""
    cmap = np.asarray(cmap, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if cmap.shape != mask.shape:
        raise ValueError(f"map {cmap.shape} and mask {mask.shape} differ in shape")
    return auroc(-cmap if same else cmap, mask)


def mean_auroc(maps: Sequence[np.ndarray], masks: Sequence[np.ndarray],
               same: Sequence[bool]) -> tuple[float | None, list[float | None]]:
    """Per-pair AUROCs and their mean over the pairs that have one (None if none do)."""
    per = [pair_auroc(m, k, bool(s)) for m, k, s in zip(maps, masks, same, strict=True)]
    valid = [v for v in per if v is not None]
    return (float(np.mean(valid)) if valid else None), per


def localization(maps_patched, maps_unpatched, masks, same) -> dict:
    """Score and control for one method on one model.

    Returns ``{"auroc", "control", "difference", "per_pair", "per_pair_control"}``;
    ``control``/``difference`` are None when ``maps_unpatched`` is None.
    """
    score, per = mean_auroc(maps_patched, masks, same)
    control, per_c = (None, None)
    if maps_unpatched is not None:
        control, per_c = mean_auroc(maps_unpatched, masks, same)
    diff = None if score is None or control is None else score - control
    return {"auroc": score, "control": control, "difference": diff,
            "per_pair": per, "per_pair_control": per_c}

"""Decision-based replacement (DPR) and localisation stages.

Replacement re-embeds each pair's first image with 5..95 % of its pixels put back from
the unpatched original, in the order given by the explanation map (``best_worst``) or at
random (``random``: depends on seed and pair index only, so it is computed once per model
and reported under every method). The pairs are cut into units of exactly one embedding
batch (``batch_size // len(percents)`` pairs, as ``metrics.dpr.dpr_scores`` batches them)
and run through the executor; the numbers do not depend on the executor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..metrics import dpr as dprm
from ..metrics.localization import localization
from .cache import StageCache
from .data import BenchData
from .executor import chunks, run_units
from .scoring import cosine, embed, embed_inputs, model_inputs
from .verify import Verification

CURVE_KEYS = ("percent", "fmr", "fnmr", "area_fmr", "area_fnmr")


@dataclass
class Curve:
    """One DPR curve; ``scores[i, j]``: score of pair i with ``percent[j]`` % replaced."""

    percent: list
    fmr: list[float]
    fnmr: list[float]
    area_fmr: float
    area_fnmr: float
    scores: np.ndarray  # (N pairs, P percents)

    def to_dict(self) -> dict:
        return {"percent": list(self.percent), "fmr": list(self.fmr),
                "fnmr": list(self.fnmr), "area_fmr": self.area_fmr,
                "area_fnmr": self.area_fnmr}


@dataclass
class Localization:
    """Mean per-pair AUROC of the patched-image maps against the patch masks
    (``auroc``), of the unpatched-image maps (``control``), their difference, and the
    per-pair values (NaN where a pair has none)."""

    auroc: float | None
    control: float | None
    difference: float | None
    per_pair: np.ndarray
    per_pair_control: np.ndarray


def _nan(values) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def dpr_unit(model, patched, original, orders, emb_b, *, emb_batch: int) -> np.ndarray:
    """One unit: scores (n, P) of a chunk of pairs (``emb_b``: their second images'
    embeddings) -- exactly one embedding batch, as ``dpr_scores`` batches them.

    Images the model takes as they are (uint8 RGB at its input size) are preprocessed
    once per pair and the replaced series is built on the model input
    (:func:`~xssab.metrics.dpr.replaced_series_input`): the same input values and ORT
    batches as preprocessing every replaced image, without 19 preprocessings per pair."""
    x_p = model_inputs(model, patched)
    x_o = model_inputs(model, original) if x_p is not None else None
    if x_o is None:
        def score(images, idx):
            return cosine(embed(model, images, emb_batch), emb_b[np.asarray(idx)])

        return dprm.dpr_scores(score, patched, original, orders, dprm.PERCENTS, emb_batch)
    n_p = len(dprm.PERCENTS)
    emb_b = np.asarray(emb_b)
    scores = np.empty((len(x_p), n_p), dtype=np.float64)
    # the pairs dpr_scores gathers into one batch: as many whole series as fit
    for r in chunks(len(x_p), max(1, emb_batch // n_p)):
        x = np.empty((len(r) * n_p,) + x_p.shape[1:], dtype=np.float32)
        for j, i in enumerate(r):
            dprm.replaced_series_input(x_p[i], x_o[i], orders[i], out=x[j * n_p:(j + 1) * n_p])
        s = cosine(embed_inputs(model, x, emb_batch), np.repeat(emb_b[r.start:r.stop], n_p, 0))
        scores[r.start:r.stop] = s.reshape(len(r), n_p)
    return scores


def replacement_scores(model, data: BenchData, ver: Verification, orders, emb_batch: int,
                       executor, progress_step=None) -> np.ndarray:
    """Scores (N, P) of the replaced first images against the second images."""
    ps = data.patched
    n_p = len(dprm.PERCENTS)
    ranges = chunks(len(data.pairs), max(1, emb_batch // n_p))
    units = ((k, dpr_unit, (ps.patched[r.start:r.stop], ps.original[r.start:r.stop],
                            list(orders[r.start:r.stop]), ver.emb_b[r.start:r.stop]),
              {"emb_batch": emb_batch}) for k, r in enumerate(ranges))
    parts = {}
    for k, scores in run_units(executor, model, units):
        parts[k] = scores
        if progress_step is not None:
            progress_step(len(ranges[k]))
    out = [parts[k] for k in range(len(ranges))]
    return np.concatenate(out, axis=0) if out else np.zeros((0, n_p))


def _curve(scores, same, threshold) -> Curve:
    fmr, fnmr = dprm.rates(scores, same, threshold)
    p = dprm.PERCENTS
    return Curve([int(v) if float(v).is_integer() else float(v) for v in p], fmr, fnmr,
                 dprm.curve_area(p, fmr), dprm.curve_area(p, fnmr), scores)


def restrict(curve: Curve, idx, same, threshold: float) -> Curve:
    """The curve of the pairs ``idx`` only (rows of its per-pair scores)."""
    return _curve(np.asarray(curve.scores)[np.asarray(idx)], same, threshold)


def _matches(ver: Verification) -> np.ndarray:
    return np.asarray(ver.s_patched, dtype=np.float64) >= ver.threshold


def dpr_best_worst(model, label: str, data: BenchData, ver: Verification, method_name: str,
                   parts: dict, maps: dict, cache: StageCache, executor, emb_batch: int,
                   progress) -> tuple[Curve, Localization]:
    """Replacement in the order of the method's maps, and the localisation score."""
    n, t = len(data.pairs), ver.threshold
    ps = data.patched

    def compute():
        task = progress.add_task(f"{label}/{method_name}: replacement", total=n)
        mp = [maps[f"p{i}"] for i in range(n)]
        mu = [maps[f"u{i}"] for i in range(n)]
        for m, im in zip(mp, ps.patched):
            if np.asarray(m).shape != np.asarray(im).shape[:2]:
                raise ValueError(f"map shape {np.asarray(m).shape} != image shape "
                                 f"{np.asarray(im).shape[:2]}")
        orders = dprm.orders_for("best_worst", mp, _matches(ver), None)
        scores = replacement_scores(model, data, ver, orders, emb_batch, executor,
                                    lambda k: progress.advance(task, k))
        c = _curve(scores, data.same, t)
        loc = localization(mp, mu, ps.mask, data.same)
        meta = {k: getattr(c, k) for k in CURVE_KEYS}
        meta["localization"] = {k: loc[k] for k in ("auroc", "control", "difference")}
        return ({"scores": scores, "loc_per_pair": _nan(loc["per_pair"]),
                 "loc_per_pair_control": _nan(loc["per_pair_control"] or [None] * n)}, meta)

    arrays, meta = cache.get(parts, "dpr", compute, f"{label}/{method_name}/dpr",
                             require=("scores", "loc_per_pair", "loc_per_pair_control"),
                             validate=lambda a, m: len(a["scores"]) == n
                             and len(a["loc_per_pair"]) == n
                             and all(k in m for k in CURVE_KEYS))
    c = Curve(*[meta[k] for k in CURVE_KEYS], scores=arrays["scores"])
    lm = meta["localization"]
    return c, Localization(lm["auroc"], lm["control"], lm["difference"],
                           arrays["loc_per_pair"], arrays["loc_per_pair_control"])


def dpr_random(model, label: str, model_sha: str, data: BenchData, ver: Verification,
               seed: int, cache: StageCache, executor, emb_batch: int, progress) -> Curve:
    """Random replacement (seeded per pair index): once per model."""
    parts = {"model": model_sha, "data": data.key, "seed": seed, "threshold": ver.threshold,
             "stage": "dpr_random"}
    n = len(data.pairs)

    def compute():
        task = progress.add_task(f"{label}: random replacement", total=n)
        shapes = [np.asarray(im).shape[:2] for im in data.patched.patched]
        orders = dprm.orders_for("random", None, _matches(ver), shapes, seed)
        scores = replacement_scores(model, data, ver, orders, emb_batch, executor,
                                    lambda k: progress.advance(task, k))
        c = _curve(scores, data.same, ver.threshold)
        return {"scores": scores}, {k: getattr(c, k) for k in CURVE_KEYS}

    arrays, meta = cache.get(parts, "dpr_random", compute, f"{label}/random",
                             validate=lambda a, m: len(a.get("scores", ())) == n
                             and all(k in m for k in CURVE_KEYS))
    return Curve(*[meta[k] for k in CURVE_KEYS], scores=arrays["scores"])

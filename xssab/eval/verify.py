"""Verify stage: the EER threshold (all unpatched pairs of the dataset) and the scores of
the chosen pairs before and after patching."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..metrics.verification import error_rates
from .cache import StageCache
from .data import BenchData
from .scoring import (cosine, embed, embed_dataset, eer_threshold, pair_keys,
                      scores_of_pairs)


@dataclass
class Verification:
    threshold: float
    eer: float
    threshold_pairs: int
    s_unpatched: np.ndarray  # (N,) cosine of original a vs b
    s_patched: np.ndarray  # (N,) cosine of patched a vs b
    emb_b: np.ndarray  # (N, D) embeddings of the second images
    unpatched_rates: tuple[float, float]  # (FMR, FNMR) at the threshold
    patched_rates: tuple[float, float]


def verify(model, label: str, model_sha: str, data: BenchData, cache: StageCache,
           emb_batch: int, progress) -> Verification:
    ps = data.patched
    parts = {"model": model_sha, "data": data.key, "stage": "verify"}

    def compute():
        n = len(data.pairs)
        keys = pair_keys(data.all_pairs)
        task = progress.add_task(f"{label}: embeddings", total=3 * n + len(keys))
        step = lambda k: progress.advance(task, k)  # noqa: E731
        emb = embed_dataset(model, data.dataset, keys, emb_batch, step)
        s_all = scores_of_pairs(emb, data.all_pairs)
        e, t = eer_threshold(s_all, [p.same for p in data.all_pairs])
        ea = embed(model, ps.original, emb_batch, step)
        eb = embed(model, ps.b, emb_batch, step)
        ep = embed(model, ps.patched, emb_batch, step)
        return ({"emb_b": eb, "s_unpatched": cosine(ea, eb), "s_patched": cosine(ep, eb)},
                {"eer": e, "threshold": t, "threshold_pairs": len(data.all_pairs)})

    def complete(a, m) -> bool:
        n = len(data.pairs)
        return (all(k in a and len(a[k]) == n for k in ("emb_b", "s_unpatched", "s_patched"))
                and all(np.isfinite(float(m.get(k, np.nan))) for k in ("eer", "threshold"))
                and m.get("threshold_pairs") == len(data.all_pairs))

    arrays, meta = cache.get(parts, "verify", compute, f"{label}/verify", validate=complete)
    t = float(meta["threshold"])
    return Verification(
        threshold=t, eer=float(meta["eer"]), threshold_pairs=int(meta["threshold_pairs"]),
        s_unpatched=arrays["s_unpatched"], s_patched=arrays["s_patched"],
        emb_b=arrays["emb_b"],
        unpatched_rates=tuple(error_rates(arrays["s_unpatched"], data.same, t)),
        patched_rates=tuple(error_rates(arrays["s_patched"], data.same, t)))

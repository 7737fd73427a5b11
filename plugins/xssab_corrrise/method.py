"""CorrRISE: rank correlation between random occlusion and similarity (Lu et al., WACV 2024).

* One mask set per call, drawn from ``numpy.random.default_rng(options.seed)`` and shared
  by every pair: ``n_masks`` (500) binary masks at the model input size, each with
  ``n_holes`` (3) square holes of ``hole`` (30) pixels whose top-left corners are uniform
  over ``0 .. S - hole`` (holes may overlap). 1 = pixel kept, 0 = occluded (set to the
  preprocessed value of pixel ``fill`` = 0, black).
* For image A: similarity ``s_m = cos(f(A * mask_m), f(B))`` for every mask (ONNX Runtime,
  large batches); B the same way against the intact A when ``sides="both"``.
* Map value of pixel p: Spearman rank correlation between ``kept_m(p)`` and ``s_m`` over
  the masks. Vectorised: ranks of ``s`` with average ranks for ties; "kept" is binary, and
  the average-rank transform of a binary variable is an increasing affine map of it, so
  Spearman = Pearson(kept, rank(s)) — one (HW x M) @ (M) product. A pixel that is kept by
  every mask (or none) has no defined correlation: its value is 0.
* ``combined`` = the correlation map (high = keeping the pixel raises the similarity),
  ``positive = max(combined, 0)``, ``negative = max(-combined, 0)``; maps are resized from
  the model input size to each image's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from xssab import Explanation, MethodOptions
from xssab.kit import check_pairs, l2_normalize, signed_maps


@dataclass
class CorrRISEOptions(MethodOptions):
    n_masks: int = 500
    n_holes: int = 3
    #: side of each square hole in model-input pixels
    hole: int = 30
    #: pixel value (0..255) of occluded pixels
    fill: int = 0
    #: ONNX Runtime batch size
    batch_size: int = 250


def make_masks(hw: tuple[int, int], n_masks: int = 500, n_holes: int = 3, hole: int = 30,
               seed: int = 0) -> np.ndarray:
    """(n_masks, H, W) bool masks, True = pixel kept; deterministic in ``seed``."""
    H, W = int(hw[0]), int(hw[1])
    rng = np.random.default_rng(seed)
    hy, hx = min(hole, H), min(hole, W)
    ys = rng.integers(0, H - hy + 1, size=(n_masks, n_holes))
    xs = rng.integers(0, W - hx + 1, size=(n_masks, n_holes))
    masks = np.ones((n_masks, H, W), dtype=bool)
    for m in range(n_masks):
        for j in range(n_holes):
            masks[m, ys[m, j]:ys[m, j] + hy, xs[m, j]:xs[m, j] + hx] = False
    return masks


def _average_ranks(v: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(v, method="average").astype(np.float64)


def rank_correlation_maps(masks: np.ndarray, sims: np.ndarray) -> np.ndarray:
    """Spearman correlation per pixel between ``masks`` (M, H, W) and ``sims`` (M,).

    ``sims`` may be (K, M) for K images at once; returns (H, W) or (K, H, W).
    """
    M, H, W = masks.shape
    s = np.atleast_2d(np.asarray(sims, np.float64))
    r = np.stack([_average_ranks(row) for row in s])  # (K, M)
    r = r - r.mean(axis=1, keepdims=True)
    kept = masks.reshape(M, H * W).astype(np.float64)
    kc = kept - kept.mean(axis=0, keepdims=True)
    num = r @ kc  # (K, HW)
    den = np.sqrt((kc ** 2).sum(axis=0))[None, :] * np.sqrt((r ** 2).sum(axis=1))[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    corr = corr.reshape(-1, H, W)
    return corr[0] if np.ndim(sims) == 1 else corr


class CorrRISE:
    """CorrRISE: per-pixel Spearman correlation of random occlusion with the similarity."""

    name = "corrrise"
    description = ("CorrRISE (Lu et al. 2024): 500 seeded masks with 3 holes of 30x30, "
                   "per-pixel Spearman correlation of 'kept' with the similarity; "
                   "ONNX Runtime forward passes only")
    Options = CorrRISEOptions

    def supports(self, model) -> str | None:
        return None

    def explain_pairs(self, model, images_a: Sequence[np.ndarray],
                      images_b: Sequence[np.ndarray], threshold: float, options=None, *,
                      sides: str = "both", device=None) -> list[Explanation]:
        opt = options if options is not None else CorrRISEOptions()
        images_a, images_b = check_pairs(images_a, images_b, sides)
        n = len(images_a)
        if n == 0:
            return []
        H, W = model.input_size
        masks = make_masks((H, W), opt.n_masks, opt.n_holes, opt.hole, opt.seed)
        keep = masks[:, None, :, :]  # broadcast over channels
        xa = model.preprocess(images_a)
        xb = model.preprocess(images_b)
        fill = model.preprocess(np.full((H, W, 3), int(opt.fill), np.uint8))[0]
        e = np.asarray(model.embed_input(np.concatenate([xa, xb]),
                                         batch_size=opt.batch_size), np.float64)
        e = l2_normalize(e)
        ea, eb = e[:n], e[n:]
        out = []
        for i in range(n):
            todo = [(xa[i], eb[i], images_a[i].shape[:2])]
            if sides == "both":
                todo.append((xb[i], ea[i], images_b[i].shape[:2]))
            maps = []
            for x, partner, hw in todo:
                occ = np.where(keep, x[None], fill[None]).astype(np.float32)
                eo = np.asarray(model.embed_input(occ, batch_size=opt.batch_size),
                                np.float64)
                eo = l2_normalize(eo)
                sims = eo @ partner
                corr = rank_correlation_maps(masks, sims)
                maps.append(signed_maps(corr, hw))
            sim = float(ea[i] @ eb[i])
            out.append(Explanation(
                method=self.name, similarity=sim, threshold=float(threshold),
                match=bool(sim >= threshold), a=maps[0],
                b=maps[1] if len(maps) > 1 else None,
                forward_passes=2 + opt.n_masks * len(todo), backward_passes=0,
                extras={"n_masks": int(opt.n_masks), "mask_seed": int(opt.seed)}))
        return out

"""Decision-based replacement (DPR) curves of the patched benchmark.

Protocol (see docs/benchmark.md): the threshold ``t`` is the model's EER threshold on the
UNPATCHED pairs. For every pair of the patched set, with ``C`` the combined map of the
PATCHED first image and ``s`` the pair's score:

* ``best_worst`` strategy: a non-match (``s < t``) replaces the ``p`` % pixels with the
  LOWEST ``C`` by the original (unpatched) pixels; a match (``s >= t``) replaces the ``p`` %
  with the HIGHEST ``C``. Ties in ``C`` are broken by pixel index (row-major; stable sort),
  so the order is deterministic and the replaced sets are nested as ``p`` grows.
* ``random`` strategy: one seeded random permutation of the pixels per pair (seed = the
  run seed and the pair's index), prefixes of it are replaced, so the sets are nested.

A pixel is replaced in all three channels. ``p`` % of ``H*W`` pixels is rounded half up to
a whole number of pixels. The modified first images are re-embedded (ONNX Runtime, in
batches spanning many pairs) and the scores recomputed; FMR (impostor pairs with
``s >= t``) and FNMR (genuine pairs with ``s < t``) over the set at each ``p`` form the
curves. The one-number summary of a curve is its area over the fraction axis
(trapezoid over p/100 from 0.05 to 0.95, so a curve stuck at 1.0 has area 0.9); the gap
to random is ``area(random) - area(best_worst)`` (positive = the explanation beats
random).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

PERCENTS: tuple[int, ...] = tuple(range(5, 100, 5))
STRATEGIES = ("best_worst", "random")


def n_replaced(percent: float, n_pixels: int) -> int:
    """Number of pixels replaced at ``percent`` % of ``n_pixels`` (rounded half up)."""
    return int(np.floor(percent * n_pixels / 100.0 + 0.5))


def best_worst_order(cmap: np.ndarray, match: bool) -> np.ndarray:
    """Flat pixel indices in replacement order for the ``best_worst`` strategy.

    ``match`` (s >= t): highest ``C`` first; non-match: lowest ``C`` first. Ties keep
    row-major pixel order (stable sort). NaN values are ranked last.
    """
    cmap = np.asarray(cmap)
    if cmap.dtype in (np.float16, np.float32) and cmap.size < 2 ** 32:
        return _stable_order_f32(cmap.astype(np.float32).ravel(), match)
    flat = np.asarray(cmap, dtype=np.float64).ravel()
    key = -flat if match else flat
    key = np.where(np.isnan(key), np.inf, key)
    return np.argsort(key, kind="stable")


def _stable_order_f32(flat: np.ndarray, match: bool) -> np.ndarray:
    """The same order as the stable float64 sort above, for float32 values (exact in
    float64, so the order is the same): each value mapped to an order-preserving uint32
    (+0 and -0 equal, NaN as +inf), shifted up and joined with the pixel index into one
    uint64 key whose plain (unstable, ~3x faster) sort breaks ties by index."""
    key = -flat if match else flat
    key = np.where(np.isnan(key), np.float32(np.inf), key) + np.float32(0)  # -0 -> +0
    u = key.view(np.uint32).astype(np.uint64)
    u = np.where(u >> 31, ~u & 0xFFFFFFFF, u | 0x80000000)  # IEEE order -> integer order
    return np.argsort((u << 32) | np.arange(flat.size, dtype=np.uint64)).astype(np.intp)


def random_order(n_pixels: int, seed: int, pair_index: int) -> np.ndarray:
    """The fixed random permutation of one pair (nested prefixes as ``p`` grows)."""
    if int(seed) < 0:
        from ..errors import XssabError

        raise XssabError(f"seed must be a non-negative integer, got {seed}")
    rng = np.random.default_rng([int(seed), int(pair_index)])
    return rng.permutation(int(n_pixels))


def replaced_series(patched: np.ndarray, original: np.ndarray, order: np.ndarray,
                    percents: Sequence[float] = PERCENTS) -> np.ndarray:
    """Images (P, H, W, C) where the first ``n_replaced(p)`` pixels of ``order`` come from
    ``original`` and the rest from ``patched``; built incrementally (nested sets)."""
    patched = np.asarray(patched)
    original = np.asarray(original)
    if patched.shape != original.shape:
        raise ValueError(f"patched {patched.shape} and original {original.shape} differ")
    h, w = patched.shape[:2]
    n = h * w
    cur = patched.reshape(n, -1).copy()
    src = original.reshape(n, -1)
    out = np.empty((len(percents),) + patched.shape, dtype=patched.dtype)
    done = 0
    for i, p in enumerate(percents):
        k = n_replaced(p, n)
        if k < done:
            raise ValueError("percents must be increasing")
        idx = order[done:k]
        cur[idx] = src[idx]
        done = k
        out[i] = cur.reshape(patched.shape)
    return out


def replaced_series_input(patched: np.ndarray, original: np.ndarray, order: np.ndarray,
                          percents: Sequence[float] = PERCENTS,
                          out: np.ndarray | None = None) -> np.ndarray:
    """:func:`replaced_series` on model inputs (C, H, W) instead of images (H, W, C): a
    pixel is its C values at one (h, w), ``order`` a permutation of the ``H*W`` pixels.
    Where preprocessing works pixel by pixel (no resize), the result is the preprocessed
    output of :func:`replaced_series`, value for value (each is selected, not computed).
    Returns (P, C, H, W) (written into ``out`` if given), built incrementally like
    :func:`replaced_series` (the sets are nested): each image is a copy of the previous one
    with the next pixels of ``order`` put back, a contiguous copy and a small scatter per
    percent instead of a masked copy of the whole series (0.24 vs 1.55 ms for 19 x 3 x
    112 x 112, measured)."""
    patched = np.asarray(patched)
    original = np.asarray(original)
    if patched.shape != original.shape or patched.ndim != 3:
        raise ValueError(f"patched {patched.shape} and original {original.shape}: expected "
                         "two (C, H, W) arrays of one shape")
    c, h, w = patched.shape
    n = h * w
    order = np.asarray(order)
    if order.shape != (n,):
        raise ValueError(f"order has {order.size} entries for {n} pixels")
    ks = [n_replaced(p, n) for p in percents]
    if any(b < a for a, b in zip(ks, ks[1:])):
        raise ValueError("percents must be increasing")
    if out is None:
        out = np.empty((len(ks), c, h, w), dtype=patched.dtype)
    elif out.shape != (len(ks), c, h, w) or not out.flags.c_contiguous:
        raise ValueError(f"out: expected a C-contiguous array of shape {(len(ks), c, h, w)}")
    flat = out.reshape(len(ks), c, n)  # a view: out is written in place
    src = original.reshape(c, n)
    prev, done = patched.reshape(c, n), 0
    for j, k in enumerate(ks):
        flat[j] = prev
        idx = order[done:k]
        flat[j][:, idx] = src[:, idx]
        prev, done = flat[j], k
    return out


def dpr_scores(score_fn: Callable[[list, np.ndarray], np.ndarray],
               patched_a: Sequence[np.ndarray], original_a: Sequence[np.ndarray],
               orders: Sequence[np.ndarray], percents: Sequence[float] = PERCENTS,
               batch_size: int = 256, progress: Callable[[int], None] | None = None
               ) -> np.ndarray:
    """Scores (N pairs, P percents) of the replaced images.

    ``score_fn(images, pair_indices)`` scores a batch of modified first images against the
    second images of the given pairs. Replaced images of many pairs are gathered into
    batches of at most ``batch_size`` images (at least one pair's series). ``progress(n_pairs_done)`` is called per batch.
    """
    n_pairs = len(patched_a)
    n_p = len(percents)
    scores = np.empty((n_pairs, n_p), dtype=np.float64)
    buf_imgs: list[np.ndarray] = []
    buf_pairs: list[int] = []

    def flush():
        if not buf_pairs:
            return
        idx = np.repeat(np.asarray(buf_pairs), n_p)
        imgs = [im for series in buf_imgs for im in series]
        s = np.asarray(score_fn(imgs, idx), dtype=np.float64).reshape(len(buf_pairs), n_p)
        scores[buf_pairs] = s
        if progress is not None:
            progress(len(buf_pairs))
        buf_imgs.clear()
        buf_pairs.clear()

    for i in range(n_pairs):
        if buf_pairs and (len(buf_pairs) + 1) * n_p > batch_size:
            flush()
        buf_imgs.append(replaced_series(patched_a[i], original_a[i], orders[i], percents))
        buf_pairs.append(i)
    flush()
    return scores


def rates(scores: np.ndarray, same: Sequence[bool], threshold: float
          ) -> tuple[list[float], list[float]]:
    """FMR and FNMR at each column of ``scores`` (N, P) (``nan`` if a class is empty)."""
    scores = np.asarray(scores, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    imp, gen = scores[~same], scores[same]
    fmr = (imp >= threshold).mean(axis=0) if imp.size else np.full(scores.shape[1], np.nan)
    fnmr = (gen < threshold).mean(axis=0) if gen.size else np.full(scores.shape[1], np.nan)
    return [float(v) for v in fmr], [float(v) for v in fnmr]


def curve_area(percents: Sequence[float], values: Sequence[float]) -> float:
    """Trapezoid area of ``values`` over the fraction axis ``p / 100``."""
    x = np.asarray(percents, dtype=np.float64) / 100.0
    y = np.asarray(values, dtype=np.float64)
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0)


def orders_for(strategy: str, maps: Sequence[np.ndarray] | None, matches: Sequence[bool],
               shapes: Sequence[tuple[int, int]], seed: int = 0) -> list[np.ndarray]:
    """Replacement orders of every pair for ``strategy``."""
    if strategy == "best_worst":
        if maps is None:
            raise ValueError("best_worst needs maps")
        return [best_worst_order(m, bool(k)) for m, k in zip(maps, matches, strict=True)]
    if strategy == "random":
        return [random_order(h * w, seed, i) for i, (h, w) in enumerate(shapes)]
    raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")


def dpr_curve(score_fn, patched_a, original_a, same, patched_scores, threshold: float,
              strategy: str, maps=None, seed: int = 0, percents=PERCENTS,
              batch_size: int = 256, progress=None) -> dict:
    """One DPR curve: ``{"percent", "fmr", "fnmr", "area_fmr", "area_fnmr", "scores"}``.

    ``patched_scores`` are the scores of the patched pairs (decide match / non-match).
    """
    matches = np.asarray(patched_scores, dtype=np.float64) >= threshold
    shapes = [np.asarray(im).shape[:2] for im in patched_a]
    for m, shp in zip(maps if maps is not None else [], shapes):
        if np.asarray(m).shape != tuple(shp):
            raise ValueError(f"map shape {np.asarray(m).shape} != image shape {tuple(shp)}")
    orders = orders_for(strategy, maps, matches, shapes, seed)
    scores = dpr_scores(score_fn, patched_a, original_a, orders, percents, batch_size,
                        progress)
    fmr, fnmr = rates(scores, same, threshold)
    return {"percent": [int(p) if float(p).is_integer() else float(p) for p in percents],
            "fmr": fmr, "fnmr": fnmr,
            "area_fmr": curve_area(percents, fmr), "area_fnmr": curve_area(percents, fnmr),
            "scores": scores}

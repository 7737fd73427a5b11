"""The ``random`` baseline: a seeded uniform-noise map per pair.

Ranking pixels by it is the random-replacement baseline of the patched benchmark. The map
of pair ``i`` (counted from ``Options.index_offset``) depends only on ``(seed, i, side)``,
so results are reproducible and independent of how a caller batches the pairs. The maps
cost no model evaluation; the similarity reported with them is computed with
``model.embed``: ``forward_passes = 2`` per pair (ONNX Runtime), ``backward_passes = 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .._util import l2_normalize
from ..kit import check_pairs
from .base import Explanation, ImageMaps, MethodOptions


@dataclass
class Options(MethodOptions):
    """``seed``: noise seed. ``index_offset``: index of the first pair of this call."""

    index_offset: int = 0


def _noise_maps(seed: int, index: int, side: int, hw: tuple[int, int]) -> ImageMaps:
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(index), int(side)])
    u = rng.random(hw, dtype=np.float32)
    pos = u
    neg = (1.0 - u).astype(np.float32)
    return ImageMaps(pos, neg, (pos - neg).astype(np.float32))


def _cosine(ea: np.ndarray, eb: np.ndarray) -> np.ndarray:
    return np.sum(l2_normalize(ea) * l2_normalize(eb), axis=1)


class RandomMethod:
    """Uniform noise maps (random-replacement baseline). Registered as ``random``."""

    name = "random"
    description = "random baseline: seeded uniform noise maps (random replacement order)"
    Options = Options

    def supports(self, model) -> str | None:
        return None

    def explain_pairs(self, model, images_a: Sequence[np.ndarray],
                      images_b: Sequence[np.ndarray], threshold: float,
                      options: Options | None = None, *, sides: str = "both",
                      device: str | None = None) -> list[Explanation]:
        opts = options or Options()
        images_a, images_b = check_pairs(images_a, images_b, sides)
        n = len(images_a)
        if n == 0:
            return []
        ea = np.asarray(model.embed(images_a, align=False), dtype=np.float64)
        eb = np.asarray(model.embed(images_b, align=False), dtype=np.float64)
        sims = _cosine(ea, eb)
        out = []
        for i in range(n):
            idx = int(opts.index_offset) + i
            a = _noise_maps(opts.seed, idx, 0, tuple(images_a[i].shape[:2]))
            b = (_noise_maps(opts.seed, idx, 1, tuple(images_b[i].shape[:2]))
                 if sides == "both" else None)
            s = float(sims[i])
            out.append(Explanation(self.name, s, float(threshold), bool(s >= threshold), a, b,
                                   forward_passes=2, backward_passes=0))
        return out

"""Per-method pair subsets: expensive methods (x-face: ~2,260 forward passes per explained
image) run on a smaller, balanced subset of the SAME pairs as the cheap ones.

* ``BenchConfig.method_pairs`` (``--method-pairs xface=16,fggb=40``; ``0`` = every pair)
  caps a method's pairs; :data:`DEFAULT_METHOD_PAIRS` is the default cap, fixed (not
  timed) so a run's numbers do not depend on the machine.
* ``BenchConfig.budget`` (``--budget SECONDS``) instead sizes each method from its
  measured cost: one probe pair is explained (timed), and the method gets
  ``floor(budget / (2 * seconds per explained image))`` pairs (patched image + control),
  at least :data:`MIN_SUBSET` and at most the run's pairs. The sizes are printed and
  recorded (``pairs`` of every method in results.json, ``method_pairs`` in the config),
  so the run can be repeated exactly with ``--method-pairs``.

The subset is :func:`xssab.eval.pairs.balanced_subset` of the run's pairs (half genuine,
half impostor, evenly spread, in order); comparisons between two methods are made on the
pairs both ran on (``xssab.metrics.summaries``), and a method's gap to random uses the
random replacement of its own pairs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np

from .data import BenchData, PatchedArrays, data_key
from .pairs import balanced_subset

#: default cap on the pairs of the expensive methods (measured cost, benchmarks/RESULTS.md:
#: x-face 2.8-2.9 s per pair on the synth models, FGGB 1.1-13 s, CorrRISE 1.4-2.4 s)
DEFAULT_METHOD_PAIRS: dict[str, int] = {"xface": 12, "fggb": 40, "corrrise": 40}
MIN_SUBSET = 10


@dataclass
class _Item:
    index: int
    same: bool


def subset_index(same, k: int) -> np.ndarray:
    """Indices (sorted) of the balanced subset of ``k`` pairs; all when ``k`` is 0 or at
    least the number of pairs."""
    same = np.asarray(same, dtype=bool)
    items = [_Item(i, bool(s)) for i, s in enumerate(same)]
    return np.asarray([it.index for it in balanced_subset(items, int(k))], dtype=np.int64)


def subset_data(data: BenchData, idx: np.ndarray) -> BenchData:
    """``data`` restricted to the pairs ``idx`` (its own cache identity)."""
    idx = [int(i) for i in idx]
    if len(idx) == len(data.pairs):
        return data
    ps = data.patched
    pa = PatchedArrays(patched=[ps.patched[i] for i in idx],
                       original=[ps.original[i] for i in idx],
                       b=[ps.b[i] for i in idx], mask=[ps.mask[i] for i in idx],
                       same=np.asarray(ps.same)[idx])
    pairs = [data.pairs[i] for i in idx]
    key = data_key(data.name, data.path, pairs, data.all_pairs)
    return replace(data, pairs=pairs, patched=pa, key=key)


def subset_verification(ver, idx: np.ndarray):
    """The verification stage's per-pair arrays restricted to ``idx`` (same threshold)."""
    idx = np.asarray(idx, dtype=np.int64)
    if idx.size == len(ver.s_patched):
        return ver
    return replace(ver, s_unpatched=np.asarray(ver.s_unpatched)[idx],
                   s_patched=np.asarray(ver.s_patched)[idx],
                   emb_b=np.asarray(ver.emb_b)[idx])


def sizes_from_budget(budget_s: float, seconds_per_image: Mapping[str, float], n: int
                      ) -> dict[str, int]:
    """Pairs per method that fit ``budget_s`` seconds of explanation (two explained
    images per pair), clamped to ``[MIN_SUBSET, n]``."""
    out = {}
    for name, sec in seconds_per_image.items():
        k = n if sec <= 0 else int(budget_s // (2.0 * sec))
        out[name] = int(min(n, max(MIN_SUBSET, k)))
    return out


def probe_cost(model, method_name: str, data: BenchData, threshold: float, opts,
               device: str) -> float:
    """Seconds to explain one image (the first pair's patched image) with the method."""
    import xssab

    ps = data.patched
    t0 = time.perf_counter()
    xssab.explain_pairs(model, ps.patched[:1], ps.b[:1], threshold=threshold,
                        method=method_name, options=opts, device=device, sides="a")
    return time.perf_counter() - t0


def method_pair_count(name: str, n: int, method_pairs: Mapping[str, int]) -> int:
    """Pairs a method runs on: its cap (0 = all) or every pair."""
    k = int(method_pairs.get(name, 0) or 0)
    return n if k <= 0 or k >= n else k


__all__ = ["DEFAULT_METHOD_PAIRS", "MIN_SUBSET", "method_pair_count", "probe_cost",
           "sizes_from_budget", "subset_data", "subset_index", "subset_verification"]

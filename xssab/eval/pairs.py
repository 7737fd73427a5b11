"""Pair selection shared by the benchmark and ``xssab calibrate``."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import DatasetError


def balanced_subset(pairs: Sequence, n: int | None) -> list:
    """Balanced deterministic subset: ``ceil(n/2)`` genuine and ``floor(n/2)`` impostor
    pairs (the other class fills in when one runs short), evenly spaced through each list
    (so every fold contributes), in dataset order. ``None``, ``n <= 0`` or
    ``n >= len(pairs)`` keeps every pair."""
    pairs = list(pairs)
    if not n or n <= 0 or n >= len(pairs):
        return pairs
    gen = [i for i, p in enumerate(pairs) if p.same]
    imp = [i for i, p in enumerate(pairs) if not p.same]
    k_gen = min(len(gen), (n + 1) // 2)
    k_imp = min(len(imp), n - k_gen)
    k_gen = min(len(gen), n - k_imp)

    def spread(idx, k):
        if k <= 0:
            return []
        pos = np.floor(np.arange(k) * len(idx) / k).astype(int)
        return [idx[j] for j in pos]

    chosen = sorted(spread(gen, k_gen) + spread(imp, k_imp))
    return [pairs[i] for i in chosen]


def check_both_classes(labels, what: str, hint: str = "raise --pairs") -> None:
    """One-line DatasetError unless ``labels`` holds genuine AND impostor pairs."""
    labels = np.asarray(labels, dtype=bool)
    if labels.size == 0:
        raise DatasetError(f"{what} has no pairs")
    if labels.all() or not labels.any():
        raise DatasetError(f"{what}: needs genuine and impostor pairs (got "
                           f"{int(labels.sum())} genuine of {labels.size}); {hint}")

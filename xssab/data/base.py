"""Pair datasets: what every dataset plugin returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Pair:
    """One verification pair. ``a``/``b`` are image keys understood by the dataset."""

    a: str
    b: str
    same: bool
    fold: int = 0


@runtime_checkable
class PairDataset(Protocol):
    name: str

    def pairs(self) -> Sequence[Pair]:
        """All pairs, in protocol order (LFW: fold by fold, genuine then impostor)."""
        ...

    def load(self, key: str) -> np.ndarray:
        """The image for ``key`` as uint8 RGB (H, W, 3)."""
        ...

    def identity(self, key: str) -> str:
        """Identity label of the image ``key`` (the patched-set builder needs donors)."""
        ...

    def keys(self) -> Sequence[str]:
        """Every image key the dataset knows (donor pool for the patched set)."""
        ...

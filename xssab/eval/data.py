"""Data stage: the dataset (sized for the run), the balanced subset and its patched set."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import XssabError
from .cache import StageCache, stage_key
from .config import PROTOCOL_VERSION
from .pairs import balanced_subset, check_both_classes


def open_dataset(name: str, path=None, *, min_pairs: int = 0, align: bool = False,
                 **options):
    """The registered dataset ``name``; ``min_pairs > 0`` asks it to hold at least that
    many pairs (passed to factories that take a ``min_pairs`` argument, e.g. synth renders
    just enough; fixed-size datasets ignore it). ``align=True``: detect and align its images
    (datasets with an ``align`` option: lfw, folder; others raise a one-line error)."""
    from .. import registry

    entry = registry.datasets().get(name)
    if entry is None:
        registry.get_dataset(name)  # raises UnknownNameError with suggestions
    if min_pairs and _takes_min_pairs(entry.factory):
        options["min_pairs"] = int(min_pairs)
    if not align:
        return registry.get_dataset(name, path=path, **options)
    no_align = XssabError(f"dataset {name!r} has no align option (lfw and folder have; "
                          "bin and synth hold aligned crops already)")
    try:
        ds = registry.get_dataset(name, path=path, align=True, **options)
    except TypeError:
        raise no_align from None
    if getattr(ds, "aligned", None) is None:
        raise no_align
    return ds


def _takes_min_pairs(factory) -> bool:
    try:
        return "min_pairs" in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False


def _pairs_hash(pairs: Sequence) -> str:
    return hashlib.sha256(json.dumps([[p.a, p.b, p.same] for p in pairs]).encode()).hexdigest()


@dataclass
class PatchedArrays:
    """Per-pair lists of the patched set, in subset order."""

    patched: list[np.ndarray]
    original: list[np.ndarray]
    b: list[np.ndarray]
    mask: list[np.ndarray]
    same: np.ndarray  # bool (N,)

    @classmethod
    def from_set(cls, ps) -> "PatchedArrays":
        """From a :class:`xssab.data.patched.PatchedSet` (``PatchedPair`` items)."""
        items = list(ps)
        return cls(patched=[np.asarray(it.patched) for it in items],
                   original=[np.asarray(it.original) for it in items],
                   b=[np.asarray(it.other) for it in items],
                   mask=[np.asarray(it.mask, dtype=bool) for it in items],
                   same=np.asarray([bool(it.same) for it in items], dtype=bool))

    def __len__(self) -> int:
        return len(self.same)


@dataclass
class BenchData:
    """What every later stage reads: the dataset, all its pairs (for the threshold), the
    chosen subset, its patched set and the cache identity of all that."""

    name: str
    path: str | None
    dataset: Any
    all_pairs: list
    pairs: list
    patched: PatchedArrays
    key: dict

    @property
    def same(self) -> np.ndarray:
        return self.patched.same


def data_key(name: str, path, pairs: Sequence, all_pairs: Sequence,
             align: bool = False, content: str | None = None) -> dict:
    """The data part of every stage identity: the dataset's absolute location (the same
    relative ``--data`` elsewhere is another dataset), the pairs, and ``content``: a
    fingerprint of the images behind them (``xssab.data.fingerprint``), so images changed
    in place recompute."""
    where = os.path.abspath(os.path.expanduser(str(path))) if path else None
    key = {"dataset": name, "data": where, "pairs": _pairs_hash(pairs),
           "n": len(pairs), "protocol": PROTOCOL_VERSION,
           "threshold_pairs": _pairs_hash(all_pairs), "content": content}
    if align:
        key["align"] = True
    return key


def load_data(name: str, path, n_pairs: int, cache: StageCache,
              align: bool = False) -> BenchData:
    """Open the dataset (``align``: its detect-and-align option), choose the balanced
    subset of ``n_pairs`` (0 = all) and build its patched set (cached next to the stages)."""
    from ..data.patched import build_patched

    ds = open_dataset(name, path, min_pairs=n_pairs, align=align)
    all_pairs = list(ds.pairs())
    pairs = balanced_subset(all_pairs, n_pairs)
    check_both_classes([p.same for p in pairs],
                       f"dataset {name!r}: the selected {len(pairs)} pairs")
    from ..data.fingerprint import dataset_fingerprint
    from .scoring import pair_keys

    content = (dataset_fingerprint(ds, pair_keys(all_pairs)) if cache.root is not None
               else None)  # reads every image's bytes: only worth it with a cache
    key = data_key(name, path, pairs, all_pairs, align, content)
    ps = build_patched(ds, pairs, cache_dir=cache.subdir("patched-" + stage_key(key)))
    key["patched"] = ps.fingerprint  # donors too: every image the patched set was built from
    arrays = PatchedArrays.from_set(ps)
    if len(arrays) != len(pairs):
        raise XssabError(f"patched set has {len(arrays)} pairs, expected {len(pairs)}")
    return BenchData(name, str(path) if path else None, ds, all_pairs, pairs, arrays, key)

"""The patched benchmark set (xSSAB paper, Patch-LFW protocol; see docs/benchmark.md).

Only the first image of every pair is modified. 27 square 16x16 patches are pasted into
it at positions drawn uniformly with every patch fully inside the image (top-left column
and row in ``[0, W-16)`` / ``[0, H-16)``, i.e. ``[0, 96)`` for 112x112; overlaps allowed):

* impostor pair (A, B): each patch is copied from B at the same position;
* genuine pair (A, A'): one donor image of another identity, drawn from the whole set
  (every key of the dataset whose identity differs from A's), gives all patches.

Random draws (numpy legacy ``RandomState``, as in the released code): the generator is
seeded with 3 at the start of the impostor pass, which visits the impostor pairs in list
order and draws, per pair, 27 times ``(col, row)`` as ``col = randint(0, W-16)`` then
``row = randint(0, H-16)``; it is seeded with 3 again at the start of the genuine pass,
which visits the genuine pairs in list order and draws, per pair, the donor first
(``randint(0, len(donor_pool))`` into the sorted keys of other identities) and then the 27
``(col, row)`` positions in the same way. The released code's exact draw order is not
published in the spec; this is the order used here and it is fixed.

B and donors whose size differs from A are resized to A's size (the package's one rule,
``_util.resize_image``: cv2 INTER_AREA when no axis grows, INTER_LINEAR otherwise) before
copying. The boolean mask (H, W) marks the
pasted pixels. With ``cache_dir`` the set is stored losslessly (PNG) with a manifest and
reloaded when the pair list and dataset match.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from .._util import atomic_dir, read_image, resize_image, write_png
from ..errors import DatasetError
from .base import Pair

N_PATCHES = 27
PATCH = 16
SEED = 3
FORMAT_VERSION = 1


@dataclass
class PatchedPair:
    pair: Pair
    patched: np.ndarray   # uint8 RGB (H, W, 3): A with the patches
    original: np.ndarray  # uint8 RGB: A unmodified
    other: np.ndarray     # uint8 RGB: B unmodified
    mask: np.ndarray      # bool (H, W): pasted pixels
    same: bool
    donor: str | None     # genuine pairs: key of the donor image


class PatchedSet(Sequence):
    """The patched pairs, in the order of the input pair list."""

    def __init__(self, items: list[PatchedPair]):
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i):
        return self._items[i]

    @property
    def same(self) -> np.ndarray:
        return np.array([it.same for it in self._items], bool)

    @property
    def patched(self) -> list[np.ndarray]:
        return [it.patched for it in self._items]

    @property
    def originals(self) -> list[np.ndarray]:
        return [it.original for it in self._items]

    @property
    def others(self) -> list[np.ndarray]:
        return [it.other for it in self._items]

    @property
    def masks(self) -> list[np.ndarray]:
        return [it.mask for it in self._items]


def _positions(rs: np.random.RandomState, h: int, w: int) -> list[tuple[int, int]]:
    if h < PATCH or w < PATCH:
        raise DatasetError(f"image {w}x{h} is smaller than a {PATCH}x{PATCH} patch")
    out = []
    for _ in range(N_PATCHES):
        col = int(rs.randint(0, w - PATCH))
        row = int(rs.randint(0, h - PATCH))
        out.append((col, row))
    return out


def _fit(img: np.ndarray, shape) -> np.ndarray:
    return resize_image(img, shape[:2])


def _paste(a: np.ndarray, src: np.ndarray, positions):
    out = a.copy()
    mask = np.zeros(a.shape[:2], bool)
    for col, row in positions:
        out[row:row + PATCH, col:col + PATCH] = src[row:row + PATCH, col:col + PATCH]
        mask[row:row + PATCH, col:col + PATCH] = True
    return out, mask


def _manifest_key(dataset, pairs: Sequence[Pair]) -> str:
    h = hashlib.sha256()
    h.update(f"v{FORMAT_VERSION}|{getattr(dataset, 'name', '?')}|"
             f"{getattr(dataset, 'root', '')}".encode())
    for p in pairs:
        h.update(f"{p.a}|{p.b}|{int(p.same)}|{p.fold}\n".encode())
    return h.hexdigest()


def _build(dataset, pairs: Sequence[Pair]) -> list[PatchedPair]:
    items: list[PatchedPair | None] = [None] * len(pairs)
    cache: dict[str, np.ndarray] = {}

    def load(key):
        if key not in cache:
            cache[key] = dataset.load(key)
        return cache[key]

    # impostor pass
    rs = np.random.RandomState(SEED)
    for i, p in enumerate(pairs):
        if p.same:
            continue
        a = load(p.a)
        b = _fit(load(p.b), a.shape)
        patched, mask = _paste(a, b, _positions(rs, *a.shape[:2]))
        items[i] = PatchedPair(p, patched, a, load(p.b), mask, False, None)
    # genuine pass
    if any(p.same for p in pairs):
        keys = sorted(dataset.keys())
        ident = {k: dataset.identity(k) for k in keys}
        rs = np.random.RandomState(SEED)
        for i, p in enumerate(pairs):
            if not p.same:
                continue
            id_a = dataset.identity(p.a)
            pool = [k for k in keys if ident[k] != id_a]
            if not pool:
                raise DatasetError(f"no donor image of another identity than {id_a!r} in "
                                   f"dataset {getattr(dataset, 'name', '?')}")
            donor = pool[int(rs.randint(0, len(pool)))]
            a = load(p.a)
            d = _fit(dataset.load(donor), a.shape)
            patched, mask = _paste(a, d, _positions(rs, *a.shape[:2]))
            items[i] = PatchedPair(p, patched, a, load(p.b), mask, True, donor)
    return items  # type: ignore[return-value]


def _read_png(path: Path, color: bool) -> np.ndarray:
    try:
        if color:
            return read_image(path, error=DatasetError)
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # the 0/255 mask, one channel
        if img is None:
            raise DatasetError(f"cannot read {path}")
        return img
    except DatasetError as exc:
        raise DatasetError(f"patched-set cache file missing or undecodable ({exc}); delete "
                           "the cache folder to rebuild it") from None


def build_patched(dataset, pairs: Sequence[Pair] | None = None,
                  cache_dir: str | os.PathLike | None = None) -> PatchedSet:
    """Build (or reload from ``cache_dir``) the patched version of ``pairs``.

    ``pairs`` defaults to ``dataset.pairs()``. The cache stores ``patched/NNNNN.png`` and
    ``mask/NNNNN.png`` (lossless) plus ``manifest.json``; the originals are re-read from the
    dataset.
    """
    pairs = list(dataset.pairs() if pairs is None else pairs)
    key = _manifest_key(dataset, pairs)
    if cache_dir is not None:
        cdir = Path(cache_dir)
        man = cdir / "manifest.json"
        if man.exists():
            try:
                meta = json.loads(man.read_text())
            except (OSError, ValueError):
                meta = {}
            if meta.get("key") == key:
                items = []
                for i, p in enumerate(pairs):
                    a = dataset.load(p.a)
                    items.append(PatchedPair(
                        p, _read_png(cdir / "patched" / f"{i:05d}.png", True), a,
                        dataset.load(p.b),
                        _read_png(cdir / "mask" / f"{i:05d}.png", False) > 0, p.same,
                        meta["donors"][i]))
                return PatchedSet(items)
    items = _build(dataset, pairs)
    if cache_dir is not None:
        cdir = Path(cache_dir)
        with atomic_dir(cdir, "manifest.json", replace=True) as tmp:
            (tmp / "patched").mkdir()
            (tmp / "mask").mkdir()
            for i, it in enumerate(items):
                write_png(tmp / "patched" / f"{i:05d}.png", it.patched, error=DatasetError)
                write_png(tmp / "mask" / f"{i:05d}.png", it.mask.astype(np.uint8) * 255,
                          error=DatasetError)
            (tmp / "manifest.json").write_text(json.dumps(
                {"key": key, "format": "png (lossless)", "pairs": len(items),
                 "donors": [it.donor for it in items], "seed": SEED,
                 "patches": N_PATCHES, "patch_size": PATCH}))
    return PatchedSet(items)

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
reloaded when the pair list and the dataset's absolute location match and a fingerprint
(sha256 of the decoded A, B and donor images of each pair) equals that of the images read
now; anything else (an image changed in place, a truncated or foreign cache) rebuilds it.
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
FORMAT_VERSION = 2  # 2: per-pair image fingerprints, verified on reload


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
    """The patched pairs, in the order of the input pair list. ``fingerprint``: sha256 over
    the per-pair fingerprints of the images each pair was built from (A, B, donor)."""

    def __init__(self, items: list[PatchedPair], fingerprints: Sequence[str] = ()):
        self._items = items
        self.fingerprint = hashlib.sha256("|".join(fingerprints).encode()).hexdigest()

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
    if h <= PATCH or w <= PATCH:  # positions are drawn from [0, side - 16): empty at 16
        raise DatasetError(f"image {w}x{h} is too small for the patched set: each side must "
                           f"be more than {PATCH} pixels")
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
    root = getattr(dataset, "root", None) or getattr(dataset, "path", "")
    root = os.path.abspath(str(root)) if root else ""
    h.update(f"v{FORMAT_VERSION}|{getattr(dataset, 'name', '?')}|{root}".encode())
    for p in pairs:
        h.update(f"{p.a}|{p.b}|{int(p.same)}|{p.fold}\n".encode())
    return h.hexdigest()


def _fingerprint(*arrays: np.ndarray) -> str:
    """sha256 of decoded images (shape + pixels): what a cached pair was built from."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(f"{a.shape}|{a.dtype}|".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _item_fingerprint(it: PatchedPair, donor_img: np.ndarray | None) -> str:
    parts = [it.original, it.other] + ([donor_img] if donor_img is not None else [])
    return _fingerprint(*parts)


def _load_cached(dataset, pairs: Sequence[Pair], cdir: Path, key: str) -> tuple | None:
    """The cached set if its manifest, files and image fingerprints all match; else None."""
    man = cdir / "manifest.json"
    try:
        meta = json.loads(man.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("key") != key:
        return None
    donors, prints = meta.get("donors"), meta.get("fingerprints")
    if not (isinstance(donors, list) and isinstance(prints, list)
            and len(donors) == len(prints) == len(pairs)):
        return None
    items = []
    for i, p in enumerate(pairs):
        donor = donors[i]
        if (donor is not None and not isinstance(donor, str)) or (donor is None) == p.same:
            return None
        a, b = dataset.load(p.a), dataset.load(p.b)
        d = dataset.load(donor) if donor is not None else None
        if _fingerprint(*([a, b] + ([d] if d is not None else []))) != prints[i]:
            return None  # an image changed since the set was built: rebuild
        try:
            patched = _read_png(cdir / "patched" / f"{i:05d}.png", True)
            mask = _read_png(cdir / "mask" / f"{i:05d}.png", False)
        except DatasetError:
            return None
        if patched.shape != a.shape or mask.shape != a.shape[:2]:
            return None
        items.append(PatchedPair(p, patched, a, b, mask > 0, p.same, donor))
    return items, prints


def _build(dataset, pairs: Sequence[Pair], fingerprints: list) -> list[PatchedPair]:
    items: list[PatchedPair | None] = [None] * len(pairs)
    fingerprints[:] = [None] * len(pairs)
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
            d_img = dataset.load(donor)
            d = _fit(d_img, a.shape)
            patched, mask = _paste(a, d, _positions(rs, *a.shape[:2]))
            items[i] = PatchedPair(p, patched, a, load(p.b), mask, True, donor)
            fingerprints[i] = _item_fingerprint(items[i], d_img)
    for i, it in enumerate(items):
        if it is not None and fingerprints[i] is None:
            fingerprints[i] = _item_fingerprint(it, None)
    return items  # type: ignore[return-value]


def _read_png(path: Path, color: bool) -> np.ndarray:
    try:
        return read_image(path, error=DatasetError, unchanged=not color)
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
        cached = _load_cached(dataset, pairs, Path(cache_dir), key)
        if cached is not None:
            return PatchedSet(*cached)
    fingerprints: list = []
    items = _build(dataset, pairs, fingerprints)
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
                 "donors": [it.donor for it in items], "fingerprints": fingerprints,
                 "seed": SEED,
                 "patches": N_PATCHES, "patch_size": PATCH}))
    return PatchedSet(items, fingerprints)

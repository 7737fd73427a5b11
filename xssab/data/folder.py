"""The xSSAB code's folder layout: numbered aligned crops plus a pair list.

Layout::

    DIR/00001.jpg, DIR/00002.jpg, ...      aligned crops (any image format cv2 reads)
    DIR/pairs.txt                          one pair per line: ``i.jpg j.jpg 1|-1``

``1`` marks a genuine pair, ``-1`` (or ``0``) an impostor pair. Blank lines and lines
starting with ``#`` are skipped. The pair list is ``pairs_file`` when given (absolute or
relative to ``DIR``); otherwise the first of ``pairs.txt``, ``pair_list.txt``,
``pairs.list`` in ``DIR``, or the only ``*.txt`` file there. ``path`` may also be the pair
list itself (the images are then next to it).

``align=True`` detects and aligns each image to the ArcFace template at ``align_size``
(112), cached like the LFW loader's (for folders of raw photos; the xSSAB layout itself is
already aligned).

Folds: 10 consecutive chunks of the pair list (pair ``i`` of ``n`` is in fold
``i * 10 // n``), as in LFW's protocol without shuffling.

Identities: the layout carries none. For the patched-set donors the fallback is: images
joined by a genuine pair (transitively) form one identity, every other image is its own
identity (``pairs_identities``). Donors are therefore only guaranteed to differ from the
genuine pair's own images, not from every image of that person in the folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .._util import decode_image as _decode, read_image
from ..errors import DatasetError
from .aligned import aligned_cache
from .base import Pair
from .safe_io import confined, read_text

PAIR_LIST_NAMES = ("pairs.txt", "pair_list.txt", "pairs.list")


def consecutive_folds(n_pairs: int, k: int = 10) -> list[int]:
    """Fold id of each pair: ``k`` consecutive chunks."""
    return [i * k // max(n_pairs, 1) for i in range(n_pairs)]


def pairs_identities(pairs: Sequence[Pair]) -> dict[str, str]:
    """Identity fallback: union of images linked by genuine pairs (union-find)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        ra, rb = find(p.a), find(p.b)
        if p.same and ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {k: f"id:{find(k)}" for k in list(parent)}


def decode_image(data: bytes | np.ndarray, what: str) -> np.ndarray:
    """Encoded image bytes -> uint8 RGB (H, W, 3); DatasetError naming ``what``."""
    return _decode(data, what, error=DatasetError)


class FolderDataset:
    name = "folder"

    def __init__(self, path=None, pairs_file=None, align=False, detector=None,
                 align_size=112, **_options):
        if path is None:
            raise DatasetError("the 'folder' dataset needs a path: pass --data DIR "
                               "(numbered crops plus a pair list 'i.jpg j.jpg 1|-1')")
        path = Path(path).expanduser()
        if path.exists() and not path.is_dir() and pairs_file is None:
            pairs_file, path = path, path.parent
        if not path.is_dir():
            raise DatasetError(f"dataset folder {path} does not exist; pass --data DIR")
        self.root = path
        self.pairs_path = self._find_list(path, pairs_file)
        self._pairs = self._read_pairs(self.pairs_path)
        self._identities = pairs_identities(self._pairs)
        self.aligned = aligned_cache(
            f"folder:{self.root.resolve()}", align, None, detector, align_size,
            source=lambda key: confined(self.root, key, "image", self.pairs_path.name))

    @staticmethod
    def _find_list(root: Path, pairs_file) -> Path:
        if pairs_file is not None:
            p = Path(pairs_file).expanduser()
            p = p if p.is_absolute() else root / p
            if not p.exists():
                raise DatasetError(f"pair list {p} does not exist")
            return p
        for name in PAIR_LIST_NAMES:
            if (root / name).is_file():
                return root / name
        txt = sorted(p for p in root.glob("*.txt") if p.is_file())
        if len(txt) == 1:
            return txt[0]
        raise DatasetError(f"no pair list in {root}: expected one of "
                           f"{', '.join(PAIR_LIST_NAMES)} (lines 'i.jpg j.jpg 1|-1'), "
                           "or pass pairs_file=")

    def _read_pairs(self, list_path: Path) -> list[Pair]:
        rows = []
        text = read_text(list_path, "pair list")
        for lineno, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.replace(",", " ").split()
            if len(parts) != 3 or parts[2] not in ("1", "-1", "0"):
                raise DatasetError(f"{list_path}:{lineno}: expected 'i.jpg j.jpg 1|-1', "
                                   f"got {line[:60]!r}")
            for name in parts[:2]:  # refuse paths leading out of the folder up front
                confined(self.root, name, "image", f"{list_path.name}:{lineno}")
            rows.append((parts[0], parts[1], parts[2] == "1"))
        if not rows:
            raise DatasetError(f"pair list {list_path} has no pairs")
        folds = consecutive_folds(len(rows))
        return [Pair(a, b, same, f) for (a, b, same), f in zip(rows, folds)]

    def pairs(self) -> list[Pair]:
        return list(self._pairs)

    def keys(self) -> list[str]:
        return list(self._identities)

    def identity(self, key: str) -> str:
        return self._identities.get(key, f"id:{key}")

    def load(self, key: str) -> np.ndarray:
        if self.aligned is not None:
            return self.aligned.get(key, self._load_raw)
        return self._load_raw(key)

    def _load_raw(self, key: str) -> np.ndarray:
        p = confined(self.root, key, "image", self.pairs_path.name)
        if not p.exists():
            raise DatasetError(f"image {self.root / key} (listed in {self.pairs_path.name}) "
                               "does not exist")
        return read_image(p, error=DatasetError)

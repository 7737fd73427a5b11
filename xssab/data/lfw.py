"""LFW-layout datasets: a folder of identity sub-folders plus an LFW ``pairs.txt``.

Layout: ``ROOT/<name>/<name>_0001.<ext>`` and ``ROOT/pairs.txt`` (or ``pairs_file``). Images
may have any size; they are decoded with OpenCV and returned as uint8 RGB (OpenCV decodes
BGR; the loader converts). Raw LFW images are 250x250 with the face in the middle: pass
``crop=N`` (or ``crop=(h, w)``) to take the central region (``crop=150`` is a common choice
before the model's resize to 112x112); ``crop=None`` keeps the whole image. ``align=True`` instead detects the face and aligns it
to the five-point ArcFace template at ``align_size`` (112; ``detector=`` picks a registered
detector, default mtcnn); aligned crops are cached (:mod:`xssab.align.cache`). The centre
crop stays the default (fast, and what earlier results used).

Keys are ``"<name>/<name>_<nnnn>"`` (the file stem with its folder); ``identity(key)`` is
the folder name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .._util import read_image
from ..errors import DatasetError
from .aligned import aligned_cache
from .base import Pair
from .pairs import entries_to_pairs, read_pairs
from .safe_io import confined

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


class LfwDataset:
    """Pairs from an LFW-layout folder (see module docstring)."""

    name = "lfw"

    def __init__(self, path=None, pairs_file=None, ext=None, crop=None, align=False,
                 detector=None, align_size=112):
        if path is None:
            raise DatasetError("dataset 'lfw' needs a folder: pass --data PATH (identity "
                               "folders plus pairs.txt)")
        self.root = Path(path)
        if not self.root.is_dir():
            raise DatasetError(f"LFW folder not found: {self.root}; pass the folder that "
                               "holds the identity sub-folders")
        pf = Path(pairs_file) if pairs_file is not None else self.root / "pairs.txt"
        if not pf.is_absolute() and pairs_file is not None and not pf.exists():
            pf = self.root / pf
        self.pairs_file = pf
        self._entries = read_pairs(pf)
        self._pairs = entries_to_pairs(self._entries)
        for e in self._entries:  # identity names come from the file: keep them in the root
            for name in {e.name_a, e.name_b}:
                if name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
                    raise DatasetError(f"{pf}: identity name {name!r} is not a folder name "
                                       "(no '/', '..'); refused")
        if ext is not None:
            ext = ext if ext.startswith(".") else "." + ext
        self.ext = ext or self._detect_ext()
        if crop is not None:
            if isinstance(crop, (int, np.integer)) or (isinstance(crop, str) and crop.isdigit()):
                crop = (int(crop), int(crop))
            crop = tuple(int(v) for v in crop)
            if len(crop) != 2 or min(crop) <= 0:
                raise DatasetError(f"crop must be a positive size N or (h, w), got {crop!r}")
        self.crop = crop
        self._keys: list[str] | None = None
        self.aligned = aligned_cache(f"lfw:{self.root.resolve()}", align, crop, detector,
                                     align_size, source=self.file)

    # ------------------------------------------------------------------
    def _detect_ext(self) -> str:
        if not self._pairs:
            return ".jpg"
        key = self._pairs[0].a
        folder = confined(self.root, key.split("/")[0], "identity folder", self.pairs_file)
        stem = key.split("/")[1]
        for e in IMAGE_EXTS:
            if (folder / (stem + e)).is_file():
                return e
        raise DatasetError(f"image for pair key {key!r} not found in {folder} (tried "
                           f"{', '.join(IMAGE_EXTS)}); check the folder or pass ext=")

    def file(self, key: str) -> Path:
        return confined(self.root, key + self.ext, "image", self.pairs_file)

    def pairs(self) -> Sequence[Pair]:
        return list(self._pairs)

    def identity(self, key: str) -> str:
        return key.split("/", 1)[0]

    def keys(self) -> Sequence[str]:
        if self._keys is None:
            keys = []
            for d in sorted(p for p in self.root.iterdir() if p.is_dir()):
                for f in sorted(d.iterdir()):
                    if f.suffix.lower() == self.ext.lower() and f.stem.startswith(d.name + "_"):
                        keys.append(f"{d.name}/{f.stem}")
            self._keys = keys
        return list(self._keys)

    def load(self, key: str) -> np.ndarray:
        if self.aligned is not None:
            return self.aligned.get(key, self._load_raw)
        return self._load_raw(key)

    def _load_raw(self, key: str) -> np.ndarray:
        f = self.file(key)
        if not f.exists():
            raise DatasetError(f"image missing: {f} (named in {self.pairs_file}); restore the "
                               "file or fix the pairs file")
        img = read_image(f, error=DatasetError)
        if self.crop is not None:
            h, w = img.shape[:2]
            ch, cw = self.crop
            if ch > h or cw > w:
                raise DatasetError(f"crop {ch}x{cw} is larger than image {f} ({h}x{w}); "
                                   "use a smaller crop")
            y0, x0 = (h - ch) // 2, (w - cw) // 2
            img = img[y0:y0 + ch, x0:x0 + cw]
        return np.ascontiguousarray(img)

    def __len__(self) -> int:
        return len(self._pairs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r}, pairs={len(self._pairs)})"

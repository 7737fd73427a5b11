"""Aligned crops of a dataset's raw photos, cached like the other stages.

``AlignedCache(dataset_id, size=112, detector="mtcnn", source=file_of_key)``:
``get(key, load_raw)`` returns the aligned crop (uint8 RGB, ``size``) of one image,
computing it once and keeping it under ``xssab_home()/aligned/<sha256 of (dataset id,
detector, size, template, version)>/`` as a PNG (atomic write). ``prealign(keys,
load_raw)`` detects the missing ones in batches. An image where no face is found falls
back to the whole image resized to ``size`` (what the model would have seen without
alignment); those keys are listed in ``fallbacks`` and in the cache folder's
``fallbacks.txt``.

The cache is data, not trusted (docs/security.md):

* the folder key holds the dataset's absolute root (the datasets pass it in
  ``dataset_id``), and each entry is ``<h[:2]>/<h>.<sha256 of the source>.png`` with
  ``h`` the sha256 of the key:
  the raw file's bytes (``source(key)``, read again on every ``get``, no decoding) or,
  without ``source``, the decoded raw image. An image changed in place gets a new entry,
  the old one is removed; a key never becomes a path (no ``..`` escapes);
* each PNG carries a trailer after its ``IEND`` (ignored by image viewers):
  ``XSSAB256`` + the sha256 of the PNG bytes. An entry is used only if it is a regular
  file (not a link), its digest matches and it decodes to a ``size`` uint8 RGB image; a
  truncated, altered, undecodable or wrong-size entry is recomputed and replaced;
* writes are atomic (temporary file + rename). Concurrent writers of one entry (two
  runs, Ray workers) compute the same crop from the same bytes and each rename is
  atomic, so no lock is needed: a reader sees the old entry, none, or a whole new one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .faces import align_crop, detect_faces, resolve_detector
from .transform import template_for

VERSION = 2  # 2: entries named by key + source fingerprint, with a digest trailer
_TRAILER = b"XSSAB256"  # + sha256 of the PNG bytes before it, appended after IEND


class AlignedCache:
    def __init__(self, dataset_id: str, size: int | tuple[int, int] = 112,
                 detector=None, template=None, root: str | Path | None = None,
                 source: Callable[[str], Path] | None = None):
        from ..models.cache import xssab_home

        self.size = (int(size), int(size)) if np.isscalar(size) else tuple(
            int(v) for v in size)
        self.detector = resolve_detector(detector)
        self.template = template_for(self.size, template)
        ident = json.dumps({"dataset": dataset_id, "detector": self.detector.name,
                            "size": self.size, "template": self.template.round(4).tolist(),
                            "version": VERSION}, sort_keys=True)
        self.key = hashlib.sha256(ident.encode()).hexdigest()[:20]
        self.dir = Path(root) if root is not None else xssab_home() / "aligned" / self.key
        self.fallbacks: set[str] = set()
        self.source = source  # key -> the raw image file (fingerprinted by its bytes)

    def fingerprint(self, key: str, load_raw: Callable[[str], np.ndarray] | None = None
                    ) -> str:
        """sha256 of what the crop of ``key`` is computed from (see the module doc)."""
        from ..data.safe_io import MAX_IMAGE_BYTES, read_regular_bytes

        h = hashlib.sha256()
        if self.source is not None:
            f = Path(self.source(key))
            if not f.exists() and load_raw is not None:
                load_raw(key)  # the dataset's own one-line error for a missing image
            h.update(b"f|" + read_regular_bytes(f, "image", MAX_IMAGE_BYTES))
        elif load_raw is not None:
            img = np.ascontiguousarray(load_raw(key))
            h.update(f"a{img.shape}{img.dtype}|".encode() + img.tobytes())
        else:
            raise TypeError("AlignedCache without source= needs load_raw to fingerprint")
        return h.hexdigest()

    @staticmethod
    def _stem(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def path(self, key: str, load_raw: Callable[[str], np.ndarray] | None = None,
             fingerprint: str | None = None) -> Path:
        """The entry of ``key`` for the current content of its source image."""
        fp = fingerprint or self.fingerprint(key, load_raw)
        stem = self._stem(key)  # 256 subfolders: the stale-version sweep lists few files
        return self.dir / stem[:2] / f"{stem}.{fp[:32]}.png"

    def _write(self, entry: Path, crop: np.ndarray) -> None:
        from .._util import atomic_write_bytes, encode_png
        from ..errors import XssabError

        png = encode_png(crop, f"the aligned crop of {entry}")
        try:
            atomic_write_bytes(entry, png + _TRAILER + hashlib.sha256(png).digest())
            for old in entry.parent.glob(entry.name.split(".", 1)[0] + ".*.png"):
                if old.name != entry.name:  # the crop of an earlier version of the image
                    old.unlink(missing_ok=True)
        except OSError as exc:
            raise XssabError(f"cannot write the aligned-crop cache entry {entry} "
                             f"({exc.strerror or exc}); remove it, or set XSSAB_HOME to a "
                             "writable folder") from None

    def _fallback(self, key: str, image: np.ndarray) -> np.ndarray:
        from .._util import resize_image, to_rgb

        self.fallbacks.add(key)
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "fallbacks.txt", "a", encoding="utf-8") as fh:
            fh.write(key + "\n")
        return resize_image(to_rgb(image), self.size)

    def _read(self, entry: Path) -> np.ndarray | None:
        """The cached crop, or None when missing or damaged (then it is recomputed)."""
        from .._util import decode_image
        from ..data.safe_io import MAX_IMAGE_BYTES, read_regular_bytes
        from ..errors import XssabError

        if entry.is_symlink() or not entry.is_file():
            return None
        n = len(_TRAILER) + 32
        try:
            data = read_regular_bytes(entry, "aligned crop", MAX_IMAGE_BYTES)
            png, tail = data[:-n], data[-n:]
            if (len(data) <= n or tail[:len(_TRAILER)] != _TRAILER
                    or hashlib.sha256(png).digest() != tail[len(_TRAILER):]):
                return None  # truncated, altered, or not written by this cache
            crop = decode_image(png, str(entry))
        except XssabError:  # undecodable, not a regular file ...
            return None
        if crop.shape != (*self.size, 3) or crop.dtype != np.uint8:
            return None
        return crop

    def _compute(self, todo: list[tuple[str, Path]], load_raw, batch_size: int
                 ) -> dict[str, np.ndarray]:
        out = {}
        for s in range(0, len(todo), batch_size):
            chunk = todo[s:s + batch_size]
            raws = [load_raw(k) for k, _ in chunk]
            for (k, entry), img, faces in zip(chunk, raws,
                                              detect_faces(raws, self.detector)):
                crop = (align_crop(img, faces[0], self.size, self.template)[0] if faces
                        else self._fallback(k, img))
                self._write(entry, crop)
                out[k] = crop
        return out

    def prealign(self, keys: Iterable[str], load_raw: Callable[[str], np.ndarray],
                 batch_size: int = 32) -> None:
        entries = [(k, self.path(k, load_raw)) for k in keys]
        self._compute([(k, e) for k, e in entries if not e.is_file()], load_raw,
                      batch_size)

    def get(self, key: str, load_raw: Callable[[str], np.ndarray]) -> np.ndarray:
        entry = self.path(key, load_raw)
        crop = self._read(entry)
        if crop is None:  # missing, stale (new fingerprint) or damaged: compute it
            crop = self._compute([(key, entry)], load_raw, 1)[key]
        return crop

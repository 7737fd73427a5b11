"""Aligned crops of a dataset's raw photos, cached like the other stages.

``AlignedCache(dataset_id, size=112, detector="mtcnn")``: ``get(key, load_raw)`` returns the
aligned crop (uint8 RGB, ``size``) of one image, computing it once and keeping it under
``xssab_home()/aligned/<sha256 of (dataset id, detector, size, template, version)>/`` as a
PNG (atomic write). ``prealign(keys, load_raw)`` detects the missing ones in batches.
An image where no face is found falls back to the whole image resized to ``size`` (what the
model would have seen without alignment); those keys are listed in ``fallbacks`` and in the
cache folder's ``fallbacks.txt``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .faces import align_crop, detect_faces, resolve_detector
from .transform import template_for

VERSION = 1


class AlignedCache:
    def __init__(self, dataset_id: str, size: int | tuple[int, int] = 112,
                 detector=None, template=None, root: str | Path | None = None):
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

    def path(self, key: str) -> Path:
        safe = key.replace("\\", "/").strip("/")
        return self.dir / (safe + ".png")

    def _write(self, key: str, crop: np.ndarray) -> None:
        from .._util import atomic_path, write_png

        with atomic_path(self.path(key), suffix=".png") as tmp:
            write_png(tmp, crop)

    def _fallback(self, key: str, image: np.ndarray) -> np.ndarray:
        from .._util import resize_image, to_rgb

        self.fallbacks.add(key)
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "fallbacks.txt", "a", encoding="utf-8") as fh:
            fh.write(key + "\n")
        return resize_image(to_rgb(image), self.size)

    def _read(self, key: str) -> np.ndarray | None:
        from .._util import read_image

        p = self.path(key)
        if not p.is_file():
            return None
        return read_image(p)

    def prealign(self, keys: Iterable[str], load_raw: Callable[[str], np.ndarray],
                 batch_size: int = 32) -> None:
        todo = [k for k in keys if not self.path(k).is_file()]
        for s in range(0, len(todo), batch_size):
            chunk = todo[s:s + batch_size]
            raws = [load_raw(k) for k in chunk]
            for k, img, faces in zip(chunk, raws, detect_faces(raws, self.detector)):
                crop = (align_crop(img, faces[0], self.size, self.template)[0] if faces
                        else self._fallback(k, img))
                self._write(k, crop)

    def get(self, key: str, load_raw: Callable[[str], np.ndarray]) -> np.ndarray:
        crop = self._read(key)
        if crop is None:
            self.prealign([key], load_raw)
            crop = self._read(key)
        return crop

"""The benchmark's stage cache: each finished stage as ``<root>/<key>/<stage>.npz``.

``key`` is a hash of the stage's identity (model file sha256, dataset and pairs, method
and options, threshold, protocol version), so an interrupted run resumes and a changed
input recomputes. Long stages also cache their chunks (``<stage>.parts/<name>.npz``) so
they resume at the first unfinished chunk; the parts go when the stage completes.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .._util import atomic_write_bytes, atomic_write_text

Arrays = dict
Meta = dict


def stage_key(parts: dict) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


class StageCache:
    """``root=None`` disables the cache (every stage is computed). ``computed``/``reused``
    list the stage labels of this run."""

    def __init__(self, root: Path | None):
        self.root = None if root is None else Path(root)
        self.computed: list[str] = []
        self.reused: list[str] = []

    key = staticmethod(stage_key)

    def _path(self, parts: dict, stage: str) -> Path | None:
        if self.root is None:
            return None
        return self.root / stage_key(parts) / f"{stage}.npz"

    @staticmethod
    def _load(path: Path | None, require: Sequence[str] = ()):
        if path is None or not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files if k != "__meta__"}
                meta = json.loads(str(z["__meta__"]))
        except Exception:  # a damaged cache file is recomputed
            return None
        if any(k not in arrays for k in require):  # written by an older version
            return None
        return arrays, meta

    @staticmethod
    def _save(path: Path, arrays: dict, meta: dict) -> None:

        buf = io.BytesIO()
        np.savez(buf, __meta__=np.array(json.dumps(meta)), **arrays)
        atomic_write_bytes(path, buf.getvalue())

    def get(self, parts: dict, stage: str, compute: Callable[[], tuple[Arrays, Meta]],
            label: str, require: Sequence[str] = ()) -> tuple[Arrays, Meta]:
        """``compute() -> (arrays, meta)``, or the cached result when the stage finished
        before (and holds every array named in ``require``)."""

        path = self._path(parts, stage)
        hit = self._load(path, require)
        if hit is not None:
            self.reused.append(label)
            return hit
        arrays, meta = compute()
        self.computed.append(label)
        if path is not None:
            self._save(path, arrays, meta)
            info = path.parent / "key.json"
            if not info.exists():
                atomic_write_text(info, json.dumps(parts, indent=1, default=str))
            parts_dir = path.parent / f"{stage}.parts"
            if parts_dir.exists():
                shutil.rmtree(parts_dir, ignore_errors=True)
        return arrays, meta

    def _part_path(self, parts: dict, stage: str, name: str) -> Path | None:
        path = self._path(parts, stage)
        return None if path is None else path.parent / f"{stage}.parts" / f"{name}.npz"

    def load_part(self, parts: dict, stage: str, name: str):
        """``(arrays, meta)`` of a chunk finished before, else ``None``."""
        return self._load(self._part_path(parts, stage, name))

    def save_part(self, parts: dict, stage: str, name: str, arrays: Arrays,
                  meta: Meta) -> None:
        cpath = self._part_path(parts, stage, name)
        if cpath is not None:
            self._save(cpath, arrays, meta)

    def part(self, parts: dict, stage: str, name: str,
             compute: Callable[[], tuple[Arrays, Meta]]) -> tuple[Arrays, Meta]:
        """One chunk of a long stage, cached on its own until the stage completes."""
        hit = self.load_part(parts, stage, name)
        if hit is not None:
            return hit
        arrays, meta = compute()
        self.save_part(parts, stage, name, arrays, meta)
        return arrays, meta

    def subdir(self, name: str) -> Path | None:
        return None if self.root is None else self.root / name

"""The benchmark's stage cache: each finished stage as ``<root>/<key>/<stage>.npz``.

``key`` is a hash of the stage's identity (model file sha256, dataset and pairs, the
dataset's absolute location and a content fingerprint of every image read, method and
options, threshold, protocol version), so an interrupted run resumes and a changed input
recomputes: a cached run equals a ``--no-cache`` run. Long stages also cache their chunks
(``<stage>.parts/<name>.npz``, named by everything that determines them, e.g. the pair
range) so they resume at the first unfinished chunk; the parts go when the stage
completes.

Safety: every entry stores the full sha256 of its identity and is checked against it on
read; a stage (or chunk) is written only when it is complete and passes the stage's
``validate`` check, and is validated again on read (a damaged, foreign or incomplete
entry is recomputed, never used); the writer of an entry holds a lock
(``<stage>.npz.lock``) so two runs computing the same stage do not interleave: the
second waits and then reads the finished entry.
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
from ..errors import XssabError

Arrays = dict
Meta = dict
Validate = Callable[[dict, dict], bool]


def stage_key(parts: dict) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def parts_hash(parts: dict) -> str:
    """Full sha256 of a stage identity (stored in the entry, compared on read)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


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
    def _load(path: Path | None, require: Sequence[str] = (), ident: str | None = None,
              validate: Validate | None = None):
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files if k != "__meta__"}
                meta = json.loads(str(z["__meta__"]))
            if not isinstance(meta, dict):
                return None
            if ident is not None and meta.pop("__identity__", None) != ident:
                return None  # another stage's entry (or an older format): recompute
            if any(k not in arrays for k in require):  # written by an older version
                return None
            if validate is not None and not validate(arrays, meta):
                return None  # incomplete or inconsistent: recompute
        except Exception:  # a damaged cache file is recomputed
            return None
        return arrays, meta

    @staticmethod
    def _save(path: Path, arrays: dict, meta: dict, ident: str) -> None:

        buf = io.BytesIO()
        np.savez(buf, __meta__=np.array(json.dumps(dict(meta, __identity__=ident))),
                 **arrays)
        atomic_write_bytes(path, buf.getvalue())

    @staticmethod
    def _check(arrays, meta, validate: Validate | None, what: str) -> None:
        if validate is not None and not validate(arrays, meta):
            raise XssabError(f"{what}: the computed result is incomplete or inconsistent; "
                             "nothing was cached (please report this)")

    def get(self, parts: dict, stage: str, compute: Callable[[], tuple[Arrays, Meta]],
            label: str, require: Sequence[str] = (),
            validate: Validate | None = None) -> tuple[Arrays, Meta]:
        """``compute() -> (arrays, meta)``, or the cached result when the stage finished
        before (same identity, holds every array named in ``require`` and passes
        ``validate(arrays, meta)``). A computed result is stored only when it passes
        ``validate``."""
        from ..safe_output import entry_lock

        path = self._path(parts, stage)
        ident = parts_hash(parts)
        if path is None:
            arrays, meta = compute()
            self._check(arrays, meta, validate, label)
            self.computed.append(label)
            return arrays, meta
        hit = self._load(path, require, ident, validate)
        if hit is None:
            with entry_lock(path):  # another run may be computing this very stage
                hit = self._load(path, require, ident, validate)
                if hit is None:
                    arrays, meta = compute()
                    self._check(arrays, meta, validate, label)
                    self._save(path, arrays, meta, ident)
                    info = path.parent / "key.json"
                    if not info.exists():
                        atomic_write_text(info, json.dumps(parts, indent=1, default=str))
                    parts_dir = path.parent / f"{stage}.parts"
                    if parts_dir.exists():
                        shutil.rmtree(parts_dir, ignore_errors=True)
                    self.computed.append(label)
                    return arrays, meta
        self.reused.append(label)
        return hit

    def _part_path(self, parts: dict, stage: str, name: str) -> Path | None:
        path = self._path(parts, stage)
        return None if path is None else path.parent / f"{stage}.parts" / f"{name}.npz"

    def load_part(self, parts: dict, stage: str, name: str,
                  validate: Validate | None = None):
        """``(arrays, meta)`` of a chunk finished before (same identity, passes
        ``validate``), else ``None``. ``name`` must say everything that determines the
        chunk (e.g. its pair range ``p0-4``)."""
        ident = parts_hash(dict(parts, __part__=name))
        return self._load(self._part_path(parts, stage, name), (), ident, validate)

    def save_part(self, parts: dict, stage: str, name: str, arrays: Arrays,
                  meta: Meta, validate: Validate | None = None) -> None:
        """Store a chunk; only when it passes ``validate``."""
        self._check(arrays, meta, validate, f"{stage} part {name}")
        cpath = self._part_path(parts, stage, name)
        if cpath is not None:
            self._save(cpath, arrays, meta, parts_hash(dict(parts, __part__=name)))

    def part(self, parts: dict, stage: str, name: str,
             compute: Callable[[], tuple[Arrays, Meta]],
             validate: Validate | None = None) -> tuple[Arrays, Meta]:
        """One chunk of a long stage, cached on its own until the stage completes.
        ``name`` must say everything that determines the chunk (e.g. its pair range);
        a chunk is stored, and reused, only when it passes ``validate``."""
        hit = self.load_part(parts, stage, name, validate)
        if hit is not None:
            return hit
        arrays, meta = compute()
        self.save_part(parts, stage, name, arrays, meta, validate)
        return arrays, meta

    def subdir(self, name: str) -> Path | None:
        return None if self.root is None else self.root / name

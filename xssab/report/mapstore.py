"""The dataset-wide map store: a zarr group other tools can read.

Layout of ``MAPS/`` (zarr format 2; ``zarr.open_group(MAPS)`` in Python, or any zarr v2
reader: tensorstore, xarray, zarr.js, n5-zarr ...)::

    positive, negative, combined   (N, 2, H, W) float16|float32   [:, 0] = image a, [:, 1] = b
    similarity                     (N,) float64   cosine similarity the method reported
    match, same                    (N,) bool      decision at the threshold; genuine pair
    fold                           (N,) int32
    image_shape                    (N, 2, 2) int32  each image's own (H, W)
    forward_passes, backward_passes (N,) int64
    chunk_done                     (n_chunks,) uint8  1 = chunk complete (written last)
    chunk_seconds                  (n_chunks,) float64  compute time of the chunk
    chunk_fp16_error               (n_chunks,) float32  max |float16 - float32| of the chunk
    chunk_scale                    (n_chunks,) float32  max |float32 map value| of the chunk
    chunk_sha256                   (n_chunks, 32) uint8  digest of the chunk's stored values
    pairs.tsv                      index, a, b, same, fold (plain text, written at creation)
    .zattrs                        model, model sha256, method, options, threshold (+ source),
                                   dataset, data path, pair-list sha256, dtype, chunking ...

Every per-pair array is chunked along N by ``chunk_pairs``, so each chunk of pairs is its
own set of files: a chunk is computed, its arrays written, and only then its
``chunk_done`` marker. An interrupted export reopens the store, checks that the settings
are the same, and computes exactly the chunks without a marker (a half-written chunk is
overwritten). On reopening, every chunk marked done is read back and checked against its
``chunk_sha256`` (recorded when it was written): a chunk file that is missing, truncated,
undecodable or altered is marked pending and recomputed, never kept. Chunk boundaries are fixed by the store, so a resumed export computes the
same units as an uninterrupted one and the stored values are identical.

Maps whose image differs from the store's (H, W) (the first image's size) are resized
to it (``image_shape`` keeps each image's own size).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import XssabError

FORMAT = "xssab-maps-1"
ZARR_FORMAT = 2
MAP_NAMES = ("positive", "negative", "combined")
DTYPES = ("float32", "float16")
PER_PAIR = {"similarity": ("float64", ()), "match": ("bool", ()), "same": ("bool", ()),
            "fold": ("int32", ()), "image_shape": ("int32", (2, 2)),
            "forward_passes": ("int64", ()), "backward_passes": ("int64", ())}
PER_CHUNK = {"chunk_done": "uint8", "chunk_seconds": "float64",
             "chunk_fp16_error": "float32", "chunk_scale": "float32"}
DIGEST = "chunk_sha256"  # (n_chunks, 32) uint8
#: settings that must match for an existing store to be resumed (``data`` is the absolute
#: dataset path, ``data_fingerprint`` the content of the images behind the pairs,
#: ``model_overrides`` the loader overrides: each changes the maps)
IDENTITY = ("format", "model_sha256", "model_overrides", "method", "options", "threshold",
            "dataset", "data", "data_fingerprint", "pairs_sha256", "n_pairs",
            "chunk_pairs", "dtype", "map_size", "sides")
#: per-chunk slices that the digest covers, in this order
DIGESTED = (*MAP_NAMES, "similarity", "match", "image_shape", "forward_passes",
            "backward_passes")
#: the lock file of :func:`xssab.safe_output.folder_lock`, which lives in the store folder
_KEEP = (".xssab.lock",)


def _zarr():
    try:
        import zarr
    except ImportError:  # pragma: no cover - depends on the environment
        raise XssabError("the map store needs zarr: pip install 'xssab[maps]'") from None
    return zarr


def pairs_sha256(pairs) -> str:
    blob = json.dumps([[p.a, p.b, bool(p.same), int(p.fold)] for p in pairs]).encode()
    return hashlib.sha256(blob).hexdigest()


class MapStore:
    """An open map store. Create or resume with :meth:`open`, read with :meth:`read`."""

    def __init__(self, path: Path, group):
        self.path = Path(path)
        self.group = group
        self.attrs = dict(group.attrs)
        self.repaired: list[int] = []  # done chunks found damaged on reopening (recomputed)

    # ------------------------------------------------------------------ open
    @classmethod
    def open(cls, path, *, settings: dict, pairs: Sequence, map_size: tuple[int, int],
             force: bool = False) -> "MapStore":
        """Create the store at ``path``, or reopen it for resuming when its identity
        (``IDENTITY`` keys of ``settings``) is the same; different settings ->
        :class:`XssabError` unless ``force`` (then it is recreated)."""
        zarr = _zarr()
        path = Path(path)
        settings = dict(settings, format=FORMAT, n_pairs=len(pairs),
                        pairs_sha256=pairs_sha256(pairs),
                        map_size=[int(map_size[0]), int(map_size[1])])
        if settings["dtype"] not in DTYPES:
            raise XssabError(f"--dtype {settings['dtype']}: expected one of "
                             f"{', '.join(DTYPES)}")
        if path.is_dir() and not force and not _contents(path):
            return cls._create(path, settings, pairs, map_size)  # new (lock file only)
        if path.exists() and not force:
            if not path.is_dir() or not (path / ".zgroup").exists():
                raise XssabError(f"--out {path}: exists and is not a map store; choose a new "
                                 "folder")
            group = zarr.open_group(str(path), mode="r+", zarr_format=ZARR_FORMAT)
            old = dict(group.attrs)
            if old.get("format") != FORMAT:
                ours = {*MAP_NAMES, *PER_PAIR, *PER_CHUNK, DIGEST, "pairs.tsv",
                        ".zgroup", ".zattrs"}
                if old or not {q.name for q in _contents(path)} <= ours:
                    raise XssabError(f"--out {path}: a zarr store but not an xssab map "
                                     "store; choose a new folder")
                return cls._create(path, settings, pairs, map_size)  # creation interrupted
            diff = [k for k in IDENTITY
                    if json.dumps(old.get(k), sort_keys=True, default=str)
                    != json.dumps(settings.get(k), sort_keys=True, default=str)]
            if diff:
                shown = ", ".join(f"{k} {old.get(k)!r} -> {settings.get(k)!r}"
                                  for k in diff[:3])
                raise XssabError(f"--out {path}: holds maps made with other settings "
                                 f"({shown}); use a new folder or --force")
            store = cls(path, group)
            store.repaired = store.verify()
            return store
        if path.exists() and force:
            if path.is_dir() and not (path / ".zgroup").exists() and _contents(path):
                raise XssabError(f"--out {path}: not a map store; --force only replaces "
                                 "map stores")
            if not path.is_dir():
                path.unlink()
        return cls._create(path, settings, pairs, map_size)

    @classmethod
    def _create(cls, path: Path, settings: dict, pairs, map_size) -> "MapStore":
        zarr = _zarr()
        from .._util import atomic_write_text

        n, c = len(pairs), int(settings["chunk_pairs"])
        h, w = int(map_size[0]), int(map_size[1])
        n_chunks = -(-n // c)
        # the group attributes are written last: a store without them is recreated. The
        # folder is emptied by hand, not by zarr's mode "w", which would delete the lock
        # file a running export holds (another export could then take a fresh one)
        import shutil

        for q in _contents(path) if path.is_dir() else ():
            shutil.rmtree(q) if q.is_dir() and not q.is_symlink() else q.unlink()
        group = zarr.open_group(str(path), mode="a", zarr_format=ZARR_FORMAT)
        lines = ["index\ta\tb\tsame\tfold"] + [
            f"{i}\t{p.a}\t{p.b}\t{int(bool(p.same))}\t{int(p.fold)}" for i, p in
            enumerate(pairs)]
        atomic_write_text(path / "pairs.tsv", "\n".join(lines) + "\n")
        for name in MAP_NAMES:
            group.create_array(name, shape=(n, 2, h, w), chunks=(c, 2, h, w),
                               dtype=settings["dtype"], fill_value=0)
        for name, (dt, tail) in PER_PAIR.items():
            group.create_array(name, shape=(n, *tail), chunks=(c, *tail), dtype=dt,
                               fill_value=0)
        group["same"][:] = np.array([bool(p.same) for p in pairs], dtype=bool)
        group["fold"][:] = np.array([int(p.fold) for p in pairs], dtype=np.int32)
        for name, dt in PER_CHUNK.items():
            group.create_array(name, shape=(n_chunks,), chunks=(1,), dtype=dt, fill_value=0)
        group.create_array(DIGEST, shape=(n_chunks, 32), chunks=(1, 32), dtype="uint8",
                           fill_value=0)
        group.attrs.update(json.loads(json.dumps(settings, default=str)))
        return cls(path, group)

    @classmethod
    def read(cls, path) -> "MapStore":
        """Open an existing store read-only."""
        zarr = _zarr()
        path = Path(path)
        if not (path / ".zgroup").exists():
            raise XssabError(f"{path}: not a map store (no .zgroup)")
        group = zarr.open_group(str(path), mode="r", zarr_format=ZARR_FORMAT)
        if dict(group.attrs).get("format") != FORMAT:
            raise XssabError(f"{path}: not an xssab map store ({FORMAT})")
        return cls(path, group)

    # ------------------------------------------------------------------ chunks
    @property
    def n_pairs(self) -> int:
        return int(self.attrs["n_pairs"])

    @property
    def chunk_pairs(self) -> int:
        return int(self.attrs["chunk_pairs"])

    @property
    def n_chunks(self) -> int:
        return -(-self.n_pairs // self.chunk_pairs)

    def chunk_range(self, k: int) -> tuple[int, int]:
        start = k * self.chunk_pairs
        return start, min(self.n_pairs, start + self.chunk_pairs)

    def done(self) -> np.ndarray:
        return np.asarray(self.group["chunk_done"][:], dtype=bool)

    def pending(self) -> list[int]:
        return [int(k) for k in np.flatnonzero(~self.done())]

    @property
    def complete(self) -> bool:
        return bool(self.done().all())

    def _digest(self, k: int, arrays: dict[str, np.ndarray] | None = None) -> bytes:
        """sha256 over chunk ``k``'s stored values (``arrays``, or read from the store)."""
        start, stop = self.chunk_range(k)
        h = hashlib.sha256()
        for name in DIGESTED:
            a = np.ascontiguousarray(arrays[name] if arrays is not None
                                     else self.group[name][start:stop])
            h.update(f"{name}{a.dtype.str}{a.shape}|".encode())
            h.update(a.tobytes())
        return h.digest()

    def verify(self) -> list[int]:
        """Check every chunk marked done against its digest; a damaged one (chunk file
        missing, truncated, undecodable or altered) is marked pending. Returns those."""
        try:
            done = self.done()
            if self.group[DIGEST].shape != (self.n_chunks, 32) or done.shape != (
                    self.n_chunks,):
                raise ValueError("bookkeeping arrays have the wrong shape")
        except Exception as exc:  # zarr/numcodecs raise many types for damaged files
            raise XssabError(f"--out {self.path}: the map store's bookkeeping is damaged "
                             f"({type(exc).__name__}); use --force to recompute it") from None
        bad = []
        for k in np.flatnonzero(done):
            try:
                ok = bytes(np.asarray(self.group[DIGEST][k], np.uint8)) == self._digest(k)
            except Exception:  # noqa: BLE001 - a chunk that cannot be read is damaged
                ok = False
            if not ok:
                bad.append(int(k))
        for k in bad:
            self.group["chunk_done"][k] = 0
        return bad

    def write_chunk(self, k: int, result: dict[str, Any]) -> None:
        """Write chunk ``k``: ``result`` holds float32 ``positive``/``negative``/``combined``
        (n, 2, H, W) and per-pair ``similarity``, ``match``, ``image_shape``,
        ``forward_passes``, ``backward_passes``, and ``seconds``; the done marker last."""
        g = self.group
        start, stop = self.chunk_range(k)
        n = stop - start
        dtype = np.dtype(self.attrs["dtype"])
        err, scale = 0.0, 0.0
        g["chunk_done"][k] = 0  # a chunk being rewritten is not done until the end
        stored_all = {}
        for name in MAP_NAMES:
            full = np.asarray(result[name], dtype=np.float32)
            if full.shape[0] != n:
                raise XssabError(f"chunk {k}: {name} has {full.shape[0]} pairs, expected {n}")
            stored = full.astype(dtype)
            if full.size:
                scale = max(scale, float(np.abs(full).max()))
                err = max(err, float(np.abs(stored.astype(np.float32) - full).max()))
            g[name][start:stop] = stored
            stored_all[name] = stored
        for name in ("similarity", "match", "image_shape", "forward_passes",
                     "backward_passes"):
            value = np.asarray(result[name]).astype(g[name].dtype)
            if value.shape != (n, *g[name].shape[1:]):
                raise XssabError(f"chunk {k}: {name} has shape {value.shape}, expected "
                                 f"{(n, *g[name].shape[1:])}")
            g[name][start:stop] = value
            stored_all[name] = value
        g[DIGEST][k] = np.frombuffer(self._digest(k, stored_all), np.uint8)
        g["chunk_seconds"][k] = float(result.get("seconds", 0.0))
        g["chunk_fp16_error"][k] = err
        g["chunk_scale"][k] = scale
        g["chunk_done"][k] = 1

    def finish(self, summary: dict) -> None:
        """Record the run summary (error, throughput) in the attributes."""
        g = self.group
        seconds = np.asarray(g["chunk_seconds"][:], dtype=np.float64)
        err = np.asarray(g["chunk_fp16_error"][:], dtype=np.float64)
        scale = np.asarray(g["chunk_scale"][:], dtype=np.float64)
        extra = dict(summary)
        extra["complete"] = self.complete
        extra["compute_seconds"] = float(seconds.sum())
        extra["storage_max_abs_error"] = float(err.max()) if err.size else 0.0
        extra["storage_max_rel_error"] = (float(err.max() / scale.max())
                                          if err.size and scale.max() > 0 else 0.0)
        g.attrs.update(json.loads(json.dumps(extra, default=str)))
        self.attrs = dict(g.attrs)

    # ------------------------------------------------------------------ reading
    def pairs(self) -> list[dict]:
        rows = (self.path / "pairs.tsv").read_text().splitlines()[1:]
        out = []
        for line in rows:
            i, a, b, same, fold = line.split("\t")
            out.append({"index": int(i), "a": a, "b": b, "same": same == "1",
                        "fold": int(fold)})
        return out

    def maps(self, index: int, side: int = 0) -> dict[str, np.ndarray]:
        """float32 maps of pair ``index``, image ``side`` (0 = a, 1 = b)."""
        return {name: np.asarray(self.group[name][index, side], dtype=np.float32)
                for name in MAP_NAMES}

    def array(self, name: str) -> np.ndarray:
        return np.asarray(self.group[name][:])


def _contents(path: Path) -> list[Path]:
    """The store folder's entries, less the lock file of a running export."""
    return [q for q in path.iterdir() if q.name not in _KEEP]

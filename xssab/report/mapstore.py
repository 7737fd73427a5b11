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
    pairs.tsv                      index, a, b, same, fold (plain text, written at creation)
    .zattrs                        model, model sha256, method, options, threshold (+ source),
                                   dataset, data path, pair-list sha256, dtype, chunking ...

Every per-pair array is chunked along N by ``chunk_pairs``, so each chunk of pairs is its
own set of files: a chunk is computed, its arrays written, and only then its
``chunk_done`` marker. An interrupted export reopens the store, checks that the settings
are the same, and computes exactly the chunks without a marker (a half-written chunk is
overwritten). Chunk boundaries are fixed by the store, so a resumed export computes the
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
#: settings that must match for an existing store to be resumed
IDENTITY = ("format", "model_sha256", "method", "options", "threshold", "dataset",
            "pairs_sha256", "n_pairs", "chunk_pairs", "dtype", "map_size", "sides")


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
        if path.exists() and not force:
            if not path.is_dir() or not (path / ".zgroup").exists():
                raise XssabError(f"--out {path}: exists and is not a map store; choose a new "
                                 "folder")
            group = zarr.open_group(str(path), mode="r+", zarr_format=ZARR_FORMAT)
            old = dict(group.attrs)
            if old.get("format") != FORMAT:
                ours = {*MAP_NAMES, *PER_PAIR, *PER_CHUNK, "pairs.tsv", ".zgroup",
                        ".zattrs"}
                if old or not {q.name for q in path.iterdir()} <= ours:
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
            return cls(path, group)
        if path.exists() and force:
            if path.is_dir() and not (path / ".zgroup").exists() and any(path.iterdir()):
                raise XssabError(f"--out {path}: not a map store; --force only replaces "
                                 "map stores")
            import shutil

            shutil.rmtree(path) if path.is_dir() else path.unlink()
        return cls._create(path, settings, pairs, map_size)

    @classmethod
    def _create(cls, path: Path, settings: dict, pairs, map_size) -> "MapStore":
        zarr = _zarr()
        from .._util import atomic_write_text

        n, c = len(pairs), int(settings["chunk_pairs"])
        h, w = int(map_size[0]), int(map_size[1])
        n_chunks = -(-n // c)
        # the group attributes are written last: a store without them is recreated
        group = zarr.open_group(str(path), mode="w", zarr_format=ZARR_FORMAT)
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

    def write_chunk(self, k: int, result: dict[str, Any]) -> None:
        """Write chunk ``k``: ``result`` holds float32 ``positive``/``negative``/``combined``
        (n, 2, H, W) and per-pair ``similarity``, ``match``, ``image_shape``,
        ``forward_passes``, ``backward_passes``, and ``seconds``; the done marker last."""
        g = self.group
        start, stop = self.chunk_range(k)
        n = stop - start
        dtype = np.dtype(self.attrs["dtype"])
        err, scale = 0.0, 0.0
        for name in MAP_NAMES:
            full = np.asarray(result[name], dtype=np.float32)
            if full.shape[0] != n:
                raise XssabError(f"chunk {k}: {name} has {full.shape[0]} pairs, expected {n}")
            stored = full.astype(dtype)
            if full.size:
                scale = max(scale, float(np.abs(full).max()))
                err = max(err, float(np.abs(stored.astype(np.float32) - full).max()))
            g[name][start:stop] = stored
        for name in ("similarity", "match", "image_shape", "forward_passes",
                     "backward_passes"):
            g[name][start:stop] = np.asarray(result[name])
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

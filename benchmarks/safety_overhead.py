"""Cost of the #13 safety checks on the map store and the aligned-crop cache (harden2).

* map store: reopening a complete store reads every done chunk back and checks its sha256;
* aligned-crop cache: each load fingerprints the raw file's bytes and checks the entry's
  digest trailer; each write fsyncs.

Usage (an older tree: ``PYTHONPATH=/tmp/old python benchmarks/safety_overhead.py``, where
the map-store part is skipped if that tree has no digests). Timings depend on the machine
and its load: compare two trees side by side in one session.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np


def map_store(n: int = 600, chunk: int = 16, side: int = 112) -> None:
    from xssab.data.base import Pair
    from xssab.report.mapstore import MapStore

    pairs = [Pair(f"a{i}", f"b{i}", i % 2 == 0, 0) for i in range(n)]
    settings = {"model": "m", "model_sha256": "x", "method": "xssab", "options": {},
                "threshold": 0.3, "dataset": "d", "dtype": "float16", "chunk_pairs": chunk,
                "sides": "both"}
    d = Path(tempfile.mkdtemp()) / "m"
    s = MapStore.open(d, settings=settings, pairs=pairs, map_size=(side, side))
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for k in range(s.n_chunks):
        a, b = s.chunk_range(k)
        m = b - a
        maps = {x: rng.normal(size=(m, 2, side, side)).astype(np.float32)
                for x in ("positive", "negative", "combined")}
        s.write_chunk(k, dict(maps, similarity=rng.random(m), match=np.ones(m, bool),
                              image_shape=np.full((m, 2, 2), side, np.int32),
                              forward_passes=np.ones(m), backward_passes=np.ones(m),
                              seconds=1.0))
    t_write = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = MapStore.open(d, settings=settings, pairs=pairs, map_size=(side, side))
    t_open = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in d.rglob("*") if p.is_file())
    print(f"map store: {n} pairs, {size / 2 ** 20:.0f} MiB: write {t_write:.2f} s, "
          f"reopen + verify {t_open:.2f} s, damaged {getattr(again, 'repaired', '?')}")


class NoFace:
    """No face found: the crop is the resized image (times the cache, not a detector)."""

    name = "noface"

    def detect(self, images):
        return [[] for _ in images]


def aligned_cache(n: int = 300) -> None:
    import xssab

    d = Path(tempfile.mkdtemp())
    os.environ["XSSAB_HOME"] = str(d / "home")
    (d / "x").mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        cv2.imwrite(str(d / "x" / f"{i:05d}.jpg"),
                    rng.integers(0, 255, (250, 250, 3), dtype=np.uint8))
    (d / "x" / "pairs.txt").write_text(
        "".join(f"{i:05d}.jpg {i + 1:05d}.jpg 1\n" for i in range(0, n - 1, 2)))
    ds = xssab.get_dataset("folder", path=d / "x", align=True, detector=NoFace(),
                           align_size=112)
    keys = [f"{i:05d}.jpg" for i in range(n)]
    t0 = time.perf_counter()
    for k in keys:
        ds.load(k)
    first = time.perf_counter() - t0
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for k in keys:
            ds.load(k)
        best = min(best, time.perf_counter() - t0)
    print(f"aligned cache ({Path(xssab.__file__).parent.parent}): {n} images 250x250, "
          f"first pass {first:.2f} s, cached {best * 1000 / n:.2f} ms/image")


if __name__ == "__main__":
    from xssab.report import mapstore

    if hasattr(mapstore, "DIGEST"):
        map_store()
    aligned_cache()

"""Explain stage: maps of the patched and the unpatched first images, in chunks of
pairs (the executor's units), each chunk cached on its own; timed."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from .cache import StageCache
from .data import BenchData
from .executor import chunks


def options_dict(opts) -> dict:
    try:
        return dataclasses.asdict(opts)
    except TypeError:
        return {"repr": repr(opts)}


def _has_index_offset(opts) -> bool:
    return dataclasses.is_dataclass(opts) and any(
        f.name == "index_offset" for f in dataclasses.fields(opts))


def explain_parts(model_sha: str, data: BenchData, method_name: str, opts, threshold: float,
                  stage: str) -> dict:
    return {"model": model_sha, "data": data.key, "method": method_name,
            "options": options_dict(opts), "threshold": threshold, "stage": stage}


def explain_maps(model, label: str, model_sha: str, data: BenchData, method_name: str,
                 opts, threshold: float, cache: StageCache, executor, batch_size: int,
                 device: str, progress) -> tuple[dict[str, np.ndarray], float]:
    """``({"p<i>": map of patched a_i, "u<i>": map of original a_i}, ms per pair)``;
    the time counts the patched explanations only."""
    import xssab

    ps = data.patched
    parts = explain_parts(model_sha, data, method_name, opts, threshold, "explain")
    offset = _has_index_offset(opts)
    if offset:  # maps depend on the pair's index: each chunk starts at its first pair
        parts["index_offset"] = "chunk start"

    def compute():
        n = len(data.pairs)
        task = progress.add_task(f"{label}/{method_name}: explain", total=2 * n)
        units = [(which, r) for which in ("p", "u") for r in chunks(n, batch_size)]

        def run_unit(unit):
            which, r = unit
            imgs = ps.patched if which == "p" else ps.original
            sl = slice(r.start, r.stop)

            def chunk():
                t0 = time.perf_counter()
                o = (dataclasses.replace(opts, index_offset=opts.index_offset + r.start)
                     if offset else opts)
                res = xssab.explain_pairs(model, imgs[sl], ps.b[sl], threshold=threshold,
                                          method=method_name, options=o, device=device,
                                          sides="a", align=False)  # dataset aligns
                dt = time.perf_counter() - t0
                return ({f"{which}{r.start + j}": np.asarray(x.a.combined, np.float32)
                         for j, x in enumerate(res)}, {"seconds": dt})

            out = cache.part(parts, "explain", f"{which}{r.start}", chunk)
            progress.advance(task, len(r))
            return which, out

        maps, elapsed = {}, 0.0
        for which, (part_maps, pmeta) in executor.map(run_unit, units):
            maps.update(part_maps)
            if which == "p":
                elapsed += pmeta["seconds"]
        return maps, {"ms_per_pair": 1000.0 * elapsed / n}

    maps, meta = cache.get(parts, "explain", compute, f"{label}/{method_name}/explain")
    return maps, float(meta["ms_per_pair"])

"""Explain stage: maps of the patched and the unpatched first images, in chunks of
pairs (the executor's units), each chunk cached on its own; timed."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from .cache import StageCache
from .data import BenchData
from .executor import chunks, run_units


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


def explain_unit(model, images_a, images_b, *, threshold: float, method: str, options,
                 device: str) -> tuple[list[np.ndarray], float]:
    """One unit: the first images' combined maps of a chunk of pairs, and the seconds it
    took (runs wherever the executor puts it, next to a loaded ``model``)."""
    import xssab

    t0 = time.perf_counter()
    res = xssab.explain_pairs(model, list(images_a), list(images_b), threshold=threshold,
                              method=method, options=options, device=device, sides="a",
                              align=False)  # dataset aligns
    return [np.asarray(x.a.combined, np.float32) for x in res], time.perf_counter() - t0


def _chunk_check(which: str, r: range):
    """A cached chunk holds exactly the maps of its own pair range."""
    want = {f"{which}{i}" for i in r}
    return lambda arrays, meta: set(arrays) == want and "seconds" in meta


def explain_maps(model, label: str, model_sha: str, data: BenchData, method_name: str,
                 opts, threshold: float, cache: StageCache, executor, batch_size: int,
                 device: str, progress) -> tuple[dict[str, np.ndarray], float]:
    """``({"p<i>": map of patched a_i, "u<i>": map of original a_i}, ms per pair)``;
    the time counts the patched explanations only."""
    ps = data.patched
    parts = explain_parts(model_sha, data, method_name, opts, threshold, "explain")
    offset = _has_index_offset(opts)
    if offset:  # maps depend on the pair's index: each chunk starts at its first pair
        parts["index_offset"] = "chunk start"

    def compute():
        n = len(data.pairs)
        task = progress.add_task(f"{label}/{method_name}: explain", total=2 * n)
        maps, elapsed, todo = {}, [0.0], []

        def record(which, r, part_maps, pmeta):
            maps.update(part_maps)
            if which == "p":
                elapsed[0] += pmeta["seconds"]
            progress.advance(task, len(r))

        for which, r in [(w, r) for w in ("p", "u") for r in chunks(n, batch_size)]:
            hit = cache.load_part(parts, "explain", f"{which}{r.start}-{r.stop}",
                                  validate=_chunk_check(which, r))
            if hit is not None:  # finished by an earlier (interrupted) run
                record(which, r, *hit)
            else:
                todo.append((which, r))

        def units():
            for which, r in todo:
                imgs = ps.patched if which == "p" else ps.original
                o = (dataclasses.replace(opts, index_offset=opts.index_offset + r.start)
                     if offset else opts)
                yield ((which, r), explain_unit, (imgs[r.start:r.stop], ps.b[r.start:r.stop]),
                       {"threshold": threshold, "method": method_name, "options": o,
                        "device": device})

        # units finish in any order (Ray); each is cached as it arrives
        for (which, r), (part, seconds) in run_units(executor, model, units()):
            part_maps = {f"{which}{r.start + j}": m for j, m in enumerate(part)}
            cache.save_part(parts, "explain", f"{which}{r.start}-{r.stop}", part_maps,
                            {"seconds": seconds}, validate=_chunk_check(which, r))
            record(which, r, part_maps, {"seconds": seconds})
        return maps, {"ms_per_pair": 1000.0 * elapsed[0] / n}

    def complete(maps, meta) -> bool:  # one map per pair and side, at the image's size
        n = len(data.pairs)
        if set(maps) != {f"{w}{i}" for w in "pu" for i in range(n)}:
            return False
        shapes = [np.asarray(im).shape[:2] for im in ps.patched]
        return (all(maps[f"p{i}"].shape == shapes[i] == maps[f"u{i}"].shape
                    for i in range(n)) and np.isfinite(meta.get("ms_per_pair", np.nan)))

    maps, meta = cache.get(parts, "explain", compute, f"{label}/{method_name}/explain",
                           validate=complete)
    return maps, float(meta["ms_per_pair"])

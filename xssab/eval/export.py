"""Maps for every pair of a dataset, streamed chunk by chunk into a :class:`MapStore`.

One unit of work = one chunk of ``chunk_pairs`` pairs explained (both images) with one
method on one model; units run on an executor (:mod:`xssab.eval.executor`: in-process, or Ray
actors) and each finished chunk is written to the store as it arrives, so memory is
bounded by the chunks in flight and an interrupted export resumes at the chunks it had
not finished. Methods with an ``index_offset`` option (``random``) get the chunk's first
pair index, so their maps do not depend on the chunking.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import numpy as np

from ..errors import XssabError
from .explain import _has_index_offset, options_dict
from ..report.mapstore import MAP_NAMES, MapStore


def chunk_arrays(explanations, map_size: tuple[int, int]) -> dict[str, np.ndarray]:
    """Explanations of one chunk -> the store's per-chunk arrays (maps at ``map_size``)."""
    from ..explain.maps import resize_map

    h, w = map_size
    n = len(explanations)
    out = {name: np.zeros((n, 2, h, w), np.float32) for name in MAP_NAMES}
    shape = np.zeros((n, 2, 2), np.int32)
    for i, r in enumerate(explanations):
        if r.b is None:
            raise XssabError(f"method {r.method!r} returned no maps for the second image")
        for side, im in enumerate((r.a, r.b)):
            shape[i, side] = im.combined.shape[:2]
            for name in MAP_NAMES:
                m = np.asarray(getattr(im, name), np.float32)
                if m.shape != (h, w):
                    m = resize_map(m, (h, w))
                out[name][i, side] = m
    out["image_shape"] = shape
    out["similarity"] = np.array([float(r.similarity) for r in explanations], np.float64)
    out["match"] = np.array([bool(r.match) for r in explanations], bool)
    out["forward_passes"] = np.array([int(r.forward_passes) for r in explanations], np.int64)
    out["backward_passes"] = np.array([int(r.backward_passes) for r in explanations],
                                      np.int64)
    return out


def _unit_options(opts, start: int):
    """The bench's rule (eval/explain.py): pair ``i`` of the store is index ``offset + i``."""
    return (dataclasses.replace(opts, index_offset=opts.index_offset + start)
            if _has_index_offset(opts) else opts)


def export_maps(*, dataset, pairs, settings: dict, model, spec, method, options,
                threshold: float, out, executor, chunk_pairs: int = 16,
                dtype: str = "float16", force: bool = False,
                on_progress: Callable[[int, int], None] | None = None,
                stop_after: int | None = None) -> dict[str, Any]:
    """Write (or resume) the maps of ``pairs`` into the store at ``out``.

    ``settings``: identity facts recorded with the store (model, model_sha256, dataset,
    data, device ...); method, options, threshold, dtype and chunking are added here.
    ``on_progress(done_pairs, total_pairs)`` after each chunk. ``stop_after`` stops after
    that many chunks of this session (tests use it to simulate an interruption).
    Returns the session summary (pairs computed, seconds, pairs/s, executor).

    ``out`` is locked for the whole call (``xssab.safe_output.folder_lock``: checked
    writable first; another process exporting into it: one-line error). The store's
    identity includes a content fingerprint of the images behind ``pairs``
    (``xssab.data.fingerprint``), so a resume after images changed in place, or with the
    same pair names in another folder, is refused instead of mixing maps."""
    from ..safe_output import folder_lock

    with folder_lock(out):
        return _export(dataset=dataset, pairs=pairs, settings=settings, model=model,
                       spec=spec, method=method, options=options, threshold=threshold,
                       out=out, executor=executor, chunk_pairs=chunk_pairs, dtype=dtype,
                       force=force, on_progress=on_progress, stop_after=stop_after)


def _export(*, dataset, pairs, settings, model, spec, method, options, threshold, out,
            executor, chunk_pairs, dtype, force, on_progress, stop_after) -> dict[str, Any]:
    from ..data.fingerprint import dataset_fingerprint
    from .scoring import pair_keys

    if chunk_pairs < 1:
        raise XssabError(f"--chunk-pairs {chunk_pairs}: expected a positive number")
    if not pairs:
        raise XssabError("no pairs to export")
    first = np.asarray(dataset.load(pairs[0].a))
    map_size = (int(first.shape[0]), int(first.shape[1]))
    settings = dict(settings, method=method, options=options_dict(options),
                    threshold=float(threshold), dtype=dtype, chunk_pairs=int(chunk_pairs),
                    sides="both")
    if "data_fingerprint" not in settings:
        settings["data_fingerprint"] = dataset_fingerprint(dataset, pair_keys(pairs))
    store = MapStore.open(out, settings=settings, pairs=pairs, map_size=map_size,
                          force=force)
    pending = store.pending()
    if stop_after is not None:
        pending = pending[:max(0, int(stop_after))]
    total = store.n_pairs
    done_pairs = total - sum(store.chunk_range(k)[1] - store.chunk_range(k)[0]
                             for k in store.pending())
    if on_progress:
        on_progress(done_pairs, total)

    def units():
        for k in pending:
            start, stop = store.chunk_range(k)
            sel = pairs[start:stop]
            images_a = [np.asarray(dataset.load(p.a)) for p in sel]
            images_b = [np.asarray(dataset.load(p.b)) for p in sel]
            yield (k, "explain", (images_a, images_b),
                   {"threshold": float(threshold), "method": method,
                    "options": _unit_options(options, start), "sides": "both"})

    startup = executor.warm(spec, model=model) if pending else 0.0
    t0 = time.perf_counter()
    computed = 0
    for k, res in executor.run(spec, units(), model=model):
        arrays = chunk_arrays(res["explanations"], map_size)
        arrays["seconds"] = res["seconds"]
        store.write_chunk(k, arrays)
        start, stop = store.chunk_range(k)
        computed += stop - start
        done_pairs += stop - start
        if on_progress:
            on_progress(done_pairs, total)
    wall = time.perf_counter() - t0
    summary = {"session_pairs": computed, "session_seconds": wall,
               "session_startup_seconds": startup,
               "session_pairs_per_second": computed / wall if wall > 0 and computed else None,
               **{f"session_{k}": v for k, v in executor.describe().items()}}
    store.finish(summary)
    return dict(summary, complete=store.complete, path=str(store.path),
                compute_seconds=store.attrs["compute_seconds"],
                storage_max_abs_error=store.attrs["storage_max_abs_error"],
                storage_max_rel_error=store.attrs["storage_max_rel_error"],
                pending_chunks=len(store.pending()), repaired_chunks=list(store.repaired))

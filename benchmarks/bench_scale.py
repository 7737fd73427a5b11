"""Scaling of the map export: local executor vs Ray with 1 and 2 workers, side by side,
plus the per-unit costs behind the study-cost table of docs/scale-out.md. Issue 11.

    python benchmarks/bench_scale.py --pairs 96 --json benchmarks/results/scale.json
    python benchmarks/bench_scale.py --costs-only --cost-pairs 4

Part 1 (scaling): the same export (``synth`` dataset, ``--model``, ``--method``, ``--pairs``
pairs, ``--chunk-pairs`` pairs per unit, float32) runs with ``local`` (in-process, one
worker), ``ray`` 1 worker and ``ray`` 2 workers, in ``--rounds`` rounds with the order
rotated each round, all in one process against one local Ray instance (``num_cpus`` = 2,
0.5 CPU per actor, one thread each; one executor alive at a time).
Reported per configuration: the median wall time of the units (Ray start-up and model
loading excluded; measured separately as ``startup``), and the ratios
``ray1 / local`` (Ray overhead at the same worker count) and ``ray1 / ray2`` (speed-up of a
second worker). Every store is compared with the local one (identical arrays required).

Part 2 (costs): per-unit costs on one process: for every method in ``--cost-methods``, the
seconds per pair for maps of both images (chunks of ``--chunk-pairs``), the seconds per
image for an ONNX Runtime embedding (``model.embed``, batch 64: the DPR re-embedding unit),
and the bytes per pair of a float16 store.

The machine this was written on is shared (2 cores, ~8 users): absolute times are inflated
and noisy; compare the ratios, and rerun on a quiet machine for absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _export(ds, pairs, model, spec, method, out, executor, chunk):
    from xssab import registry
    from xssab.eval.export import export_maps

    meth = registry.get_explainer(method)
    return export_maps(dataset=ds, pairs=pairs, settings={"model_sha256": "bench"},
                       model=model, spec=spec, method=method, options=meth.Options(),
                       threshold=float(model.threshold), out=out, executor=executor,
                       chunk_pairs=chunk, dtype="float32", force=True)


def _arrays(path):
    from xssab.report.mapstore import MapStore

    s = MapStore.read(path)
    return {k: s.array(k) for k in ("combined", "positive", "negative", "similarity")}


def scaling(a, ds, pairs, model, spec, tmp: Path) -> dict:
    import ray

    from xssab.eval.executor import LocalExecutor
    from xssab.eval.ray_executor import RayExecutor

    # the machine is shared: Ray's node-wide memory monitor would kill our actors for other
    # processes' memory
    os.environ.setdefault("RAY_memory_monitor_refresh_ms", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=256 * 2 ** 20)
    # 0.5 CPU per actor (one thread each); one executor alive at a time (memory), so each
    # round starts its actors again: start-up (model load) is timed apart from the units
    makers = {"local": LocalExecutor,
              "ray1": lambda: RayExecutor(workers=1, cpus_per_worker=0.5, threads=1),
              "ray2": lambda: RayExecutor(workers=2, cpus_per_worker=0.5, threads=1)}
    times = {name: [] for name in makers}
    startup = {name: [] for name in makers}
    order = list(makers)
    ref = None
    for r in range(a.rounds):
        for name in order[r % len(order):] + order[:r % len(order)]:
            ex = makers[name]()
            startup[name].append(ex.warm(spec, model=model))
            out = tmp / f"{name}-{r}"
            s = _export(ds, pairs, model, spec, a.method, out, ex, a.chunk_pairs)
            ex.close()
            times[name].append(s["session_seconds"])
            got = _arrays(out)
            if ref is None:
                ref = got
            for k in ref:
                if not np.array_equal(ref[k], got[k]):
                    raise SystemExit(f"{name} round {r}: {k} differs from the first run")
            shutil.rmtree(out)
            print(f"round {r} {name:5s} {s['session_seconds']:.2f} s (start-up "
                  f"{startup[name][-1]:.1f} s)", flush=True)
    ray.shutdown()
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"pairs": len(pairs), "chunk_pairs": a.chunk_pairs, "method": a.method,
            "rounds": a.rounds, "seconds": times, "median_seconds": med,
            "startup_seconds": startup,
            "median_startup_seconds": {k: statistics.median(v) for k, v in startup.items()},
            "pairs_per_second": {k: len(pairs) / v for k, v in med.items()},
            "ratio_ray1_over_local": med["ray1"] / med["local"],
            "speedup_ray2_over_ray1": med["ray1"] / med["ray2"],
            "speedup_ray2_over_local": med["local"] / med["ray2"],
            "identical_results": True}


def costs(a, ds, model, spec, tmp: Path) -> dict:
    from xssab import registry
    from xssab.eval.pairs import balanced_subset as select_pairs
    from xssab.eval.executor import LocalExecutor

    pairs = select_pairs(list(ds.pairs()), a.cost_pairs)
    out = {"pairs": len(pairs), "methods": {}}
    ex = LocalExecutor()
    ex.warm(spec, model=model)
    for method in [m.strip() for m in a.cost_methods.split(",") if m.strip()]:
        why = registry.get_explainer(method).supports(model)
        if why:
            out["methods"][method] = {"skipped": why}
            continue
        s = _export(ds, pairs, model, spec, method, tmp / f"cost-{method}", ex,
                    a.chunk_pairs)
        from xssab.report.mapstore import MapStore

        st = MapStore.read(tmp / f"cost-{method}")
        fwd = st.array("forward_passes").astype(float)
        bwd = st.array("backward_passes").astype(float)
        out["methods"][method] = {"seconds_per_pair_both_images":
                                  s["compute_seconds"] / len(pairs),
                                  "forward_passes_per_pair": float(fwd.mean()),
                                  "backward_passes_per_pair": float(bwd.mean())}
        print(f"cost {method:9s} {out['methods'][method]['seconds_per_pair_both_images']:.4f}"
              " s/pair", flush=True)
    imgs = [ds.load(p.a) for p in pairs] * max(1, 256 // max(1, len(pairs)))
    model.embed(imgs[:8])
    t0 = time.perf_counter()
    model.embed(imgs, batch_size=64)
    out["embed_seconds_per_image"] = (time.perf_counter() - t0) / len(imgs)
    h, w = np.asarray(ds.load(pairs[0].a)).shape[:2]
    out["store_bytes_per_pair_float16"] = 2 * 3 * h * w * 2
    print(f"embed {out['embed_seconds_per_image'] * 1000:.3f} ms/image", flush=True)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="synth-arcface")
    p.add_argument("--method", default="xssab")
    p.add_argument("--pairs", type=int, default=96)
    p.add_argument("--chunk-pairs", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--cost-methods", default="xssab,xface,xcos,fggb,corrrise,random")
    p.add_argument("--cost-pairs", type=int, default=4)
    p.add_argument("--costs-only", action="store_true")
    p.add_argument("--no-costs", action="store_true")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    os.environ.setdefault("XSSAB_ORT_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    import xssab
    from xssab import registry
    from xssab.eval.pairs import balanced_subset as select_pairs
    from xssab.eval.executor import ModelSpec

    model = xssab.load_model(a.model)
    spec = ModelSpec(a.model)
    n = max(a.pairs, a.cost_pairs)
    from xssab.eval.data import open_dataset

    ds = open_dataset("synth", min_pairs=n)
    info = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{platform.node()} {os.cpu_count()} cpus, load average "
                       f"{os.getloadavg()[0]:.1f} at start (shared machine)",
            "model": a.model, "threads_per_worker": 1}
    with tempfile.TemporaryDirectory() as tmp:
        if not a.costs_only:
            info["scaling"] = scaling(a, ds, select_pairs(list(ds.pairs()), a.pairs), model,
                                      spec, Path(tmp))
            sc = info["scaling"]
            print(f"median s: {sc['median_seconds']}  ray1/local "
                  f"{sc['ratio_ray1_over_local']:.3f}  ray1/ray2 "
                  f"{sc['speedup_ray2_over_ray1']:.3f}", flush=True)
        if not a.no_costs:
            info["costs"] = costs(a, ds, model, spec, Path(tmp))
    info["load_average_end"] = os.getloadavg()[0]
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(info, indent=1))
    print(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A whole benchmark run against its floor, side by side in one process.

    python benchmarks/bench_floor.py                       # synth-arcface, 200 pairs, xssab,xcos,random
    python benchmarks/bench_floor.py --model synth-cosface --pairs 400

The floor is the unavoidable work of a run: its re-embeddings (19 percentages x pairs x
(methods + the shared random strategy), plus the 3 embeddings per pair of the verify
stage) at ONNX Runtime's own throughput for the model (``embed_input`` on an already
preprocessed batch of 256, measured here after the run, same process and threads).
``ratio = floor / whole run`` (1.0 = nothing but the floor). The whole run is timed from
the start of this script (imports, model load and parity check included), with no stage
cache (``cache=False``) and with the intervals computed (``to_dict()``), as
``xssab-bench --no-cache --no-out`` does. Also printed: ``FaceModel.embed`` on uint8
images of the input size (preprocessing included) vs ``embed_input``.

Timings on a shared machine are noisy: record the load average next to them (printed).
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import os  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="synth-arcface")
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--methods", default="xssab,xcos,random")
    ap.add_argument("--batches", type=int, default=8, help="batches of 256 for throughput")
    args = ap.parse_args()

    import numpy as np

    from xssab.eval import BenchConfig, run_bench
    from xssab.metrics.dpr import PERCENTS

    cfg = BenchConfig(models=[args.model], methods=args.methods, pairs=args.pairs,
                      cache=False, method_pairs={})
    res = run_bench(cfg)
    d = res.to_dict()
    t_run = time.perf_counter() - T0

    (m,) = res.models.values()
    n = len(res.data.pairs)
    n_p = len(PERCENTS)
    per_method = {x: len(r.best_worst.scores) for x, r in m.methods.items()}
    n_embed = n_p * (sum(per_method.values()) + n) + 3 * n

    import xssab

    model = xssab.load_model(args.model)
    rng = np.random.default_rng(0)
    h, w = model.input_size
    imgs = rng.integers(0, 256, (256, h, w, 3), dtype=np.uint8)
    x = model.preprocess(imgs)
    model.embed_input(x, 256)  # warm-up
    t = time.perf_counter()
    for _ in range(args.batches):
        model.embed_input(x, 256)
    thr_input = 256 * args.batches / (time.perf_counter() - t)
    t = time.perf_counter()
    for _ in range(args.batches):
        model.embed(imgs, batch_size=256)
    thr_embed = 256 * args.batches / (time.perf_counter() - t)
    floor = n_embed / thr_input
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"model {args.model}, {n} pairs, methods {per_method}")
    print(f"whole run (no cache, imports + load + intervals): {t_run:.1f} s")
    print(f"re-embeddings: {n_embed}; ORT throughput at batch 256: {thr_input:.0f} img/s "
          f"(embed_input), {thr_embed:.0f} img/s (embed, uint8 {h}x{w} incl. preprocessing)")
    print(f"floor: {floor:.1f} s; ratio floor / whole run: {floor / t_run:.2f}")
    print(f"threads: XSSAB_ORT_THREADS={os.environ.get('XSSAB_ORT_THREADS')} "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; cpus {os.cpu_count()}; "
          f"load average {load}")
    print("gap_fmr:", {x: round(v["gap_fmr"], 4) for x, v in
                       d["models"][m.name]["methods"].items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A whole benchmark run against its floor, side by side in one process.

    python benchmarks/bench_floor.py                       # synth-arcface, 200 pairs, xssab,xcos,random
    python benchmarks/bench_floor.py --model synth-cosface --pairs 400

The floor is the unavoidable work of a run: its re-embeddings (19 percentages x pairs x
(methods + the shared random strategy), plus the 3 embeddings per pair of the verify
stage) at ONNX Runtime's own throughput for the model: ``embed_input`` on already
preprocessed batches of 256 of the run's own replacement inputs (the random-order series
of its first pairs), measured here after the run, same process and threads.

The throughput depends on the pixels: this CPU embeds uniform-noise images ~25 % slower
than faces (synth-arcface: ~2,500 vs ~3,100 img/s at two threads; ~1,200 vs ~1,560 at
one), so a floor measured on noise is ~25 % too high and flatters the ratio. The noise
throughput is printed for comparison (``ratio on noise``), and is what this script used
before 2026-11-29 05:30 UTC.
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

    from xssab.eval.replacement import _matches
    from xssab.metrics.dpr import orders_for, replaced_series_input

    model = xssab.load_model(args.model)
    h, w = model.input_size
    ps = res.data.patched
    k = min(n, -(-256 * args.batches // n_p))  # pairs whose series fill the batches
    orders = orders_for("random", None, _matches(m.verification)[:k],
                        [np.asarray(im).shape[:2] for im in ps.patched[:k]], cfg.seed)
    xp = model.preprocess(np.stack(ps.patched[:k]))
    xo = model.preprocess(np.stack(ps.original[:k]))
    x_run = np.concatenate([replaced_series_input(xp[i], xo[i], orders[i])
                            for i in range(k)])
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (256, h, w, 3), dtype=np.uint8)
    x_noise = model.preprocess(imgs)

    def throughput(x) -> float:
        model.embed_input(x[:256], 256)  # warm-up
        t = time.perf_counter()
        for b in range(args.batches):
            model.embed_input(x[(256 * b) % len(x):][:256], 256)
        return 256 * args.batches / (time.perf_counter() - t)

    thr_input = throughput(x_run)
    thr_noise = throughput(x_noise)
    faces = np.stack(ps.patched[:256])
    t = time.perf_counter()
    for _ in range(args.batches):
        model.embed(faces, batch_size=256)
    thr_embed = len(faces) * args.batches / (time.perf_counter() - t)
    floor = n_embed / thr_input
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"model {args.model}, {n} pairs, methods {per_method}")
    print(f"whole run (no cache, imports + load + intervals): {t_run:.1f} s")
    print(f"re-embeddings: {n_embed}; ORT throughput at batch 256: {thr_input:.0f} img/s "
          f"(embed_input on the run's replacement inputs), {thr_noise:.0f} img/s (on "
          f"noise), {thr_embed:.0f} img/s (embed: uint8 {h}x{w} faces, incl. "
          "preprocessing)")
    print(f"floor: {floor:.1f} s; ratio floor / whole run: {floor / t_run:.2f} "
          f"(ratio on noise: {n_embed / thr_noise / t_run:.2f})")
    # the explanations: not in the floor above (the issue defines it by the embeddings),
    # but compute every run must do as well, timed by the run itself (ms_per_pair counts
    # the patched maps; the unpatched maps, for the localisation control, cost the same)
    t_expl = sum(2 * r.ms_per_pair * len(r.best_worst.scores) / 1000.0
                 for r in m.methods.values())
    print(f"explanations (timed in the run, patched + unpatched maps): {t_expl:.1f} s; "
          f"floor + explanations: {floor + t_expl:.1f} s; ratio: "
          f"{(floor + t_expl) / t_run:.2f}; the rest (imports, load, data, localisation, "
          f"intervals, bookkeeping): {t_run - floor - t_expl:.1f} s")
    print(f"threads: XSSAB_ORT_THREADS={os.environ.get('XSSAB_ORT_THREADS')} "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; cpus {os.cpu_count()}; "
          f"load average {load}")
    print("gap_fmr:", {x: round(v["gap_fmr"], 4) for x, v in
                       d["models"][m.name]["methods"].items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

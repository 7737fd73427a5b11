"""The honest-interval check on the real pipeline: the `random` method (a map of pure
noise) has true gap 0, so over independent seeds its 95 % gap intervals should contain 0
about 95 % of the time.

    python benchmarks/honest_intervals_real.py --model synth-arcface --pairs 40 --seeds 10

Each seed is one whole run (its random map AND the random replacement change with the
seed); the stage cache is not used. Prints every interval and the coverage. With few
seeds the coverage is coarse (10 seeds x 2 gaps = 20 intervals: 95 % expects ~1 miss);
the fast, many-repetition check is tests/metrics/test_intervals.py.
"""

from __future__ import annotations

import argparse
import time


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="synth-arcface")
    ap.add_argument("--pairs", type=int, default=40)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()

    from xssab.eval import BenchConfig, run_bench

    t0 = time.perf_counter()
    hits = total = 0
    for seed in range(args.seeds):
        cfg = BenchConfig(models=[args.model], methods="random", pairs=args.pairs,
                          seed=seed, cache=False, bootstrap=args.bootstrap)
        d = run_bench(cfg).to_dict(per_pair=False)
        (m,) = d["models"].values()
        x = m["methods"]["random"]
        for k in ("gap_fmr", "gap_fnmr"):
            lo, hi = x[f"{k}_ci"]
            ok = lo <= 0 <= hi
            hits += ok
            total += 1
            print(f"seed {seed} {k} {x[k]:+.4f} [{lo:+.4f}, {hi:+.4f}] "
                  f"{'contains 0' if ok else 'MISSES 0'}", flush=True)
    print(f"coverage {hits}/{total} = {hits / total:.2f} ({args.model}, {args.pairs} pairs, "
          f"{args.seeds} seeds, {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

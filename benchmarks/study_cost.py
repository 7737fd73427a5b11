"""Cost of a full LFW-size study from measured per-unit costs (docs/scale-out.md).

    python benchmarks/study_cost.py            # markdown tables from benchmarks/results/

Inputs (all measured, none invented):
- ``results/scale_xssab.json`` ``costs``: synth-arcface on this shared 2-core machine,
  one thread: seconds per pair for maps of both images, per method; seconds per image of
  an ONNX Runtime embedding (batch 64); bytes per pair of a float16 map store.
- ``results/methods_cpu_iresnet50_quiet.json``: IResNet-50 (random weights) on the same
  2-core VM when it was quiet, two threads: ms per pair (both images) per method.
  Its embedding cost is x-face's time per forward pass (x-face = 2262 batched embeddings
  per pair and nothing else).

Cost model, CPU-seconds, ``N`` pairs, ``K`` distinct images of the dataset:
- benchmark, per model: ``(K + 3N) e`` (threshold + verify embeddings) + ``19 N e``
  (random replacement, once per model) + per method ``N c_m`` (maps of the patched and
  the unpatched first image: two images per pair, like one both-images unit) + ``19 N e``
  (best-worst replacement);
- map export, per (model, method): ``N c_m``; float16 store ``N x bytes per pair``.
Everything but the threshold/verify embeddings is split into units and runs on the
workers, so wall time ~= CPU-seconds / (workers x efficiency), efficiency measured by
``bench_scale.py`` (1 vs 2 workers).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
N_LFW = 6000
K_LFW = 13233  # every LFW image: an upper bound on the distinct images of the 6,000 pairs
PERCENTS = 19
METHODS = ("xssab", "xface", "xcos", "fggb", "corrrise", "random")


def load():
    synth = json.loads((RESULTS / "scale_xssab.json").read_text())["costs"]
    r50 = json.loads((RESULTS / "methods_cpu_iresnet50_quiet.json").read_text())
    r50m = next(iter(r50["results"].values()))["methods"]
    models = {
        "synth-arcface (shared VM, 1 thread)": {
            "c": {m: v["seconds_per_pair_both_images"] for m, v in synth["methods"].items()
                  if "seconds_per_pair_both_images" in v},
            "e": synth["embed_seconds_per_image"]},
        "IResNet-50 (quiet VM, 2 threads)": {
            "c": {m: v["ms_per_pair"] / 1000.0 for m, v in r50m.items()},
            "e": r50m["xface"]["ms_per_pair"] / 1000.0 / r50m["xface"]["forward_passes"]},
    }
    return models, synth.get("store_bytes_per_pair_float16")


def hours(s: float) -> str:
    h = s / 3600.0
    return f"{h:,.1f} h" if h >= 1 else f"{s / 60:,.1f} min"


def main() -> int:
    models, store_bytes = load()
    print("Per-unit costs (measured):\n")
    print("| model | embedding e (ms/image) | " + " | ".join(
        f"{m} c (s/pair)" for m in METHODS) + " |")
    print("|---|---:|" + "---:|" * len(METHODS))
    for name, mc in models.items():
        print(f"| {name} | {mc['e'] * 1000:.2f} | " + " | ".join(
            f"{mc['c'][m]:.4g}" if m in mc["c"] else "-" for m in METHODS) + " |")
    print(f"\nLFW-size study (N = {N_LFW} pairs, K <= {K_LFW} images), time on one "
          "worker as measured; divide by workers x efficiency:\n")
    print("| model | what | per model (shared) | + per method: " + " | ".join(METHODS)
          + " |")
    print("|---|---|---:|" + "---:|" * len(METHODS))
    for name, mc in models.items():
        e, c = mc["e"], mc["c"]
        shared = (K_LFW + 3 * N_LFW) * e + PERCENTS * N_LFW * e
        per = {m: N_LFW * c[m] + PERCENTS * N_LFW * e for m in METHODS if m in c}
        print(f"| {name} | benchmark | {hours(shared)} | " + " | ".join(
            hours(per[m]) if m in per else "-" for m in METHODS) + " |")
        print(f"| {name} | map export (both images) | - | " + " | ".join(
            hours(N_LFW * c[m]) if m in c else "-" for m in METHODS) + " |")
    if store_bytes:
        print(f"\nfloat16 map store: {store_bytes / 1e3:.0f} kB per pair of 112x112 maps "
              f"(3 maps x 2 images) -> {N_LFW * store_bytes / 1e9:.2f} GB per (model, "
              "method) for LFW (250x250 maps: x5.0)")
    # a study: M models x the 4 default methods
    print("\nStudy = models x methods, benchmark only, one worker (sum of the rows above):\n")
    print("| model | 1 model x xssab | 1 model x 4 default methods | 4 models x 4 default "
          "methods |")
    print("|---|---:|---:|---:|")
    for name, mc in models.items():
        e, c = mc["e"], mc["c"]
        shared = (K_LFW + 3 * N_LFW) * e + PERCENTS * N_LFW * e

        def per(m):
            return N_LFW * c[m] + PERCENTS * N_LFW * e

        four = sum(per(m) for m in ("xssab", "xface", "xcos", "random"))
        print(f"| {name} | {hours(shared + per('xssab'))} | {hours(shared + four)} | "
              f"{hours(4 * (shared + four))} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

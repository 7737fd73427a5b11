"""xSSAB maps for 6,000 pairs, both directions, on an IResNet-100 graph: exact fp32 time,
and what TF32 / bf16 would gain with their measured map error. Issue 11, item 5.

UNMEASURED so far: no GPU machine was lent to the session that wrote this script. It was
run on the CPU with ``--device cpu --pairs 8 --graph small`` to check that it works.

    python benchmarks/gpu_maps_iresnet100.py --device cuda --json OUT/gpu_maps.json
    python benchmarks/gpu_maps_iresnet100.py --device cpu --pairs 8 --graph small   # smoke

What it does, all in one process on one device:
1. builds an IResNet-100 (the layout of ``tests/graphs.py``, random weights, eval mode,
   BatchNorm folded), exports it to ONNX in a temp folder and loads it with
   ``xssab.load_model(..., device=D, ort_device="cpu")`` (parity checked; ONNX Runtime
   stays on the CPU so onnxruntime-gpu is not needed -- the engine runs on torch only);
2. ``--pairs`` pairs (default 6,000) of 112x112 images (``--distinct`` distinct smooth
   random faces, reused cyclically; preprocessing is included in the time) explained
   with ``XssabMethod.compute`` (maps at model input size, both images), chunks of
   ``--chunk`` pairs, after a warm-up chunk; timed with ``cuda.synchronize``;
3. the same with TF32 convolutions/matmuls allowed, and with bf16 autocast (each after a
   warm-up), and the map error of each against fp32 on the first ``--error-pairs`` pairs:
   max |difference| / max |fp32 map| and the mean Spearman rank correlation of the
   combined maps (what replacement ranks pixels by).
Target (issue 11): fp32 exact under 30 s for 6,000 pairs on one H200.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _sync(device):
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def _context(mode: str, device: str):
    """Replacement of the engine's device context: fp32 (the engine's own), tf32, bf16."""
    import torch

    def make(dev, deterministic):
        stack = contextlib.ExitStack()
        if dev.startswith("cuda"):
            stack.enter_context(torch.backends.cudnn.flags(
                enabled=True, benchmark=False, deterministic=bool(deterministic),
                allow_tf32=(mode == "tf32")))
            torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
        if mode == "bf16":
            stack.enter_context(torch.autocast(device_type=torch.device(dev).type,
                                               dtype=torch.bfloat16))
        return stack

    return make


def run_mode(mode, model, images_a, images_b, threshold, chunk, device, keep: int):
    from xssab.explain import xssab as engine

    meth = engine.XssabMethod()
    opts = engine.Options(chunk_size=chunk)
    real = engine._device_context
    engine._device_context = _context(mode, device)
    try:
        meth.compute(model, images_a[:chunk], images_b[:chunk], threshold, opts,
                     device=device)  # warm-up
        _sync(device)
        t0 = time.perf_counter()
        kept = []
        for s in range(0, len(images_a), chunk):
            raw, _ = meth.compute(model, images_a[s:s + chunk], images_b[s:s + chunk],
                                  threshold, opts, device=device)
            if s < keep:
                kept.append({k: np.asarray(getattr(raw, k), np.float32)[:keep - s]
                             for k in ("pos_a", "neg_a", "pos_b", "neg_b")})
        _sync(device)
        seconds = time.perf_counter() - t0
    finally:
        engine._device_context = real
    maps = {k: np.concatenate([c[k] for c in kept]) for k in kept[0]}
    return seconds, maps


def map_error(ref, other):
    from scipy.stats import spearmanr

    scale = max(float(np.abs(ref[k]).max()) for k in ref)
    err = max(float(np.abs(ref[k] - other[k]).max()) for k in ref)
    rho = []
    for i in range(len(ref["pos_a"])):
        for side in ("a", "b"):
            c0 = (ref[f"pos_{side}"][i] - ref[f"neg_{side}"][i]).ravel()
            c1 = (other[f"pos_{side}"][i] - other[f"neg_{side}"][i]).ravel()
            rho.append(float(spearmanr(c0, c1).statistic))
    return {"max_abs_error": err, "max_rel_error": err / scale if scale else 0.0,
            "spearman_combined_mean": float(np.mean(rho)),
            "spearman_combined_min": float(np.min(rho))}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--pairs", type=int, default=6000)
    p.add_argument("--chunk", type=int, default=64)
    p.add_argument("--distinct", type=int, default=512, help="distinct images (cycled)")
    p.add_argument("--error-pairs", type=int, default=64)
    p.add_argument("--graph", choices=("iresnet100", "small"), default="iresnet100")
    p.add_argument("--modes", default="fp32,tf32,bf16")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)

    import torch

    import xssab
    from tests.graphs import export_onnx, iresnet100, random_faces, small_iresnet

    info = {"device": a.device, "pairs": a.pairs, "chunk": a.chunk, "graph": a.graph,
            "torch": torch.__version__}
    if a.device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(0)
    with tempfile.TemporaryDirectory() as tmp:
        net = iresnet100(seed=0) if a.graph == "iresnet100" else small_iresnet(seed=0)
        t0 = time.perf_counter()
        path = export_onnx(net, Path(tmp) / f"{a.graph}.onnx", "dynamic")
        model = xssab.load_model(str(path), device=a.device, ort_device="cpu")
        info["load_seconds"] = time.perf_counter() - t0
    faces = random_faces(a.distinct, seed=1)
    idx = np.arange(a.pairs)
    images_a = [faces[i % a.distinct] for i in idx]
    images_b = [faces[(7 * i + 3) % a.distinct] for i in idx]
    threshold = 0.3
    keep = min(a.error_pairs, a.pairs)
    results, ref = {}, None
    for mode in [m.strip() for m in a.modes.split(",") if m.strip()]:
        seconds, maps = run_mode(mode, model, images_a, images_b, threshold,
                                 a.chunk, a.device, keep)
        r = {"seconds": seconds, "pairs_per_second": a.pairs / seconds,
             "images_explained": 2 * a.pairs}
        if mode == "fp32":
            ref = maps
        elif ref is not None:
            r.update(map_error(ref, maps))
            r["speedup_vs_fp32"] = results["fp32"]["seconds"] / seconds
        results[mode] = r
        print(f"{mode:5s} {a.pairs} pairs (both images) in {seconds:.2f} s = "
              f"{a.pairs / seconds:.1f} pairs/s "
              + " ".join(f"{k}={v:.3g}" for k, v in r.items()
                         if k not in ("seconds", "pairs_per_second", "images_explained")),
              flush=True)
    info["results"] = results
    if a.json:
        Path(a.json).write_text(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

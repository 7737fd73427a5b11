"""Runtime per pair of every registered explanation method.

Models: the embedded synth models of the zoo whose files are present (``synth-*`` cards)
and an IResNet-50-sized graph with random weights (tests/graphs.py layout, exported once
to ``XSSAB_HOME/bench/iresnet50_multi.onnx`` with the 7x7 feature map as a second output,
so xCos runs in its uniform-attention variant). Every method runs with its DEFAULT
(faithful) options on ``--pairs`` pairs of smooth random 112x112 images in ONE
``explain_pairs`` call after a warm-up (torch import, ONNX Runtime session), explaining
``--sides`` (both images by default). One run, no repetitions: numbers are indicative.

    python benchmarks/bench_methods.py                      # all methods, all models
    python benchmarks/bench_methods.py --device cuda --quick --json out.json
    python benchmarks/bench_methods.py --methods xface,fggb --models iresnet50

``--quick``: one pair per model/method and only the IResNet-50 graph plus the first synth
model found.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_METHODS = ("xssab", "xface", "xcos", "fggb", "corrrise", "random")


def smooth_faces(n: int, seed: int = 0, size: int = 112) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        small = rng.uniform(0, 255, (size // 8, size // 8, 3)).astype(np.float32)
        big = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
        out[i] = np.clip(big + rng.normal(0, 10, big.shape), 0, 255).astype(np.uint8)
    return out


def iresnet50_path() -> Path:
    from xssab.models.cache import xssab_home

    path = xssab_home() / "bench" / "iresnet50_multi.onnx"
    if not path.exists():
        from tests.graphs import export_onnx, iresnet50

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}.onnx")
        export_onnx(iresnet50(seed=0), tmp, style="multi_output")
        os.replace(tmp, path)
    return path


def synth_models() -> list[str]:
    import xssab

    names = []
    for name, card in sorted((n, xssab.get_card(n)) for n in xssab.list_models()):
        if not name.startswith("synth"):
            continue
        try:
            from xssab.models.loader import resolve

            resolve(name)
        except Exception:
            continue
        names.append(name)
    return names


def load(name: str, device: str):
    import xssab

    if name == "iresnet50":
        return xssab.load_model(str(iresnet50_path()), device=device, threshold=0.3,
                                feature_output="features", name="iresnet50-random")
    return xssab.load_model(name, device=device)


def run(args) -> dict:
    import xssab
    from xssab.registry import explainers

    registered = explainers()
    methods = [m for m in args.methods.split(",") if m] if args.methods else [
        m for m in DEFAULT_METHODS if m in registered]
    if args.models:
        models = [m for m in args.models.split(",") if m]
    else:
        synth = synth_models()
        models = (synth[:1] if args.quick else synth) + ["iresnet50"]
    pairs = 1 if args.quick else args.pairs
    imgs = smooth_faces(2 * pairs + 2, seed=1)
    a, b = list(imgs[0:2 * pairs:2]), list(imgs[1:2 * pairs:2])
    out = {"machine": f"{platform.node()} ({os.cpu_count()} CPU cores, "
                      f"{platform.processor() or platform.machine()})",
           "device": args.device, "date": _dt.datetime.now(_dt.UTC).isoformat(
               timespec="seconds"),
           "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
           "pairs": pairs, "sides": args.sides, "torch_threads": None, "results": {}}
    import torch

    out["torch_threads"] = torch.get_num_threads()
    for mname in models:
        t0 = time.perf_counter()
        model = load(mname, args.device)
        load_s = time.perf_counter() - t0
        # warm-up: ORT session and the torch import (lazy) outside the timed calls
        model.embed([imgs[-1]])
        with torch.no_grad():
            model.torch_module(model.input_tensor([imgs[-1]]))
        rec = {"load_s": round(load_s, 2), "embedding_size": model.embedding_size,
               "methods": {}}
        out["results"][model.name] = rec
        for meth in methods:
            impl = registered.get(meth)
            if impl is None:
                rec["methods"][meth] = {"skipped": "not registered"}
                continue
            reason = impl.supports(model)
            if reason:
                rec["methods"][meth] = {"skipped": reason}
                print(f"{model.name:24s} {meth:9s} skipped: {reason}", flush=True)
                continue
            t1 = time.perf_counter()
            res = xssab.explain_pairs(model, a, b, threshold=model.threshold or 0.3,
                                      method=meth, sides=args.sides, device=args.device)
            dt = time.perf_counter() - t1
            r0 = res[0]
            entry = {"ms_per_pair": round(1000 * dt / pairs, 1),
                     "forward_passes": int(r0.forward_passes),
                     "backward_passes": int(r0.backward_passes)}
            if "variant" in r0.extras:
                entry["variant"] = r0.extras["variant"]
            rec["methods"][meth] = entry
            print(f"{model.name:24s} {meth:9s} {entry['ms_per_pair']:>10.1f} ms/pair  "
                  f"fwd {entry['forward_passes']:5d}  bwd {entry['backward_passes']:5d}",
                  flush=True)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--methods", default="", help="comma-separated (default: all six)")
    p.add_argument("--models", default="",
                   help="comma-separated zoo names and/or 'iresnet50' (default: synth + it)")
    p.add_argument("--pairs", type=int, default=2)
    p.add_argument("--sides", default="both", choices=("both", "a"))
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", default="", help="write the results to this file")
    args = p.parse_args(argv)
    out = run(args)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

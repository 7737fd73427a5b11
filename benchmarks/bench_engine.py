"""Pairs per second of the batched xSSAB engine vs the released per-pair structure.

Both are measured in the same run, on the same loaded model (the onnx2torch import that
``xssab.load_model`` builds), the same images (smooth random 112x112 faces) and the same
threshold:

* **engine** -- ``XssabMethod.explain_pairs`` on ``n`` pairs in one call (``n`` = 1, 4, 16,
  64), both images of every pair explained, ``chunk_size = min(n, --chunk)`` pairs per
  forward/backward batch (memory bound), default VJP mode (``Options.vjp="auto"``); at
  ``n = 16`` the other VJP mode is measured too.
* **released** -- the structure of the released code: for every pair, direction and sign,
  embed A, embed B, forward A again with a graph, one backward pass (12 forward + 4 backward
  passes per pair, batch 1). The baseline is given every advantage this codebase has
  (frozen parameters: input gradients only; the two embeddings without a graph). It has no
  batching, so its rate does not depend on ``n``; it is timed on ``--released-pairs``
  pairs right next to every engine measurement (order alternating over ``--repeats``
  rounds, medians), so both see the same machine load; its maps are compared with the
  engine's for the same pairs (max relative difference, reported).

Models: an IResNet-50-sized graph (tests/graphs.py layout, random weights, exported to ONNX
in a temp folder and loaded through ``xssab.load_model``) and the embedded ``synth-*``
models of the zoo whose files are present.

    python benchmarks/bench_engine.py                           # CPU, full
    python benchmarks/bench_engine.py --device cuda --quick --json engine_cuda.json

``--device cuda`` without onnxruntime-gpu loads the model with ONNX Runtime on the CPU and
moves only the torch import to the GPU (the engine needs nothing else). ``--quick``: batch
sizes 1, 4, 16, one repetition, 2 released pairs per model. ``--compare-vjp N``: the two
VJP modes on N pairs in three interleaved rounds (what ``vjp="auto"`` is based on).
"""

from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class _OnDevice:
    """A FaceModel view whose torch import lives on another device (engine-only use)."""

    def __init__(self, model, device: str):
        self._model = model
        self.device = device
        self.torch_module = copy.deepcopy(model.torch_module).to(device)

    def input_tensor(self, images, device=None):
        import torch

        return torch.from_numpy(self._model.preprocess(images)).to(device or self.device)

    def __getattr__(self, name):
        return getattr(self._model, name)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def load(name_or_path, device: str, notes: list[str]):
    import xssab
    from xssab.errors import ModelLoadError

    try:
        return xssab.load_model(str(name_or_path), device=device)
    except ModelLoadError as exc:
        if not device.startswith("cuda"):
            raise
        notes.append(f"{name_or_path}: ORT on CPU, torch import on {device} ({exc})")
        return _OnDevice(xssab.load_model(str(name_or_path), device="cpu"), device)


def released_maps(model, images_a, images_b, threshold: float, device: str):
    """The released per-pair structure; returns per pair {(side, sign): map (h, w)}."""
    import torch

    net = model.torch_module
    out = []
    for img_a, img_b in zip(images_a, images_b):
        maps = {}
        for side, (x_img, y_img) in (("a", (img_a, img_b)), ("b", (img_b, img_a))):
            for sign in ("positive", "negative"):
                with torch.no_grad():
                    ex = net(model.input_tensor([x_img], device=device))[0]
                    ey = net(model.input_tensor([y_img], device=device))[0]
                ex, ey = ex / ex.norm(), ey / ey.norm()
                contrib = ex * ey
                split = contrib >= threshold / contrib.numel()
                keep = split if sign == "positive" else ~split
                x = model.input_tensor([x_img], device=device).requires_grad_(True)
                e = net(x)[0]
                e = e / e.norm()
                (g,) = torch.autograd.grad((e * ey * keep.to(e.dtype)).sum(), x)
                maps[(side, sign)] = g[0].abs().mean(dim=0).cpu().numpy()
        out.append(maps)
    return out


def _timed(fn, device: str, repeats: int):
    """Median wall time of ``repeats`` runs (and the last result)."""
    times = []
    result = None
    for _ in range(max(1, repeats)):
        _sync(device)
        t0 = time.perf_counter()
        result = fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), len(times), result


def bench_model(label: str, model, sizes, args, faces, notes) -> dict:
    import torch

    from xssab.explain.xssab import Options, XssabMethod, _resolve_vjp

    dev = args.device
    method = XssabMethod()
    t = float(args.threshold)
    rows = []
    def ctx():  # a fresh context manager per use (a generator-based one enters only once)
        return (torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True,
                                           allow_tf32=False) if dev.startswith("cuda")
                else _null())
    # warm-up: torch import, allocator, kernels
    method.explain_pairs(model, faces[:1], faces[1:2], t, Options(chunk_size=1), device=dev)
    with ctx():
        released_maps(model, faces[:1], faces[1:2], t, dev)
    default_vjp = _resolve_vjp("auto", torch.device(dev).type)
    other_vjp = "batched" if default_vjp == "sequential" else "sequential"
    k = args.released_pairs
    ra, rb = faces[:k], faces[k:2 * k]
    ref = None

    def released():
        with ctx():
            return released_maps(model, ra, rb, t, dev)

    for n in sizes:
        ia, ib = faces[:n], faces[n:2 * n]
        vjps = [default_vjp, other_vjp] if n == 16 else [default_vjp]
        eng_times: dict[str, list[float]] = {v: [] for v in vjps}
        rel_times: list[float] = []
        # engine and released alternate (order flips each round): both see the same load
        for rnd in range(max(1, args.repeats)):
            steps = [("engine", v) for v in vjps] + [("released", None)]
            if rnd % 2 == 1:
                steps.reverse()
            for what, vjp in steps:
                if what == "released":
                    secs, _, ref = _timed(released, dev, 1)
                    rel_times.append(secs)
                    continue
                opts = Options(chunk_size=min(n, args.chunk), vjp=vjp)
                secs, _, _ = _timed(
                    lambda: method.explain_pairs(model, ia, ib, t, opts, device=dev), dev, 1)
                eng_times[vjp].append(secs)
        rel_s = float(np.median(rel_times))
        for vjp in vjps:
            secs = float(np.median(eng_times[vjp]))
            row = {"model": label, "pairs": n, "chunk_size": min(n, args.chunk), "vjp": vjp,
                   "engine_s": secs, "repeats": len(eng_times[vjp]),
                   "engine_pairs_per_s": n / secs, "released_pairs": k,
                   "released_s": rel_s, "released_pairs_per_s": k / rel_s}
            row["speedup"] = row["engine_pairs_per_s"] / row["released_pairs_per_s"]
            rows.append(row)
            print(f"  {label:<12} n={n:<3} vjp={vjp:<10} engine {n / secs:8.3f} pairs/s "
                  f"({secs:.2f} s) | released {k / rel_s:8.3f} pairs/s ({rel_s:.2f} s for "
                  f"{k}) | {row['speedup']:.1f}x  load {os.getloadavg()[0]:.1f}", flush=True)
    vjp_ab = None
    if args.compare_vjp:
        # interleaved A/B rounds (order alternates) so load changes hit both modes alike
        n = args.compare_vjp
        ia, ib = faces[:n], faces[n:2 * n]
        vjp_ab = {"pairs": n, "sequential": [], "batched": []}
        for rnd in range(3):
            order = ("sequential", "batched") if rnd % 2 == 0 else ("batched", "sequential")
            for vjp in order:
                opts = Options(chunk_size=n, vjp=vjp)
                secs, _, _ = _timed(
                    lambda: method.explain_pairs(model, ia, ib, t, opts, device=dev), dev, 1)
                vjp_ab[vjp].append(secs)
                print(f"  {label:<12} A/B n={n} vjp={vjp:<10} {secs:.2f} s", flush=True)
        for vjp in ("sequential", "batched"):
            vjp_ab[f"{vjp}_median_s"] = float(np.median(vjp_ab[vjp]))
    eng = method.explain_pairs(model, ra, rb, t, Options(chunk_size=k), device=dev)
    worst = 0.0
    for r, e in zip(ref, eng):
        for (side, sign), m in r.items():
            maps = e.a if side == "a" else e.b
            got = maps.positive if sign == "positive" else maps.negative
            worst = max(worst, float(np.abs(got - m).max() / max(np.abs(m).max(), 1e-30)))
    released = {"model": label, "pairs": k, "max_rel_diff_engine_vs_released": worst}
    print(f"  {label:<12} max rel. map difference engine vs released {worst:.2e}", flush=True)
    return {"rows": rows, "released": released, "vjp_ab": vjp_ab}


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def machine(device: str) -> dict:
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": len(os.sched_getaffinity(0)),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "platform": platform.platform()}
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--quick", action="store_true", help="sizes 1,4,16; short run")
    p.add_argument("--sizes", default=None, help="comma list of pairs per call (1,4,16,64)")
    p.add_argument("--models", default="iresnet50,synth",
                   help="iresnet50 and/or synth (every present synth-* zoo model), or names")
    p.add_argument("--chunk", type=int, default=16, help="max pairs per engine batch")
    p.add_argument("--released-pairs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--threshold", type=float, default=0.25)
    p.add_argument("--compare-vjp", type=int, default=0, metavar="N",
                   help="also time the two VJP modes on N pairs, 3 interleaved rounds")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (default: torch's choice, = cores)")
    p.add_argument("--json", default=None, help="write the results here")
    args = p.parse_args(argv)
    sizes = [int(s) for s in (args.sizes or ("1,4,16" if args.quick else "1,4,16,64"))
             .split(",")]

    import torch

    import xssab
    from tests.graphs import export_onnx, iresnet50

    if args.threads > 0:
        torch.set_num_threads(args.threads)

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --device cuda but torch sees no CUDA device", file=sys.stderr)
        return 2
    rng_faces = _faces(2 * max(max(sizes), args.released_pairs, args.compare_vjp), seed=0)
    notes: list[str] = []
    results = {"command": "python benchmarks/bench_engine.py " + " ".join(
        argv if argv is not None else sys.argv[1:]),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "device": args.device, "machine": machine(args.device), "threshold": args.threshold,
        "models": {}, "notes": notes, "loadavg_start": list(os.getloadavg())}
    wanted = [m.strip() for m in args.models.split(",") if m.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        targets = []
        for w in wanted:
            if w == "iresnet50":
                path = export_onnx(iresnet50(seed=0), Path(tmp) / "iresnet50.onnx", "dynamic")
                targets.append(("iresnet50", path))
            elif w == "synth":
                from xssab.models import cache

                for name, card in sorted((n, xssab.get_card(n)) for n in xssab.list_models()):
                    if name.startswith("synth") and cache.find_weights(card) is not None:
                        targets.append((name, name))
                if not any(n.startswith("synth") for n, _ in targets):
                    notes.append("no synth-* model files present: skipped")
            else:
                targets.append((w, w))
        for label, src in targets:
            print(f"{label}:", flush=True)
            model = load(src, args.device, notes)
            results["models"][label] = bench_model(label, model, sizes, args, rng_faces, notes)
            del model
    results["loadavg_end"] = list(os.getloadavg())
    results["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.device.startswith("cuda"):
        results["peak_cuda_mib"] = torch.cuda.max_memory_allocated() / 2 ** 20
    _print_table(results)
    for n in notes:
        print("note:", n)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _faces(n: int, seed: int) -> np.ndarray:
    from tests.graphs import random_faces

    return random_faces(n, seed=seed)


def _print_table(results: dict) -> None:
    print()
    print("| model | pairs/call | chunk | vjp | engine pairs/s | released pairs/s | speedup |")
    print("|---|---:|---:|---|---:|---:|---:|")
    for label, res in results["models"].items():
        for r in res["rows"]:
            print(f"| {label} | {r['pairs']} | {r['chunk_size']} | {r['vjp']} | "
                  f"{r['engine_pairs_per_s']:.3f} | {r['released_pairs_per_s']:.3f} | "
                  f"{r['speedup']:.1f}x |")
    for label, res in results["models"].items():
        rel = res["released"]
        ab = res.get("vjp_ab")
        if ab:
            print(f"{label}: VJP A/B on {ab['pairs']} pairs, median s: sequential "
                  f"{ab['sequential_median_s']:.2f}, batched {ab['batched_median_s']:.2f}")
        print(f"{label}: released timed on {rel['pairs']} pairs next to every engine "
              f"measurement; max relative map difference engine vs released "
              f"{rel['max_rel_diff_engine_vs_released']:.1e}")


if __name__ == "__main__":
    sys.exit(main())

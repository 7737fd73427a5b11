"""Model-loading and embedding speed on an IResNet-50 built at run time (random weights).

    python benchmarks/bench_models.py [--images 64] [--threads N]

Prints one JSON object: load time (fix + ORT session + torch import + parity), ORT embed
throughput batched vs one-by-one, torch forward and forward+backward (input gradient).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0, help="ORT/torch threads (0 = cores)")
    args = ap.parse_args(argv)
    if args.threads:
        os.environ["XSSAB_ORT_THREADS"] = str(args.threads)
    import torch

    import xssab
    from tests import graphs
    from xssab.models import loader
    from xssab.models.model import cpu_threads

    if args.threads:
        torch.set_num_threads(args.threads)
    res = {"threads_ort": cpu_threads(), "threads_torch": torch.get_num_threads(),
           "loadavg_start": os.getloadavg()[0]}
    faces = graphs.random_faces(args.images, (112, 112), seed=0)
    with tempfile.TemporaryDirectory() as d:
        path = graphs.export_onnx(graphs.iresnet50(seed=0), Path(d) / "r50.onnx",
                                  "static_reshape")
        xssab.load_model(str(path), check_parity=False)  # warm imports
        loader._parity_ok.clear()
        t = time.perf_counter()
        model = xssab.load_model(str(path))
        res["load_with_parity_s"] = round(time.perf_counter() - t, 2)

        def rate(fn, n):
            t = time.perf_counter()
            fn()
            return round(n / (time.perf_counter() - t), 1)

        model.embed(faces[:4])
        res["ort_img_per_s_batch32"] = rate(lambda: model.embed(faces, batch_size=32),
                                            len(faces))
        n1 = min(16, len(faces))
        res["ort_img_per_s_batch1"] = rate(lambda: [model.embed(faces[i:i + 1])
                                                    for i in range(n1)], n1)
        x = model.input_tensor(faces[:32])
        with torch.no_grad():
            model.torch_module(x[:2])
            res["torch_img_per_s_fwd_batch32"] = rate(lambda: model.torch_module(x), len(x))

        def fwd_bwd():
            xg = x[:8].clone().requires_grad_(True)
            model.torch_module(xg).sum().backward()

        res["torch_img_per_s_fwd_bwd_batch8"] = rate(fwd_bwd, 8)
    res["loadavg_end"] = os.getloadavg()[0]
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Device check for model loading: ORT/torch on CUDA vs CPU on a small IResNet.

    python benchmarks/device_check_models.py      # prints one JSON line per check
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402

import xssab  # noqa: E402
from tests import graphs  # noqa: E402
from xssab._util import l2_normalize  # noqa: E402


def main() -> int:
    info = {"ort": ort.__version__, "providers": ort.get_available_providers(),
            "torch": torch.__version__, "torch_cuda": torch.cuda.is_available()}
    print(json.dumps(info), flush=True)
    with tempfile.TemporaryDirectory() as d:
        path = graphs.export_onnx(graphs.iresnet50(seed=0), Path(d) / "r50.onnx",
                                  "static_reshape")
        faces = graphs.random_faces(16, (112, 112), seed=0)
        t = time.perf_counter()
        cpu = xssab.load_model(str(path))
        ref = cpu.embed(faces)
        print(json.dumps({"cpu_load_embed_s": round(time.perf_counter() - t, 2),
                          "parity": cpu.parity_diff}), flush=True)
        try:
            t = time.perf_counter()
            gpu = xssab.load_model(str(path), device="cuda")
            out = gpu.embed(faces)
            x = gpu.input_tensor(faces[:4]).requires_grad_(True)
            gpu.torch_module(x).sum().backward()
            print(json.dumps({
                "cuda_load_embed_s": round(time.perf_counter() - t, 2),
                "cuda_providers": gpu.session.get_providers(),
                "cuda_parity": gpu.parity_diff,
                "cuda_vs_cpu": float(np.abs(l2_normalize(out) - l2_normalize(ref)).max()),
                "grad_device": str(x.grad.device),
                "grad_finite": bool(torch.isfinite(x.grad).all())}), flush=True)
        except xssab.XssabError as exc:
            print(json.dumps({"cuda_error": str(exc)}), flush=True)
        if torch.cuda.is_available():
            # the torch half alone on CUDA (works even when ORT has no CUDA provider)
            from xssab.models.torch_import import build_torch_graph
            from xssab.models.onnx_fix import fix_graph, load_onnx

            fixed, _ = fix_graph(load_onnx(path))
            g = build_torch_graph(fixed, path, "cuda", 1, False)
            from xssab.models.loader import exact_fp32

            x = torch.from_numpy(cpu.preprocess(faces)).cuda().requires_grad_(True)
            with exact_fp32():
                e = g(x)[0]
            e32 = e.detach().cpu().numpy()
            with torch.no_grad():
                e_tf32 = g(x)[0].cpu().numpy()  # torch defaults (TF32 convs on Ampere+)
            e.sum().backward()
            print(json.dumps({
                "torch_cuda_fp32_vs_ort_cpu": float(np.abs(
                    l2_normalize(e32) - l2_normalize(ref)).max()),
                "torch_cuda_default_vs_ort_cpu": float(np.abs(
                    l2_normalize(e_tf32) - l2_normalize(ref)).max()),
                "torch_cuda_param_device": str(next(g.parameters()).device),
                "grad_finite_nonzero": bool(torch.isfinite(x.grad).all()
                                            and x.grad.abs().sum() > 0)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

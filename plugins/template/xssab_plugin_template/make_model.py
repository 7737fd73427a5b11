"""Build ``tiny.onnx`` (deterministic random weights, a few KB) with onnx.helper.

    python -m xssab_plugin_template.make_model [OUT]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)

    def w(name, *shape, scale=None):
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        arr = rng.normal(0, scale or 1 / np.sqrt(fan_in), shape).astype(np.float32)
        return numpy_helper.from_array(arr, name)

    inits = [w("c1", 8, 3, 4, 4), w("c2", 16, 8, 3, 3), w("c3", 16, 16, 3, 3),
             numpy_helper.from_array(np.full((8, 1, 1), 0.25, np.float32), "s1"),
             numpy_helper.from_array(np.full((16, 1, 1), 0.25, np.float32), "s2"),
             w("fc", 32, 16 * 7 * 7), numpy_helper.from_array(
                 rng.normal(0, 0.1, 32).astype(np.float32), "fcb")]
    nodes = [
        helper.make_node("Conv", ["input", "c1"], ["h1"], strides=[4, 4]),      # 28x28
        helper.make_node("PRelu", ["h1", "s1"], ["a1"]),
        helper.make_node("Conv", ["a1", "c2"], ["h2"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("PRelu", ["h2", "s2"], ["a2"]),                          # 14x14
        helper.make_node("Conv", ["a2", "c3"], ["h3"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Flatten", ["h3"], ["f"], axis=1),                       # 16*7*7
        helper.make_node("Gemm", ["f", "fc", "fcb"], ["embedding"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "template_tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 112, 112])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 32])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="xssab-plugin-template")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else Path(__file__).resolve().parent / "tiny.onnx"
    onnx.save(build(), str(out))
    print(f"wrote {out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Unit tests of the graph fixes on hand-built graphs."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from xssab.models.onnx_fix import BATCH, dims, fix_graph


def _model(nodes, inits, in_shape, out_shape, opset=9, value_info=()):
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits,
        value_info=list(value_info))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    return m


def _run(model, x):
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, {"x": x})[0]


def test_reshape_batch_target_rewritten_constant_reshape_untouched():
    rng = np.random.default_rng(0)
    mean = numpy_helper.from_array(np.array([1.0, 2.0, 3.0], np.float32), "mean")
    mshape = numpy_helper.from_array(np.array([1, 3, 1, 1], np.int64), "mshape")
    flat = numpy_helper.from_array(np.array([1, -1], np.int64), "flat")
    nodes = [
        # a parameter reshaped for broadcasting: leading 1 is NOT a batch dim
        helper.make_node("Reshape", ["mean", "mshape"], ["mean4"]),
        helper.make_node("Sub", ["x", "mean4"], ["xs"]),
        helper.make_node("Dropout", ["xs"], ["xd"], ratio=0.5),
        helper.make_node("Reshape", ["xd", "flat"], ["y"]),
    ]
    m = _model(nodes, [mean, mshape, flat], [1, 3, 2, 2], [1, 12],
               value_info=[helper.make_tensor_value_info("xs", TensorProto.FLOAT,
                                                         [1, 3, 2, 2])])
    fixed, applied = fix_graph(m)
    kinds = {a.split(":")[0] for a in applied}
    assert kinds == {"dropout", "batch", "reshape"}
    assert "Dropout" not in [n.op_type for n in fixed.graph.node]
    assert dims(fixed.graph.input[0])[0] == BATCH and dims(fixed.graph.output[0])[0] == BATCH
    assert len(fixed.graph.value_info) == 0
    inits = {t.name: numpy_helper.to_array(t) for t in fixed.graph.initializer}
    reshapes = [n for n in fixed.graph.node if n.op_type == "Reshape"]
    assert inits[reshapes[0].input[1]].tolist() == [1, 3, 1, 1]   # untouched
    assert inits[reshapes[1].input[1]].tolist() == [0, -1]        # copy the batch
    assert inits["flat"].tolist() == [1, -1]  # the original constant is not mutated
    x = rng.normal(size=(4, 3, 2, 2)).astype(np.float32)
    y = _run(fixed, x)
    assert y.shape == (4, 12)
    np.testing.assert_allclose(y, (x - np.array([1, 2, 3], np.float32)[None, :, None, None])
                               .reshape(4, 12), atol=1e-6)
    # the input model itself is left as it was
    assert dims(m.graph.input[0])[0] == 1


def test_reshape_target_from_constant_node_and_allowzero():
    c = helper.make_node("Constant", [], ["shape"], value=numpy_helper.from_array(
        np.array([1, -1], np.int64), "v"))
    r = helper.make_node("Reshape", ["x", "shape"], ["y"], allowzero=1)
    m = _model([c, r], [], [1, 2, 3], [1, 6], opset=14)
    fixed, applied = fix_graph(m)
    assert any(a.startswith("reshape") for a in applied)
    node = [n for n in fixed.graph.node if n.op_type == "Reshape"][0]
    assert not any(a.name == "allowzero" for a in node.attribute)
    x = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    np.testing.assert_array_equal(_run(fixed, x), x.reshape(2, 6))


def test_prelu_channel_slopes_reshaped_only_for_nchw():
    slope = numpy_helper.from_array(np.array([0.1, 0.2, 0.3], np.float32), "s")
    m = _model([helper.make_node("PRelu", ["x", "s"], ["y"])], [slope],
               ["batch", 3, 4, 5], ["batch", 3, 4, 5])
    fixed, applied = fix_graph(m)
    assert any(a.startswith("prelu") for a in applied)
    x = -np.ones((2, 3, 4, 5), np.float32)
    y = _run(fixed, x)
    np.testing.assert_allclose(y[:, :, 0, 0], [[-0.1, -0.2, -0.3]] * 2, atol=1e-6)
    # 2-D input [N, C]: [C] slopes already mean per channel -> untouched
    m2 = _model([helper.make_node("PRelu", ["x", "s"], ["y"])], [slope],
                ["batch", 3], ["batch", 3])
    assert not any(a.startswith("prelu") for a in fix_graph(m2)[1])


def test_fix_is_a_no_op_on_clean_graphs(small_iresnet_onnx):
    fixed, applied = fix_graph(onnx.load(str(small_iresnet_onnx)))
    assert applied == []

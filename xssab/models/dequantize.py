"""Turn a weight-only quantised ONNX model into a float32 one (a one-time conversion).

Some published face models ship only as weight-quantised ONNX files, where every weight
is an int8 initializer followed by a ``DequantizeLinear`` node (per-tensor, per-axis or,
since opset 21, blocked: ``block_size`` consecutive elements along ``axis`` share one
scale and zero point). The torch import used for gradients cannot take those nodes, so
:func:`dequantize_weights` computes each dequantised weight once,
``(q - zero_point) * scale`` in float32 exactly as the operator defines it, stores it as
an initializer under the node's output name, removes the node, and lowers the opset to
``target_opset`` when every remaining operator means the same there. The numbers the
float model computes are the numbers ONNX Runtime computes for the quantised file (the
dequantised weights are identical), which a parity check confirms.
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelLoadError

# operators whose semantics do not change between opset 13 and 21 for float tensors
_SAME_SINCE_13 = {"Conv", "BatchNormalization", "PRelu", "Reshape", "Sub", "Mul", "Add",
                  "Constant", "Dropout", "Flatten", "Gemm", "Relu", "MatMul", "Identity",
                  "GlobalAveragePool", "AveragePool", "MaxPool", "Sigmoid", "Transpose",
                  "Concat", "Div", "Shape", "Gather", "Unsqueeze", "Squeeze"}


def dequantize_array(q: np.ndarray, scale: np.ndarray, zero: np.ndarray | None,
                     axis: int = 1, block_size: int = 0) -> np.ndarray:
    """``DequantizeLinear`` in numpy: per-tensor, per-axis or blocked along ``axis``."""
    q = q.astype(np.float32)
    scale = np.asarray(scale, np.float32)
    zero = np.zeros_like(scale) if zero is None else np.asarray(zero).astype(np.float32)
    if scale.ndim == 0 or scale.size == 1 and q.ndim != scale.ndim:
        return (q - zero.reshape(())) * scale.reshape(())
    axis = axis % q.ndim
    if block_size and block_size > 0:
        n = q.shape[axis]
        scale = np.repeat(scale, block_size, axis=axis).take(range(n), axis=axis)
        zero = np.repeat(zero, block_size, axis=axis).take(range(n), axis=axis)
        return (q - zero) * scale
    shape = [1] * q.ndim
    shape[axis] = q.shape[axis]
    return (q - zero.reshape(shape)) * scale.reshape(shape)


def dequantize_weights(model, target_opset: int = 13):
    """A float32 copy of ``model`` (onnx ModelProto) without constant DequantizeLinear."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    keep, added, used = [], [], set()
    for node in g.node:
        if node.op_type != "DequantizeLinear":
            keep.append(node)
            continue
        names = list(node.input) + [""] * (3 - len(node.input))
        if names[0] not in inits or names[1] not in inits:
            raise ModelLoadError(f"DequantizeLinear {node.name!r} has a non-constant input; "
                                 "only weight-only quantisation can be converted")
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        q = numpy_helper.to_array(inits[names[0]])
        s = numpy_helper.to_array(inits[names[1]])
        z = numpy_helper.to_array(inits[names[2]]) if names[2] in inits else None
        w = dequantize_array(q, s, z, int(attrs.get("axis", 1)), int(attrs.get("block_size", 0)))
        added.append(numpy_helper.from_array(w.astype(np.float32), node.output[0]))
        used.update(n for n in names if n)
    # weights reshaped by a Reshape of constants (how the quantiser stores conv kernels):
    # fold them too, since the torch import needs conv weights as initializers
    consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    consts.update({a.name: numpy_helper.to_array(a) for a in added})
    folded = []
    for node in keep:
        if (node.op_type == "Reshape" and len(node.input) == 2
                and all(n in consts for n in node.input)):
            w, shape = consts[node.input[0]], consts[node.input[1]].astype(np.int64)
            shape = [w.shape[k] if v == 0 else int(v) for k, v in enumerate(shape)]
            arr = w.reshape(shape)
            consts[node.output[0]] = arr
            added.append(numpy_helper.from_array(arr, node.output[0]))
            used.update(node.input)
        else:
            folded.append(node)
    keep = folded
    needed = {n for node in keep for n in node.input}
    added = [a for a in added if a.name in needed]
    del g.node[:]
    g.node.extend(keep)
    still = {n for node in keep for n in node.input}
    remaining = [i for i in g.initializer if i.name not in used or i.name in still]
    del g.initializer[:]
    g.initializer.extend(remaining + added)
    # initializers listed as graph inputs (old exporters) and declared inputs no node
    # reads (left behind by the quantiser): keep only the real inputs
    init_names = {i.name for i in g.initializer}
    consumed = {n for node in g.node for n in node.input}
    real = [i for i in g.input if i.name not in init_names and i.name in consumed]
    del g.input[:]
    g.input.extend(real)
    ops = {n.op_type for n in g.node}
    if ops <= _SAME_SINCE_13:
        for imp in m.opset_import:
            if imp.domain in ("", "ai.onnx") and imp.version > target_opset:
                imp.version = target_opset
        m.ir_version = min(m.ir_version, 8)
    onnx.checker.check_model(m)
    return m


def add_outputs(model, names):
    """A copy of ``model`` whose graph also outputs the tensors ``names`` (float, any
    shape); the existing outputs keep their order and come first."""
    import onnx
    from onnx import TensorProto, helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    produced = {o for n in m.graph.node for o in n.output}
    have = {o.name for o in m.graph.output}
    inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(m).graph.value_info}
    for name in names:
        if name not in produced:
            raise ModelLoadError(f"no tensor named {name!r} in the graph to expose as output")
        if name in have:
            continue
        if name in inferred:
            m.graph.output.append(inferred[name])
        else:
            m.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, []))
    return m

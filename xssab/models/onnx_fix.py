"""Graph fixes that make real face-recognition ONNX files batch-safe and importable.

Every fix keeps the model's meaning at batch 1 and is applied to the ONE graph that both
ONNX Runtime and the onnx2torch import use:

- ``validate``: non-ONNX / truncated files and operators outside the standard ONNX domains
  become one-line :class:`~xssab.errors.ModelLoadError` messages naming file and problem.
- ``batch``: the batch dimension of every graph input and output becomes symbolic
  (``batch``); stale intermediate ``value_info`` shapes (which may carry the old 1) are
  dropped. This also fixes files that declare an output of ``[1, D]``.
- ``reshape``: constant Reshape targets whose first entry hard-codes the batch (``1``
  while the data's first dimension is the batch) get ONNX's copy semantics (``0``), so a
  batch of N stays N rows instead of silently merging into one vector.
- ``prelu``: PRelu slopes shaped ``[C]`` on an NCHW input (which ONNX would broadcast
  against the width) become ``[C, 1, 1]`` -- the channel-wise meaning they were made with.
- ``dropout``: Dropout nodes (identity at inference; old opsets have no torch converter)
  are removed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import ModelLoadError

BATCH = "batch"
_STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")


def load_onnx(path: str | Path) -> onnx.ModelProto:
    """Read and validate an ONNX file; every failure is a one-line ModelLoadError."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"model file {path} does not exist")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # DecodeError, truncated external data, ...
        raise ModelLoadError(
            f"{path} is not a readable ONNX model (not ONNX, or truncated): "
            f"{_one_line(exc)}") from None
    if not model.graph.node:
        raise ModelLoadError(f"{path} is not an ONNX model (no graph nodes; truncated or "
                             "another file type)")
    validate(model, path)
    return model


def validate(model: onnx.ModelProto, path: str | Path = "<model>") -> None:
    unsupported = sorted({(n.domain or "", n.op_type) for n in model.graph.node
                          if not _is_standard(n)})
    if unsupported:
        ops = ", ".join(f"{op}" + (f" (domain {dom})" if dom else "") for dom, op in unsupported)
        raise ModelLoadError(f"{path}: unsupported operator {ops}; only standard ONNX "
                             "operators can be imported")
    try:
        onnx.checker.check_model(skeleton(model))
    except Exception as exc:
        raise ModelLoadError(f"{path} is not a valid ONNX model (truncated or corrupt?): "
                             f"{_one_line(exc)}") from None


def _is_standard(node: onnx.NodeProto) -> bool:
    if node.domain not in _STANDARD_DOMAINS:
        return False
    return onnx.defs.has(node.op_type, node.domain or "")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    first = text.splitlines()[0].strip()
    return first[:300]


def graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    inits = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def dims(vi: onnx.ValueInfoProto) -> list:
    """Dims of a value: int, str (symbol) or None (unknown)."""
    if not vi.type.tensor_type.HasField("shape"):
        return []
    out = []
    for d in vi.type.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            out.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            out.append(d.dim_param)
        else:
            out.append(None)
    return out


def fix_graph(model: onnx.ModelProto, path: str | Path = "<model>"
              ) -> tuple[onnx.ModelProto, list[str]]:
    """Apply every fix to a copy of ``model``; returns (fixed model, fixes applied)."""
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    applied: list[str] = []
    n = _remove_dropout(fixed)
    if n:
        applied.append(f"dropout: removed {n} Dropout node(s)")
    changed = _symbolic_batch(fixed)
    if changed:
        applied.append("batch: made the batch dimension symbolic on " + ", ".join(changed))
    del fixed.graph.value_info[:]
    for _ in range(8):  # each round may expose the next hard-coded Reshape downstream
        shapes = _infer(fixed)
        n_reshape = _fix_reshapes(fixed, shapes)
        n_prelu = _fix_prelu(fixed, shapes)
        if n_reshape:
            applied.append(f"reshape: {n_reshape} Reshape target(s) hard-coding batch 1 "
                           "now copy the batch dimension")
        if n_prelu:
            applied.append(f"prelu: {n_prelu} PRelu slope(s) [C] reshaped to [C,1,1]")
        if not (n_reshape or n_prelu):
            break
    del fixed.graph.value_info[:]
    return fixed, applied


# ----------------------------------------------------------------------------- fixes
def _remove_dropout(model: onnx.ModelProto) -> int:
    g = model.graph
    outputs = {o.name for o in g.output}
    removed = 0
    for node in list(g.node):
        if node.op_type != "Dropout":
            continue
        if len(node.output) > 1 and node.output[1] and _is_used(g, node.output[1]):
            continue  # the mask is used: leave it
        src, dst = node.input[0], node.output[0]
        if dst in outputs:
            node.op_type = "Identity"
            del node.input[1:]
            del node.output[1:]
            del node.attribute[:]
        else:
            for other in g.node:
                for i, name in enumerate(other.input):
                    if name == dst:
                        other.input[i] = src
            g.node.remove(node)
        removed += 1
    return removed


def _is_used(g: onnx.GraphProto, name: str) -> bool:
    return any(name in n.input for n in g.node) or any(o.name == name for o in g.output)


def _symbolic_batch(model: onnx.ModelProto) -> list[str]:
    changed = []
    for vi in list(graph_inputs(model)) + list(model.graph.output):
        tt = vi.type.tensor_type
        if not tt.HasField("shape") or len(tt.shape.dim) == 0:
            continue
        d0 = tt.shape.dim[0]
        if d0.HasField("dim_param") and d0.dim_param == BATCH:
            continue
        d0.Clear()
        d0.dim_param = BATCH
        changed.append(vi.name)
    return changed


def skeleton(model: onnx.ModelProto, max_const: int = 4096) -> onnx.ModelProto:
    """The graph without its big weights (they become typed graph inputs): cheap to check
    and shape-infer; small constants (Reshape targets, slopes) keep their values."""
    sk = onnx.ModelProto()
    sk.ir_version = model.ir_version
    sk.opset_import.extend(model.opset_import)
    sk.producer_name = model.producer_name
    g, src = sk.graph, model.graph
    g.name = src.name
    g.node.extend(src.node)
    g.input.extend(src.input)
    g.output.extend(src.output)
    g.value_info.extend(src.value_info)
    declared = {i.name for i in src.input}
    for t in src.initializer:
        n = int(np.prod(t.dims)) if len(t.dims) else 1
        if n <= max_const:
            g.initializer.append(t)
        elif t.name not in declared:
            g.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type,
                                                              list(t.dims)))
    return sk


def _infer(model: onnx.ModelProto) -> dict[str, list]:
    try:
        inferred = onnx.shape_inference.infer_shapes(skeleton(model), strict_mode=False)
    except Exception:
        return {}
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(
            inferred.graph.output):
        shapes[vi.name] = dims(vi)
    return shapes


def _const_tensor(model: onnx.ModelProto, name: str):
    """(numpy array, setter) for a constant value name (initializer or Constant node)."""
    for t in model.graph.initializer:
        if t.name == name:
            return numpy_helper.to_array(t), "init"
    for n in model.graph.node:
        if n.op_type == "Constant" and n.output[0] == name:
            for a in n.attribute:
                if a.name == "value":
                    return numpy_helper.to_array(a.t), "const"
    return None, None


def _fresh_initializer(model: onnx.ModelProto, base: str, arr: np.ndarray) -> str:
    names = {t.name for t in model.graph.initializer} | {o for n in model.graph.node
                                                          for o in n.output}
    name, k = f"{base}__xssab", 0
    while name in names:
        k += 1
        name = f"{base}__xssab{k}"
    model.graph.initializer.append(numpy_helper.from_array(arr, name))
    return name


def _fix_reshapes(model: onnx.ModelProto, shapes: dict[str, list]) -> int:
    fixed = 0
    for node in model.graph.node:
        if node.op_type != "Reshape" or len(node.input) < 2:
            continue
        data_shape = shapes.get(node.input[0]) or []
        if not data_shape or data_shape[0] != BATCH:
            continue
        target, _ = _const_tensor(model, node.input[1])
        if target is None or target.ndim != 1 or target.size == 0 or int(target[0]) != 1:
            continue
        allowzero = [a for a in node.attribute if a.name == "allowzero"]
        if allowzero and allowzero[0].i == 1:
            if np.any(target == 0):
                continue
            node.attribute.remove(allowzero[0])
        new = target.copy()
        new[0] = 0  # ONNX Reshape: 0 = copy this dimension from the input
        node.input[1] = _fresh_initializer(model, node.input[1].replace("/", "_").strip("_")
                                           or "shape", new.astype(np.int64))
        fixed += 1
    return fixed


def _fix_prelu(model: onnx.ModelProto, shapes: dict[str, list]) -> int:
    fixed = 0
    for node in model.graph.node:
        if node.op_type != "PRelu" or len(node.input) < 2:
            continue
        x_shape = shapes.get(node.input[0]) or []
        if len(x_shape) != 4:
            continue
        slope, _ = _const_tensor(model, node.input[1])
        if slope is None or slope.ndim != 1 or slope.size <= 1:
            continue
        c, w = x_shape[1], x_shape[3]
        if c != slope.size or w == slope.size:
            continue  # ambiguous or already the ONNX meaning: leave it
        node.input[1] = _fresh_initializer(model, node.input[1].replace("/", "_").strip("_")
                                           or "slope", slope.reshape(-1, 1, 1))
        fixed += 1
    return fixed

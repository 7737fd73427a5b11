"""The torch import of a (fixed) ONNX graph: onnx2torch, frozen, eval, tuple outputs.

Used by :class:`~xssab.models.model.FaceModel` (lazily, on first use of the torch side)
and by the loader's parity check; it imports neither of them.
"""

from __future__ import annotations

import re
import warnings

import onnx
import torch

from ..errors import ModelLoadError


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def onnx_opset(model: onnx.ModelProto) -> int:
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
               default=0)


_VERSION_RE = re.compile(r"operation_type='([^']+)', version=(\d+)")


def build_torch_graph(proto: onnx.ModelProto | None, path, device: str, n_outputs: int,
                      batch1: bool):
    """onnx2torch import of the (fixed) ModelProto: eval, frozen, on device, tuple out."""
    if proto is None:
        raise ModelLoadError(f"{path}: the graph is no longer in memory; load the model again")
    gm = _convert(proto, path)
    gm.eval()
    for p in gm.parameters():
        p.requires_grad_(False)
    gm.to(device)
    return _TupleGraph(gm, n_outputs, batch1).eval()


def _convert(proto: onnx.ModelProto, path):
    from onnx2torch import convert

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return convert(proto)
        except NotImplementedError as exc:
            first = exc
        except Exception as exc:
            raise ModelLoadError(f"{path}: the torch import (onnx2torch) failed: "
                                 f"{first_line(exc)}") from None
        # an operator version onnx2torch lacks: try the graph upgraded to opset 13
        opset = onnx_opset(proto)
        if opset and opset < 13:
            try:
                from onnx import version_converter

                return convert(version_converter.convert_version(proto, 13))
            except Exception:
                pass
    m = _VERSION_RE.search(str(first))
    what = (f"operator {m.group(1)} (opset version {m.group(2)})" if m
            else first_line(first))
    raise ModelLoadError(f"{path}: unsupported operator for the torch import: {what}")


class _TupleGraph(torch.nn.Module):
    """Wraps the GraphModule: always returns a tuple; one image at a time if batch1."""

    def __init__(self, gm, n_outputs: int, batch1: bool):
        super().__init__()
        self.gm = gm
        self.n_outputs = n_outputs
        self.batch1 = batch1

    def _one(self, x):
        out = self.gm(x)
        if isinstance(out, torch.Tensor):
            out = (out,)
        return tuple(out)

    def forward(self, x):
        if not self.batch1 or x.shape[0] <= 1:
            return self._one(x)
        parts = [self._one(x[i:i + 1]) for i in range(x.shape[0])]
        return tuple(torch.cat([p[k] for p in parts]) for k in range(len(parts[0])))

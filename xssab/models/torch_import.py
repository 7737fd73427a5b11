"""The torch import of a (fixed) ONNX graph: onnx2torch, frozen, eval, tuple outputs.

Used by :class:`~xssab.models.model.FaceModel` (lazily, on first use of the torch side)
and by the loader's parity check; it imports neither of them.
"""

from __future__ import annotations

import importlib
import re
import sys
import threading
import types
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


#: onnx2torch's modules that import torchvision at import time (NonMaxSuppression and
#: RoiAlign converters: detection operators, never in a face-recognition graph)
_TORCHVISION_USERS = ("torchvision", "torchvision.ops")
_import_lock = threading.Lock()


class _DeferredModule(types.ModuleType):
    """Stands in for ``torchvision`` / ``torchvision.ops`` while onnx2torch is imported.

    Attribute access returns a callable that imports the real module when it is first
    CALLED (``from torchvision.ops import roi_align``) or, for a submodule name, the real
    submodule (``torchvision.ops.nms`` at call time, after the stand-ins are gone)."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if sys.modules.get(self.__name__) is not self:  # stand-ins gone: the real thing
            return getattr(importlib.import_module(self.__name__), name)
        owner = self.__name__

        def deferred(*args, **kwargs):
            return getattr(importlib.import_module(owner), name)(*args, **kwargs)

        deferred.__name__ = deferred.__qualname__ = name
        return deferred


def import_onnx2torch():
    """``onnx2torch.convert``, imported without importing torchvision.

    onnx2torch imports torchvision (and with it ``torch._dynamo``: ~0.6 s, a tenth of a
    200-pair benchmark run) only for its NonMaxSuppression and RoiAlign converters. While
    onnx2torch is imported, ``torchvision`` and ``torchvision.ops`` are stand-ins
    (:class:`_DeferredModule`) that resolve to the real modules when those converters
    run; they are removed right after, so any later ``import torchvision`` is the real
    one. Nothing changes where torchvision is already imported."""
    def plain() -> bool:  # onnx2torch or torchvision already there: nothing to defer
        return "onnx2torch.converter" in sys.modules or any(
            n in sys.modules for n in _TORCHVISION_USERS)

    if plain():
        from onnx2torch import convert

        return convert
    with _import_lock:
        if plain():  # another thread imported them while this one waited
            from onnx2torch import convert

            return convert
        for n in _TORCHVISION_USERS:
            sys.modules[n] = _DeferredModule(n)
        try:
            from onnx2torch import convert
        finally:
            for n in _TORCHVISION_USERS:
                if isinstance(sys.modules.get(n), _DeferredModule):
                    del sys.modules[n]
    return convert


def _convert(proto: onnx.ModelProto, path):
    convert = import_onnx2torch()

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

"""The torch import imports onnx2torch without torchvision, and onnx2torch's converters
that use torchvision still work (they import it when they run)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# in a fresh interpreter: the test process has usually imported torchvision already
SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    from xssab.models.torch_import import import_onnx2torch

    convert = import_onnx2torch()
    assert "torchvision" not in sys.modules, "torchvision was imported"
    assert "torchvision.ops" not in sys.modules

    # a graph with RoiAlign (the converter holds `from torchvision.ops import roi_align`)
    node = helper.make_node("RoiAlign", ["x", "rois", "idx"], ["y"], output_height=2,
                            output_width=2, sampling_ratio=2, spatial_scale=1.0,
                            mode="avg", coordinate_transformation_mode="half_pixel")
    g = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 6, 6]),
         helper.make_tensor_value_info("rois", TensorProto.FLOAT, [2, 4]),
         helper.make_tensor_value_info("idx", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 1, 2, 2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 16)])
    gm = convert(m)
    import torch
    x = torch.arange(36, dtype=torch.float32).reshape(1, 1, 6, 6)
    rois = torch.tensor([[0.0, 0.0, 4.0, 4.0], [1.0, 1.0, 5.0, 3.0]])
    y = gm(x, rois, torch.zeros(2, dtype=torch.int64))
    assert "torchvision" in sys.modules, "the converter did not import torchvision"
    import torchvision
    ref = torchvision.ops.roi_align(x, torch.cat([torch.zeros(2, 1), rois], 1), (2, 2),
                                    spatial_scale=1.0, sampling_ratio=2, aligned=True)
    assert torch.equal(y, ref), (y, ref)

    # the NonMaxSuppression converter (`import torchvision`, used as torchvision.ops.nms)
    import onnx2torch.node_converters.nms as nms_mod
    assert nms_mod.torchvision.ops.nms is torchvision.ops.nms
    assert sys.modules["torchvision"] is torchvision
    print("ok")
""")


def test_onnx2torch_imported_without_torchvision_and_converters_still_work():
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "ok"


def test_import_when_torchvision_is_already_there():
    import torchvision  # noqa: F401

    from xssab.models.torch_import import _DeferredModule, import_onnx2torch

    convert = import_onnx2torch()
    assert callable(convert)
    assert not isinstance(sys.modules["torchvision"], _DeferredModule)
    assert not isinstance(sys.modules.get("torchvision.ops"), _DeferredModule)

"""SCRFD decoding (strides 8/16/32, 2 anchors, distance2bbox / distance2kps) on graphs built
here with InsightFace's output layout, and the SCRFD cards."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from xssab.align.scrfd import ScrfdDetector, anchor_centres, decode
from xssab.errors import WeightsMissingError
from xssab.models.card import ModelCard

H = W = 64
STRIDES = (8, 16, 32)


def _planted():
    """Outputs (without batch) with two faces planted at stride 8 and one at stride 16."""
    outs = {}
    for s in STRIDES:
        rows = (H // s) * (W // s) * 2
        outs[s] = [np.zeros((rows, 1), np.float32), np.zeros((rows, 4), np.float32),
                   np.zeros((rows, 10), np.float32)]
    sc8, bb8, kp8 = outs[8]
    r = (2 * 8 + 3) * 2 + 1          # cell x=3, y=2, anchor 1 -> centre (24, 16)
    sc8[r], bb8[r] = 0.9, [1, 1, 2, 2]
    kp8[r] = [0.5, -0.5, 1, 0, 0, 0.5, -0.5, 1, 0.5, 1]
    sc8[r - 1], bb8[r - 1] = 0.8, [1, 1, 2, 2]      # same cell, anchor 0: suppressed by NMS
    sc8[r + 2] = 0.3                                 # below the 0.5 threshold
    sc16, bb16, kp16 = outs[16]
    r16 = (3 * 4 + 3) * 2                            # x=3, y=3 -> centre (48, 48)
    sc16[r16], bb16[r16] = 0.7, [0.5, 0.5, 0.5, 1.0]
    order = [outs[s][0] for s in STRIDES] + [outs[s][1] for s in STRIDES] + \
        [outs[s][2] for s in STRIDES]
    return order


def _graph(path, batched: bool):
    consts = _planted()
    nodes, inits, outputs = [], [], []
    axes = numpy_helper.from_array(np.array([1, 2, 3], np.int64), "axes")
    inits.append(axes)
    nodes.append(helper.make_node("ReduceMean", ["input.1", "axes"], ["m"], keepdims=1))
    zero = numpy_helper.from_array(np.zeros((), np.float32), "zero")
    inits.append(zero)
    nodes.append(helper.make_node("Mul", ["m", "zero"], ["z4"]))  # (N,1,1,1) zeros
    shape = numpy_helper.from_array(np.array([-1, 1, 1], np.int64), "shape3")
    inits.append(shape)
    nodes.append(helper.make_node("Reshape", ["z4", "shape3"], ["z3"]))
    if not batched:
        nodes.append(helper.make_node("ReduceMean", ["z3"], ["z"], keepdims=0))
    names = [f"{kind}_{s}" for kind in ("score", "bbox", "kps") for s in STRIDES]
    for name, c in zip(names, consts):
        cname = name + "_c"
        inits.append(numpy_helper.from_array(c[None] if batched else c, cname))
        nodes.append(helper.make_node("Add", [cname, "z3" if batched else "z"], [name]))
        shp = (["N", *c.shape] if batched else list(c.shape))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shp))
    inp = helper.make_tensor_value_info("input.1", TensorProto.FLOAT,
                                        ["N" if batched else 1, 3, H, W])
    g = helper.make_graph(nodes, "scrfd_layout", [inp], outputs, inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def test_anchor_centres_layout():
    c = anchor_centres(64, 64, 16)
    assert c.shape == (32, 2)
    np.testing.assert_array_equal(c[:4], [[0, 0], [0, 0], [16, 0], [16, 0]])
    np.testing.assert_array_equal(c[8], [0, 16])


def test_decode_distance2bbox_and_kps():
    boxes, scores, kps = decode(_planted(), (H, W), threshold=0.5)
    assert len(scores) == 3
    i = int(np.argmax(scores))
    np.testing.assert_allclose(boxes[i], [16, 8, 40, 32])
    np.testing.assert_allclose(kps[i], [[28, 12], [32, 16], [24, 20], [20, 24], [28, 24]])
    j = int(np.argmin(scores))
    np.testing.assert_allclose(boxes[j], [40, 40, 56, 64])
    with pytest.raises(ValueError, match="anchors"):
        decode(_planted(), (H, W + 32))


@pytest.mark.parametrize("batched", [False, True])
def test_detector_on_a_built_graph_maps_back_to_the_photo(tmp_path, batched):
    path = _graph(tmp_path / "scrfd.onnx", batched)
    card = ModelCard(name="scrfd-test", path=str(path), input_size=(H, W), std=128.0)
    det = ScrfdDetector(card)
    wide = np.zeros((128, 256, 3), np.uint8)     # letterbox scale 0.25
    tall = np.zeros((256, 128), np.uint8)        # gray; scale 0.25 as well, other axis
    small = np.zeros((32, 32, 3), np.uint8)      # scale 2
    res = det.detect([wide, tall, small])
    assert [len(r) for r in res] == [2, 2, 2]    # the anchor-0 duplicate is suppressed
    best = res[0][0]
    np.testing.assert_allclose(best.box, np.array([16, 8, 40, 32]) / 0.25)
    np.testing.assert_allclose(best.landmarks[0], np.array([28, 12]) / 0.25)
    assert best.score == pytest.approx(0.9)
    np.testing.assert_allclose(res[2][0].box, np.array([16, 8, 40, 32]) / 2.0)


def test_scrfd_cards_are_registered_and_need_their_weights():
    from xssab import registry

    dets = registry.detectors()
    assert {"mtcnn", "scrfd-10g", "scrfd-500m"} <= set(dets)
    card = dets["scrfd-10g"].card
    assert card.file_name == "det_10g.onnx" and card.extra["archive_member"] == "det_10g.onnx"
    assert not card.sha256  # unknown here: the card says so
    assert registry.plugin_of("detectors", "mtcnn") == "xssab._builtin_detectors"
    with pytest.raises(WeightsMissingError):
        dets["scrfd-500m"].detect([np.zeros((64, 64, 3), np.uint8)])


def test_models_fetch_accepts_a_detector_card(monkeypatch):
    import io

    from rich.console import Console

    from xssab.cli.main import main
    from xssab.models import cache

    seen = {}

    def fake_fetch(card, force=False, **_):
        seen["card"] = card
        raise WeightsMissingError(f"offline: put {card.file_name} in the cache")

    monkeypatch.setattr(cache, "fetch", fake_fetch)
    buf = io.StringIO()
    code = main(["models", "fetch", "scrfd-500m"], console=Console(file=buf, width=200))
    assert code == 2 and "det_500m.onnx" in buf.getvalue()
    assert seen["card"].name == "scrfd-500m"

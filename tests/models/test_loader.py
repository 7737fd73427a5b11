"""load_model: resolution, overrides, thresholds, one-line errors, parity failures."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import xssab
from xssab.errors import ModelLoadError, ParityError, UnknownNameError, WeightsMissingError
from xssab.models import cache, loader


def _tiny_graph(path, body, out_shape, in_hw=(8, 8), extra_inits=(), opset=13, domain=None):
    """input [batch,3,H,W] -> nodes in ``body`` -> 'emb'."""
    graph = helper.make_graph(
        body, "t",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, *in_hw])],
        [helper.make_tensor_value_info("emb", TensorProto.FLOAT, out_shape)],
        list(extra_inits))
    ops = [helper.make_opsetid("", opset)]
    if domain:
        ops.append(helper.make_opsetid(domain, 1))
    model = helper.make_model(graph, opset_imports=ops)
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _one_line(exc):
    return "\n" not in str(exc.value) and str(exc.value)


def test_load_by_path_and_repr(small_iresnet_onnx):
    m = xssab.load_model(str(small_iresnet_onnx))
    assert m.name == "small_iresnet" and m.path == small_iresnet_onnx.resolve()
    assert m.device == "cpu" and m.input_size == (112, 112) and m.embedding_size == 64
    assert m.input_name == "input" and m.output_names == ["embedding"]
    assert m.threshold is None and m.threshold_source is None
    assert m.session.get_providers() == ["CPUExecutionProvider"]
    # pathlib.Path works too
    assert xssab.load_model(small_iresnet_onnx).embedding_size == 64


def test_overrides_change_preprocessing(small_iresnet_onnx):
    img = np.random.default_rng(0).integers(0, 255, (112, 112, 3), dtype=np.uint8)
    rgb = xssab.load_model(str(small_iresnet_onnx))
    bgr = xssab.load_model(str(small_iresnet_onnx), channel_order="bgr", mean=0, std=255,
                           name="mine", threshold=0.3)
    assert bgr.name == "mine" and bgr.threshold == 0.3 and bgr.threshold_source == "override"
    x = bgr.preprocess(img)
    np.testing.assert_allclose(x[0, 0], img[:, :, 2] / 255.0, atol=1e-6)
    assert not np.allclose(rgb.embed(img), bgr.embed(img))
    with pytest.raises(xssab.XssabError, match="unknown load_model option 'colour'"):
        xssab.load_model(str(small_iresnet_onnx), colour="bgr")
    with pytest.raises(ModelLoadError, match="takes 112x112"):
        xssab.load_model(str(small_iresnet_onnx), input_size=(96, 96))


def test_threshold_precedence(small_iresnet_onnx, fake_plugin):
    card = xssab.ModelCard(name="thr-model", path=str(small_iresnet_onnx), threshold=0.25)

    class P:
        @xssab.hookimpl
        def register_models(self, register):
            register(card)

    fake_plugin(P(), "thr-plugin")
    m = xssab.load_model("thr-model")
    assert (m.threshold, m.threshold_source) == (0.25, "card")
    assert m.card.plugin == "thr-plugin"
    cache.write_calibration("thr-model", {"threshold": 0.4, "dataset": "synth"})
    m = xssab.load_model("thr-model")
    assert (m.threshold, m.threshold_source) == (0.4, "calibrated")
    m = xssab.load_model("thr-model", threshold=0.1)
    assert (m.threshold, m.threshold_source) == (0.1, "override")


def test_card_with_relative_path_and_base_dir(small_iresnet_onnx, tmp_path):
    import shutil

    shutil.copy(small_iresnet_onnx, tmp_path / "rel.onnx")
    (tmp_path / "rel.toml").write_text('name = "rel"\npath = "rel.onnx"\nthreshold = 0.5\n')
    card = xssab.ModelCard.from_toml(tmp_path / "rel.toml")
    m = xssab.load_model(card)
    assert m.path == tmp_path / "rel.onnx" and m.threshold == 0.5


def test_card_uses_cache_dir_file(small_iresnet_onnx, xssab_home):
    import shutil

    card = xssab.ModelCard(name="cached", file_name="cached.onnx")
    with pytest.raises(WeightsMissingError) as exc:
        xssab.load_model(card)
    assert str(xssab_home / "models" / "cached.onnx") in str(exc.value)
    (xssab_home / "models").mkdir()
    shutil.copy(small_iresnet_onnx, xssab_home / "models" / "cached.onnx")
    assert xssab.load_model(card).path == xssab_home / "models" / "cached.onnx"


def test_zoo_card_without_weights_never_substitutes(small_iresnet_onnx, xssab_home):
    with pytest.raises(WeightsMissingError) as exc:
        xssab.load_model("arcface")
    msg = str(exc.value)
    assert "w600k_r50.onnx" in msg and str(xssab_home / "models") in msg
    assert "How to obtain" in msg and "\n" not in msg


def test_unknown_name_and_missing_file(tmp_path):
    with pytest.raises(UnknownNameError, match="arcfce.*Did you mean: arcface"):
        xssab.load_model("arcfce")
    with pytest.raises(ModelLoadError, match="does not exist") as exc:
        xssab.load_model(str(tmp_path / "nope.onnx"))
    assert _one_line(exc)


def test_not_onnx_and_truncated(small_iresnet_onnx, tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is a JPEG, honest\x00\xff" * 50)
    with pytest.raises(ModelLoadError) as exc:
        xssab.load_model(str(junk))
    assert str(junk) in str(exc.value) and _one_line(exc)
    data = small_iresnet_onnx.read_bytes()
    for cut in (len(data) // 2, len(data) - 7, 100):
        trunc = tmp_path / f"trunc{cut}.onnx"
        trunc.write_bytes(data[:cut])
        with pytest.raises(ModelLoadError) as exc:
            xssab.load_model(str(trunc))
        assert str(trunc) in str(exc.value) and _one_line(exc)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="empty.onnx"):
        xssab.load_model(str(empty))


def test_unsupported_custom_operator(tmp_path):
    path = _tiny_graph(tmp_path / "custom.onnx",
                       [helper.make_node("FancyPool", ["input"], ["emb"], domain="com.acme")],
                       ["batch", 3], domain="com.acme")
    with pytest.raises(ModelLoadError, match="FancyPool") as exc:
        xssab.load_model(str(path))
    assert str(path) in str(exc.value) and _one_line(exc)


def test_operator_without_torch_converter(tmp_path):
    """Det runs in ONNX Runtime but onnx2torch has no converter: named in the error."""
    path = _tiny_graph(tmp_path / "det.onnx",
                       [helper.make_node("Det", ["input"], ["emb"])], ["batch", 3])
    with pytest.raises(ModelLoadError, match="Det") as exc:
        xssab.load_model(str(path))
    assert str(path) in str(exc.value) and _one_line(exc)


def test_parity_error_reports_the_difference(tmp_path):
    """PRelu slope [C] on an NCHW tensor with C == W: ONNX broadcasts the slope over the
    width, onnx2torch applies it per channel -- a real ORT/torch disagreement."""
    slope = numpy_helper.from_array(np.linspace(0.0, 0.9, 8).astype(np.float32), "slope")
    w = numpy_helper.from_array(
        np.random.default_rng(0).normal(0, 0.5, (8, 3, 1, 1)).astype(np.float32), "w")
    path = _tiny_graph(tmp_path / "ambiguous.onnx",
                       [helper.make_node("Conv", ["input", "w"], ["c"]),
                        helper.make_node("PRelu", ["c", "slope"], ["p"]),
                        helper.make_node("Flatten", ["p"], ["emb"])],
                       ["batch", 512], extra_inits=[slope, w])
    with pytest.raises(ParityError) as exc:
        xssab.load_model(str(path))
    msg = str(exc.value)
    assert "max abs difference" in msg and str(path) in msg and _one_line(exc)
    diff = float(msg.split("embeddings ")[1].split(" ")[0])
    assert diff > 1e-4
    m = xssab.load_model(str(path), check_parity=False)  # opt-out still loads
    assert m.parity_diff is None


def test_cuda_request_is_a_clear_error_without_cuda(small_iresnet_onnx):
    import onnxruntime as ort
    import torch

    if "CUDAExecutionProvider" in ort.get_available_providers() and torch.cuda.is_available():
        m = xssab.load_model(str(small_iresnet_onnx), device="cuda")
        assert m.session.get_providers()[0] == "CUDAExecutionProvider"
        assert next(m.torch_module.parameters()).is_cuda
        return
    with pytest.raises(ModelLoadError, match="cuda") as exc:
        xssab.load_model(str(small_iresnet_onnx), device="cuda")
    assert _one_line(exc)
    with pytest.raises(xssab.XssabError, match="unknown device"):
        xssab.load_model(str(small_iresnet_onnx), device="tpu")


def test_unbatchable_graph_falls_back_to_one_by_one(tmp_path):
    """A Reshape target [1, -1] computed at run time cannot be rewritten: the model must
    still embed batches correctly (one image at a time) in ORT and torch."""
    shape = numpy_helper.from_array(np.array([1, -1], np.int64), "shape_const")
    w = numpy_helper.from_array(
        np.random.default_rng(1).normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32), "w")
    fc = numpy_helper.from_array(
        np.random.default_rng(2).normal(0, 0.1, (16, 4 * 6 * 6)).astype(np.float32), "fc")
    body = [helper.make_node("Conv", ["input", "w"], ["c"]),
            # the target goes through an Identity: not a constant the fix can see
            helper.make_node("Identity", ["shape_const"], ["shape_rt"]),
            helper.make_node("Reshape", ["c", "shape_rt"], ["r"]),
            helper.make_node("Gemm", ["r", "fc"], ["emb"], transB=1)]
    path = _tiny_graph(tmp_path / "runtime_reshape.onnx", body, [1, 16],
                       extra_inits=[shape, w, fc])
    m = xssab.load_model(str(path))
    assert m.batch1 and any(f.startswith("batch1") for f in m.fixes)
    ims = np.random.default_rng(3).integers(0, 255, (4, 8, 8, 3), dtype=np.uint8)
    batch = m.embed(ims)
    singles = np.concatenate([m.embed(ims[i]) for i in range(4)])
    assert batch.shape == (4, 16)
    np.testing.assert_allclose(batch, singles, atol=1e-5)
    import torch

    with torch.no_grad():
        t = m.torch_module(m.input_tensor(ims)).numpy()
    np.testing.assert_allclose(t, batch, atol=1e-4)


def test_parity_checked_once_per_file(small_iresnet_onnx, monkeypatch):
    xssab.load_model(str(small_iresnet_onnx))
    calls = []
    from xssab.models import model as model_mod

    orig = model_mod.build_torch_graph
    monkeypatch.setattr(model_mod, "build_torch_graph",
                        lambda *a, **k: calls.append(1) or orig(*a, **k))
    m = xssab.load_model(str(small_iresnet_onnx))
    assert calls == [] and m.parity_diff is not None  # torch import stays lazy
    m.torch_module
    assert calls == [1]


def test_embed_accepts_many_image_forms(small_iresnet_onnx):
    m = xssab.load_model(str(small_iresnet_onnx))
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (112, 112, 3), dtype=np.uint8)
    big = rng.integers(0, 255, (250, 200, 3), dtype=np.uint8)
    gray = rng.integers(0, 255, (112, 112), dtype=np.uint8)
    rgba = np.dstack([rgb, np.full((112, 112), 255, np.uint8)])
    out = m.embed([rgb, big, gray, gray[:, :, None], rgba], align=False)  # no faces
    assert out.shape == (5, 64) and out.dtype == np.float32
    np.testing.assert_allclose(out[4], out[0], atol=1e-5)  # alpha dropped
    np.testing.assert_allclose(out[2], out[3], atol=1e-5)
    np.testing.assert_allclose(out[2], m.embed(np.dstack([gray] * 3))[0], atol=1e-5)
    n = m.embed(rgb, normalize=True)
    assert abs(float(np.linalg.norm(n)) - 1) < 1e-5
    assert m.embed(np.stack([rgb] * 7), batch_size=3).shape == (7, 64)
    assert m.embed([]).shape == (0, 64)
    assert m.embed_input(m.preprocess(rgb)).shape == (1, 64)


def test_old_opset_torch_converter_bug_is_caught_and_worked_around(tmp_path):
    """onnx2torch's Pad-2 (opset 9) drops the pad value: the parity check sees it and the
    torch import switches to the graph upgraded to opset 13, on every later load too."""
    path = _tiny_graph(tmp_path / "pad9.onnx",
                       [helper.make_node("Pad", ["input"], ["p"], pads=[0, 0, 1, 1, 0, 0, 1, 1],
                                         mode="constant", value=0.5),
                        helper.make_node("Flatten", ["p"], ["emb"])],
                       ["batch", 3 * 10 * 10], opset=9)
    import torch

    ims = np.random.default_rng(0).integers(0, 255, (3, 8, 8, 3), dtype=np.uint8)
    for _ in range(2):  # second load: parity memoised, lazy import must still be right
        m = xssab.load_model(str(path))
        assert any(f.startswith("opset") for f in m.fixes)
        with torch.no_grad():
            t = m.torch_module(m.input_tensor(ims)).numpy()
        np.testing.assert_allclose(t, m.embed(ims), atol=1e-5)
        assert np.allclose(t.reshape(3, 3, 10, 10)[:, :, 0, 0], 0.5)


def test_ort_device_is_separate_from_the_torch_device(small_iresnet_onnx):
    import onnxruntime as ort

    from xssab.errors import XssabError

    m = xssab.load_model(str(small_iresnet_onnx), device="cpu", ort_device="cpu")
    assert m.device == "cpu" and m.ort_device == "cpu"
    assert xssab.load_model(str(small_iresnet_onnx)).ort_device == "cpu"
    with pytest.raises(XssabError, match="unknown device"):
        xssab.load_model(str(small_iresnet_onnx), ort_device="tpu")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        # ONNX Runtime asked for CUDA without the provider: a clear one-line error
        with pytest.raises(ModelLoadError, match="CUDAExecutionProvider"):
            xssab.load_model(str(small_iresnet_onnx), device="cpu", ort_device="cuda")


# ---------------------------------------------------------------- hostile models (#13)
def test_scalar_output_is_a_one_line_error(tmp_path):
    path = _tiny_graph(tmp_path / "scalar.onnx",
                       [helper.make_node("ReduceMean", ["input"], ["emb"], keepdims=0)], [])
    with pytest.raises(ModelLoadError, match=r"shape \[\].*\(N, D\)") as exc:
        xssab.load_model(str(path))
    assert _one_line(exc)


def test_huge_input_refused_before_allocating(tmp_path):
    path = _tiny_graph(tmp_path / "huge.onnx",
                       [helper.make_node("ReduceMean", ["input"], ["emb"], axes=[2, 3],
                                         keepdims=0)], ["batch", 3], in_hw=(100000, 100000))
    with pytest.raises(ModelLoadError, match="100000x100000.*refused") as exc:
        xssab.load_model(str(path))
    assert _one_line(exc)


def relu_mean_graph(path, nan_on_black=False):
    """emb = mean(relu(x)) per channel: zero on a black image (NaN with ``nan_on_black``:
    emb / mean(emb)), finite and non-zero on the load probe."""
    body = [helper.make_node("Relu", ["input"], ["r"]),
            helper.make_node("ReduceMean", ["r"], ["m" if nan_on_black else "emb"],
                             axes=[2, 3], keepdims=0)]
    if nan_on_black:
        body += [helper.make_node("ReduceMean", ["m"], ["s"], axes=[1], keepdims=1),
                 helper.make_node("Div", ["m", "s"], ["emb"])]
    return _tiny_graph(path, body, ["batch", 3], in_hw=(112, 112))


@pytest.mark.parametrize("nan", [False, True])
def test_zero_or_nan_embedding_says_what_happened(tmp_path, nan):
    from xssab.errors import XssabError

    m = xssab.load_model(str(relu_mean_graph(tmp_path / f"z{nan}.onnx", nan)), threshold=0.3)
    black = np.zeros((112, 112, 3), np.uint8)
    grey = np.full((112, 112, 3), 200, np.uint8)
    word = r"non-finite \(NaN/Inf\)" if nan else "zero"
    with pytest.raises(XssabError, match=f"{word} embedding for image 1") as exc:
        m.embed([grey, black])
    assert _one_line(exc)
    with pytest.raises(XssabError, match=f"{word} embedding") as exc:
        xssab.explain(m, grey, black)  # was: NaN maps and "NO MATCH"
    assert _one_line(exc)

"""xssab.explain / explain_pairs: threshold resolution, validation, method routing."""

from __future__ import annotations

import numpy as np
import pytest

import xssab
from tests.graphs import export_onnx, random_faces, small_iresnet
from xssab.explain.api import resolve_threshold
from xssab.explain.random_baseline import Options as RandomOptions
from xssab.models import cache


@pytest.fixture(scope="module")
def onnx_path(tmp_path_factory):
    return export_onnx(small_iresnet(seed=7), tmp_path_factory.mktemp("api") / "m.onnx")


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture()
def faces():
    return random_faces(4, seed=21)


def test_threshold_resolution_order(onnx_path, home, faces):
    m = xssab.load_model(str(onnx_path))
    assert m.threshold is None
    with pytest.raises(xssab.ThresholdError) as err:
        xssab.explain(m, faces[0], faces[1])
    msg = str(err.value)
    assert "\n" not in msg and "xssab calibrate --model m --dataset" in msg
    # explicit argument
    assert xssab.explain(m, faces[0], faces[1], threshold=0.123).threshold == 0.123
    # calibrated override (stored in XSSAB_HOME) is picked up by the loader
    cache.write_calibration(m.name, {"threshold": 0.31, "dataset": "synth"})
    m2 = xssab.load_model(str(onnx_path))
    assert resolve_threshold(m2, None) == pytest.approx(0.31)
    res = xssab.explain(m2, faces[0], faces[1])
    assert res.threshold == pytest.approx(0.31) and res.match == (res.similarity >= 0.31)
    # explicit beats everything
    assert xssab.explain(m2, faces[0], faces[1], threshold=-0.5).threshold == -0.5
    with pytest.raises(xssab.XssabError, match="finite"):
        resolve_threshold(m2, float("nan"))


def test_input_validation(onnx_path, home, faces):
    m = xssab.load_model(str(onnx_path), threshold=0.2)
    with pytest.raises(xssab.XssabError, match="3 first images and 2 second"):
        xssab.explain_pairs(m, list(faces[:3]), list(faces[:2]))
    with pytest.raises(xssab.XssabError, match="uint8"):
        xssab.explain(m, faces[0].astype(np.float32), faces[1])
    with pytest.raises(xssab.XssabError, match=r"shape \(H, W, 3\)"):
        xssab.explain(m, faces[0][:, :, :2], faces[1])
    with pytest.raises(xssab.XssabError, match="numpy"):
        xssab.explain(m, "a.jpg", faces[1])
    with pytest.raises(xssab.XssabError, match="sides"):
        xssab.explain_pairs(m, faces[:1], faces[1:2], sides="b")
    with pytest.raises(xssab.UnknownNameError, match="xssab"):
        xssab.explain(m, faces[0], faces[1], method="xsab")
    assert xssab.explain_pairs(m, [], []) == []


def test_accepts_batches_gray_and_rgba(onnx_path, home, faces):
    m = xssab.load_model(str(onnx_path), threshold=0.2)
    res = xssab.explain_pairs(m, faces[:2], faces[2:])  # (N, H, W, 3) arrays
    assert len(res) == 2 and res[1].b.combined.shape == (112, 112)
    gray = faces[0].mean(axis=2).astype(np.uint8)
    rgba = np.concatenate([faces[1], np.full((112, 112, 1), 255, np.uint8)], axis=2)
    r = xssab.explain(m, gray, rgba)
    assert r.a.combined.shape == (112, 112) and r.b.positive.shape == (112, 112)
    # an RGBA image explains like its RGB part
    r2 = xssab.explain(m, gray, faces[1])
    assert abs(r.similarity - r2.similarity) < 1e-6
    np.testing.assert_allclose(r.b.combined, r2.b.combined, atol=1e-9)


def test_random_method_seeded_per_pair(onnx_path, home, faces):
    m = xssab.load_model(str(onnx_path), threshold=0.2)
    from xssab.explain.passes import count_passes

    with count_passes(m) as c:
        res = xssab.explain_pairs(m, faces[:3], faces[1:4], method="random")
    assert (c.ort_forward, c.torch_forward, c.backward) == (6, 0, 0)  # A and B embedded
    again = xssab.explain_pairs(m, faces[:3], faces[1:4], method="random")
    for x, y in zip(res, again):
        assert np.array_equal(x.a.combined, y.a.combined)
        assert x.forward_passes == 2 and x.backward_passes == 0
        assert x.a.combined.shape == (112, 112)
    assert not np.array_equal(res[0].a.combined, res[1].a.combined)
    # the same pair index gives the same map, however the pairs are batched
    tail = xssab.explain_pairs(m, faces[2:3], faces[3:4], method="random",
                               options=RandomOptions(index_offset=2))
    assert np.array_equal(tail[0].a.combined, res[2].a.combined)
    other = xssab.explain_pairs(m, faces[:1], faces[1:2], method="random", options={"seed": 9})
    assert not np.array_equal(other[0].a.combined, res[0].a.combined)
    # the similarity is the model's (same as xSSAB's, up to ORT vs torch)
    xs = xssab.explain(m, faces[0], faces[1])
    assert abs(xs.similarity - res[0].similarity) < 1e-5
    assert xssab.explain_pairs(m, faces[:1], faces[1:2], method="random",
                               sides="a")[0].b is None


def test_registered_and_public(home):
    methods = xssab.list_methods()
    assert "xssab" in methods and "random" in methods
    assert xssab.get_method("xssab").supports(object()) is not None


def test_device_must_match_the_model(onnx_path, home, faces):
    m = xssab.load_model(str(onnx_path), threshold=0.2)
    assert xssab.explain(m, faces[0], faces[1], device="cpu").a.combined.shape == (112, 112)
    with pytest.raises(xssab.XssabError, match="loaded on cpu; load it with device='cuda'"):
        xssab.explain(m, faces[0], faces[1], device="cuda")
    with pytest.raises(xssab.XssabError, match="unknown device 'tpu'"):
        xssab.explain(m, faces[0], faces[1], device="tpu")
    # "gpu" is accepted by load_model (as "cuda"), so explain takes it too: it reaches the
    # same "loaded on cpu" check as "cuda" instead of being rejected as unknown
    with pytest.raises(xssab.XssabError, match="loaded on cpu; load it with device='cuda'"):
        xssab.explain(m, faces[0], faces[1], device="gpu")


def test_embedded_synth_model_uses_its_card_threshold(home, faces):
    m = xssab.load_model("synth-arcface")
    assert m.threshold_source == "card" and m.threshold is not None
    res = xssab.explain(m, faces[0], faces[1])
    assert res.threshold == pytest.approx(m.threshold)
    assert res.a.combined.shape == (112, 112) and np.isfinite(res.b.combined).all()
    emb = m.embed(faces[:2], normalize=True)
    assert abs(float(emb[0] @ emb[1]) - res.similarity) < 1e-4  # ORT vs torch import


def test_explanation_repr_is_one_line_without_arrays():
    maps = xssab.ImageMaps(*(np.zeros((97, 83), np.float32) for _ in range(3)))
    e = xssab.Explanation("xssab", 0.51234, 0.3, True, maps, None, forward_passes=2,
                          backward_passes=2, extras={"big": np.zeros(1000)})
    text = repr(e)
    assert "\n" not in text and len(text) < 160 and "array" not in text
    assert text == ("Explanation(method='xssab', similarity=0.5123, threshold=0.3000, "
                    "match=True, a=97x83, b=None, passes=2f+2b)")

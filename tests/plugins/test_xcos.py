"""xCos comparator and maps: uniform (untrained) and trained attention heads."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

import xssab
from tests.plugins.tiny import THRESHOLD, faces, load_tiny, tiny_model_path
from xssab.registry import get_comparator, get_explainer
from xssab_xcos.method import TRAINED, UNIFORM


class _Head(nn.Module):
    """A small attention head: (grid_a, grid_b) -> softmax weights over the cells."""

    def __init__(self, c):
        super().__init__()
        self.shared = nn.Conv2d(c, 4, 3, padding=1)
        self.mix = nn.Conv2d(8, 1, 3, padding=1)

    def forward(self, grid_a, grid_b):
        h = torch.cat([self.shared(grid_a), self.shared(grid_b)], dim=1)
        s = self.mix(torch.relu(h)).flatten(1)
        return torch.softmax(s, dim=1).reshape(-1, grid_a.shape[2], grid_a.shape[3])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("xcos")


@pytest.fixture(scope="module")
def uniform_model(folder):
    return load_tiny(folder)


def _manual_grids(model, a, b):
    out = model.run_outputs([a, b], names=["features", "embedding"])
    ga, gb = out["features"][0].astype(np.float64), out["features"][1].astype(np.float64)
    cos = (ga * gb).sum(0) / (np.linalg.norm(ga, axis=0) * np.linalg.norm(gb, axis=0))
    return cos, ga, gb


def _bilinear(grid, hw):
    t = torch.tensor(np.asarray(grid, np.float64))[None, None]
    up = torch.nn.functional.interpolate(t, size=tuple(hw), mode="bilinear",
                                         align_corners=False)
    return up[0, 0].numpy()


def test_uniform_variant_maps_and_score(uniform_model):
    img = faces(2, seed=41)
    big = faces(1, size=(150, 130), seed=42)[0]
    (res,) = get_explainer("xcos").explain_pairs(uniform_model, [img[0]], [big], THRESHOLD)
    cos, _, _ = _manual_grids(uniform_model, img[0], big)
    assert cos.shape == (7, 7)
    np.testing.assert_allclose(np.array(res.extras["cos_grid"]), cos, atol=1e-6)
    np.testing.assert_allclose(np.array(res.extras["weights"]), np.full((7, 7), 1 / 49))
    assert res.extras["xcos"] == pytest.approx(cos.mean(), abs=1e-6)
    assert res.extras["variant"] == UNIFORM == "xcos-uniform (untrained attention)"
    assert res.a.combined.shape == (112, 112) and res.b.combined.shape == (150, 130)
    assert res.a.combined.dtype == np.float32
    # the maps are the grid upsampled bilinearly to each image (half-pixel centres; the
    # oracle is torch's interpolate, not the cv2 resize the plugin uses)
    for maps, hw in ((res.a, (112, 112)), (res.b, (150, 130))):
        up = _bilinear(cos, hw)
        np.testing.assert_allclose(maps.combined, up, atol=1e-5)
        np.testing.assert_allclose(maps.positive, np.maximum(up, 0), atol=1e-5)
        np.testing.assert_allclose(maps.negative, np.maximum(-up, 0), atol=1e-5)
    emb = uniform_model.embed([img[0], big], normalize=True, align=False)
    assert res.similarity == pytest.approx(float(emb[0] @ emb[1]), abs=1e-5)
    score = get_comparator("xcos").compare(uniform_model, [img[0]], [big])
    assert score.shape == (1,) and score[0] == pytest.approx(res.extras["xcos"])


def test_trained_attention_head(folder):
    base = load_tiny(folder)
    c = base.run_outputs(faces(1), names=["features"])["features"].shape[1]
    torch.manual_seed(0)
    head = _Head(c).eval()
    att = folder / "heads" / "att.onnx"
    att.parent.mkdir(exist_ok=True)
    g = torch.zeros(1, c, 7, 7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(head, (g, g), str(att), input_names=["grid_a", "grid_b"],
                          output_names=["weights"], dynamo=False, opset_version=13,
                          dynamic_axes={"grid_a": {0: "n"}, "grid_b": {0: "n"},
                                        "weights": {0: "n"}})
    card = xssab.ModelCard(name="tiny-xcos", path=str(tiny_model_path(folder)),
                           feature_output="features", threshold=THRESHOLD,
                           extra={"xcos_attention": "heads/att.onnx"}, base_dir=str(folder))
    model = xssab.load_model(card)
    img = faces(4, seed=43)
    res = get_explainer("xcos").explain_pairs(model, [img[0], img[2]], [img[1], img[3]],
                                              THRESHOLD)
    scores = get_comparator("xcos").compare(model, [img[0], img[2]], [img[1], img[3]])
    for i, (a, b) in enumerate([(img[0], img[1]), (img[2], img[3])]):
        cos, ga, gb = _manual_grids(model, a, b)
        with torch.no_grad():
            w = head(torch.tensor(ga[None], dtype=torch.float32),
                     torch.tensor(gb[None], dtype=torch.float32))[0].numpy()
        np.testing.assert_allclose(np.array(res[i].extras["weights"]), w, atol=1e-5)
        assert np.sum(res[i].extras["weights"]) == pytest.approx(1.0, abs=1e-5)
        assert res[i].extras["xcos"] == pytest.approx(float((w * cos).sum()), abs=1e-5)
        assert scores[i] == pytest.approx(res[i].extras["xcos"])
        assert res[i].extras["variant"] == TRAINED
        assert res[i].extras["attention_map_a"].shape == (112, 112)


def test_needs_a_feature_output(folder):
    plain = load_tiny(folder, feature_output=None)
    reason = get_explainer("xcos").supports(plain)
    assert reason and "feature" in reason
    assert get_comparator("xcos").supports(plain)
    img = faces(2, seed=44)
    with pytest.raises(xssab.XssabError, match="feature"):
        get_explainer("xcos").explain_pairs(plain, [img[0]], [img[1]], THRESHOLD)


def test_missing_attention_file_is_a_clear_error(folder):
    card = xssab.ModelCard(name="tiny-xcos-missing", path=str(tiny_model_path(folder)),
                           feature_output="features", threshold=THRESHOLD,
                           extra={"xcos_attention": "nowhere.onnx"}, base_dir=str(folder))
    model = xssab.load_model(card)
    img = faces(2, seed=45)
    with pytest.raises(xssab.ModelLoadError, match="nowhere.onnx"):
        get_comparator("xcos").compare(model, [img[0]], [img[1]])


def test_synth_xcos_uses_its_trained_attention_head():
    model = xssab.load_model("synth-xcos")
    assert model.feature_output == "grid"
    img = faces(4, seed=46)
    res = get_explainer("xcos").explain_pairs(model, [img[0], img[2]], [img[1], img[3]],
                                              model.threshold)
    scores = get_comparator("xcos").compare(model, [img[0], img[2]], [img[1], img[3]])
    for i, r in enumerate(res):
        assert r.extras["variant"] == TRAINED
        w = np.array(r.extras["weights"])
        c = np.array(r.extras["cos_grid"])
        assert w.shape == c.shape == (7, 7)
        assert w.sum() == pytest.approx(1.0, abs=1e-5) and w.min() >= 0
        assert not np.allclose(w, 1 / 49)  # trained, not uniform
        assert r.extras["xcos"] == pytest.approx(float((w * c).sum()), abs=1e-6)
        assert scores[i] == pytest.approx(r.extras["xcos"])
        assert r.extras["xcos_match"] == (r.extras["xcos"] >= r.extras["xcos_threshold"])

"""Grad-CAM / Grad-CAM++ of the similarity score (plugins/xssab_gradcam)."""

import numpy as np
import pytest
import torch

import xssab
from xssab.errors import XssabError
from xssab.explain.maps import resize_map
from xssab_gradcam.method import GradCamOptions, cam_maps

from tests.plugins.tiny import THRESHOLD, faces, load_tiny


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_tiny(tmp_path_factory.mktemp("gradcam"))


def _manual(model, a, b):
    """Grad-CAM by hand: features and ds/dF of image a against b (one pair)."""
    x = model.input_tensor([a, b]).requires_grad_(True)
    out = model.torch_outputs(x)
    e = out[model.embedding_output]
    e = e / e.norm(dim=1, keepdim=True)
    s = (e[0] * e[1].detach()).sum()
    f = out["features"]
    (g,) = torch.autograd.grad(s, f)
    return f[0].detach().double(), g[0].double(), float(s.detach())


def test_gradcam_matches_hand_computation(model):
    a, b = faces(2, seed=3)
    f, g, s = _manual(model, a, b)
    lin = (g.mean(dim=(1, 2), keepdim=True) * f).sum(0).numpy()
    r = xssab.explain_pairs(model, [a], [b], threshold=THRESHOLD, method="gradcam")[0]
    want = resize_map(lin.astype(np.float32), (112, 112))
    assert abs(r.similarity - s) < 1e-5
    assert np.allclose(r.a.combined, want, atol=1e-6 * max(1.0, np.abs(want).max()))
    pos = resize_map(np.maximum(lin, 0).astype(np.float32), (112, 112))
    assert np.allclose(r.a.positive, pos, atol=1e-6 * max(1.0, np.abs(pos).max()))
    assert r.extras["layer"] == "features" and r.extras["grid"] == [7, 7]
    assert r.b is not None and r.b.combined.shape == (112, 112)


def test_gradcampp_positive_and_negative_are_the_two_signs(model):
    a, b = faces(2, seed=4)
    f, g, _ = _manual(model, a, b)
    pos, neg, comb = (m.numpy() for m in cam_maps(f[None], g[None], plus=True))
    # negative map of s is the positive map of -s
    pos2, _, _ = (m.numpy() for m in cam_maps(f[None], -g[None], plus=True))
    assert np.allclose(neg, pos2) and np.allclose(comb, pos - neg)
    assert (pos >= 0).all() and (neg >= 0).all()
    # hand formula for one channel weight
    g2, g3 = g * g, g * g * g
    den = 2 * g2 + f.sum(dim=(1, 2), keepdim=True) * g3
    alpha = torch.where(den != 0, g2 / torch.where(den != 0, den, 1.0), 0.0)
    w = (alpha * torch.relu(g)).sum(dim=(1, 2))
    want = torch.relu((w[:, None, None] * f).sum(0)).numpy()
    assert np.allclose(pos[0], want)
    r = xssab.explain_pairs(model, [a], [b], threshold=THRESHOLD, method="gradcampp",
                            sides="a")[0]
    assert r.b is None and np.allclose(r.a.combined, r.a.positive - r.a.negative, atol=1e-6)


def test_layer_named_per_call_as_a_module(model):
    a, b = faces(2, seed=5)
    mods = [n for n, m in model.torch_graph.named_modules()
            if n and isinstance(m, torch.nn.Conv2d)]
    r = xssab.explain_pairs(model, [a], [b], threshold=THRESHOLD, method="gradcam",
                            options={"layer": mods[0]})[0]
    assert r.extras["layer"] == mods[0] and r.a.combined.shape == (112, 112)
    base = xssab.explain_pairs(model, [a], [b], threshold=THRESHOLD, method="gradcam")[0]
    assert not np.allclose(r.a.combined, base.a.combined)


def test_bad_layers_are_one_line_errors(model):
    a, b = faces(2, seed=6)
    with pytest.raises(XssabError, match="neither an output") as e:
        xssab.explain_pairs(model, [a], [b], threshold=THRESHOLD, method="gradcam",
                            options=GradCamOptions(layer="nope"))
    assert "\n" not in str(e.value)
    with pytest.raises(XssabError, match="not spatial"):
        xssab.explain_pairs(model, [a], [b], threshold=THRESHOLD, method="gradcam",
                            options={"layer": model.embedding_output})


def test_model_without_spatial_layer_is_not_supported(tmp_path):
    m = load_tiny(tmp_path, feature_output=None)
    why = xssab.get_method("gradcam").supports(m)
    assert why and "feature_output" in why

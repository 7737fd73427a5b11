"""FGGB equals a per-dimension loop (one backward pass per embedding dimension)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from tests.plugins.tiny import THRESHOLD, faces, load_tiny
from xssab_fggb import FGGB, FGGBOptions


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_tiny(tmp_path_factory.mktemp("fggb"))


def reference(model, img_a, img_b, t):
    """Loop over dimensions k: grad of normalised a_k, |.| channel mean, / max, weights."""
    module = model.torch_module
    with torch.no_grad():
        eb = module(model.input_tensor([img_b]))[0].double()
        b = (eb / eb.norm()).numpy()
    x = model.input_tensor([img_a])
    d = model.embedding_size
    S = np.zeros(x.shape[2:])
    D = np.zeros(x.shape[2:])
    for k in range(d):
        xk = x.clone().requires_grad_(True)
        e = module(xk)
        a = e / e.norm(dim=1, keepdim=True)
        (g,) = torch.autograd.grad(a[0, k], xk)
        sal = g[0].abs().mean(dim=0).double().numpy()
        if sal.max() > 0:
            sal = sal / sal.max()
        w = float(a[0, k].detach()) * b[k] - t / d
        if w > 0:
            S += w * sal
        else:
            D += -w * sal
    S = cv2.GaussianBlur(S.astype(np.float32), (25, 25), 5)
    D = cv2.GaussianBlur(D.astype(np.float32), (25, 25), 5)
    return S, D


@pytest.mark.parametrize("vjp", ["replicate", "vmap"])
def test_matches_per_dimension_loop(model, vjp):
    img = faces(2, seed=21)
    (res,) = FGGB().explain_pairs(model, [img[0]], [img[1]], THRESHOLD,
                                  FGGBOptions(vjp=vjp, chunk=6))
    S, D = reference(model, img[0], img[1], THRESHOLD)
    scale = max(S.max(), D.max())
    np.testing.assert_allclose(res.a.positive, S, atol=1e-5 * scale)
    np.testing.assert_allclose(res.a.negative, D, atol=1e-5 * scale)
    np.testing.assert_allclose(res.a.combined, S - D, atol=2e-5 * scale)
    Sb, Db = reference(model, img[1], img[0], THRESHOLD)
    np.testing.assert_allclose(res.b.positive, Sb, atol=1e-5 * scale)
    np.testing.assert_allclose(res.b.negative, Db, atol=1e-5 * scale)
    d = model.embedding_size
    assert res.backward_passes == 2 * d
    assert res.extras["positive_dims"] + res.extras["negative_dims"] == d
    emb = model.embed(list(img), normalize=True)
    assert res.similarity == pytest.approx(float(emb[0] @ emb[1]), abs=1e-5)


def test_sides_a_and_batching_agree(model):
    img = faces(4, seed=22)
    both = FGGB().explain_pairs(model, [img[0], img[2]], [img[1], img[3]], THRESHOLD)
    (one,) = FGGB().explain_pairs(model, [img[2]], [img[3]], THRESHOLD, sides="a")
    assert one.b is None and one.backward_passes == model.embedding_size
    np.testing.assert_allclose(one.a.combined, both[1].a.combined, atol=1e-6)


@pytest.mark.parametrize("vjp,sides", [("replicate", "both"), ("vmap", "both"),
                                       ("replicate", "a"), ("vmap", "a")])
def test_reported_passes_are_the_counted_passes(model, vjp, sides):
    """d backward passes per explained image, counted on the torch module (hooks) and the
    ORT session (xssab.explain.passes); the replicate mode's extra forward passes too."""
    from xssab.explain.passes import count_passes

    img = faces(6, seed=23)
    opts = FGGBOptions(vjp=vjp, chunk=10, batch_size=2)
    with count_passes(model) as c:
        res = FGGB().explain_pairs(model, list(img[:3]), list(img[3:]), THRESHOLD, opts,
                                   sides=sides)
    d, n = model.embedding_size, 3
    explained = n * (2 if sides == "both" else 1)
    assert c.torch_backward == d * explained
    assert c.torch_forward == 2 * n + (d * explained if vjp == "replicate" else 0)
    assert c.ort_forward == 0
    assert sum(r.backward_passes for r in res) == c.backward
    assert sum(r.forward_passes for r in res) == c.forward

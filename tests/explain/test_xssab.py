"""Exactness of the batched xSSAB engine against the released code's per-pair structure.

The reference below is written the way the released code runs: for every pair, every
direction and every sign, embed A, embed B, decide the argument split from that pair,
forward A again with a graph, and backpropagate that one partial score -- 12 forward and 4
backward passes per pair. The engine must give the same maps (max |difference| <= 1e-4 of
the map's max |value|) and similarities (within 1e-5) on several real ONNX graphs loaded
through ``xssab.load_model``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import xssab
from tests.graphs import export_onnx, mobilefacenet, random_faces, small_iresnet
from xssab.kit import resize_map
from xssab.explain.xssab import Options, XssabMethod


class _L2Inside(nn.Module):
    """AdaFace-style graph: the model L2-normalises its own embedding."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        e = self.net(x)
        return e / e.norm(dim=1, keepdim=True)


def _graphs(tmp):
    return {
        "iresnet_opset11": (export_onnx(small_iresnet(seed=1), tmp / "ir.onnx", "opset11"), {}),
        "mobilefacenet_static_batch1": (
            export_onnx(mobilefacenet(seed=2, width=16, embedding_size=96),
                        tmp / "mfn.onnx", "static_reshape"), {}),
        "iresnet_norm_inside": (export_onnx(small_iresnet(seed=3), tmp / "ni.onnx",
                                            "norm_inside"), {"mean": 0.0, "std": 1.0}),
        "iresnet_l2_inside": (export_onnx(_L2Inside(small_iresnet(seed=4)).eval(),
                                          tmp / "l2.onnx", "dynamic"), {}),
    }


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("xssab_graphs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XSSAB_HOME", str(tmp / "home"))
        out = {name: xssab.load_model(str(path), **kw)
               for name, (path, kw) in _graphs(tmp).items()}
        yield out


@pytest.fixture(scope="module")
def pairs():
    faces = random_faces(6, seed=11)
    odd = random_faces(1, size=(150, 130), seed=12)[0]
    images_a = [faces[0], faces[1], odd]
    images_b = [faces[3], faces[1][:, ::-1].copy(), faces[5]]  # 2nd: flipped self (genuine-like)
    return images_a, images_b


# ---------------------------------------------------------------- released-structure reference
def _reference_pair(model, img_a, img_b, threshold):
    """Per pair, per direction, per sign: embed A, embed B, forward A again, one backward."""
    net = model.torch_module
    maps = {}
    sim = None
    for side, (x_img, y_img) in (("a", (img_a, img_b)), ("b", (img_b, img_a))):
        for sign in ("positive", "negative"):
            with torch.no_grad():
                ex = net(model.input_tensor([x_img]))[0]
                ey = net(model.input_tensor([y_img]))[0]
            ex, ey = ex / ex.norm(), ey / ey.norm()
            contrib = ex * ey
            sim = float(contrib.sum())
            split = contrib >= threshold / contrib.numel()
            keep = split if sign == "positive" else ~split
            x = model.input_tensor([x_img]).requires_grad_(True)
            e = net(x)[0]
            e = e / e.norm()
            score = (e * ey * keep.to(e.dtype)).sum()
            (grad,) = torch.autograd.grad(score, x)
            m = grad[0].abs().mean(dim=0).numpy()
            maps[(side, sign)] = resize_map(m, x_img.shape[:2])
    return sim, maps


def _rel(x, ref):
    scale = float(np.abs(ref).max())
    assert scale > 0, "reference map is all zero: the test graph is degenerate"
    return float(np.abs(x - ref).max()) / scale


@pytest.mark.parametrize("graph", ["iresnet_opset11", "mobilefacenet_static_batch1",
                                   "iresnet_norm_inside", "iresnet_l2_inside"])
def test_engine_matches_per_pair_reference(models, pairs, graph):
    model = models[graph]
    images_a, images_b = pairs
    threshold = 0.25
    got = xssab.explain_pairs(model, images_a, images_b, threshold, align=False,
                              options=Options(chunk_size=2))
    assert len(got) == len(images_a)
    for i, res in enumerate(got):
        sim, ref = _reference_pair(model, images_a[i], images_b[i], threshold)
        assert abs(res.similarity - sim) <= 1e-5
        assert res.match == (res.similarity >= threshold)
        d = model.embedding_size
        assert 0 < res.extras["positive_arguments"] < d, "split must be non-trivial here"
        for side, maps in (("a", res.a), ("b", res.b)):
            assert maps.positive.shape == (images_a if side == "a" else images_b)[i].shape[:2]
            assert maps.positive.dtype == np.float32
            assert _rel(maps.positive, ref[(side, "positive")]) <= 1e-4
            assert _rel(maps.negative, ref[(side, "negative")]) <= 1e-4
            combined_ref = ref[(side, "positive")] - ref[(side, "negative")]
            assert _rel(maps.combined, combined_ref) <= 1e-4
        assert res.forward_passes == 2 and res.backward_passes == 4


def test_genuine_self_pair_has_high_similarity(models, pairs):
    model = models["iresnet_opset11"]
    a = pairs[0][0]
    res = xssab.explain(model, a, a.copy(), threshold=0.25)
    assert res.similarity == pytest.approx(1.0, abs=1e-5)
    # identical images, both directions: the maps of A and B coincide
    np.testing.assert_allclose(res.a.combined, res.b.combined, atol=1e-6 * np.abs(
        res.a.combined).max())


def test_deterministic_and_chunk_and_vjp_invariant(models, pairs):
    model = models["iresnet_opset11"]
    images_a, images_b = pairs
    r1 = xssab.explain_pairs(model, images_a, images_b, 0.25, align=False)
    r2 = xssab.explain_pairs(model, images_a, images_b, 0.25, align=False)
    for x, y in zip(r1, r2):
        assert x.similarity == y.similarity
        assert np.array_equal(x.a.combined, y.a.combined)
        assert np.array_equal(x.b.negative, y.b.negative)
    for opts in (Options(chunk_size=1, vjp="sequential"), Options(chunk_size=3, vjp="batched")):
        r3 = xssab.explain_pairs(model, images_a, images_b, 0.25, options=opts,
                                     align=False)
        for x, y in zip(r1, r3):
            assert abs(x.similarity - y.similarity) <= 1e-6
            assert _rel(y.a.positive, x.a.positive) <= 1e-5
            assert _rel(y.b.combined, x.b.combined) <= 1e-5
        assert r3[0].extras["vjp"] == opts.vjp


def test_sides_a_explains_only_first_image(models, pairs):
    model = models["iresnet_opset11"]
    images_a, images_b = pairs
    both = xssab.explain_pairs(model, images_a, images_b, 0.25, align=False)
    only_a = xssab.explain_pairs(model, images_a, images_b, 0.25, sides="a",
                                 align=False)
    for x, y in zip(both, only_a):
        assert y.b is None
        assert y.backward_passes == 2 and y.forward_passes == 2
        assert abs(x.similarity - y.similarity) <= 1e-6
        assert _rel(y.a.positive, x.a.positive) <= 1e-5
        assert _rel(y.a.negative, x.a.negative) <= 1e-5
        assert y.extras["positive_arguments"] == x.extras["positive_arguments"]


def test_maps_at_user_image_size(models):
    model = models["iresnet_opset11"]
    a = random_faces(1, size=(250, 250), seed=5)[0]
    b = random_faces(1, size=(80, 96), seed=6)[0]
    res = xssab.explain(model, a, b, threshold=0.25, align=False)
    assert res.a.combined.shape == (250, 250)
    assert res.b.combined.shape == (80, 96)
    assert res.a.positive.shape == res.a.negative.shape == (250, 250)
    np.testing.assert_allclose(res.a.combined, res.a.positive - res.a.negative, atol=1e-6)
    # the resampled map is the input-size map resampled: its range stays within it
    raw, _ = XssabMethod().compute(model, [a], [b], 0.25)
    assert res.a.positive.max() <= raw.pos_a[0].max() + 1e-6
    assert res.a.positive.min() >= raw.pos_a[0].min() - 1e-6


def test_threshold_moves_the_split_not_the_similarity(models, pairs):
    model = models["iresnet_opset11"]
    images_a, images_b = pairs
    lo = xssab.explain_pairs(model, images_a[:1], images_b[:1], -1.0, align=False)[0]
    hi = xssab.explain_pairs(model, images_a[:1], images_b[:1], 0.5, align=False)[0]
    assert lo.similarity == hi.similarity
    # the split, counted from ORT embeddings (a_i b_i >= t/d), at several thresholds
    emb = model.embed([images_a[0], images_b[0]], normalize=True,
                      align=False).astype(np.float64)
    prod = emb[0] * emb[1]
    d = prod.size
    for t, res in ((-1.0, lo), (0.5, hi)):
        assert res.extras["positive_arguments"] == int(np.sum(prod >= t / d))
    assert lo.extras["positive_arguments"] > hi.extras["positive_arguments"]
    # the decision is s >= t, at the boundary: t == s matches, the next float up does not
    s = lo.similarity
    at = xssab.explain_pairs(model, images_a[:1], images_b[:1], s, align=False)[0]
    above = xssab.explain_pairs(model, images_a[:1], images_b[:1],
                                float(np.nextafter(s, np.inf)), align=False)[0]
    assert at.similarity == s and at.match is True
    assert above.similarity == s and above.match is False
    assert at.threshold == s and hi.match is (s >= 0.5)


def test_bad_options(models, pairs):
    model = models["iresnet_opset11"]
    with pytest.raises(xssab.XssabError, match="chunk_size"):
        xssab.explain_pairs(model, pairs[0], pairs[1], 0.2, options=Options(chunk_size=0),
                            align=False)
    with pytest.raises(xssab.XssabError, match="vjp"):
        xssab.explain_pairs(model, pairs[0], pairs[1], 0.2, options={"vjp": "magic"},
                            align=False)


@pytest.mark.parametrize("sides,opts", [("both", Options(chunk_size=2, vjp="sequential")),
                                        ("both", Options(chunk_size=3, vjp="batched")),
                                        ("a", Options(chunk_size=2, vjp="sequential")),
                                        ("a", Options(chunk_size=1, vjp="batched"))])
def test_reported_passes_are_the_counted_passes(models, pairs, sides, opts):
    """One forward pass per image, one backward pass per (explained image, sign): counted
    with hooks on the torch module and a wrapper around the ORT session (xssab.explain.passes),
    not restated from the code."""
    from xssab.explain.passes import count_passes

    model = models["iresnet_opset11"]
    images_a, images_b = pairs
    n = len(images_a)
    plain = xssab.explain_pairs(model, images_a, images_b, 0.25, options=opts, sides=sides,
                                align=False)
    with count_passes(model) as c:
        got = xssab.explain_pairs(model, images_a, images_b, 0.25, options=opts, sides=sides,
                                  align=False)
    explained = 2 if sides == "both" else 1
    assert c.torch_forward == 2 * n  # every image once, A and B alike
    assert c.torch_backward == 2 * explained * n
    assert c.ort_forward == 0
    assert sum(r.forward_passes for r in got) == c.forward
    assert sum(r.backward_passes for r in got) == c.backward
    assert all(r.forward_passes == 2 and r.backward_passes == 2 * explained for r in got)
    # batched: the chunk's images share forward calls (one per chunk, two with sides="a")
    chunks = -(-n // opts.chunk_size)
    assert c.torch_forward_calls == chunks * (1 if sides == "both" else 2)
    for x, y in zip(plain, got):  # counting changes nothing
        assert x.similarity == y.similarity
        np.testing.assert_array_equal(x.a.combined, y.a.combined)


def test_sequential_vjp_is_the_grad_outputs_vjp_bit_for_bit(models, pairs):
    """The sequential path seeds each backward with a scalar sum(e * v) instead of
    grad_outputs=v (which makes autograd import sympy): the same gradients, bit for bit."""
    from xssab.explain.xssab import _vjp_two

    model = models["iresnet_opset11"]
    images_a, _ = pairs
    x = model.input_tensor(list(images_a)).detach().requires_grad_(True)
    e = model.torch_module(x)
    g = torch.Generator().manual_seed(0)
    v_pos, v_neg = torch.randn(e.shape, generator=g), torch.randn(e.shape, generator=g)
    rp = torch.autograd.grad(e, x, grad_outputs=v_pos, retain_graph=True)[0]
    rn = torch.autograd.grad(e, x, grad_outputs=v_neg, retain_graph=True)[0]
    gp, gn = _vjp_two(e, x, v_pos, v_neg, "sequential")
    assert torch.equal(gp, rp) and torch.equal(gn, rn)
    assert not torch.equal(gp, gn)

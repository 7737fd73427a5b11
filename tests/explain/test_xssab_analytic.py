"""xSSAB against a closed form, independent of the engine's plumbing.

A tiny linear model ``e = W x + c`` and a linear + ReLU model ``e = W2 relu(W1 x + c1) + c2``
are exported to ONNX and loaded through :func:`xssab.load_model` like any user model
(non-square input, BGR channel order and per-channel mean/std, so preprocessing mistakes
show). Everything the method defines is then written in numpy from the weights alone:
preprocessing, the embeddings, the similarity, the argument split ``a_i b_i >= t/d``
(the definition in xssab/explain/xssab.py) and the input gradients of the partial scores

    d/dx sum_i v_i a_i(x) = J(x)^T (v - a (a.v)) / |e(x)|,   v = b * 1_P  or  b * 1_N,

with ``J = W`` (linear) or ``W2 diag(1[h > 0]) W1`` (ReLU), and the maps
``mean_c |grad|`` at input size. Nothing from the engine (torch import, ``input_tensor``,
``resize_map``) is used to build the expected values.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import xssab

H, W = 6, 10  # non-square on purpose
D = 12
MEAN = (120.0, 127.5, 100.0)  # card order (BGR), distinct per channel
STD = (60.0, 70.0, 50.0)


class _Linear(nn.Module):
    def __init__(self, relu: bool, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        n_in = 3 * H * W
        hidden = 20 if relu else D
        self.l1 = nn.Linear(n_in, hidden)
        with torch.no_grad():
            self.l1.weight.copy_(torch.randn(hidden, n_in, generator=g) / np.sqrt(n_in))
            self.l1.bias.copy_(torch.randn(hidden, generator=g) * 0.5)
        self.l2 = None
        if relu:
            self.l2 = nn.Linear(hidden, D)
            with torch.no_grad():
                self.l2.weight.copy_(torch.randn(D, hidden, generator=g) / np.sqrt(hidden))
                self.l2.bias.copy_(torch.randn(D, generator=g) * 0.1)

    def forward(self, x):
        h = self.l1(x.flatten(1))
        return h if self.l2 is None else self.l2(torch.relu(h))

    def numpy_weights(self):
        w = {k: v.detach().double().numpy() for k, v in self.state_dict().items()}
        return w


def _export(net, path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), (torch.zeros(1, 3, H, W),), str(path),
                          input_names=["input"], output_names=["embedding"],
                          dynamic_axes={"input": {0: "batch"}, "embedding": {0: "batch"}},
                          opset_version=13, dynamo=False)
    return path


# ------------------------------------------------------------------ closed form (numpy)
def _input(img):
    """uint8 RGB (H, W, 3) -> flattened model input, BGR and per-channel (x - m) / s."""
    bgr = img.astype(np.float64)[:, :, ::-1]
    x = (bgr - np.array(MEAN)) / np.array(STD)  # (H, W, 3), card channel order
    return x.transpose(2, 0, 1).reshape(-1)  # C, H, W -> flat (as the net's flatten)


def _embed_and_jacobian(w, x):
    h = w["l1.weight"] @ x + w["l1.bias"]
    if "l2.weight" not in w:
        return h, w["l1.weight"]
    gate = (h > 0).astype(np.float64)
    e = w["l2.weight"] @ (h * gate) + w["l2.bias"]
    return e, w["l2.weight"] @ (gate[:, None] * w["l1.weight"])


def _closed_form(w, img_a, img_b, t):
    ea, ja = _embed_and_jacobian(w, _input(img_a))
    eb, jb = _embed_and_jacobian(w, _input(img_b))
    a, b = ea / np.linalg.norm(ea), eb / np.linalg.norm(eb)
    prod = a * b
    positive = prod >= t / prod.size
    out = {"similarity": float(prod.sum()), "n_pos": int(positive.sum())}
    for side, (u, e, j, partner) in {"a": (a, ea, ja, b), "b": (b, eb, jb, a)}.items():
        for sign, keep in (("positive", positive), ("negative", ~positive)):
            v = partner * keep
            grad_e = (v - u * (u @ v)) / np.linalg.norm(e)  # through the L2 normalisation
            grad_x = (j.T @ grad_e).reshape(3, H, W)
            out[(side, sign)] = np.abs(grad_x).mean(axis=0)
    return out


def _faces(seed):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(3)]


@pytest.mark.parametrize("relu", [False, True], ids=["linear", "linear_relu"])
def test_maps_and_similarity_match_closed_form(tmp_path, relu):
    net = _Linear(relu, seed=5 + relu)
    path = _export(net, tmp_path / f"lin{int(relu)}.onnx")
    model = xssab.load_model(str(path), channel_order="bgr", mean=MEAN, std=STD,
                             input_size=(H, W))
    wts = net.numpy_weights()
    imgs_a, imgs_b = _faces(1), _faces(2)
    imgs_b[1] = imgs_a[1][:, ::-1].copy()  # a flipped copy: a more similar pair
    splits = []
    for t in (-0.2, 0.1, 0.4):
        got = xssab.explain_pairs(model, imgs_a, imgs_b, t, align=False)
        for i, res in enumerate(got):
            ref = _closed_form(wts, imgs_a[i], imgs_b[i], t)
            assert res.similarity == pytest.approx(ref["similarity"], abs=1e-5)
            assert res.match == (ref["similarity"] >= t)
            assert res.extras["positive_arguments"] == ref["n_pos"]
            splits.append(ref["n_pos"])
            for side, maps in (("a", res.a), ("b", res.b)):
                pos, neg = ref[(side, "positive")], ref[(side, "negative")]
                scale = max(np.abs(pos).max(), np.abs(neg).max())
                assert scale > 0
                assert maps.positive.shape == (H, W)
                np.testing.assert_allclose(maps.positive, pos, rtol=0, atol=1e-4 * scale)
                np.testing.assert_allclose(maps.negative, neg, rtol=0, atol=1e-4 * scale)
                np.testing.assert_allclose(maps.combined, pos - neg, rtol=0,
                                           atol=2e-4 * scale)
    # the thresholds moved the split through non-trivial values
    assert any(0 < k < D for k in splits) and len(set(splits)) > 2

"""xSSAB variants (xssab/explain/xssab_variants.py): each against the faithful method."""

import numpy as np
import pytest
import torch

import xssab
from xssab.errors import XssabError
from xssab.explain.xssab_variants import side_attributions

from tests.plugins.tiny import THRESHOLD, faces, load_tiny


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    model = load_tiny(tmp_path_factory.mktemp("variants"))
    a, b = faces(2, seed=11)
    x = model.input_tensor([a])
    with torch.no_grad():
        eb = model.torch_module(model.input_tensor([b]))
        eb = eb / eb.norm(dim=1, keepdim=True)
    return model, a, b, x, eb


def _scores(module, x, partner, mask):
    e = module(x)
    e = e / e.norm(dim=1, keepdim=True)
    return ((e * partner) * mask).sum(), ((e * partner) * (1 - mask)).sum()


def test_faithful_variant_is_the_engine(setup):
    model, a, b, *_ = setup
    base = xssab.explain_pairs(model, [a], [b], threshold=THRESHOLD)[0]
    via = xssab.explain_pairs(model, [a], [b], threshold=THRESHOLD, method="xssab-gxi",
                              options={"variant": "faithful"})[0]
    assert np.allclose(base.a.combined, via.a.combined, atol=1e-7)
    assert base.extras["variant"] == "faithful"


def test_smoothgrad_without_noise_equals_faithful_and_with_noise_differs(setup):
    model, a, b, x, eb = setup
    f = side_attributions(model.torch_module, x, eb, THRESHOLD, "faithful")
    s0 = side_attributions(model.torch_module, x, eb, THRESHOLD, "smoothgrad", samples=3,
                           noise=0.0)
    assert torch.allclose(f[0], s0[0], atol=1e-7) and torch.allclose(f[1], s0[1], atol=1e-7)
    r1 = xssab.explain_pairs(model, [a], [b], threshold=THRESHOLD, method="xssab-sg",
                             options={"samples": 3, "seed": 1})[0]
    r2 = xssab.explain_pairs(model, [a], [b], threshold=THRESHOLD, method="xssab-sg",
                             options={"samples": 3, "seed": 1})[0]
    r3 = xssab.explain_pairs(model, [a], [b], threshold=THRESHOLD, method="xssab-sg",
                             options={"samples": 3, "seed": 2})[0]
    assert np.array_equal(r1.a.combined, r2.a.combined)  # seeded
    assert not np.allclose(r1.a.combined, r3.a.combined)
    assert r1.extras["variant"] == "smoothgrad" and r1.backward_passes == 2 * 3 * 2


def test_gradient_times_input(setup):
    model, a, b, x, eb = setup
    f = side_attributions(model.torch_module, x, eb, THRESHOLD, "faithful")
    g = side_attributions(model.torch_module, x, eb, THRESHOLD, "gradxinput")
    assert torch.allclose(g[0], f[0] * x) and torch.allclose(g[1], f[1] * x)


def test_integrated_gradients_completeness(setup):
    """Sum of IG attributions ~ s(x) - s(x0) for each argument score (P, N frozen)."""
    model, a, b, x, eb = setup
    module = model.torch_module
    x0 = model.input_tensor([np.zeros_like(a)])
    tp, tn, sim, _ = side_attributions(module, x, eb, THRESHOLD, "intgrad", samples=256,
                                       x0=x0)
    with torch.no_grad():
        e = module(x)
        e = e / e.norm(dim=1, keepdim=True)
        mask = ((e * eb) >= THRESHOLD / e.shape[1]).to(e.dtype)
        sp1, sn1 = _scores(module, x, eb, mask)
        sp0, sn0 = _scores(module, x0, eb, mask)
    for got, want in ((tp.sum(), sp1 - sp0), (tn.sum(), sn1 - sn0)):
        assert abs(float(got) - float(want)) < 0.03 * abs(float(want)) + 1e-3  # Riemann error
    assert abs(float(sim[0]) - float((e * eb).sum())) < 1e-6


def test_bad_variant_options_are_one_line_errors(setup):
    model, a, b, *_ = setup
    with pytest.raises(XssabError, match="variant='nope'"):
        xssab.explain_pairs(model, [a], [b], threshold=THRESHOLD,
                            options={"variant": "nope"})
    with pytest.raises(XssabError, match="samples"):
        xssab.explain_pairs(model, [a], [b], threshold=THRESHOLD, method="xssab-ig",
                            options={"samples": 0})
    with pytest.raises(XssabError, match="baseline"):
        xssab.explain_pairs(model, [a], [b], threshold=THRESHOLD, method="xssab-ig",
                            options={"baseline": "white"})


def test_decision_map_combination(setup):
    model, a, b, *_ = setup
    base = xssab.explain_pairs(model, [a, b], [b, a], threshold=THRESHOLD)
    for t in (-1.0, 1.0):  # every pair a match / every pair a non-match
        dm = xssab.explain_pairs(model, [a], [b], threshold=t, method="xssab-dm")[0]
        ref = xssab.explain_pairs(model, [a], [b], threshold=t)[0]
        want = ref.a.positive if dm.match else -ref.a.negative
        assert np.array_equal(dm.a.combined, want) and np.array_equal(
            dm.a.positive, ref.a.positive)
        assert dm.extras["combine"] == "decision"
    assert base[0].extras["combine"] == "difference"
    with pytest.raises(XssabError, match="combine"):
        xssab.explain_pairs(model, [a], [b], threshold=THRESHOLD,
                            options={"combine": "sum"})

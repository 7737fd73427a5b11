"""Every registered explanation method follows the one interface (xssab.ExplanationMethod).

Parametrised over ``xssab.registry.explainers()`` (built-in, first-party plugins and any
installed third-party plugin): maps of the right shape and dtype at each image's own size
(single and batched calls, several image sizes, gray input), ``sides="a"``, determinism
under a seed, no state kept between calls, and a reported evaluation count (> 0 for every
method except ``random``, whose maps cost no model evaluation by design). Small method
options keep it fast; the faithful defaults are tested in tests/plugins/.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

import xssab
from xssab import plugins
from tests.plugins.tiny import THRESHOLD, faces, load_tiny
from xssab.registry import explainers

#: cheap options per method name (anything else runs with its defaults)
FAST = {
    "xface": {"patch_sizes": (28,), "stride": 21},
    "corrrise": {"n_masks": 24},
    "fggb": {"chunk": 32},
}
#: methods whose maps cost no model evaluation
NO_EVALUATIONS = {"random"}



def _registered() -> list[str]:
    """Method names as the suite sees them (entry-point plugins off, see conftest)."""
    old = os.environ.get(plugins.DISABLE_ENV)
    os.environ[plugins.DISABLE_ENV] = "1"
    try:
        plugins.reset()
        return sorted(explainers())
    finally:
        if old is None:
            del os.environ[plugins.DISABLE_ENV]
        else:
            os.environ[plugins.DISABLE_ENV] = old
        plugins.reset()


METHODS = _registered()


def test_first_party_methods_are_registered():
    assert {"xssab", "random", "xface", "xcos", "fggb", "corrrise"} <= set(METHODS)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_tiny(tmp_path_factory.mktemp("conformance"))


def _options(method, seed=0):
    opts_cls = method.Options
    assert dataclasses.is_dataclass(opts_cls) and issubclass(opts_cls, xssab.MethodOptions)
    fields = {f.name for f in dataclasses.fields(opts_cls)}
    kw = {k: v for k, v in FAST.get(method.name, {}).items() if k in fields}
    return opts_cls(seed=seed, **kw)


def _check_maps(maps, hw):
    for field in ("positive", "negative", "combined"):
        m = getattr(maps, field)
        assert isinstance(m, np.ndarray), field
        assert m.dtype == np.float32, (field, m.dtype)
        assert m.shape == tuple(hw), (field, m.shape, hw)
        assert np.all(np.isfinite(m)), field


def _same(r1, r2):
    assert r1.similarity == r2.similarity and r1.match == r2.match
    for side in ("a", "b"):
        m1, m2 = getattr(r1, side), getattr(r2, side)
        assert (m1 is None) == (m2 is None)
        if m1 is not None:
            for field in ("positive", "negative", "combined"):
                np.testing.assert_allclose(getattr(m1, field), getattr(m2, field),
                                           rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", METHODS)
def test_interface_shapes_and_counts(model, name):
    method = explainers()[name]
    assert method.name == name and isinstance(method.description, str) and method.description
    assert method.supports(model) is None
    sizes = [((112, 112), (112, 112)), ((100, 90), (150, 130))]
    imgs_a = [faces(1, size=s[0], seed=1 + i)[0] for i, s in enumerate(sizes)]
    imgs_b = [faces(1, size=s[1], seed=11 + i)[0] for i, s in enumerate(sizes)]
    imgs_b[1] = imgs_b[1].mean(axis=2).astype(np.uint8)  # a gray image
    opts = _options(method)

    res = method.explain_pairs(model, imgs_a, imgs_b, THRESHOLD, opts)
    assert isinstance(res, list) and len(res) == 2
    for r, (ha, hb) in zip(res, sizes):
        assert isinstance(r, xssab.Explanation) and r.method == name
        _check_maps(r.a, ha)
        _check_maps(r.b, hb)
        assert np.isfinite(r.similarity) and -1.0 - 1e-6 <= r.similarity <= 1.0 + 1e-6
        assert r.threshold == pytest.approx(THRESHOLD)
        assert r.match == (r.similarity >= r.threshold)
        assert r.forward_passes >= 0 and r.backward_passes >= 0
        if name in NO_EVALUATIONS:
            assert r.evaluations == 0
        else:
            assert r.evaluations > 0

    (single,) = method.explain_pairs(model, imgs_a[1:], imgs_b[1:], THRESHOLD, opts)
    _check_maps(single.a, sizes[1][0])
    _check_maps(single.b, sizes[1][1])
    assert single.similarity == pytest.approx(res[1].similarity, abs=1e-5)

    (only_a,) = method.explain_pairs(model, imgs_a[:1], imgs_b[:1], THRESHOLD, opts,
                                     sides="a")
    assert only_a.b is None
    _check_maps(only_a.a, sizes[0][0])
    assert only_a.evaluations <= res[0].evaluations

    # the public entry point routes to the method by name
    via_api = xssab.explain(model, imgs_a[0], imgs_b[0], THRESHOLD, method=name,
                            options=opts)
    _check_maps(via_api.a, sizes[0][0])
    _check_maps(via_api.b, sizes[0][1])


@pytest.mark.parametrize("name", METHODS)
def test_deterministic_and_stateless(model, name):
    method = explainers()[name]
    img = faces(4, seed=51)
    opts = _options(method, seed=7)
    first = method.explain_pairs(model, [img[0]], [img[1]], THRESHOLD, opts)[0]
    method.explain_pairs(model, [img[2]], [img[3]], THRESHOLD, _options(method, seed=8))
    again = method.explain_pairs(model, [img[0]], [img[1]], THRESHOLD, opts)[0]
    _same(first, again)
    fresh = type(method)().explain_pairs(model, [img[0]], [img[1]], THRESHOLD,
                                         _options(method, seed=7))[0]
    _same(first, fresh)

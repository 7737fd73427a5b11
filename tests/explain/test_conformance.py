"""Every registered explanation method passes the public conformance suite.

Parametrised over the methods registered with entry points ON: built-in, first-party
plugins and every installed third-party plugin. The rules themselves (shape, dtype,
batched == one by one, odd sizes, determinism, no state, ``sides="a"``...) live in
:func:`xssab.testing.check_method`, the function plugin authors call in their own tests.
This file adds what is the project's own policy: every method reports evaluations (> 0;
``check_method``'s ``passes`` rule checks they are the counted ones, ``random``'s two ONNX
Runtime passes for its similarity included) and routing by name through
:func:`xssab.explain`. Small method options keep it fast; the faithful
defaults are tested in tests/plugins/.
"""

from __future__ import annotations

import os

import pytest

import xssab
from tests.plugins.tiny import THRESHOLD, faces, load_tiny
from xssab import plugins
from xssab.registry import explainers
from xssab.testing import check_method

#: cheap options per method name (anything else runs with its defaults)
FAST = {
    "xface": {"patch_sizes": (28,), "stride": 21},
    "corrrise": {"n_masks": 24},
    "fggb": {"chunk": 32},
    "xssab-sg": {"samples": 2},
    "xssab-ig": {"samples": 2},
}


def _registered() -> list[str]:
    """Method names with entry-point plugins ON (installed third-party methods included)."""
    old = os.environ.pop(plugins.DISABLE_ENV, None)
    try:
        plugins.reset()
        return sorted(explainers())
    finally:
        if old is not None:
            os.environ[plugins.DISABLE_ENV] = old
        plugins.reset()


METHODS = _registered()


def test_first_party_methods_are_registered():
    assert {"xssab", "random", "xface", "xcos", "fggb", "corrrise", "gradcam", "gradcampp",
            "xssab-sg", "xssab-gxi", "xssab-ig", "xssab-dm"} <= set(METHODS)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_tiny(tmp_path_factory.mktemp("conformance"))


def _options(method):
    fields = set(method.Options.__dataclass_fields__)
    return method.Options(**{k: v for k, v in FAST.get(method.name, {}).items()
                             if k in fields})


@pytest.mark.parametrize("name", METHODS)
def test_method_conforms(model, name, entry_points_on):
    method = explainers()[name]
    check_method(method, model, options=_options(method), threshold=THRESHOLD)


@pytest.mark.parametrize("name", METHODS)
def test_evaluation_count_and_routing_by_name(model, name, entry_points_on):
    method = explainers()[name]
    img = faces(2, seed=3)
    res = xssab.explain(model, img[0], img[1], THRESHOLD, method=name,
                        options=_options(method))
    assert res.method == name and res.a.combined.shape == (112, 112)
    assert res.evaluations > 0
    only_a = method.explain_pairs(model, [img[0]], [img[1]], THRESHOLD, _options(method),
                                  sides="a")[0]
    assert only_a.evaluations <= res.evaluations

"""xssab.testing.check_method: a method written only against public names passes; broken
ones fail with a message naming the broken rule."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import xssab
from tests.plugins.tiny import load_tiny
from xssab.kit import check_pairs, chunks, l2_normalize, signed_maps
from xssab.testing import check_method


@dataclasses.dataclass
class CentreOptions(xssab.MethodOptions):
    """``sigma``: width of the Gaussian bump, as a fraction of the input size."""

    sigma: float = 0.25


class CentreWeighted:
    """A third-party method using public names only: similarity times a centred bump."""

    name = "centre"
    description = "test method: cosine similarity times a centred Gaussian bump"
    Options = CentreOptions

    def supports(self, model):
        return None

    def explain_pairs(self, model, images_a, images_b, threshold, options=None, *,
                      sides="both", device=None):
        opt = options or CentreOptions()
        images_a, images_b = check_pairs(images_a, images_b, sides)
        out = []
        for sl in chunks(len(images_a), 2):
            ea = l2_normalize(model.embed(images_a[sl]))
            eb = l2_normalize(model.embed(images_b[sl]))
            h, w = model.input_size
            yy, xx = np.mgrid[0:h, 0:w]
            bump = np.exp(-(((yy - h / 2) / (opt.sigma * h)) ** 2
                            + ((xx - w / 2) / (opt.sigma * w)) ** 2))
            for i, (a, b) in enumerate(zip(images_a[sl], images_b[sl])):
                s = float(ea[i] @ eb[i])
                signed = (s - threshold) * bump
                out.append(xssab.Explanation(
                    method=self.name, similarity=s, threshold=float(threshold),
                    match=s >= threshold, a=signed_maps(signed, a.shape[:2]),
                    b=signed_maps(signed, b.shape[:2]) if sides == "both" else None,
                    forward_passes=2))
        return out


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_tiny(tmp_path_factory.mktemp("testing"))


def test_public_third_party_method_passes(model):
    check_method(CentreWeighted(), model)
    check_method(CentreWeighted(), model, options={"sigma": 0.5})


class _ModelSize(CentreWeighted):
    def explain_pairs(self, model, images_a, images_b, threshold, options=None, *,
                      sides="both", device=None):
        res = super().explain_pairs(model, images_a, images_b, threshold, options,
                                    sides=sides)
        for r in res:  # forgets to resize: maps at model input size
            r.a = signed_maps(r.a.combined, model.input_size)
        return res


class _Float64(CentreWeighted):
    def explain_pairs(self, *args, **kw):
        res = super().explain_pairs(*args, **kw)
        for r in res:
            r.a = xssab.ImageMaps(r.a.positive.astype(np.float64), r.a.negative,
                                  r.a.combined)
        return res


class _Stateful(CentreWeighted):
    calls = 0

    def explain_pairs(self, *args, **kw):
        res = super().explain_pairs(*args, **kw)
        self.calls += 1
        for r in res:
            r.a = signed_maps(r.a.combined * self.calls, r.a.combined.shape)
        return res


class _RemembersLastSeed(CentreWeighted):
    last_seed = 0

    def explain_pairs(self, model, images_a, images_b, threshold, options=None, **kw):
        res = super().explain_pairs(model, images_a, images_b, threshold, options, **kw)
        scale, self.last_seed = 1 + self.last_seed, (options or CentreOptions()).seed
        for r in res:
            r.a = signed_maps(r.a.combined * scale, r.a.combined.shape)
        return res


class _BatchDependent(CentreWeighted):
    def explain_pairs(self, model, images_a, images_b, *args, **kw):
        res = super().explain_pairs(model, images_a, images_b, *args, **kw)
        for r in res:
            r.a = signed_maps(r.a.combined * len(images_a), r.a.combined.shape)
        return res


class _IgnoresSides(CentreWeighted):
    def explain_pairs(self, *args, sides="both", **kw):  # always explains both images
        return super().explain_pairs(*args, sides="both" if sides == "a" else sides, **kw)


class _NoInputCheck(CentreWeighted):
    def explain_pairs(self, model, images_a, images_b, *args, sides="both", **kw):
        n = min(len(images_a), len(images_b))
        return super().explain_pairs(model, list(images_a)[:n], list(images_b)[:n], *args,
                                     sides="both" if sides not in ("a", "both") else sides,
                                     **kw)


class _NoDescription(CentreWeighted):
    description = ""


class _UnderReports(CentreWeighted):
    """Says one forward pass per pair; it embeds both images (2)."""

    def explain_pairs(self, *args, **kw):
        res = super().explain_pairs(*args, **kw)
        for r in res:
            r.forward_passes = 1
        return res


class _HiddenBackward(CentreWeighted):
    """Reports its forward passes but not the gradient it computes through the model."""

    def explain_pairs(self, model, images_a, images_b, *args, **kw):
        import torch

        x = model.input_tensor(list(images_a)).requires_grad_(True)
        torch.autograd.grad(model.torch_module(x).sum(), x)
        res = super().explain_pairs(model, images_a, images_b, *args, **kw)
        for r in res:
            r.forward_passes += 1
        return res


class _SidesACountsB(CentreWeighted):
    """With sides="a" it still reports the passes of explaining both images."""

    def explain_pairs(self, *args, sides="both", **kw):
        res = super().explain_pairs(*args, sides=sides, **kw)
        for r in res:
            r.forward_passes = 2
            r.backward_passes = 0 if sides == "both" else 1
        return res


@pytest.mark.parametrize("broken, rule", [
    (_ModelSize, "shape"), (_Float64, "dtype"), (_Stateful, "determinism"),
    (_BatchDependent, "batched"),
    (_RemembersLastSeed, "no-state"), (_IgnoresSides, "sides"), (_NoInputCheck, "input-check"),
    (_NoDescription, "interface"), (_UnderReports, "passes"), (_HiddenBackward, "passes"),
    (_SidesACountsB, "passes"),
])
def test_broken_method_fails_naming_the_rule(model, broken, rule):
    with pytest.raises(AssertionError, match=rf"^\[{rule}\] "):
        check_method(broken(), model)

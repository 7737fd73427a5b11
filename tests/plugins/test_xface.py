"""x-face: faithful occlusion maps (counted embeddings, a per-position reference loop),
the corrected variant, sides="a", and the confidence score."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import xssab
from tests.plugins.tiny import THRESHOLD, faces, load_tiny
from xssab_xface import XFace, XFaceOptions
from xssab_xface.confidence import (ConfidenceModel, best_accuracy_threshold,
                                    calibrate_confidence, fit_confidence, fit_sigmoid,
                                    load_confidence, sigmoid)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("xface")


@pytest.fixture(scope="module")
def model(folder):
    return load_tiny(folder)


def _count(model, monkeypatch):
    """Count every image embedded by ONNX Runtime (embed and embed_input)."""
    counter = {"n": 0}
    embed_input, embed = model.embed_input, model.embed

    def counted_input(x, batch_size=64):
        counter["n"] += len(x)
        return embed_input(x, batch_size=batch_size)

    def counted_embed(images, batch_size=64, normalize=False):
        counter["n"] += len(images)
        return embed(images, batch_size=batch_size, normalize=normalize)

    monkeypatch.setattr(model, "embed_input", counted_input, raising=False)
    monkeypatch.setattr(model, "embed", counted_embed, raising=False)
    return counter


def reference_maps(model, img1, img2, patch_sizes=(7, 14, 28), stride=5, method=1,
                   corrected=False):
    """Straightforward x-face: one mask per position, drawn like the original code."""
    S = img1.shape[0]

    def dist(u, v):
        return 1.0 - float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))

    e1, e2 = model.embed([img1, img2]).astype(np.float64)
    d0 = dist(e1, e2)
    maps1, maps2 = [], []
    for p in patch_sizes:
        if corrected:
            pos = list(range(0, S - p + 1, stride))
            if pos[-1] != S - p:
                pos.append(S - p)
        else:
            pos = list(range(0, S - p, stride))
        occ1, occ2, masks = [], [], []
        for y in pos:
            for x in pos:
                mask = np.ones((S, S, 3), np.uint8)
                if corrected:
                    mask[y:y + p, x:x + p] = 0
                else:  # inclusive end point, as cv2.rectangle draws it
                    cv2.rectangle(mask, (int(x), int(y)), (int(x + p), int(y + p)),
                                  (0, 0, 0), -1)
                occ1.append(img1 * mask)
                occ2.append(img2 * mask)
                masks.append(mask[:, :, 0].astype(np.float64))
        E1 = model.embed(occ1, batch_size=256).astype(np.float64)
        E2 = model.embed(occ2, batch_size=256).astype(np.float64)
        n = len(masks)
        d1, d2 = np.zeros(n), np.zeros(n)
        N1 = E1 / np.linalg.norm(E1, axis=1, keepdims=True)
        N2 = E2 / np.linalg.norm(E2, axis=1, keepdims=True)
        for i in range(n):
            if method == 1:  # 1:all — occluded copy i against every occluded partner copy
                d1[i] = np.mean(1.0 - N2 @ N1[i])
                d2[i] = np.mean(1.0 - N1 @ N2[i])
            elif method == 2:
                d1[i] = dist(E1[i], e2)
                d2[i] = dist(E2[i], e1)
            else:
                d1[i] = d2[i] = dist(E1[i], E2[i])
        for d, maps in ((d1, maps1), (d2, maps2)):
            acc = np.zeros((S, S))
            cover = np.zeros((S, S))
            for i in range(n):
                acc += (1.0 - masks[i]) * (d[i] - d0) / p ** 2
                cover += 1.0 - masks[i]
            m = acc / cover if corrected else acc / n
            maps.append(cv2.GaussianBlur(m, (stride, stride), stride))
    out = []
    for maps in (maps1, maps2):
        m = np.mean(maps, axis=0)
        if np.max(np.abs(m)) != 0:
            m = m / np.max(np.abs(m))
        out.append(m)
    return out


def test_faithful_defaults_2262_embeddings_and_reference_maps(model, monkeypatch):
    img = faces(2, seed=3)
    counter = _count(model, monkeypatch)
    (res,) = XFace().explain_pairs(model, [img[0]], [img[1]], THRESHOLD)
    assert counter["n"] == 2262
    assert res.forward_passes == 2262 and res.backward_passes == 0
    assert res.a.combined.dtype == np.float32 and res.a.combined.shape == (112, 112)
    ref_a, ref_b = reference_maps(model, img[0], img[1])
    np.testing.assert_allclose(res.a.combined, ref_a, atol=2e-5)
    np.testing.assert_allclose(res.b.combined, ref_b, atol=2e-5)
    # the faithful quirk: the last rows/columns are never covered by any hole
    assert np.max(np.abs(res.a.combined)) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(res.a.positive - res.a.negative, res.a.combined, atol=1e-7)
    assert res.similarity == pytest.approx(1.0 - res.extras["distance"])


@pytest.mark.parametrize("method", [2, 3])
def test_distance_methods_match_reference(model, method):
    img = faces(2, seed=5)
    opt = XFaceOptions(patch_sizes=(28,), distance_method=method)
    (res,) = XFace().explain_pairs(model, [img[0]], [img[1]], THRESHOLD, opt)
    ref_a, ref_b = reference_maps(model, img[0], img[1], (28,), method=method)
    np.testing.assert_allclose(res.a.combined, ref_a, atol=2e-5)
    np.testing.assert_allclose(res.b.combined, ref_b, atol=2e-5)
    assert res.forward_passes == 2 + 2 * 17 ** 2


def test_corrected_variant_matches_reference(model):
    img = faces(2, seed=6)
    opt = XFaceOptions(patch_sizes=(28,), stride=9, corrected=True)
    (res,) = XFace().explain_pairs(model, [img[0]], [img[1]], THRESHOLD, opt)
    ref_a, ref_b = reference_maps(model, img[0], img[1], (28,), stride=9, corrected=True)
    np.testing.assert_allclose(res.a.combined, ref_a, atol=2e-5)
    np.testing.assert_allclose(res.b.combined, ref_b, atol=2e-5)
    # full coverage: positions 0, 9, ..., 81, 84 -> 11 per axis
    assert res.forward_passes == 2 + 2 * 11 ** 2
    assert res.extras["variant"] == "corrected"


def test_sides_a_method2_embeds_only_the_first_image(model, monkeypatch):
    img = faces(2, seed=7)
    opt = XFaceOptions(patch_sizes=(28,), distance_method=2)
    counter = _count(model, monkeypatch)
    (one,) = XFace().explain_pairs(model, [img[0]], [img[1]], THRESHOLD, opt, sides="a")
    assert one.b is None
    assert counter["n"] == one.forward_passes == 2 + 17 ** 2
    (both,) = XFace().explain_pairs(model, [img[0]], [img[1]], THRESHOLD, opt)
    np.testing.assert_array_equal(one.a.combined, both.a.combined)


def test_sigmoid_fit_follows_the_original_recipe():
    rng = np.random.default_rng(0)
    gen = rng.normal(0.5, 0.12, 3000)
    imp = rng.normal(1.0, 0.12, 3000)
    d = np.concatenate([gen, imp])
    y = np.concatenate([np.ones(3000, bool), np.zeros(3000, bool)])
    thr = best_accuracy_threshold(d, y)
    assert 0.7 < thr < 0.8
    acc = np.mean((d < thr) == y)
    for t in np.linspace(0.3, 1.2, 50):  # no threshold does better
        assert np.mean((d < t) == y) <= acc + 1e-12
    a, x0, k, b = fit_sigmoid(d, y, thr)
    assert k < 0 and abs(x0 - 0.75) < 0.05
    conf = fit_confidence(d, y, model="m", dataset="s")
    assert conf.ratio(0.2) > 0.95 and conf.ratio(1.4) < 0.05
    assert conf.score(0.2, match=True) == pytest.approx(conf.ratio(0.2))
    assert conf.score(1.4, match=False) == pytest.approx(1.0 - conf.ratio(1.4))
    assert conf.score(1.4) == pytest.approx(1.0 - conf.ratio(1.4))
    k10 = fit_confidence(d, y, kfold=10)
    assert len(k10.params) == 10
    assert k10.ratio(0.75) == pytest.approx(
        np.mean([sigmoid(0.75, *p) for p in k10.params]))
    again = ConfidenceModel.from_dict(conf.to_dict())
    assert again.score(0.9) == conf.score(0.9)


class _PairSet:
    """A small in-memory PairDataset: genuine = noisy copies of the same face."""

    name = "tinypairs"

    def __init__(self):
        base = faces(12, seed=11)
        rng = np.random.default_rng(1)
        self.images = {}
        for i, im in enumerate(base):
            self.images[f"{i}_0"] = im
            noisy = np.clip(im.astype(int) + rng.integers(-6, 7, im.shape), 0, 255)
            self.images[f"{i}_1"] = noisy.astype(np.uint8)
        self._pairs = [xssab.Pair(f"{i}_0", f"{i}_1", True, 0) for i in range(12)]
        self._pairs += [xssab.Pair(f"{i}_0", f"{(i + 1) % 12}_1", False, 0)
                        for i in range(12)]

    def pairs(self):
        return list(self._pairs)

    def load(self, key):
        return self.images[key]


def test_calibration_is_cached_and_reported(model, tmp_path, monkeypatch):
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path))
    ds = _PairSet()
    assert load_confidence(model) is None
    conf = calibrate_confidence(model, ds)
    assert (tmp_path / "xface_confidence.json").is_file()
    cached = load_confidence(model)
    assert cached is not None and cached.params == conf.params
    img = faces(2, seed=9)
    opt = XFaceOptions(patch_sizes=(28,))
    (res,) = XFace().explain_pairs(model, [img[0]], [img[1]], THRESHOLD, opt)
    expected = conf.score(res.extras["distance"], match=res.match)
    assert res.extras["confidence"] == pytest.approx(min(1.0, max(0.0, expected)))
    assert 0.0 <= res.extras["confidence"] <= 1.0
    (plain,) = XFace().explain_pairs(model, [img[0]], [img[1]], THRESHOLD,
                                     XFaceOptions(patch_sizes=(28,), confidence=False))
    assert "confidence" not in plain.extras


class _DatasetPlugin:
    @xssab.hookimpl
    def register_datasets(self, register):
        register(xssab.DatasetEntry("tinypairs", lambda path=None, **kw: _PairSet(),
                                    "test pairs"))


def test_calibration_dataset_option_fits_once_then_reads_the_cache(model, tmp_path,
                                                                   monkeypatch, fake_plugin):
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path))
    fake_plugin(_DatasetPlugin(), "tinypairs-plugin")
    img = faces(2, seed=12)
    opt = XFaceOptions(patch_sizes=(28,), calibration_dataset="tinypairs")
    (res,) = xssab.explain_pairs(model, [img[0]], [img[1]], THRESHOLD, method="xface",
                                 options=opt)
    assert res.extras["confidence_calibration"] == "tinypairs"
    conf = load_confidence(model, dataset="tinypairs")
    assert conf is not None and conf.n_pairs == 24
    expected = min(1.0, max(0.0, conf.score(res.extras["distance"], match=res.match)))
    assert res.extras["confidence"] == pytest.approx(expected)


@pytest.mark.parametrize("record", [
    {"tiny": {"d": {"threshold": "x", "params": [[1, 2, 3, 4]]}}},
    {"tiny": {"d": {"threshold": 0.5, "params": [[1, 2]]}}},
    {"tiny": {"d": {"threshold": 0.5, "params": "abc"}}},
    {"tiny": [1, 2, 3]},
    {"tiny": {"d": [0.5]}},
])
def test_wrong_shaped_confidence_cache_is_one_line_and_repairable(model, tmp_path,
                                                                 monkeypatch, record):
    """(#13) a malformed xface_confidence.json raised TypeError at explain time."""
    import json

    from xssab.errors import XssabError

    monkeypatch.setenv("XSSAB_HOME", str(tmp_path))
    record = {model.name: record["tiny"]}
    (tmp_path / "xface_confidence.json").write_text(json.dumps(record))
    img = faces(2, seed=9)
    with pytest.raises(XssabError, match="xface_confidence.json.*malformed") as exc:
        XFace().explain_pairs(model, [img[0]], [img[1]], THRESHOLD,
                              XFaceOptions(patch_sizes=(28,)))
    assert "\n" not in str(exc.value)
    conf = calibrate_confidence(model, _PairSet())  # calibrating again repairs it
    assert load_confidence(model, conf.dataset).params == conf.params

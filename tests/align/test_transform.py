"""Similarity fit, template, warp and the inverse warp onto the photo."""

from __future__ import annotations

import numpy as np
import pytest

from xssab.align.transform import (ARCFACE_TEMPLATE_112, apply, crop_coverage, invert,
                                   map_to_photo, similarity_transform, template_for, warp)
from xssab.errors import XssabError


def _similarity(angle, scale, tx, ty):
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return np.array([[c, -s, tx], [s, c, ty]])


def test_fit_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 200, (5, 2))
    m = _similarity(0.3, 0.55, -12.0, 40.0)
    got = similarity_transform(src, apply(m, src))
    np.testing.assert_allclose(got, m, atol=1e-9)


def test_fit_is_least_squares_and_never_reflects():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, (5, 2))
    mirrored = src * np.array([-1.0, 1.0])  # only a reflection maps src onto this exactly
    m = similarity_transform(src, mirrored)
    assert np.linalg.det(m[:, :2]) > 0
    noisy = apply(_similarity(-0.2, 1.7, 3.0, 5.0), src) + rng.normal(0, 0.5, (5, 2))
    m = similarity_transform(src, noisy)
    best = ((apply(m, src) - noisy) ** 2).sum()
    # any small change within the similarity family (scale, rotation, shift) fits worse
    for d in ([[1, 0, 0], [0, 1, 0]], [[0, -1, 0], [1, 0, 0]], [[0, 0, 50], [0, 0, 0]],
              [[0, 0, 0], [0, 0, 50]]):
        for sign in (1e-3, -1e-3):
            assert ((apply(m + sign * np.array(d), src) - noisy) ** 2).sum() > best


def test_template_scales_with_input_size_and_takes_a_card_template():
    np.testing.assert_allclose(template_for((112, 112)), ARCFACE_TEMPLATE_112)
    t = template_for((224, 112))
    np.testing.assert_allclose(t[:, 0], ARCFACE_TEMPLATE_112[:, 0])
    np.testing.assert_allclose(t[:, 1], ARCFACE_TEMPLATE_112[:, 1] * 2)
    own = [[30, 50], [66, 50], [48, 70], [34, 90], [62, 90]]
    np.testing.assert_allclose(template_for((112, 96), own), own)
    with pytest.raises(XssabError, match="five"):
        template_for((112, 112), [[1, 2]])


def test_inverse_warp_puts_a_crop_point_back_within_a_pixel():
    # a photo point -> crop; a peak drawn at the crop point comes back at the photo point
    m = _similarity(0.25, 0.8, -30.0, -20.0)
    photo_pt = np.array([[101.3, 87.6]])
    cx, cy = apply(m, photo_pt)[0]
    ys, xs = np.mgrid[0:112, 0:112]
    crop_map = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * 1.5 ** 2)).astype(np.float32)
    back = map_to_photo(crop_map, m, (200, 240))
    assert back.shape == (200, 240)
    y, x = np.unravel_index(np.nanargmax(back), back.shape)
    assert abs(x - photo_pt[0, 0]) <= 1.0 and abs(y - photo_pt[0, 1]) <= 1.0
    np.testing.assert_allclose(apply(invert(m), [[cx, cy]]), photo_pt, atol=1e-9)


def test_outside_the_crop_is_nan_or_the_fill_value():
    m = _similarity(0.0, 1.0, -50.0, -40.0)  # the crop is photo[40:152, 50:162]
    crop_map = np.ones((112, 112), np.float32)
    back = map_to_photo(crop_map, m, (200, 240))
    inside = crop_coverage(m, (112, 112), (200, 240))
    assert np.isnan(back[~inside]).all() and np.all(back[inside] == 1.0)
    assert inside[40:152, 50:162].all() and not inside[:39].any() and not inside[:, 163:].any()
    zero = map_to_photo(crop_map, m, (200, 240), fill=0.0)
    assert np.all(zero[~inside] == 0.0) and zero.sum() == inside.sum()


def test_warp_then_inverse_reproduces_the_photo_inside_the_crop():
    ys, xs = np.mgrid[0:160, 0:200]
    photo = (np.sin(xs / 9.0) + np.cos(ys / 7.0) + 2).astype(np.float32) * 60
    m = _similarity(0.1, 0.9, -20.0, -10.0)
    crop = warp(photo, m, (112, 112))
    back = map_to_photo(crop, m, photo.shape)
    inside = crop_coverage(m, (112, 112), photo.shape)
    inside[:, :2] = inside[:2, :] = False
    err = np.abs(back - photo)[inside & np.isfinite(back)]
    assert err.size > 5000 and np.median(err) < 1.0

from __future__ import annotations

import numpy as np
import pytest

from xssab.errors import XssabError
from xssab.models.preprocess import as_image_list, preprocess, resize, to_rgb


def test_rgb_normalisation_and_layout():
    img = np.zeros((4, 4, 3), np.uint8)
    img[..., 0] = 255
    x = preprocess(img, (4, 4))
    assert x.shape == (1, 3, 4, 4) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0], 1.0)
    np.testing.assert_allclose(x[0, 1], -1.0)


def test_bgr_swaps_channels_and_per_channel_mean_std():
    img = np.zeros((2, 2, 3), np.uint8)
    img[..., 0], img[..., 2] = 10, 200
    x = preprocess(img, (2, 2), "bgr", mean=(1.0, 2.0, 3.0), std=(1.0, 2.0, 4.0))
    np.testing.assert_allclose(x[0, 0], 199.0)          # B (=200) first
    np.testing.assert_allclose(x[0, 1], -1.0)           # G: (0-2)/2
    np.testing.assert_allclose(x[0, 2], (10 - 3) / 4)   # R last


def test_gray_rgba_and_lists_of_sizes():
    gray = np.arange(16, dtype=np.uint8).reshape(4, 4)
    assert to_rgb(gray).shape == (4, 4, 3)
    assert to_rgb(gray[:, :, None]).shape == (4, 4, 3)
    rgba = np.dstack([np.ones((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8)])
    np.testing.assert_array_equal(to_rgb(rgba), np.ones((4, 4, 3), np.uint8))
    x = preprocess([np.zeros((10, 7, 3), np.uint8), np.zeros((300, 200), np.uint8)], (8, 8))
    assert x.shape == (2, 3, 8, 8)
    assert len(as_image_list(np.zeros((5, 8, 8, 3), np.uint8))) == 5
    assert len(as_image_list(np.zeros((5, 8, 8), np.uint8))) == 5  # batch of gray
    with pytest.raises(XssabError):
        to_rgb(np.zeros((4, 4, 2), np.uint8))


def test_resize_uses_area_when_shrinking():
    img = np.zeros((4, 4, 3), np.uint8)
    img[::2, ::2] = 255  # checkerboard-ish: area averaging gives 63.75 everywhere
    small = resize(img, (2, 2))
    assert np.all(np.abs(small.astype(float) - 63.75) <= 1)
    assert resize(img, (8, 8)).shape == (8, 8, 3)


@pytest.mark.parametrize("order, mean, std", [("rgb", 127.5, 127.5),
                                              ("bgr", [127.5, 100.0, 90.1], [58.4, 57.1, 1.0]),
                                              ("rgb", 0.0, 255.0)])
def test_fast_path_is_bit_identical_to_the_plain_expression(order, mean, std):
    from xssab.models.preprocess import _vec, preprocess

    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 16, 12, 3), dtype=np.uint8)
    x = imgs.astype(np.float32)
    if order == "bgr":
        x = x[..., ::-1]
    ref = ((np.ascontiguousarray(x.transpose(0, 3, 1, 2)) - _vec(mean)) / _vec(std)
           ).astype(np.float32)
    for inp in (imgs, list(imgs), [im.copy() for im in imgs]):
        out = preprocess(inp, (16, 12), order, mean, std)
        assert out.dtype == np.float32 and out.flags.c_contiguous
        assert np.array_equal(out.view(np.uint32), ref.view(np.uint32))
    # a batch that needs conversion (gray, other size) still matches per image
    mixed = [imgs[0], imgs[1][:, :, 0]]
    out = preprocess(mixed, (16, 12), order, mean, std)
    assert np.array_equal(out[0].view(np.uint32), ref[0].view(np.uint32))

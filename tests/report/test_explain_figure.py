"""The explain figure: both rows, one row for sides='a', symmetric combined limits."""

from __future__ import annotations

import cv2
import numpy as np

from xssab.explain.base import Explanation, ImageMaps
from xssab.explain.maps import overlay, symmetric_limits
from xssab.kit import resize_map
from xssab.report.explain_figure import explain_figure


def _maps(h, w, seed):
    rng = np.random.default_rng(seed)
    p = rng.random((h, w), dtype=np.float32)
    n = rng.random((h, w), dtype=np.float32)
    return ImageMaps(p, n, p - n)


def test_figure_both_and_single_side(tmp_path):
    a = np.full((112, 112, 3), 120, np.uint8)
    b = np.full((90, 80), 60, np.uint8)  # gray, other size
    exp = Explanation("xssab", 0.42, 0.3, True, _maps(112, 112, 0), _maps(90, 80, 1))
    out = explain_figure(exp, a, b, tmp_path / "sub" / "f.png", model_name="m")
    img = cv2.imread(str(out))
    assert img is not None and img.shape[1] > 2 * img.shape[0]
    one = Explanation("random", 0.1, 0.3, False, _maps(112, 112, 2), None)
    out1 = explain_figure(one, a, None, tmp_path / "g.png")
    img1 = cv2.imread(str(out1))
    assert img1 is not None and img1.shape[0] < img.shape[0]
    assert not list(tmp_path.glob("**/*.tmp*"))


def test_map_helpers():
    m = np.array([[-2.0, 1.0], [0.5, 0.0]], np.float32)
    assert symmetric_limits(m) == (-2.0, 2.0)
    assert symmetric_limits(np.zeros((2, 2))) == (-1.0, 1.0)
    r = resize_map(np.arange(16, dtype=np.float32).reshape(4, 4), (8, 6))
    assert r.shape == (8, 6) and r.dtype == np.float32
    down = resize_map(np.ones((8, 8), np.float32), (2, 2))
    np.testing.assert_allclose(down, 1.0)
    ov = overlay(np.zeros((4, 4, 3), np.uint8), m[:1, :1].repeat(4, 0).repeat(4, 1),
                 "RdYlGn", -2.0, 2.0)
    assert ov.shape == (4, 4, 3) and 0.0 <= ov.min() and ov.max() <= 1.0

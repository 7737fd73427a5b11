"""The explain figure: both rows, one row for sides='a', symmetric combined limits."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

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


def test_figure_colour_limits(tmp_path, monkeypatch):
    """Combined maps: one symmetric scale +-max|C| over both rows; positive and negative
    maps: 0 .. their max over both rows (read back from the rendered figure's images)."""
    from matplotlib.figure import Figure

    from xssab.explain.maps import CMAP_COMBINED, CMAP_NEGATIVE, CMAP_POSITIVE

    figures = []
    real_savefig = Figure.savefig

    def keep(fig, *args, **kwargs):
        figures.append(fig)
        return real_savefig(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    rng = np.random.default_rng(3)
    # asymmetric ranges that differ per row: A's combined in [-0.3, 0.9], B's in [-1.2, 1.7]
    ca = rng.uniform(-0.3, 0.9, (112, 112)).astype(np.float32)
    cb = rng.uniform(-1.2, 1.7, (90, 80)).astype(np.float32)
    ca[0, 0], ca[0, 1], cb[0, 0], cb[0, 1] = -0.3, 0.9, -1.2, 1.7
    maps_a = ImageMaps(np.maximum(ca, 0) * 2, np.maximum(-ca, 0) * 3, ca)
    maps_b = ImageMaps(np.maximum(cb, 0) * 2, np.maximum(-cb, 0) * 3, cb)
    exp = Explanation("xssab", 0.42, 0.3, True, maps_a, maps_b)
    a = np.full((112, 112, 3), 120, np.uint8)
    b = np.full((90, 80, 3), 60, np.uint8)
    explain_figure(exp, a, b, tmp_path / "f.png")
    (fig,) = figures
    images = [im for ax in fig.axes for im in ax.get_images() if im.get_array().ndim == 2]
    by_cmap: dict[str, list] = {}
    for im in images:
        by_cmap.setdefault(im.get_cmap().name, []).append(im)
    expected = {CMAP_COMBINED: (-1.7, 1.7), CMAP_POSITIVE: (0.0, 3.4),
                CMAP_NEGATIVE: (0.0, 3.6)}
    for cmap, (lo, hi) in expected.items():
        ims = by_cmap[cmap]
        assert len(ims) == 2, cmap  # one per row
        for im in ims:
            vmin, vmax = im.get_clim()
            assert vmin == pytest.approx(lo, abs=1e-6) and vmax == pytest.approx(hi, abs=1e-6)
    shown = sorted((np.asarray(im.get_array()).shape for im in by_cmap[CMAP_COMBINED]))
    assert shown == [(90, 80), (112, 112)]

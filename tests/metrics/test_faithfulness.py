"""Deletion/insertion, Spearman, randomised copies and smoothing
(xssab/metrics/faithfulness.py), and the halving / sub-range summaries."""

import numpy as np
import pytest
from onnx import numpy_helper

from xssab.metrics import faithfulness as F
from xssab.metrics.summaries import SCALARS, halving_percent, method_statistics


def test_deletion_and_insertion_images():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    fill = F.fill_image(img, "black")
    m = rng.normal(size=(4, 5))
    order = F.ranking(m)
    dele = F.perturbed(img, fill, order, (0.0, 0.5, 1.0))
    ins = F.perturbed(img, fill, order, (0.0, 0.5, 1.0), insertion=True)
    assert np.array_equal(dele[0], img) and not dele[2].any()
    assert not ins[0].any() and np.array_equal(ins[2], img)
    top = np.unravel_index(int(np.argmax(m)), m.shape)
    assert not dele[1][top].any() and np.array_equal(ins[1][top], img[top])
    # LeRF deletion of f == insertion of 1 - f (why only insertion_auc is reported)
    lerf = F.perturbed(img, fill, F.ranking(m, False), (0.3,))
    assert np.array_equal(lerf[0], F.perturbed(img, fill, order, (0.7,), insertion=True)[0])


def test_fills():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10
    mean = F.fill_image(img, "mean")
    assert mean.shape == img.shape and np.all(mean[..., 0] == round(img[..., 0].mean()))
    assert F.fill_image(img, "blur").shape == img.shape
    with pytest.raises(ValueError, match="fill"):
        F.fill_image(img, "white")


def test_curve_area_and_spearman():
    assert F.curve_area([1.0] * 11) == pytest.approx(1.0)
    assert F.curve_area(np.linspace(0, 1, 11)) == pytest.approx(0.5)
    a = np.arange(16.0).reshape(4, 4)
    assert F.spearman(a, a ** 3) == pytest.approx(1.0)
    assert F.spearman(a, -a) == pytest.approx(-1.0)
    assert np.isnan(F.spearman(a, np.zeros_like(a)))


def test_randomized_proto_changes_weights_only(small_iresnet_onnx):
    import onnx

    proto = onnx.load(str(small_iresnet_onnx))
    r1, r2 = F.randomized_model_proto(proto, 0), F.randomized_model_proto(proto, 0)
    r3 = F.randomized_model_proto(proto, 1)
    changed = kept = 0
    for a, b, b2, c in zip(proto.graph.initializer, r1.graph.initializer,
                           r2.graph.initializer, r3.graph.initializer):
        x, y = numpy_helper.to_array(a), numpy_helper.to_array(b)
        assert x.shape == y.shape and np.array_equal(y, numpy_helper.to_array(b2))
        if x.ndim >= 2 and x.dtype.kind == "f" and x.size > 1:
            changed += not np.array_equal(x, y)
            assert not np.array_equal(y, numpy_helper.to_array(c))
        else:
            kept += np.array_equal(x, y)
    assert changed > 0 and kept > 0


def test_gaussian_smooth():
    m = np.zeros((21, 21), np.float32)
    m[10, 10] = 1
    assert np.array_equal(F.gaussian_smooth(m, 0), m)
    s = F.gaussian_smooth(m, 2.0)
    assert s[10, 10] < 1 and s[10, 12] > 0 and s.sum() == pytest.approx(1.0, abs=1e-4)


def test_halving_percent():
    p = [5, 10, 15]
    # start 0.8: half 0.4 reached between 5 % (0.6) and 10 % (0.2) -> 7.5 %
    assert halving_percent([0.6, 0.2, 0.1], 0.8, p) == pytest.approx(7.5)
    # reached between 0 % (start) and 5 %
    assert halving_percent([0.0, 0.0, 0.0], 0.8, p) == pytest.approx(2.5)
    assert np.isnan(halving_percent([0.7, 0.6, 0.5], 0.8, p))  # never halved
    assert np.isnan(halving_percent([0.0, 0.0, 0.0], 0.0, p))  # nothing to halve
    out = halving_percent(np.array([[0.6, 0.2, 0.1], [0.7, 0.6, 0.5]]), [0.8, 0.8], p)
    assert out[0] == pytest.approx(7.5) and np.isnan(out[1])


def test_sub_range_and_halving_statistics():
    rng = np.random.default_rng(0)
    n, P = 40, 19
    same = np.arange(n) % 2 == 0
    bw = np.sort(rng.random((n, P)) < 0.5, axis=1)[:, ::-1]  # monotone falling
    rnd = np.ones((n, P), bool)
    st = method_statistics(same, bw, rnd, initial=np.ones(n, bool))
    for k in ("area_fmr_best_worst_5_30", "gap_fnmr_30_95", "halving_fnmr_best_worst",
              "halving_gap_fmr"):
        assert k in st and k in SCALARS
    idx = np.arange(n)
    full = st["gap_fmr"](idx)
    parts = st["gap_fmr_5_30"](idx) + st["gap_fmr_30_95"](idx)
    assert full == pytest.approx(parts)  # the two sub-ranges add up to the 5-95 area
    assert np.isnan(st["halving_fnmr_random"](idx))  # random never falls here

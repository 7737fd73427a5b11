import numpy as np
import pytest

from xssab.metrics.dpr import (
    PERCENTS,
    best_worst_order,
    curve_area,
    dpr_curve,
    dpr_scores,
    n_replaced,
    random_order,
    rates,
    replaced_series,
)


def test_percentages_are_5_to_95_step_5():
    assert PERCENTS == tuple(range(5, 96, 5))
    assert len(PERCENTS) == 19


def test_n_replaced_rounding():
    assert n_replaced(5, 112 * 112) == 627  # 627.2
    assert n_replaced(50, 3) == 2  # 1.5 rounds half up
    assert n_replaced(95, 100) == 95


def test_best_worst_picks_lowest_for_nonmatch_highest_for_match():
    cmap = np.array([[0.3, -1.0], [2.0, 0.0]])
    # flat: [0.3, -1.0, 2.0, 0.0]
    assert list(best_worst_order(cmap, match=False)) == [1, 3, 0, 2]
    assert list(best_worst_order(cmap, match=True)) == [2, 0, 3, 1]


def test_best_worst_ties_stable():
    cmap = np.zeros((2, 3))
    assert list(best_worst_order(cmap, match=True)) == list(range(6))
    assert list(best_worst_order(cmap, match=False)) == list(range(6))


def test_replaced_pixels_which_and_how_many():
    h = w = 10
    patched = np.zeros((h, w, 3), np.uint8)
    original = np.full((h, w, 3), 255, np.uint8)
    cmap = np.arange(h * w, dtype=float).reshape(h, w)  # unique values
    for match in (False, True):
        order = best_worst_order(cmap, match)
        series = replaced_series(patched, original, order, PERCENTS)
        assert series.shape == (19, h, w, 3)
        for p, img in zip(PERCENTS, series):
            replaced = img[..., 0] == 255
            assert (img[..., 0] == img[..., 2]).all()  # whole pixel replaced
            k = n_replaced(p, h * w)
            assert replaced.sum() == k
            if match:  # highest C replaced
                assert replaced.ravel()[h * w - k:].all()
            else:  # lowest C replaced
                assert replaced.ravel()[:k].all()


def test_random_order_nested_and_seeded():
    o1 = random_order(400, seed=3, pair_index=7)
    assert sorted(o1) == list(range(400))
    assert np.array_equal(o1, random_order(400, seed=3, pair_index=7))
    assert not np.array_equal(o1, random_order(400, seed=3, pair_index=8))
    patched = np.zeros((20, 20, 3), np.uint8)
    original = np.full((20, 20, 3), 9, np.uint8)
    series = replaced_series(patched, original, o1)
    prev = np.zeros((20, 20), bool)
    for img in series:
        cur = img[..., 0] == 9
        assert (cur | ~prev).all()  # every earlier replaced pixel is still replaced
        prev = cur


def test_rates_and_area():
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.9, 0.9], [0.0, 0.0]])
    same = [True, True, False, False]
    fmr, fnmr = rates(scores, same, 0.5)
    assert fmr == [0.5, 0.5]
    assert fnmr == [0.5, 0.5]
    assert curve_area([5, 95], [1.0, 1.0]) == pytest.approx(0.9)
    assert curve_area([0, 50, 100], [1.0, 0.0, 0.0]) == pytest.approx(0.25)


def test_dpr_scores_batches_across_pairs():
    calls = []

    def score_fn(images, idx):
        calls.append(len(images))
        return np.array([img.mean() + 1000 * i for img, i in zip(images, idx)])

    rng = np.random.default_rng(0)
    patched = [rng.integers(0, 255, (4, 4, 3), dtype=np.uint8) for _ in range(5)]
    orig = [rng.integers(0, 255, (4, 4, 3), dtype=np.uint8) for _ in range(5)]
    orders = [random_order(16, 0, i) for i in range(5)]
    s = dpr_scores(score_fn, patched, orig, orders, PERCENTS, batch_size=40)
    assert s.shape == (5, 19)
    assert calls == [38, 38, 19]
    for i in range(5):
        series = replaced_series(patched[i], orig[i], orders[i])
        np.testing.assert_allclose(s[i], [im.mean() + 1000 * i for im in series])


def test_dpr_curve_constructed_case():
    """Score = fraction of pixels equal to the original: a perfect map of a non-match pair
    restores it sooner than random."""
    h = w = 10
    n = h * w
    original = [np.full((h, w, 3), 200, np.uint8)]
    patched = [original[0].copy()]
    mask = np.zeros((h, w), bool)
    mask[:3, :] = True  # 30% patched
    patched[0][mask] = 0

    def score_fn(images, idx):
        return np.array([(im[..., 0] == 200).mean() for im in images])

    cmap = np.where(mask, -1.0, 1.0)  # perfect: patch is the dissimilar part
    t = 0.99
    s0 = [0.7]
    bw = dpr_curve(score_fn, patched, original, [True], s0, t, "best_worst", maps=[cmap])
    rnd = dpr_curve(score_fn, patched, original, [True], s0, t, "random", seed=0)
    assert bw["percent"] == list(PERCENTS)
    # best_worst restores all 30 patched pixels at p = 30 -> match from then on
    assert bw["fnmr"][:5] == [1.0] * 5
    assert bw["fnmr"][5:] == [0.0] * 14
    assert bw["area_fnmr"] < rnd["area_fnmr"]
    assert np.all(np.diff(rnd["scores"][0]) >= 0)
    assert np.isnan(bw["fmr"]).all()  # no impostor pairs -> FMR undefined
    assert n_replaced(30, n) == 30


def test_dpr_curve_map_shape_checked():
    img = [np.zeros((4, 4, 3), np.uint8)]
    with pytest.raises(ValueError):
        dpr_curve(lambda i, k: np.zeros(len(i)), img, img, [True], [0.0], 0.5,
                  "best_worst", maps=[np.zeros((3, 3))])


def test_best_worst_order_of_float32_maps_is_the_stable_float64_order():
    """The float32 fast path (one integer key per pixel) gives the documented order:
    the stable float64 sort, ties by index, -0 == +0, NaN last."""
    from xssab.metrics.dpr import best_worst_order

    rng = np.random.default_rng(3)
    for t in range(40):
        m = rng.normal(size=(23, 17)).astype(np.float32)
        if t % 2:
            m = np.round(m * 2) / 2  # many ties
        m.flat[rng.integers(0, m.size, 5)] = [np.nan, -0.0, 0.0, np.inf, -np.inf]
        for match in (False, True):
            flat = m.astype(np.float64).ravel()
            key = -flat if match else flat
            want = np.argsort(np.where(np.isnan(key), np.inf, key), kind="stable")
            got = best_worst_order(m, match)
            assert got.dtype == want.dtype and np.array_equal(got, want)


def test_replaced_series_input_is_the_preprocessed_replaced_series():
    """Replacement on the model input selects the same values as preprocessing each
    replaced image (pixel-wise preprocessing commutes with pixel replacement)."""
    from xssab.metrics.dpr import PERCENTS, replaced_series, replaced_series_input
    from xssab.models.preprocess import normalize

    rng = np.random.default_rng(4)
    pa, orig = (rng.integers(0, 256, (9, 11, 3), dtype=np.uint8) for _ in range(2))
    order = rng.permutation(99)
    for co, mean, std in (("rgb", 127.5, 127.5), ("bgr", (0.1, 2.0, 30.0), (1.0, 7.0, 0.3))):
        want = normalize(replaced_series(pa, orig, order), co, mean, std)
        got = replaced_series_input(normalize(pa[None], co, mean, std)[0],
                                    normalize(orig[None], co, mean, std)[0], order)
        assert got.shape == (len(PERCENTS), 3, 9, 11) and got.dtype == np.float32
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32))

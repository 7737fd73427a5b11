import numpy as np
import pytest

from xssab.metrics.localization import auroc, localization, mean_auroc, pair_auroc


def test_auroc_perfect_inverse_and_chance():
    s = np.array([0.1, 0.2, 0.8, 0.9])
    y = np.array([False, False, True, True])
    assert auroc(s, y) == 1.0
    assert auroc(-s, y) == 0.0
    assert auroc(np.zeros(4), y) == 0.5  # all tied -> average ranks -> chance


def test_auroc_known_value_with_ties():
    # positives 0.5, 0.9; negatives 0.1, 0.5, 0.7
    # pairs (pos > neg): 0.5>0.1 (1), 0.5=0.5 (0.5), 0.5<0.7 (0); 0.9 beats all (3) -> 4.5/6
    s = np.array([0.5, 0.9, 0.1, 0.5, 0.7])
    y = np.array([True, True, False, False, False])
    assert auroc(s, y) == pytest.approx(4.5 / 6)


def test_auroc_matches_brute_force():
    rng = np.random.default_rng(1)
    s = rng.integers(0, 5, 200).astype(float)  # many ties
    y = rng.random(200) < 0.3
    pos, neg = s[y], s[~y]
    brute = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum())
    assert auroc(s, y) == pytest.approx(brute / (pos.size * neg.size))


def test_auroc_undefined_for_one_class():
    assert auroc([1.0, 2.0], [True, True]) is None
    assert auroc([1.0, 2.0], [False, False]) is None


def test_pair_sign_impostor_high_genuine_low():
    mask = np.zeros((4, 4), bool)
    mask[:2, :2] = True
    cmap = np.where(mask, 1.0, 0.0)  # patch ranks high
    assert pair_auroc(cmap, mask, same=False) == 1.0  # impostor: high C = planted similar
    assert pair_auroc(cmap, mask, same=True) == 0.0  # genuine: planted should be LOW
    assert pair_auroc(-cmap, mask, same=True) == 1.0


def test_mean_skips_undefined_and_averages_per_pair():
    m1 = np.zeros((2, 2), bool)
    m1[0, 0] = True
    good = np.array([[1.0, 0.0], [0.0, 0.0]])
    full = np.ones((2, 2), bool)
    mean, per = mean_auroc([good, -good, good], [m1, m1, full], [False, False, False])
    assert per == [1.0, 0.0, None]
    assert mean == 0.5


def test_localization_control_and_difference():
    mask = np.zeros((3, 3), bool)
    mask[1, 1] = True
    patched = np.where(mask, 5.0, 0.0)
    unpatched = np.zeros((3, 3))
    out = localization([patched], [unpatched], [mask], [False])
    assert out["auroc"] == 1.0
    assert out["control"] == 0.5
    assert out["difference"] == 0.5
    assert localization([patched], None, [mask], [False])["control"] is None


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        pair_auroc(np.zeros((2, 2)), np.zeros((3, 3), bool), True)


def test_positive_rank_sum_equals_scipy_average_ranks():
    from scipy.stats import rankdata

    from xssab.metrics.localization import positive_rank_sum

    rng = np.random.default_rng(5)
    for t in range(60):
        n = int(rng.integers(2, 500))
        s = (rng.integers(0, 1 + t % 7, n).astype(np.float64) if t % 2
             else rng.normal(size=n))
        s[: t % 4] = -0.0
        y = rng.random(n) < 0.4
        assert positive_rank_sum(s, y) == float(rankdata(s, method="average")[y].sum())

"""CorrRISE: seeded masks, per-pixel Spearman correlation equal to scipy's."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from tests.plugins.tiny import THRESHOLD, faces, load_tiny
from xssab_corrrise import CorrRISE, CorrRISEOptions, make_masks, rank_correlation_maps


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_tiny(tmp_path_factory.mktemp("corrrise"))


def test_masks_are_seeded_with_three_square_holes():
    m = make_masks((112, 112), n_masks=500, n_holes=3, hole=30, seed=4)
    assert m.shape == (500, 112, 112) and m.dtype == bool
    np.testing.assert_array_equal(m, make_masks((112, 112), 500, 3, 30, seed=4))
    assert not np.array_equal(m, make_masks((112, 112), 500, 3, 30, seed=5))
    occluded = (~m).sum(axis=(1, 2))
    assert occluded.min() >= 900 and occluded.max() <= 2700
    assert np.any(occluded == 2700)  # non-overlapping holes occur


def test_rank_correlation_equals_scipy_spearman():
    rng = np.random.default_rng(0)
    masks = make_masks((24, 24), n_masks=80, n_holes=3, hole=7, seed=1)
    sims = rng.normal(size=80)
    sims[5] = sims[6] = sims[7]  # ties
    corr = rank_correlation_maps(masks, sims)
    for y, x in [(3, 4), (12, 12), (23, 0), (17, 9)]:
        expected = spearmanr(masks[:, y, x], sims).statistic
        assert corr[y, x] == pytest.approx(expected, abs=1e-12)
    two = rank_correlation_maps(masks, np.stack([sims, -sims]))
    np.testing.assert_allclose(two[0], corr)
    np.testing.assert_allclose(two[1], -corr, atol=1e-12)


@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")
def test_maps_are_spearman_of_recomputed_similarities(model):
    img = faces(4, seed=31)
    opt = CorrRISEOptions(n_masks=60, seed=3)
    res = CorrRISE().explain_pairs(model, [img[0], img[2]], [img[1], img[3]], THRESHOLD,
                                   opt)
    assert res[0].forward_passes == 2 + 2 * 60
    masks = make_masks((112, 112), 60, 3, 30, seed=3)
    for i, (a, b) in enumerate([(img[0], img[1]), (img[2], img[3])]):
        # both sides: occlude the uint8 image, embed, cosine to the intact partner
        for maps, (x_img, partner) in ((res[i].a, (a, b)), (res[i].b, (b, a))):
            occluded = [x_img * m[:, :, None] for m in masks]
            e = model.embed(occluded + [partner], normalize=True)
            sims = e[:-1] @ e[-1]
            for y, x in [(10, 10), (56, 60), (100, 20), (111, 111)]:
                expected = spearmanr(masks[:, y, x], sims).statistic
                if np.isnan(expected):
                    expected = 0.0
                assert maps.combined[y, x] == pytest.approx(expected, abs=1e-4)
            np.testing.assert_allclose(maps.positive - maps.negative, maps.combined,
                                       atol=1e-7)
            np.testing.assert_array_equal(maps.positive, np.maximum(maps.combined, 0))
    # one mask set shared across pairs: pair 2 alone gives the same maps as in the batch
    (alone,) = CorrRISE().explain_pairs(model, [img[2]], [img[3]], THRESHOLD, opt,
                                        sides="a")
    assert alone.b is None and alone.forward_passes == 62
    np.testing.assert_allclose(alone.a.combined, res[1].a.combined, atol=1e-7)

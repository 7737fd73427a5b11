import numpy as np
import pytest

from xssab.data.base import Pair
from xssab.data.patched import N_PATCHES, PATCH, build_patched


class Fake:
    name = "fake"

    def __init__(self, n_ids=5, per_id=2, size=112):
        rng = np.random.RandomState(1)
        self.images = {f"I{i}/I{i}_{k:04d}": rng.randint(0, 256, (size, size, 3)).astype(np.uint8)
                       for i in range(n_ids) for k in range(1, per_id + 1)}
        self.loads = 0

    def keys(self):
        return list(self.images)

    def identity(self, key):
        return key.split("/")[0]

    def load(self, key):
        self.loads += 1
        return self.images[key].copy()

    def pairs(self):
        return [Pair("I0/I0_0001", "I0/I0_0002", True), Pair("I1/I1_0001", "I2/I2_0002", False),
                Pair("I3/I3_0001", "I3/I3_0002", True), Pair("I4/I4_0001", "I0/I0_0001", False)]


def _expected_positions(rs):
    return [(rs.randint(0, 96), rs.randint(0, 96)) for _ in range(N_PATCHES)]


def test_impostor_and_genuine_patches_follow_the_protocol():
    ds = Fake()
    ps = build_patched(ds)
    assert len(ps) == 4 and list(ps.same) == [True, False, True, False]
    # impostor pass: RandomState(3), pairs in order, 27 x (col, row)
    rs = np.random.RandomState(3)
    for i in (1, 3):
        it = ps[i]
        mask = np.zeros((112, 112), bool)
        for col, row in _expected_positions(rs):
            mask[row:row + PATCH, col:col + PATCH] = True
        assert np.array_equal(it.mask, mask)
        b = ds.images[it.pair.b]
        a = ds.images[it.pair.a]
        assert np.array_equal(it.patched[mask], b[mask])
        assert np.array_equal(it.patched[~mask], a[~mask])
        assert np.array_equal(it.original, a) and np.array_equal(it.other, b)
        assert it.donor is None
    # genuine pass: reseeded; donor first, then the positions
    rs = np.random.RandomState(3)
    keys = sorted(ds.keys())
    for i in (0, 2):
        it = ps[i]
        pool = [k for k in keys if ds.identity(k) != ds.identity(it.pair.a)]
        donor = pool[rs.randint(0, len(pool))]
        assert it.donor == donor and ds.identity(donor) != ds.identity(it.pair.a)
        mask = np.zeros((112, 112), bool)
        for col, row in _expected_positions(rs):
            mask[row:row + PATCH, col:col + PATCH] = True
        assert np.array_equal(it.mask, mask)
        assert np.array_equal(it.patched[mask], ds.images[donor][mask])
        assert np.array_equal(it.patched[~mask], ds.images[it.pair.a][~mask])
        assert np.array_equal(it.other, ds.images[it.pair.b])


def test_deterministic_and_cached_losslessly(tmp_path):
    ds = Fake()
    a = build_patched(ds, cache_dir=tmp_path / "c")
    assert (tmp_path / "c" / "manifest.json").exists()
    b = build_patched(ds, cache_dir=tmp_path / "c")  # reload from PNG
    c = build_patched(ds)
    for x, y, z in zip(a, b, c):
        assert np.array_equal(x.patched, y.patched) and np.array_equal(x.patched, z.patched)
        assert np.array_equal(x.mask, y.mask) and x.donor == y.donor
    # a different pair list does not reuse the cache
    d = build_patched(ds, ds.pairs()[:2], cache_dir=tmp_path / "c")
    assert len(d) == 2


def test_other_sizes_are_resized():
    ds = Fake(size=120)
    ds.images["I2/I2_0002"] = np.zeros((60, 60, 3), np.uint8)
    ps = build_patched(ds, [Pair("I1/I1_0001", "I2/I2_0002", False)])
    it = ps[0]
    assert it.patched.shape == (120, 120, 3)
    assert (it.patched[it.mask] == 0).all()
    assert it.mask.sum() >= PATCH * PATCH

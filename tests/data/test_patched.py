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


# ---------------------------------------------------------------- hostile inputs (#13)
def test_image_side_of_16_is_a_one_line_error():
    from xssab.errors import DatasetError

    ds = Fake(size=16)
    with pytest.raises(DatasetError, match="16x16 is too small.*more than 16"):
        build_patched(ds, [Pair("I1/I1_0001", "I2/I2_0002", False)])
    assert len(build_patched(Fake(size=17), [Pair("I1/I1_0001", "I2/I2_0002", False)])) == 1


def test_cache_not_reused_when_an_image_changes_in_place(tmp_path):
    ds = Fake()
    build_patched(ds, cache_dir=tmp_path / "c")
    ds.images["I1/I1_0001"][:] = 7  # same keys, same pair list, other pixels
    fresh = build_patched(ds)
    again = build_patched(ds, cache_dir=tmp_path / "c")
    for x, y in zip(fresh, again):
        assert np.array_equal(x.patched, y.patched)


@pytest.mark.parametrize("damage", ["manifest", "donors", "png", "shape"])
def test_damaged_cache_is_rebuilt_not_trusted(tmp_path, damage):
    import json

    import cv2

    ds = Fake()
    ref = build_patched(ds, cache_dir=tmp_path / "c")
    c = tmp_path / "c"
    meta = json.loads((c / "manifest.json").read_text())
    if damage == "manifest":
        (c / "manifest.json").write_text("[1, 2")
    elif damage == "donors":
        meta["donors"] = meta["donors"][:1]
        (c / "manifest.json").write_text(json.dumps(meta))
    elif damage == "png":
        (c / "patched" / "00001.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    else:
        cv2.imwrite(str(c / "mask" / "00002.png"), np.zeros((5, 5), np.uint8))
    again = build_patched(ds, cache_dir=c)
    for x, y in zip(ref, again):
        assert np.array_equal(x.patched, y.patched) and np.array_equal(x.mask, y.mask)

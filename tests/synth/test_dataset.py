import numpy as np
import pytest

from xssab.data.lfw import LfwDataset
from xssab.data.pairs import read_pairs
from xssab.errors import DatasetError
from xssab.synth.dataset import SynthDataset
from xssab.synth.render import MASK_PARTS


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    mp = pytest.MonkeyPatch()
    mp.setenv("XSSAB_HOME", str(home))
    ds = SynthDataset(pairs_per_fold=6)
    yield ds, home
    mp.undo()


def test_lfw_layout_folds_and_pairs(small):
    ds, home = small
    assert ds.name == "synth"
    assert str(ds.root).startswith(str(home / "synth"))
    entries = read_pairs(ds.root / "pairs.txt")
    assert (ds.root / "pairs.txt").read_text().splitlines()[0] == "10\t6"
    pairs = ds.pairs()
    assert len(pairs) == len(entries) == 120
    folds = {}
    for p in pairs:
        folds.setdefault(p.fold, set()).update({ds.identity(p.a), ds.identity(p.b)})
        assert (ds.identity(p.a) == ds.identity(p.b)) == p.same
    assert sorted(folds) == list(range(10))
    all_ids = [i for s in folds.values() for i in s]
    assert len(all_ids) == len(set(all_ids))  # identities of different folds are disjoint
    assert all(i.startswith("T") for i in all_ids)  # test split, never train (R) / val (V)
    assert len({(p.a, p.b) for p in pairs}) == 120
    img = ds.load(pairs[0].a)
    assert img.shape == (112, 112, 3) and img.dtype == np.uint8
    assert (ds.root / (pairs[0].a + ".png")).exists()
    same_as_lfw = LfwDataset(ds.root)
    assert np.array_equal(same_as_lfw.load(pairs[5].b), ds.load(pairs[5].b))


def test_masks_and_idempotence(small):
    ds, home = small
    key = ds.pairs()[0].a
    masks = ds.part_masks(key)
    assert set(masks) == set(MASK_PARTS)
    assert masks["eyes"].sum() > 20 and masks["nose"].sum() > 10
    stamp = (ds.root / "settings.json").stat().st_mtime_ns
    again = SynthDataset(ds.root, pairs_per_fold=6)
    assert again.root == ds.root
    assert (ds.root / "settings.json").stat().st_mtime_ns == stamp
    assert not [p for p in ds.root.parent.iterdir() if ".tmp" in p.name]


def test_bad_options():
    with pytest.raises(DatasetError, match="unknown option"):
        SynthDataset(pairs_per_fold=6, colour=3)
    with pytest.raises(DatasetError, match="pairs_per_fold"):
        SynthDataset(pairs_per_fold=0)

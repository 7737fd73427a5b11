import pickle

import cv2
import numpy as np

from tests.data.test_patched import Fake
from xssab.data.binfile import BinDataset
from xssab.data.fingerprint import dataset_fingerprint
from xssab.data.folder import FolderDataset
from xssab.data.patched import build_patched


def _folder(root):
    root.mkdir()
    for i in (1, 2):
        cv2.imwrite(str(root / f"{i:05d}.png"), np.full((8, 8, 3), 10 * i, np.uint8))
    (root / "pairs.txt").write_text("00001.png 00002.png 1\n")
    return FolderDataset(root)


def test_folder_fingerprint_follows_content_not_names(tmp_path):
    ds = _folder(tmp_path / "a")
    keys = ["00001.png", "00002.png"]
    f0 = dataset_fingerprint(ds, keys)
    assert dataset_fingerprint(_folder(tmp_path / "b"), keys) == f0  # same content
    cv2.imwrite(str(tmp_path / "a" / "00002.png"), np.full((8, 8, 3), 99, np.uint8))
    assert dataset_fingerprint(ds, keys) != f0  # changed in place


def test_bin_and_generic_fingerprints(tmp_path):
    png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    f = tmp_path / "x.bin"
    f.write_bytes(pickle.dumps(([png, png], [True]), 2))
    a = dataset_fingerprint(BinDataset(f), ["0", "1"])
    png2 = cv2.imencode(".png", np.ones((8, 8, 3), np.uint8))[1].tobytes()
    f.write_bytes(pickle.dumps(([png, png2], [True]), 2))
    assert dataset_fingerprint(BinDataset(f), ["0", "1"]) != a
    fake = Fake()
    g0 = dataset_fingerprint(fake, fake.keys())
    fake.images["I1/I1_0001"][0, 0, 0] ^= 1
    assert dataset_fingerprint(fake, fake.keys()) != g0


def test_patched_fingerprint_same_cached_and_fresh_and_covers_donors(tmp_path):
    ds = Fake()
    a = build_patched(ds, cache_dir=tmp_path / "c")
    b = build_patched(ds, cache_dir=tmp_path / "c")
    assert a.fingerprint == b.fingerprint == build_patched(ds).fingerprint
    donor = next(it.donor for it in a if it.donor)
    ds.images[donor][:] = 1  # only a donor changes: not an image of any pair
    assert build_patched(ds, cache_dir=tmp_path / "c").fingerprint != a.fingerprint

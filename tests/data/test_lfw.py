import cv2
import numpy as np
import pytest

from xssab.data.lfw import LfwDataset
from xssab.errors import DatasetError


def _make(tmp_path, size=(250, 250), ext=".jpg"):
    rng = np.random.RandomState(0)
    imgs = {}
    for name in ("Ann_A", "Bob_B"):
        (tmp_path / name).mkdir()
        for k in (1, 2):
            img = np.zeros(size + (3,), np.uint8)
            img[..., 0] = 200  # R
            img[..., 2] = 20   # B
            img[size[0] // 2 - 5:size[0] // 2 + 5, size[1] // 2 - 5:size[1] // 2 + 5, 1] = \
                rng.randint(0, 255)
            cv2.imwrite(str(tmp_path / name / f"{name}_{k:04d}{ext}"), img[..., ::-1])
            imgs[f"{name}/{name}_{k:04d}"] = img
    (tmp_path / "pairs.txt").write_text("1\t1\nAnn_A\t1\t2\nAnn_A\t1\tBob_B\t2\n")
    return imgs


def test_loads_rgb_any_size_and_keys(tmp_path):
    imgs = _make(tmp_path, ext=".png")
    ds = LfwDataset(tmp_path)
    assert ds.ext == ".png"
    p = ds.pairs()
    assert [x.same for x in p] == [True, False]
    img = ds.load(p[0].a)
    assert img.dtype == np.uint8 and img.shape == (250, 250, 3)
    assert np.array_equal(img, imgs[p[0].a])  # RGB, not BGR
    assert ds.identity(p[1].b) == "Bob_B"
    assert len(ds.keys()) == 4


def test_centre_crop(tmp_path):
    imgs = _make(tmp_path, ext=".png")
    ds = LfwDataset(tmp_path, crop=150)
    img = ds.load("Ann_A/Ann_A_0001")
    assert img.shape == (150, 150, 3)
    assert np.array_equal(img, imgs["Ann_A/Ann_A_0001"][50:200, 50:200])
    with pytest.raises(DatasetError, match="larger"):
        LfwDataset(tmp_path, crop=400).load("Ann_A/Ann_A_0001")


def test_missing_and_undecodable_files(tmp_path):
    _make(tmp_path)
    ds = LfwDataset(tmp_path)
    (tmp_path / "Bob_B" / "Bob_B_0002.jpg").write_bytes(b"not an image")
    with pytest.raises(DatasetError, match="Bob_B_0002.jpg"):
        ds.load("Bob_B/Bob_B_0002")
    (tmp_path / "Ann_A" / "Ann_A_0002.jpg").unlink()
    with pytest.raises(DatasetError, match="Ann_A_0002.jpg"):
        ds.load("Ann_A/Ann_A_0002")
    with pytest.raises(DatasetError, match="not found"):
        LfwDataset(tmp_path / "nowhere")
    with pytest.raises(DatasetError):
        LfwDataset(None)


# ---------------------------------------------------------------- hostile inputs (#13)
def test_identity_names_leaving_the_root_refused(tmp_path):
    root = tmp_path / "lfw"
    root.mkdir()
    _make(root)
    (tmp_path / "other").mkdir()
    (root / "pairs.txt").write_text("1\t1\n../other\t1\t2\nAnn_A\t1\tBob_B\t2\n")
    with pytest.raises(DatasetError, match="refused"):
        LfwDataset(root)


def test_empty_and_directory_images(tmp_path):
    _make(tmp_path)
    ds = LfwDataset(tmp_path)
    (tmp_path / "Ann_A" / "Ann_A_0001.jpg").write_bytes(b"")
    with pytest.raises(DatasetError, match="empty"):
        ds.load("Ann_A/Ann_A_0001")
    (tmp_path / "Ann_A" / "Ann_A_0001.jpg").unlink()
    (tmp_path / "Ann_A" / "Ann_A_0001.jpg").mkdir()
    with pytest.raises(DatasetError, match="directory"):
        ds.load("Ann_A/Ann_A_0001")


def test_pairs_file_device_and_non_utf8(tmp_path):
    _make(tmp_path)
    with pytest.raises(DatasetError, match="not a regular file"):
        LfwDataset(tmp_path, pairs_file="/dev/zero")
    (tmp_path / "pairs.txt").write_bytes(b"1\t1\n\xff\t1\t2\nAnn_A\t1\tBob_B\t2\n")
    with pytest.raises(DatasetError, match="not UTF-8"):
        LfwDataset(tmp_path)

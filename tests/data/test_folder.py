import os

import cv2
import numpy as np
import pytest

from xssab.data.folder import FolderDataset
from xssab.errors import DatasetError


def _make(tmp_path, n_img=6, lines=None, list_name="pairs.txt"):
    imgs = {}
    for i in range(1, n_img + 1):
        img = np.random.default_rng(i).integers(0, 255, (8, 8, 3), dtype=np.uint8)
        name = f"{i:05d}.png"
        cv2.imwrite(str(tmp_path / name), img[..., ::-1])
        imgs[name] = img
    lines = lines or ["00001.png 00002.png 1", "00003.png 00004.png -1",
                      "00002.png 00005.png 1", "00005.png 00006.png -1"]
    (tmp_path / list_name).write_text("# comment\n" + "\n".join(lines) + "\n\n")
    return imgs


def test_pairs_images_identities(tmp_path):
    imgs = _make(tmp_path)
    ds = FolderDataset(tmp_path)
    pairs = ds.pairs()
    assert [(p.a, p.b, p.same) for p in pairs][:2] == [
        ("00001.png", "00002.png", True), ("00003.png", "00004.png", False)]
    np.testing.assert_array_equal(ds.load("00003.png"), imgs["00003.png"])
    # genuine pairs chain 1-2-5 into one identity; 3, 4, 6 are each their own
    assert ds.identity("00001.png") == ds.identity("00005.png")
    assert ds.identity("00003.png") != ds.identity("00004.png")
    assert ds.identity("00006.png") != ds.identity("00001.png")
    assert sorted(ds.keys()) == sorted(imgs)


def test_folds_ten_consecutive_chunks(tmp_path):
    lines = [f"{1 + i % 6:05d}.png {1 + (i + 1) % 6:05d}.png {1 if i % 2 else -1}"
             for i in range(30)]
    _make(tmp_path, lines=lines)
    folds = [p.fold for p in FolderDataset(tmp_path).pairs()]
    assert folds == [i // 3 for i in range(30)]


def test_explicit_list_and_list_as_path(tmp_path):
    _make(tmp_path, list_name="mylist.lst")
    with pytest.raises(DatasetError, match="no pair list"):
        FolderDataset(tmp_path)
    assert len(FolderDataset(tmp_path, pairs_file="mylist.lst").pairs()) == 4
    assert len(FolderDataset(tmp_path / "mylist.lst").pairs()) == 4


def test_errors(tmp_path):
    with pytest.raises(DatasetError, match="needs a path"):
        FolderDataset(None)
    with pytest.raises(DatasetError, match="does not exist"):
        FolderDataset(tmp_path / "missing")
    _make(tmp_path, lines=["00001.png 00002.png yes"])
    with pytest.raises(DatasetError, match=r"pairs\.txt:2"):
        FolderDataset(tmp_path)


def test_missing_and_corrupt_images(tmp_path):
    _make(tmp_path, lines=["00001.png 00009.png 1", "00002.png 00003.png -1"])
    (tmp_path / "00002.png").write_bytes(b"\x89PNG garbage")
    ds = FolderDataset(tmp_path)
    with pytest.raises(DatasetError, match="00009.png"):
        ds.load("00009.png")
    with pytest.raises(DatasetError, match="00002.png.*cannot decode"):
        ds.load("00002.png")


# ---------------------------------------------------------------- hostile inputs (#13)
@pytest.mark.parametrize("name", ["../outside.png", "/etc/hostname", "sub/../../outside.png",
                                  "link.png"])
def test_paths_leaving_the_folder_refused_without_oracle(tmp_path, name):
    root = tmp_path / "data"
    root.mkdir()
    _make(root, lines=[f"00001.png {name} -1", "00002.png 00003.png 1"])
    outside = tmp_path / "outside.png"
    cv2.imwrite(str(outside), np.zeros((8, 8, 3), np.uint8))
    (root / "link.png").symlink_to(outside)
    with pytest.raises(DatasetError, match="refused") as e1:
        FolderDataset(root)
    outside.unlink()
    with pytest.raises(DatasetError, match="refused") as e2:
        FolderDataset(root)
    assert str(e1.value) == str(e2.value)  # same words whether the target exists or not
    assert "\n" not in str(e1.value)


def test_pair_list_not_utf8_directory_device_fifo(tmp_path):
    _make(tmp_path)
    (tmp_path / "pairs.txt").write_bytes(b"00001.png 00002.png 1\n\xff\xfe\n")
    with pytest.raises(DatasetError, match="not UTF-8"):
        FolderDataset(tmp_path)
    (tmp_path / "pairs.txt").unlink()
    (tmp_path / "pairs.txt").mkdir()
    with pytest.raises(DatasetError, match="directory"):
        FolderDataset(tmp_path, pairs_file="pairs.txt")
    with pytest.raises(DatasetError, match="not a regular file"):
        FolderDataset(tmp_path, pairs_file="/dev/zero")
    os.mkfifo(tmp_path / "fifo.txt")
    with pytest.raises(DatasetError, match="not a regular file"):
        FolderDataset(tmp_path, pairs_file="fifo.txt")


def test_image_directory_fifo_empty_and_bomb(tmp_path, monkeypatch):
    _make(tmp_path, lines=["00001.png d.png 1", "f.png e.png -1", "big.png 00002.png 1"])
    (tmp_path / "d.png").mkdir()
    os.mkfifo(tmp_path / "f.png")
    (tmp_path / "e.png").write_bytes(b"")
    ok, buf = cv2.imencode(".png", np.zeros((300, 200, 3), np.uint8))
    (tmp_path / "big.png").write_bytes(buf.tobytes())
    ds = FolderDataset(tmp_path)
    with pytest.raises(DatasetError, match="directory"):
        ds.load("d.png")
    with pytest.raises(DatasetError, match="not a regular file"):
        ds.load("f.png")
    with pytest.raises(DatasetError, match="empty"):
        ds.load("e.png")
    assert ds.load("big.png").shape == (300, 200, 3)
    monkeypatch.setenv("XSSAB_MAX_PIXELS", str(300 * 200 - 1))
    with pytest.raises(DatasetError, match="200x300 = 60000 pixels.*XSSAB_MAX_PIXELS"):
        ds.load("big.png")


def test_over_long_names_are_one_line(tmp_path):
    _make(tmp_path, lines=["00001.png " + "a" * 100000 + ".png 1"])
    with pytest.raises(DatasetError, match="not a valid file name") as exc:
        FolderDataset(tmp_path)
    assert len(str(exc.value)) < 400

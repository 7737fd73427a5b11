"""The aligned-crop cache is data, not trusted: stale entries (image changed in place),
damaged entries (truncated PNG, wrong size, a link) and hostile keys are recomputed or
refused, never reused and never a traceback (#13)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import xssab
from xssab.align.cache import AlignedCache
from xssab.data.pairs import PairEntry, write_pairs


class NoFace:
    """A detector that finds nothing (crop = the resized image) and counts its calls."""

    name = "noface"

    def __init__(self):
        self.calls = 0

    def detect(self, images):
        self.calls += len(images)
        return [[] for _ in images]


def _photo(seed, shape=(60, 50)):
    return np.random.default_rng(seed).integers(0, 255, (*shape, 3), dtype=np.uint8)


@pytest.fixture
def lfw(tmp_path):
    root = tmp_path / "lfw"
    for i, name in enumerate(("Ann", "Bob")):
        (root / name).mkdir(parents=True)
        for k in (1, 2):
            cv2.imwrite(str(root / name / f"{name}_{k:04d}.png"), _photo(10 * i + k))
    write_pairs(root / "pairs.txt", [PairEntry("Ann", 1, "Ann", 2, True, 0),
                                      PairEntry("Ann", 1, "Bob", 1, False, 0)])
    return root


def _open(root, det):
    return xssab.get_dataset("lfw", path=root, align=True, detector=det, align_size=32)


def _fresh(root, key, det, tmp_path):
    """The crop computed from scratch (a cache folder of its own)."""
    ds = _open(root, det)
    c = AlignedCache("x", 32, det, root=tmp_path / "fresh", source=ds.file)
    return c.get(key, ds._load_raw)


def test_image_changed_in_place_is_recomputed(lfw, tmp_path):
    det = NoFace()
    first = _open(lfw, det).load("Ann/Ann_0001")
    assert det.calls == 1 and _open(lfw, det).load("Ann/Ann_0001").shape == (32, 32, 3)
    assert det.calls == 1  # unchanged: served from the cache
    cv2.imwrite(str(lfw / "Ann" / "Ann_0001.png"), _photo(99))
    again = _open(lfw, det).load("Ann/Ann_0001")
    assert det.calls == 2 and not np.array_equal(again, first)
    np.testing.assert_array_equal(again, _fresh(lfw, "Ann/Ann_0001", det, tmp_path))
    # the crop of the old version is gone, not left to pile up
    assert len(list(_open(lfw, det).aligned.dir.rglob("*.png"))) == 1


@pytest.mark.parametrize("damage", ["truncated", "wrong-size", "not-png", "empty",
                                    "gray", "flipped", "symlink"])
def test_damaged_entry_is_recomputed(lfw, tmp_path, damage):
    det = NoFace()
    ds = _open(lfw, det)
    want = ds.load("Ann/Ann_0001")
    entry = ds.aligned.path("Ann/Ann_0001")
    data = entry.read_bytes()
    if damage == "truncated":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "wrong-size":
        cv2.imwrite(str(entry), _photo(5, (50, 50)))
    elif damage == "not-png":
        entry.write_bytes(b"GIF89a junk")
    elif damage == "flipped":
        entry.write_bytes(data[:60] + bytes([data[60] ^ 1]) + data[61:])
    elif damage == "empty":
        entry.write_bytes(b"")
    elif damage == "gray":
        cv2.imwrite(str(entry), np.zeros((32, 32), np.uint8))  # right size, other pixels
    else:
        other = tmp_path / "other.png"
        cv2.imwrite(str(other), _photo(6, (32, 32)))
        entry.unlink()
        entry.symlink_to(other)
    got = _open(lfw, det).load("Ann/Ann_0001")
    np.testing.assert_array_equal(got, want)
    assert det.calls == 2  # recomputed
    assert entry.is_file() and not entry.is_symlink()
    np.testing.assert_array_equal(_open(lfw, det).load("Ann/Ann_0001"), want)
    assert det.calls == 2  # and the repaired entry is used again


def test_same_relative_path_elsewhere_is_another_entry(lfw, tmp_path, monkeypatch):
    import shutil

    det = NoFace()
    other = shutil.copytree(lfw, tmp_path / "b" / "lfw")
    cv2.imwrite(str(other / "Ann" / "Ann_0001.png"), _photo(77))
    monkeypatch.chdir(tmp_path)
    a = _open("lfw", det).load("Ann/Ann_0001")
    monkeypatch.chdir(tmp_path / "b")
    b = _open("lfw", det).load("Ann/Ann_0001")
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(b, _fresh(other, "Ann/Ann_0001", det, tmp_path))


def test_keys_never_become_paths(tmp_path):
    det = NoFace()
    c = AlignedCache("x", 32, det, root=tmp_path / "cache" / "a")
    crop = c.get("../../escape", lambda k: _photo(3))
    assert crop.shape == (32, 32, 3)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files and all((tmp_path / "cache" / "a") in p.parents for p in files)
    # without source=, the decoded raw image is the fingerprint: a new image, a new crop
    other = c.get("../../escape", lambda k: _photo(4))
    assert not np.array_equal(crop, other) and det.calls == 2


def test_unwritable_entry_is_one_line(lfw):
    det = NoFace()
    ds = _open(lfw, det)
    entry = ds.aligned.path("Ann/Ann_0001")
    (entry / "x").mkdir(parents=True)  # a folder where the PNG goes
    with pytest.raises(xssab.XssabError, match="aligned-crop cache entry") as exc:
        ds.load("Ann/Ann_0001")
    assert "\n" not in str(exc.value)

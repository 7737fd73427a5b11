"""The private helper module: one copy of each shared helper."""

import hashlib
import os
import stat

import numpy as np
import pytest

from xssab import _util
from xssab.errors import DatasetError, XssabError


def test_atomic_write_follows_umask(tmp_path):
    old = os.umask(0o022)
    try:
        p = _util.atomic_write_text(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == 0o644  # mkstemp alone gives 0o600


def test_atomic_path_cleans_up_and_keeps_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with _util.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_write_json_and_sha256(tmp_path):
    p = _util.atomic_write_json(tmp_path / "sub" / "x.json", {"b": 1, "a": 2})
    assert p.read_text() == '{\n  "a": 2,\n  "b": 1\n}\n'
    assert _util.sha256_file(p) == hashlib.sha256(p.read_bytes()).hexdigest()


def test_l2_normalize_rows_and_zero_rows():
    x = np.array([[3.0, 4.0], [0.0, 0.0]], np.float64)
    y = _util.l2_normalize(x)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, [[0.6, 0.8], [0.0, 0.0]])
    assert _util.l2_normalize(np.array([[1, 1]])).dtype == np.float32


def test_read_image_round_trip_and_errors(tmp_path):
    import cv2

    rgb = np.zeros((5, 7, 3), np.uint8)
    rgb[..., 0] = 200  # red
    cv2.imwrite(str(tmp_path / "r.png"), rgb[:, :, ::-1])
    out = _util.read_image(tmp_path / "r.png")
    assert out.shape == (5, 7, 3) and out.dtype == np.uint8 and out[0, 0, 0] == 200
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(DatasetError, match="bad.png"):
        _util.read_image(tmp_path / "bad.png", error=DatasetError)
    with pytest.raises(XssabError, match="no such file"):
        _util.read_image(tmp_path / "missing.png")


def test_to_rgb_one_behaviour():
    assert _util.to_rgb(np.ones((2, 3), np.float32)).max() == 255
    assert _util.to_rgb(np.zeros((2, 3, 4), np.uint8)).shape == (2, 3, 3)
    with pytest.raises(XssabError, match="shape"):
        _util.to_rgb(np.zeros((2, 3, 2)))


def test_resize_rule_area_only_when_no_axis_grows():
    import cv2

    img = np.random.default_rng(0).uniform(0, 1, (20, 10)).astype(np.float32)
    np.testing.assert_array_equal(_util.resize_image(img, (10, 10)),
                                  cv2.resize(img, (10, 10), interpolation=cv2.INTER_AREA))
    np.testing.assert_array_equal(_util.resize_image(img, (10, 12)),
                                  cv2.resize(img, (12, 10), interpolation=cv2.INTER_LINEAR))
    assert _util.resize_image(img, (20, 10)) is img
    assert _util.resize_image(np.zeros((4, 4, 1), np.uint8), (2, 2)).shape == (2, 2, 1)


def test_atomic_dir_publishes_once_with_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        with _util.atomic_dir(tmp_path / "set", "done") as tmp:
            (tmp / "done").write_text("1")
    finally:
        os.umask(old)
    assert (tmp_path / "set" / "done").is_file()
    assert stat.S_IMODE((tmp_path / "set").stat().st_mode) == 0o755  # mkdtemp gives 0o700
    with pytest.raises(RuntimeError):
        with _util.atomic_dir(tmp_path / "other", "done"):
            raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]


def test_write_png_round_trips_rgb_and_gray(tmp_path):
    import cv2

    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 250
    _util.write_png(tmp_path / "c.png", rgb)
    np.testing.assert_array_equal(_util.read_image(tmp_path / "c.png"), rgb)
    gray = np.arange(20, dtype=np.uint8).reshape(4, 5)
    _util.write_png(tmp_path / "g.png", gray)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "g.png"), cv2.IMREAD_UNCHANGED),
                                  gray)

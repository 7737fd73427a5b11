import os
import pickle

import cv2
import numpy as np
import pytest

from xssab.data.binfile import BinDataset
from xssab.errors import DatasetError


def _png(seed, size=(12, 10)):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, size + (3,), dtype=np.uint8)
    ok, buf = cv2.imencode(".png", img[..., ::-1])  # cv2 wants BGR
    assert ok
    return img, buf.tobytes()


def _write(path, obj, protocol=pickle.HIGHEST_PROTOCOL):
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=protocol)


@pytest.mark.parametrize("protocol", [2, 4])
def test_reads_pairs_images_folds(tmp_path, protocol):
    imgs, bins = zip(*[_png(i) for i in range(40)])
    issame = [i % 2 == 0 for i in range(20)]
    f = tmp_path / "x.bin"
    _write(f, (list(bins), issame), protocol)
    ds = BinDataset(f)
    pairs = ds.pairs()
    assert len(pairs) == 20
    assert (pairs[3].a, pairs[3].b, pairs[3].same) == ("6", "7", False)
    assert [p.fold for p in pairs] == [i // 2 for i in range(20)]
    np.testing.assert_array_equal(ds.load("7"), imgs[7])  # decoded as RGB
    assert ds.identity("0") == ds.identity("1")  # genuine pair shares an identity
    assert ds.identity("2") != ds.identity("3")
    assert len(ds.keys()) == 40


def test_numpy_labels_allowed(tmp_path):
    _, b = _png(0)
    f = tmp_path / "n.bin"
    _write(f, ([b, b], np.array([True])))
    assert BinDataset(f).pairs()[0].same is True


class _Evil:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def test_malicious_pickle_refused_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    f = tmp_path / "evil.bin"
    _write(f, ([_Evil(f"touch {marker}")], [True]))
    with pytest.raises(DatasetError) as exc:
        BinDataset(f)
    assert "refused" in str(exc.value) and "system" in str(exc.value)
    assert "\n" not in str(exc.value)
    assert not marker.exists()


def test_truncated_file(tmp_path):
    _, b = _png(1)
    f = tmp_path / "t.bin"
    _write(f, ([b, b, b, b], [True, False]))
    f.write_bytes(f.read_bytes()[:40])
    with pytest.raises(DatasetError, match="t.bin"):
        BinDataset(f)


def test_undecodable_image_names_file_and_index(tmp_path):
    _, b = _png(2)
    f = tmp_path / "u.bin"
    _write(f, ([b, b[:20], b, b], [True, False]))
    ds = BinDataset(f)
    with pytest.raises(DatasetError, match=r"u\.bin image 1"):
        ds.load("1")


def test_missing_file_and_wrong_counts(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        BinDataset(tmp_path / "nope.bin")
    _, b = _png(3)
    f = tmp_path / "c.bin"
    _write(f, ([b, b, b], [True, False]))
    with pytest.raises(DatasetError, match="3 images for 2 pairs"):
        BinDataset(f)


def test_python2_style_pickle(tmp_path):
    """Real lfw.bin files were written by Python 2: images are BINSTRING opcodes."""
    import struct

    img, b = _png(7)
    body = b"".join(b"T" + struct.pack("<I", len(b)) + b for _ in range(2))
    data = (b"\x80\x02" + b"]" + b"(" + body + b"e"  # list of two py2 str
            + b"]" + b"\x88" + b"a"  # [True]
            + b"\x86" + b".")  # TUPLE2, STOP
    f = tmp_path / "py2.bin"
    f.write_bytes(data)
    ds = BinDataset(f)
    assert ds.pairs()[0].same is True
    np.testing.assert_array_equal(ds.load("1"), img)

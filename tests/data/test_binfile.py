import os
import pickle
import subprocess
import sys

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


class _Reduce:
    """Pickles as ``func(*args)``: what a malicious file makes pickle.load call."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _payloads(tmp_path):
    """name -> (file, marker, refused global): each file creates its marker when loaded
    by a plain ``pickle.load``."""
    import builtins

    out = {}

    def add(name, build, refused):
        marker = tmp_path / f"pwned_{name}"
        f = tmp_path / f"{name}.bin"
        data = build(marker)
        if isinstance(data, bytes):
            f.write_bytes(data)
        else:
            _write(f, data)
        out[name] = (f, marker, refused)

    _, png = _png(9)
    add("os_system", lambda m: ([_Reduce(os.system, f"touch {m}")], [True]), "system")
    add("eval", lambda m: ([png, png], [_Reduce(builtins.eval, f"open({str(m)!r}, 'w')")]),
        "builtins.eval")
    add("exec", lambda m: ([_Reduce(builtins.exec, f"open({str(m)!r}, 'w').close()"), png],
                           [True]), "builtins.exec")
    add("subprocess", lambda m: ([_Reduce(subprocess.call, ["touch", str(m)]), png],
                                 [False]), "subprocess.call")
    # a numpy function (numpy's array reconstruction is allowed; numpy.save is not)
    add("numpy_save", lambda m: ([_Reduce(np.save, str(m), np.zeros(3)), png], [True]),
        "numpy.save")
    # protocol 0 INST opcode (another route to find_class than REDUCE)
    add("inst_opcode", lambda m: f"(S'touch {m}'\nios\nsystem\n.".encode(), "os.system")
    return out


def test_malicious_pickles_refused_nothing_runs(tmp_path):
    payloads = _payloads(tmp_path)
    # positive control: a plain pickle.load of the same files DOES run every payload
    # (in a subprocess), so the refusal below is what keeps them from running
    script = ("import pickle, sys\n"
              "for f in sys.argv[1:]:\n"
              "    try:\n"
              "        pickle.load(open(f, 'rb'))\n"
              "    except Exception:\n"
              "        pass\n")
    subprocess.run([sys.executable, "-c", script] + [str(f) for f, _, _ in payloads.values()],
                   check=True, timeout=60, cwd=tmp_path)
    for name, (f, marker, _) in payloads.items():
        made = marker.exists() or marker.with_suffix(".npy").exists()
        assert made, f"positive control: {name} did not run under pickle.load"
        marker.unlink(missing_ok=True)
        marker.with_suffix(".npy").unlink(missing_ok=True)
    for name, (f, marker, refused) in payloads.items():
        with pytest.raises(DatasetError) as exc:
            BinDataset(f)
        msg = str(exc.value)
        assert "refused" in msg and refused in msg and "\n" not in msg, (name, msg)
        assert not marker.exists() and not marker.with_suffix(".npy").exists(), name


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

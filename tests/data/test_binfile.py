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


# ---------------------------------------------------------------- hostile .bin files (#13)
import struct  # noqa: E402
import tracemalloc  # noqa: E402


def _g(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _s(text):  # BINUNICODE
    raw = text.encode("utf-8")
    return b"X" + struct.pack("<I", len(raw)) + raw


def _dtype(spec, state=b"(K\x03" + _s("|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"):
    """numpy.dtype(spec, False, True) followed by BUILD(state) (numpy's own layout)."""
    return _g("numpy", "dtype") + _s(spec) + b"\x89\x88\x87R" + state


def _tail_pair(images_list_bytes=b"]", issame=b"]\x88a"):
    return images_list_bytes + issame + b"\x86."


def _load(tmp_path, data, name="h.bin"):
    f = tmp_path / name
    f.write_bytes(data)
    return BinDataset(f)


def test_dtype_build_with_hidden_object_field_refused(tmp_path):
    """BUILD state declaring fields (an object field the flags do not mark) -> refused."""
    fields = b"}" + _s("f") + b"(" + _dtype("u8") + b"K\x00ts"  # {"f": (dtype, 0)}
    state = (b"(K\x03" + _s("|") + b"N(" + _s("f") + b"t" + fields
             + b"K\x08K\x01K\x00tb")
    arr = (_g("numpy.core.multiarray", "_reconstruct") + _g("numpy", "ndarray")
           + b"K\x00\x85" + b"C\x01b" + b"\x87R"
           + b"(K\x01K\x01\x85" + _dtype("u8", state) + b"\x89C\x08" + b"\x00" * 8 + b"tb")
    with pytest.raises(DatasetError, match="refused") as exc:
        _load(tmp_path, b"\x80\x02" + b"]" + arr + b"a" + b"]\x88a\x86.")
    assert "\n" not in str(exc.value)


def test_object_array_of_huge_declared_length_refused(tmp_path):
    arr = (_g("numpy.core.multiarray", "_reconstruct") + _g("numpy", "ndarray")
           + b"K\x00\x85C\x01b\x87R"
           + b"(K\x01J\x00\xca\x9a;\x85" + _dtype("O") + b"\x89]tb")  # 1e9 objects
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match="refused.*dtype 'O'"):
            _load(tmp_path, b"\x80\x02]" + arr + b"a]\x88a\x86.")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 << 20


def test_array_shape_larger_than_its_data_refused(tmp_path):
    arr = (_g("numpy.core.multiarray", "_reconstruct") + _g("numpy", "ndarray")
           + b"K\x00\x85C\x01b\x87R"
           + b"(K\x01J\x00\xca\x9a;\x85" + _dtype("u1") + b"\x89C\x04abcdtb")
    with pytest.raises(DatasetError, match="refused.*1000000000 x 1 bytes stored in 4"):
        _load(tmp_path, b"\x80\x02]" + arr + b"a]\x88a\x86.")


def test_memo_index_bomb_bounded_memory(tmp_path):
    """LONG_BINPUT 2**30: the C unpickler grows its memo array to that size (GBs)."""
    data = b"\x80\x02]r" + struct.pack("<I", 1 << 30) + b"]\x88a\x86."
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match="expected a pickle|images"):
            _load(tmp_path, data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 << 20


def test_declared_length_beyond_file_is_bounded(tmp_path):
    data = b"\x80\x04\x8e" + struct.pack("<Q", 1 << 62) + b"xx"  # BINBYTES8 of 4 EiB
    with pytest.raises(DatasetError, match="not a readable .bin pickle"):
        _load(tmp_path, data)


@pytest.mark.parametrize("payload", [
    _g("builtins", "eval") + _s("1") + b"\x85R",
    _g("_codecs", "encode") + _s("x") + _s("rot13") + b"\x86R",
    _g("numpy", "dtype") + _s("O") + b"\x85R",
    _g("numpy", "dtype") + _s("V8") + b"\x85R",
    _g("numpy.core.multiarray", "_reconstruct") + _g("builtins", "list") + b")N\x87R",
])
def test_unneeded_globals_and_dtypes_refused(tmp_path, payload):
    with pytest.raises(DatasetError, match="refused"):
        _load(tmp_path, b"\x80\x02]" + payload + b"a]\x88a\x86.")


def test_real_numpy_array_pickles_still_read(tmp_path):
    """Files written by numpy itself (uint8 image arrays, bool labels, np.bool_) load."""
    imgs, bins = zip(*[_png(i) for i in range(4)])
    arrs = [np.frombuffer(b, np.uint8) for b in bins]
    for proto in (2, 5):
        f = tmp_path / f"np{proto}.bin"
        _write(f, (arrs, [np.bool_(True), np.bool_(False)]), proto)
        ds = BinDataset(f)
        assert [p.same for p in ds.pairs()] == [True, False]
        np.testing.assert_array_equal(ds.load("3"), imgs[3])
        f2 = tmp_path / f"np{proto}b.bin"
        _write(f2, (list(bins), np.array([False, True], ">?")), proto)
        assert [p.same for p in BinDataset(f2).pairs()] == [False, True]


@pytest.mark.parametrize("kind", ["fifo", "dir", "dev"])
def test_special_files_refused(tmp_path, kind):
    if kind == "fifo":
        f = tmp_path / "p.bin"
        os.mkfifo(f)
    elif kind == "dir":
        f = tmp_path / "d.bin"
        f.mkdir()
    else:
        f = "/dev/zero"
    with pytest.raises(DatasetError, match="not a regular file|directory"):
        BinDataset(f)

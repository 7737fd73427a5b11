"""Property-based fuzzing of every reader of untrusted files (#13).

Each reader, fed arbitrary or mutated input, must give a valid result or a one-line
XssabError, stay within bounded memory, and open nothing outside its allowed root.
Kept small for CI (modest ``max_examples``, no deadline); the whole module runs in well
under a minute on one core.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xssab
from tests.security.hostile import assert_confined, bounded_memory, opened, outcome
from xssab.data.binfile import BinDataset
from xssab.data.folder import FolderDataset, decode_image
from xssab.data.lfw import LfwDataset
from xssab.models import cache

FUZZ = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])


def _png(seed=0, size=(20, 18)):
    img = np.random.default_rng(seed).integers(0, 255, size + (3,), dtype=np.uint8)
    return cv2.imencode(".png", img)[1].tobytes()


VALID_BIN = pickle.dumps(([_png(i) for i in range(4)], [True, False]), protocol=2)
VALID_BIN_NP = pickle.dumps(([np.frombuffer(_png(i), np.uint8) for i in range(2)],
                             np.array([True])), protocol=4)


@st.composite
def mutated(draw, base: bytes):
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[pos:pos + draw(st.integers(1, 64))]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        else:
            data[pos:pos] = data[pos:pos + draw(st.integers(1, 32))]
    return bytes(data)


@pytest.fixture
def box():
    d = Path(tempfile.mkdtemp(prefix="xssab-fuzz-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _read_bin(path: Path):
    ds = BinDataset(path)
    for k in ds.keys():
        outcome(ds.load, k)
    return ds


@FUZZ
@given(data=st.one_of(mutated(VALID_BIN), mutated(VALID_BIN_NP),
                      st.binary(max_size=300)))
def test_bin_reader(box, data):
    f = box / "x.bin"
    f.write_bytes(data)
    with opened() as seen, bounded_memory():
        kind, _ = outcome(_read_bin, f)
    assert kind in ("ok", "error")
    assert_confined(seen, box)


NAMES = st.sampled_from(["00001.png", "00002.png", "../out.png", "/etc/hostname", "..",
                         "sub/../00001.png", "link.png", "dir.png", "", "nul\x00.png",
                         "é.png", "~/x.png", "00003.png", "a" * 300 + ".png"])


@FUZZ
@given(lines=st.lists(st.one_of(
    st.tuples(NAMES, NAMES, st.sampled_from(["1", "-1", "0", "2", "x"])).map(" ".join),
    st.text(max_size=40)), max_size=8),
    raw=st.one_of(st.none(), st.binary(max_size=64)))
def test_folder_pair_list(box, lines, raw):
    root = box / "data"
    root.mkdir(exist_ok=True)
    for i in (1, 2):
        (root / f"{i:05d}.png").write_bytes(_png(i))
    (box / "out.png").write_bytes(_png(9))
    if not (root / "link.png").is_symlink():
        (root / "link.png").symlink_to(box / "out.png")
    (root / "dir.png").mkdir(exist_ok=True)
    pl = root / "pairs.txt"
    pl.write_bytes(raw if raw is not None else "\n".join(lines).encode("utf-8", "replace"))
    with opened() as seen, bounded_memory():
        kind, ds = outcome(FolderDataset, root)
        if kind == "ok":
            for p in ds.pairs():
                outcome(ds.load, p.a)
                outcome(ds.load, p.b)
    assert_confined(seen, root)


IDS = st.sampled_from(["Ann_A", "Bob_B", "../x", "..", "/abs", "Ann_A/../Bob_B", "Zed"])


@FUZZ
@given(head=st.sampled_from(["1\t1", "1", "2\t1", "x", "1\t0", ""]),
       rows=st.lists(st.tuples(IDS, st.integers(-1, 3), IDS, st.integers(0, 3),
                               st.booleans()), max_size=4))
def test_lfw_pairs_file(box, head, rows):
    root = box / "lfw"
    if not root.exists():
        for name in ("Ann_A", "Bob_B"):
            (root / name).mkdir(parents=True)
            for k in (1, 2):
                (root / name / f"{name}_{k:04d}.png").write_bytes(_png(k))
        (box / "x").mkdir()
        (box / "x" / "x_0001.png").write_bytes(_png(3))
    lines = [head] + [f"{a}\t{i}\t{j}" if same else f"{a}\t{i}\t{b}\t{j}"
                      for a, i, b, j, same in rows]
    (root / "pairs.txt").write_text("\n".join(lines) + "\n")
    with opened() as seen, bounded_memory():
        kind, ds = outcome(LfwDataset, root)
        if kind == "ok":
            for p in ds.pairs():
                outcome(ds.load, p.a)
    assert_confined(seen, root)


BOMB_PNG = bytearray(_png(1))
BOMB_PNG[16:24] = (30000).to_bytes(4, "big") * 2  # IHDR says 30000 x 30000


@FUZZ
@given(data=st.one_of(mutated(_png(2)), mutated(cv2.imencode(".jpg", np.zeros(
    (20, 20, 3), np.uint8))[1].tobytes()), mutated(bytes(BOMB_PNG)),
    mutated(cv2.imencode(".bmp", np.zeros((9, 7, 3), np.uint8))[1].tobytes()),
    st.binary(max_size=200)))
def test_image_decoder(data, monkeypatch):
    monkeypatch.setenv("XSSAB_MAX_PIXELS", "1000000")
    with bounded_memory(32 << 20):
        kind, img = outcome(decode_image, data, "fuzz")
    if kind == "ok":
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        assert img.shape[0] * img.shape[1] <= 1_000_000


@FUZZ
@given(name=st.one_of(st.text(max_size=20), st.sampled_from(
    ["../../x.onnx", "/tmp/x.onnx", "a/b.onnx", "..", ".", "C:\\x.onnx", "x.onnx"])),
    url=st.one_of(st.none(), st.sampled_from(["http://h/a/../../b.onnx", "http://h/%2e%2e",
                                               "http://h/dir/", "http://h/?q=/../x"])))
def test_card_file_names_stay_in_the_model_cache(name, url):
    card = xssab.ModelCard(name="fz", file_name=name or None, url=url)
    kind, path = outcome(cache.cache_path, card)
    if kind == "ok" and path is not None:
        assert path.parent == cache.models_dir() and path.name not in ("", ".", "..")


JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                              st.text(max_size=5)),
                    lambda kids: st.one_of(st.lists(kids, max_size=3),
                                           st.dictionaries(st.text(max_size=5), kids,
                                                           max_size=3)), max_leaves=10)


@FUZZ
@given(rec=JSON, raw=st.one_of(st.none(), st.binary(max_size=40)))
def test_calibration_file(rec, raw):
    p = cache.calibration_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(raw if raw is not None else json.dumps({"m": rec}).encode())
    kind, thr = outcome(cache.calibrated_threshold, "m")
    if kind == "ok":
        assert thr is None or np.isfinite(thr)
    cache.write_calibration("m", {"threshold": 0.5})  # always repairable
    assert cache.calibrated_threshold("m") == 0.5


@FUZZ
@given(rec=JSON, nested=st.booleans())
def test_xface_confidence_file(rec, nested):
    from xssab_xface.confidence import _cache_file, load_confidence

    class M:
        name = "m"

    f = _cache_file()
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps({"m": {"d": rec} if nested else rec}))
    kind, conf = outcome(load_confidence, M())
    if kind == "ok" and conf is not None:
        assert np.isfinite(conf.score(0.5, True))


class _Fake:
    name = "fake"

    def __init__(self, root):
        self.root = root
        rng = np.random.RandomState(1)
        self.images = {f"I{i}/I{i}_{k}": rng.randint(0, 256, (40, 40, 3)).astype(np.uint8)
                       for i in range(3) for k in (1, 2)}

    def keys(self):
        return list(self.images)

    def identity(self, key):
        return key.split("/")[0]

    def load(self, key):
        return self.images[key].copy()

    def pairs(self):
        from xssab.data.base import Pair

        return [Pair("I0/I0_1", "I0/I0_2", True), Pair("I1/I1_1", "I2/I2_2", False)]


@settings(FUZZ, max_examples=12)
@given(target=st.sampled_from(["manifest.json", "patched/00000.png", "mask/00001.png"]),
       data=st.one_of(st.binary(max_size=100), mutated(_png(5, (40, 40))),
                      JSON.map(lambda v: json.dumps(v).encode())))
def test_patched_set_cache_files(box, target, data):
    from xssab.data.patched import build_patched

    ds = _Fake(box)
    c = box / "cache"
    ref = build_patched(ds, cache_dir=c)
    (c / target).write_bytes(data)
    with opened() as seen, bounded_memory():
        kind, got = outcome(build_patched, ds, cache_dir=c)
    assert kind == "ok"  # a damaged cache is rebuilt, never trusted, never an error
    for x, y in zip(ref, got):
        assert np.array_equal(x.patched, y.patched) and np.array_equal(x.mask, y.mask)
    assert_confined(seen, box, tempfile.gettempdir())


def _stage_entry(root):
    from xssab.eval.cache import StageCache

    c = StageCache(root)
    arrays = {"scores": np.arange(6, dtype=np.float64).reshape(3, 2)}
    c.get({"k": 1}, "verify", lambda: (arrays, {"threshold": 0.25}), "v",
          validate=lambda a, m: a["scores"].shape == (3, 2))
    return next(root.glob("*/verify.npz"))


@settings(FUZZ, max_examples=25)
@given(data=st.data())
def test_stage_cache_entries(box, data):
    """A mutated stage file is either the stored result or recomputed, never an error."""
    from xssab.eval.cache import StageCache

    root = box / "bench"
    shutil.rmtree(root, ignore_errors=True)
    f = _stage_entry(root)
    f.write_bytes(data.draw(st.one_of(mutated(f.read_bytes()), st.binary(max_size=200))))
    want = np.arange(6, dtype=np.float64).reshape(3, 2)
    with opened() as seen, bounded_memory():
        arrays, meta = StageCache(root).get(
            {"k": 1}, "verify", lambda: ({"scores": want}, {"threshold": 0.25}), "v",
            validate=lambda a, m: a["scores"].shape == (3, 2))
    assert np.array_equal(arrays["scores"], want) and meta["threshold"] == 0.25
    assert_confined(seen, box)


class _NoFace:
    name = "noface"

    def detect(self, images):
        return [[] for _ in images]


@settings(FUZZ, max_examples=20)
@given(data=st.data())
def test_aligned_crop_cache_entries(box, data):
    """A mutated aligned-crop entry is the stored crop or recomputed, never an error."""
    from xssab.align.cache import AlignedCache

    raw = np.random.default_rng(7).integers(0, 255, (40, 30, 3), dtype=np.uint8)
    src = box / "img.png"
    cv2.imwrite(str(src), raw)
    root = box / "aligned"
    shutil.rmtree(root, ignore_errors=True)
    c = AlignedCache("fuzz", 24, _NoFace(), root=root, source=lambda k: src)
    want = c.get("a/b", lambda k: raw)
    entry = c.path("a/b")
    entry.write_bytes(data.draw(st.one_of(mutated(entry.read_bytes()),
                                          st.binary(max_size=200))))
    with opened() as seen, bounded_memory():
        kind, got = outcome(AlignedCache("fuzz", 24, _NoFace(), root=root,
                                         source=lambda k: src).get, "a/b", lambda k: raw)
    assert kind == "ok" and np.array_equal(got, want)
    assert_confined(seen, box)

"""Catalogue of hostile and careless inputs (issue #13): run each, classify, print a tally.

Every case runs in its own Python process (so a segmentation fault, a hang or a memory
blow-up is observed, not suffered), under a wall-clock limit and with its peak RSS read
from ``wait4``. Outcomes:

* ``clean``: a one-line ``error: ...`` and exit 2 (or, for a valid input, exit 0 with the
  right result) -- what the project promises;
* ``traceback``: a Python traceback; ``crash``: killed by a signal (SIGSEGV & co.);
  ``hang``: over the time limit; ``memory``: peak RSS over ``--mem-mb``;
* flags on top: ``security`` (a read/write outside the allowed root succeeded, or
  unsafe content was accepted), ``nan`` (a silent NaN/"NO MATCH" result), ``data-loss``
  (a stale, mixed or corrupted result was kept).

Usage (from the repository root; ``--src`` picks the xssab source tree to test, e.g. an
export of an older commit: ``git archive COMMIT | tar -x -C /tmp/old``)::

    python benchmarks/hostile_inputs.py [--src DIR] [--only SUBSTRING] [--json OUT]

Numbers depend on nothing but the code (no timing), except that ``hang`` uses a time
limit (``--timeout``, default 20 s) that a very loaded machine could approach.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent

# ------------------------------------------------------------------------ file makers


def png(w=20, h=18, seed=0, gray=False) -> bytes:
    import cv2

    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (h, w) if gray else (h, w, 3), dtype=np.uint8)
    return cv2.imencode(".png", img)[1].tobytes()


def png_header(w, h) -> bytes:
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    raw = zlib.compress(b"\x00" * 64)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr
            + struct.pack(">I", zlib.crc32(ihdr)) + struct.pack(">I", len(raw)) + b"IDAT"
            + raw + struct.pack(">I", zlib.crc32(b"IDAT" + raw)) + b"\x00" * 4 + b"IEND"
            + struct.pack(">I", zlib.crc32(b"IEND")))


def bomb_png(w=20000, h=20000) -> bytes:
    """A real, decodable, highly compressed PNG of w x h black pixels (gray)."""
    row = b"\x00" + b"\x00" * w
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(h)) + comp.flush()
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr
            + struct.pack(">I", zlib.crc32(ihdr)) + struct.pack(">I", len(body)) + b"IDAT"
            + body + struct.pack(">I", zlib.crc32(b"IDAT" + body)) + struct.pack(">I", 0)
            + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))


def jpeg_header(w, h) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, h, w, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + sof + b"\xff\xd9"


def g(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def s(text):
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


STD_STATE = b"(K\x03" + s("|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"


def dtype(spec, state=STD_STATE):
    return g("numpy", "dtype") + s(spec) + b"\x89\x88\x87R" + state


def recon():
    return (g("numpy.core.multiarray", "_reconstruct") + g("numpy", "ndarray")
            + b"K\x00\x85C\x01b\x87R")


def bin_of(images_ops: bytes, issame=b"]\x88a") -> bytes:
    return b"\x80\x02]" + images_ops + b"a" + issame + b"\x86."


def hidden_object_field_bin(base="V8") -> bytes:
    """A void/uint64 dtype whose BUILD state adds an object field at offset 0 without the
    object flag: the 8 attacker bytes become a PyObject pointer when touched (segfault
    with the old reader when the image is decoded)."""
    fields = b"}" + s("f") + b"(" + dtype("O") + b"K\x00ts"
    state = b"(K\x03" + s("|") + b"N(" + s("f") + b"t" + fields + b"K\x08K\x01K\x00tb"
    arr = recon() + b"(K\x01K\x01\x85" + dtype(base, state) + b"\x89C\x08" + \
        struct.pack("<Q", 0x4141414141414141) + b"tb"
    return b"\x80\x02]" + arr + b"a" + arr + b"a]\x88a\x86."


def field_offset_bin() -> bytes:
    """A field at offset 1<<40 inside an 8-byte item: out-of-bounds read when touched."""
    fields = b"}" + s("f") + b"(" + dtype("u1") + b"\x8a\x06" + (1 << 40).to_bytes(6, "little") \
        + b"ts"
    state = b"(K\x03" + s("|") + b"N(" + s("f") + b"t" + fields + b"K\x08K\x01K\x00tb"
    arr = recon() + b"(K\x01K\x04\x85" + dtype("V8", state) + b"\x89C\x20" + b"\x00" * 32 \
        + b"tb"
    return b"\x80\x02]" + arr + b"a" + arr + b"a]\x88a\x86."


def object_array_bin(n=10 ** 9) -> bytes:
    arr = recon() + b"(K\x01J" + struct.pack("<i", n) + b"\x85" + dtype("O") + b"\x89]tb"
    return bin_of(arr)


# ------------------------------------------------------------------------ the cases
# Each case: id, group, expect ("error" | "ok"), flag (what it is when not refused:
# "security" | "nan" | "data-loss" | None), setup(tmp) -> None, code (Python run in the
# case's folder, `T` = that folder as a Path), env (extra environment).

CASES: list[dict] = []


def case(id, group, code, setup=None, expect="error", flag=None, env=None, timeout=None):
    CASES.append(dict(id=id, group=group, code=textwrap.dedent(code), setup=setup,
                      expect=expect, flag=flag, env=env or {}, timeout=timeout))


def write(name, data):
    def setup(t: Path):
        p = t / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data() if callable(data) else data)
    return setup


def multi(*setups):
    def setup(t):
        for f in setups:
            f(t)
    return setup


def fifo(name):
    return lambda t: os.mkfifo(t / name)


def mkdir(name):
    return lambda t: (t / name).mkdir(parents=True, exist_ok=True)


def symlink(name, target):
    return lambda t: (t / name).symlink_to(target if target.startswith("/") else t / target)


LOAD_BIN = """
from xssab.data.binfile import BinDataset
ds = BinDataset(T / "x.bin")
for k in ds.keys():
    img = ds.load(k)
print("loaded", len(ds.pairs()), "pairs")
"""
VALID_IMAGES = [png(seed=i) for i in range(4)]

# --- .bin files
case("bin-valid-py3", "bin", LOAD_BIN, write("x.bin", pickle.dumps(
    (VALID_IMAGES, [True, False]), protocol=2)), expect="ok")
case("bin-valid-numpy-p4", "bin", LOAD_BIN, write("x.bin", lambda: pickle.dumps(
    ([np.frombuffer(b, np.uint8) for b in VALID_IMAGES], np.array([True, False])), 4)),
    expect="ok")
case("bin-valid-numpy-p5", "bin", LOAD_BIN, write("x.bin", lambda: pickle.dumps(
    (VALID_IMAGES, [np.bool_(True), np.bool_(False)]), 5)), expect="ok")
case("bin-os-system", "bin", LOAD_BIN, write("x.bin", bin_of(
    g("os", "system") + s("touch PWNED") + b"\x85R")), flag="security")
case("bin-builtins-eval", "bin", LOAD_BIN, write("x.bin", bin_of(
    g("builtins", "eval") + s("1+1") + b"\x85R")), flag="security")
case("bin-hidden-object-field", "bin", LOAD_BIN, write("x.bin", hidden_object_field_bin()),
     flag="security")
case("bin-hidden-object-field-u8", "bin", LOAD_BIN, write(
    "x.bin", hidden_object_field_bin("u8")), flag="security")
case("bin-field-offset-oob", "bin", LOAD_BIN, write("x.bin", field_offset_bin()),
     flag="security")
case("bin-object-array-1e9", "bin", LOAD_BIN, write("x.bin", object_array_bin()),
     flag="security")
case("bin-shape-beyond-data", "bin", LOAD_BIN, write("x.bin", bin_of(
    recon() + b"(K\x01J\x00\xca\x9a;\x85" + dtype("u1") + b"\x89C\x04abcdtb")))
case("bin-memo-index-bomb", "bin", LOAD_BIN, write("x.bin", b"\x80\x02]r" + struct.pack(
    "<I", 1 << 31) + b"]\x88a\x86."))
case("bin-binbytes8-huge", "bin", LOAD_BIN, write("x.bin", b"\x80\x04\x8e" + struct.pack(
    "<Q", 1 << 62) + b"xx"))
case("bin-codecs-rot13", "bin", LOAD_BIN, write("x.bin", bin_of(
    g("_codecs", "encode") + s("abc") + s("rot13") + b"\x86R")))
case("bin-persistent-id", "bin", LOAD_BIN, write("x.bin", bin_of(b"P1\n")))
case("bin-truncated", "bin", LOAD_BIN, write("x.bin", pickle.dumps(
    (VALID_IMAGES, [True, False]), 2)[:300]))
case("bin-empty", "bin", LOAD_BIN, write("x.bin", b""))
case("bin-random-bytes", "bin", LOAD_BIN, write("x.bin", bytes(range(256)) * 4))
case("bin-dict", "bin", LOAD_BIN, write("x.bin", pickle.dumps({"a": 1}, 2)))
case("bin-ints-as-images", "bin", LOAD_BIN, write("x.bin", pickle.dumps(([1, 2], [True]), 2)))
case("bin-str-labels", "bin", LOAD_BIN, write("x.bin", pickle.dumps(
    (VALID_IMAGES[:2], ["yes"]), 2)))
case("bin-count-mismatch", "bin", LOAD_BIN, write("x.bin", pickle.dumps(
    (VALID_IMAGES[:3], [True, False]), 2)))
case("bin-undecodable-image", "bin", LOAD_BIN, write("x.bin", pickle.dumps(
    ([b"junk", b"junk"], [True]), 2)))
case("bin-bomb-image", "bin", LOAD_BIN, write("x.bin", lambda: pickle.dumps(
    ([bomb_png(20000, 20000), VALID_IMAGES[0]], [True]), 2)))
case("bin-deep-nesting", "bin", LOAD_BIN, write("x.bin", b"\x80\x02" + b"]" * 200000
                                                 + b"a" * 199999 + b"]\x88a\x86."))
case("bin-directory", "bin", LOAD_BIN, mkdir("x.bin"))
case("bin-fifo", "bin", LOAD_BIN, fifo("x.bin"))
case("bin-dev-zero", "bin", LOAD_BIN, symlink("x.bin", "/dev/zero"))
case("bin-missing", "bin", LOAD_BIN)

case("bin-2d-image-array", "bin", LOAD_BIN, write("x.bin", lambda: pickle.dumps(
    ([np.zeros((4, 4), np.uint8)] * 2, [True]), 2)))
case("bin-float-labels", "bin", LOAD_BIN, write("x.bin", pickle.dumps(
    (VALID_IMAGES[:2], [0.5]), 2)))
case("bin-int-labels-0-1", "bin", LOAD_BIN, write("x.bin", pickle.dumps(
    (VALID_IMAGES, [1, 0]), 2)), expect="ok")
case("bin-tuple-lists", "bin", LOAD_BIN, write("x.bin", pickle.dumps(
    (tuple(VALID_IMAGES[:2]), (True,)), 2)), expect="ok")
case("bin-labels-array-float", "bin", LOAD_BIN, write("x.bin", lambda: pickle.dumps(
    (VALID_IMAGES[:2], np.array([0.5])), 2)))
case("bin-big-endian-labels", "bin", LOAD_BIN, write("x.bin", lambda: pickle.dumps(
    (VALID_IMAGES[:2], np.array([1], ">i4")), 2)), expect="ok")
case("bin-bytearray-images", "bin", LOAD_BIN, write("x.bin", pickle.dumps(
    ([bytearray(b) for b in VALID_IMAGES[:2]], [True]), 4)))  # needs builtins.bytearray
case("bin-three-tuple", "bin", LOAD_BIN, write("x.bin", pickle.dumps(
    (VALID_IMAGES[:2], [True], "x"), 2)))
case("bin-set-of-images", "bin", LOAD_BIN, write("x.bin", pickle.dumps(
    (set(VALID_IMAGES[:2]), [True]), 4)))

# --- folder datasets
LOAD_FOLDER = """
from xssab.data.folder import FolderDataset
ds = FolderDataset(T / "data", **OPTS)
for p in ds.pairs():
    ds.load(p.a); ds.load(p.b)
print("loaded", len(ds.pairs()), "pairs")
"""


def folder(lines, extra=None, opts="{}"):
    def setup(t):
        d = t / "data"
        d.mkdir()
        for i in (1, 2, 3):
            (d / f"{i:05d}.png").write_bytes(png(seed=i))
        (t / "secret.png").write_bytes(png(seed=99))
        (d / "pairs.txt").write_bytes(lines if isinstance(lines, bytes)
                                      else ("\n".join(lines) + "\n").format(T=t).encode())
        if extra:
            extra(t)
    return setup


def fcase(id, lines, extra=None, opts="{}", **kw):
    case(id, "folder", "OPTS = " + opts + "\n" + LOAD_FOLDER, folder(lines, extra), **kw)


fcase("folder-valid", ["00001.png 00002.png 1", "00002.png 00003.png -1"], expect="ok")
fcase("folder-dotdot", ["00001.png ../secret.png -1"], flag="security")
fcase("folder-dotdot-missing", ["00001.png ../nothing-here.png -1"], flag="security")
fcase("folder-absolute", ["00001.png {T}/secret.png -1"], flag="security")
fcase("folder-absolute-system", ["00001.png /etc/hostname -1"], flag="security")
fcase("folder-symlink-out", ["00001.png link.png -1"],
      lambda t: (t / "data" / "link.png").symlink_to(t / "secret.png"), flag="security")
fcase("folder-dev-zero-image", ["00001.png zero.png -1"],
      lambda t: (t / "data" / "zero.png").symlink_to("/dev/zero"))
fcase("folder-fifo-image", ["00001.png p.png -1"], lambda t: os.mkfifo(t / "data" / "p.png"))
fcase("folder-dir-image", ["00001.png d.png -1"], lambda t: (t / "data" / "d.png").mkdir())
fcase("folder-empty-image", ["00001.png e.png -1"],
      lambda t: (t / "data" / "e.png").write_bytes(b""))
fcase("folder-text-image", ["00001.png e.png -1"],
      lambda t: (t / "data" / "e.png").write_bytes(b"hello"))
fcase("folder-bomb-png", ["00001.png b.png -1"],
      lambda t: (t / "data" / "b.png").write_bytes(bomb_png()))
fcase("folder-bomb-jpeg-header", ["00001.png b.jpg -1"],
      lambda t: (t / "data" / "b.jpg").write_bytes(jpeg_header(60000, 60000)))
fcase("folder-non-utf8-list", b"00001.png 00002.png 1\n\xff\xfe\n")
fcase("folder-bad-label", ["00001.png 00002.png yes"])
fcase("folder-empty-list", [])
fcase("folder-list-is-dir", ["x"], lambda t: (t / "data" / "pairs.txt").unlink() or
      (t / "data" / "pairs.txt").mkdir(), opts='{"pairs_file": "pairs.txt"}')
fcase("folder-list-dev-zero", ["x"], opts='{"pairs_file": "/dev/zero"}')
fcase("folder-list-fifo", ["x"], lambda t: os.mkfifo(t / "data" / "f.txt"),
      opts='{"pairs_file": "f.txt"}')
fcase("folder-crlf-bom-list", b"\xef\xbb\xbf00001.png 00002.png 1\r\n00002.png 00003.png -1\r\n",
      expect="ok")
fcase("folder-nul-in-name", ["00001.png 0000\x002.png 1"])
fcase("folder-long-line", ["00001.png " + "a" * 100000 + ".png 1"])
fcase("folder-name-is-root", ["00001.png . 1"])
fcase("folder-tilde-name", ["00001.png ~/x.png 1"])
fcase("folder-symlink-inside", ["00001.png in.png 1"],
      lambda t: (t / "data" / "in.png").symlink_to(t / "data" / "00002.png"), expect="ok")
fcase("folder-gif-bomb-header", ["00001.png g.gif -1"],
      lambda t: (t / "data" / "g.gif").write_bytes(b"GIF89a" + struct.pack("<HH", 65535, 65535)
                                                    + b"\x00" * 20))
fcase("folder-webp-bomb-header", ["00001.png w.webp -1"],
      lambda t: (t / "data" / "w.webp").write_bytes(
          b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8X" + struct.pack("<I", 10) + b"\x00" * 4
          + (30000).to_bytes(3, "little") + (30000).to_bytes(3, "little")))
fcase("folder-tiff-bomb-header", ["00001.png t.tif -1"],
      lambda t: (t / "data" / "t.tif").write_bytes(
          b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 2)
          + struct.pack("<HHII", 256, 4, 1, 60000) + struct.pack("<HHII", 257, 4, 1, 60000)
          + b"\x00" * 8))
fcase("folder-missing-image", ["00001.png 00009.png 1"])

# --- LFW layout
LOAD_LFW = """
from xssab.data.lfw import LfwDataset
ds = LfwDataset(T / "lfw", **OPTS)
for p in ds.pairs():
    ds.load(p.a); ds.load(p.b)
print("loaded", len(ds.pairs()), "pairs")
"""


def lfw(pairs_text, extra=None):
    def setup(t):
        for name in ("Ann_A", "Bob_B"):
            (t / "lfw" / name).mkdir(parents=True)
            for k in (1, 2):
                (t / "lfw" / name / f"{name}_{k:04d}.png").write_bytes(png(seed=k))
        (t / "other").mkdir()
        for k in (1, 2):
            (t / "other" / f"other_{k:04d}.png").write_bytes(png(seed=7))
            (t / f"other_{k:04d}.png").write_bytes(png(seed=7))  # where ../other/.. leads
        (t / "lfw" / "pairs.txt").write_bytes(pairs_text)
        if extra:
            extra(t)
    return setup


def lcase(id, text, extra=None, opts="{}", **kw):
    case(id, "lfw", "OPTS = " + opts + "\n" + LOAD_LFW, lfw(text, extra), **kw)


GOOD_LFW = b"1\t1\nAnn_A\t1\t2\nAnn_A\t1\tBob_B\t2\n"
lcase("lfw-valid", GOOD_LFW, expect="ok")
lcase("lfw-dotdot-name", b"1\t2\nAnn_A\t1\t2\n../other\t1\t2\nAnn_A\t1\tBob_B\t2\n"
      b"Ann_A\t2\tBob_B\t1\n", flag="security")
lcase("lfw-empty-image", GOOD_LFW,
      lambda t: (t / "lfw" / "Ann_A" / "Ann_A_0001.png").write_bytes(b""))
lcase("lfw-dir-image", GOOD_LFW, lambda t: ((t / "lfw" / "Bob_B" / "Bob_B_0002.png").unlink(),
                                            (t / "lfw" / "Bob_B" / "Bob_B_0002.png").mkdir()))
lcase("lfw-non-utf8", b"1\t1\n\xff\t1\t2\nAnn_A\t1\tBob_B\t2\n")
lcase("lfw-dev-zero-pairs", GOOD_LFW, opts='{"pairs_file": "/dev/zero"}')
lcase("lfw-fifo-pairs", GOOD_LFW, lambda t: os.mkfifo(t / "lfw" / "p.txt"),
      opts='{"pairs_file": str(T / "lfw" / "p.txt")}')
lcase("lfw-bad-count", b"1\t5\nAnn_A\t1\t2\n")
lcase("lfw-negative", b"1\t1\nAnn_A\t-1\t2\nAnn_A\t1\tBob_B\t2\n")
lcase("lfw-bomb-image", GOOD_LFW,
      lambda t: (t / "lfw" / "Ann_A" / "Ann_A_0001.png").write_bytes(bomb_png()))

lcase("lfw-absolute-name", b"1\t1\n/etc\t1\t2\nAnn_A\t1\tBob_B\t2\n", flag="security")
lcase("lfw-crop-too-big", GOOD_LFW, opts='{"crop": 4000}')
lcase("lfw-pairs-directory", GOOD_LFW, lambda t: (t / "lfw" / "pd").mkdir(),
      opts='{"pairs_file": str(T / "lfw" / "pd")}')

# --- single images (xssab explain's reader)
READ_IMAGE = """
from xssab.cli.cmd_explain import read_image
img = read_image(T / NAME)
print("read", img.shape)
"""
for id, name, data, expect in [
        ("image-valid", "a.png", png(), "ok"),
        ("image-bomb-png-20k", "a.png", bomb_png(), "error"),
        ("image-bomb-jpeg-header", "a.jpg", jpeg_header(65000, 65000), "error"),
        ("image-bomb-bmp-header", "a.bmp", b"BM" + b"\x00" * 12 + struct.pack(
            "<IiiHH", 40, 60000, 60000, 1, 24) + b"\x00" * 40, "error"),
        ("image-empty", "a.png", b"", "error"),
        ("image-text", "a.png", b"not an image", "error"),
        ("image-truncated-png", "a.png", png()[:40], "error")]:
    case(id, "image", f"NAME = {name!r}\n" + READ_IMAGE, write(name, data), expect=expect)
case("image-directory", "image", "NAME = 'a.png'\n" + READ_IMAGE, mkdir("a.png"))
case("image-fifo", "image", "NAME = 'a.png'\n" + READ_IMAGE, fifo("a.png"))
case("image-dev-zero", "image", "NAME = 'a.png'\n" + READ_IMAGE, symlink("a.png", "/dev/zero"))

# --- patched-set builder
PATCHED = """
import numpy as np
from xssab.data.folder import FolderDataset
from xssab.data.patched import build_patched
ds = FolderDataset(T / "data")
ps = build_patched(ds)
print("built", len(ps))
"""


def small_folder(side):
    def setup(t):
        d = t / "data"
        d.mkdir()
        for i in (1, 2, 3, 4):
            (d / f"{i:05d}.png").write_bytes(png(side, side, seed=i))
        (d / "pairs.txt").write_text("00001.png 00002.png -1\n00003.png 00004.png 1\n")
    return setup


case("patched-side-16", "patched", PATCHED, small_folder(16))
case("patched-side-8", "patched", PATCHED, small_folder(8))
case("patched-side-17", "patched", PATCHED, small_folder(17), expect="ok")
STALE = """
import numpy as np, cv2
from xssab.data.folder import FolderDataset
from xssab.data.patched import build_patched
ds = FolderDataset(T / "data")
build_patched(ds, cache_dir=T / "cache")
cv2.imwrite(str(T / "data" / "00001.png"), np.full((40, 40, 3), 7, np.uint8))
cached = build_patched(ds, cache_dir=T / "cache")
fresh = build_patched(ds)
same = all(np.array_equal(a.patched, b.patched) for a, b in zip(cached, fresh))
print("cached == fresh:", same)
raise SystemExit(0 if same else 3)
"""
case("patched-cache-image-changed", "patched", STALE, small_folder(40), expect="ok",
     flag="data-loss")
DAMAGED = """
import json, numpy as np
from xssab.data.folder import FolderDataset
from xssab.data.patched import build_patched
ds = FolderDataset(T / "data")
ref = build_patched(ds, cache_dir=T / "cache")
m = json.loads((T / "cache" / "manifest.json").read_text())
m["donors"] = m["donors"][:1]
(T / "cache" / "manifest.json").write_text(json.dumps(m))
again = build_patched(ds, cache_dir=T / "cache")
print("ok", all(np.array_equal(a.patched, b.patched) for a, b in zip(ref, again)))
"""
case("patched-cache-damaged-manifest", "patched", DAMAGED, small_folder(40), expect="ok")

# --- model cards / fetch
FETCH = """
import xssab
from xssab.models import cache
src = T / "w.onnx"
src.write_bytes(b"weights")
card = xssab.ModelCard(name="evil", url=src.as_uri(), file_name=NAME)
p = cache.fetch(card)
print("wrote", p)
bad = [q for q in [T / "x.onnx", T.parent / "x.onnx", T / "evil.onnx"] if q.exists()]
raise SystemExit(3 if bad else 0)
"""
for id, name in [("card-dotdot", "../../x.onnx"), ("card-absolute", "{T}/evil.onnx"),
                 ("card-subdir", "sub/x.onnx")]:
    case(id, "card", f"NAME = {name!r}.format(T=T)\n" + FETCH,
         env={"XSSAB_HOME": "{T}/home/xssab"}, flag="security")
case("card-plain-name", "card", "NAME = 'x.onnx'\n" + FETCH.replace(
    "raise SystemExit(3 if bad else 0)", ""), env={"XSSAB_HOME": "{T}/home"}, expect="ok")

# --- calibration.json / xface_confidence.json / XSSAB_HOME
CALIB = """
from xssab.models import cache
print("threshold", cache.calibrated_threshold("m"))
"""
for id, content in [("calib-threshold-str", '{"m": {"threshold": "abc"}}'),
                    ("calib-threshold-list", '{"m": {"threshold": [1]}}'),
                    ("calib-record-list", '{"m": [1, 2]}'),
                    ("calib-threshold-nan", '{"m": {"threshold": NaN}}'),
                    ("calib-top-list", "[1, 2]"), ("calib-not-json", "{oops")]:
    case(id, "calibration", CALIB, write("home/calibration.json", content.encode()),
         env={"XSSAB_HOME": "{T}/home"})
REPAIR = """
from xssab.models import cache
cache.write_calibration("m", {"threshold": 0.3})
print("repaired", cache.calibrated_threshold("m"))
"""
case("calib-repair-wrong-type", "calibration", REPAIR,
     write("home/calibration.json", b'{"m": {"threshold": "abc"}}'),
     env={"XSSAB_HOME": "{T}/home"}, expect="ok")
case("calib-repair-not-json", "calibration", REPAIR,
     write("home/calibration.json", b"{oops"), env={"XSSAB_HOME": "{T}/home"}, expect="ok")
XFACE = """
from xssab_xface.confidence import load_confidence
class M: name = "m"
c = load_confidence(M())
print("score", None if c is None else c.score(0.4, True))
"""
MD = '{"m": {"d": {"model": "m", "dataset": "d", %s}}}'
for id, content in [("xface-params-short", MD % '"threshold": 0.5, "params": [[1, 2]]'),
                    ("xface-threshold-str", MD % '"threshold": "x", "params": [[1, 1, 1, 1]]'),
                    ("xface-entry-list", '{"m": [1, 2]}'),
                    ("xface-params-str", MD % '"threshold": 0.5, "params": "abcd"')]:
    case(id, "xface", XFACE, write("home/xface_confidence.json", content.encode()),
         env={"XSSAB_HOME": "{T}/home"})
case("home-is-a-file", "home", """
from xssab.cli.main import main
raise SystemExit(main(["models"]))
""", write("homefile", b"x"), env={"XSSAB_HOME": "{T}/homefile"})

# --- ONNX models and what they return
MODEL_SETUP = """
import onnx
from onnx import TensorProto, helper
def graph(path, body, out_shape, hw=(112, 112)):
    g = helper.make_graph(body, "t",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, *hw])],
        [helper.make_tensor_value_info("emb", TensorProto.FLOAT, out_shape)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return str(path)
def relu_mean(path, nan=False):
    body = [helper.make_node("Relu", ["input"], ["r"]),
            helper.make_node("ReduceMean", ["r"], ["m" if nan else "emb"], axes=[2, 3],
                             keepdims=0)]
    if nan:
        body += [helper.make_node("ReduceMean", ["m"], ["s"], axes=[1], keepdims=1),
                 helper.make_node("Div", ["m", "s"], ["emb"])]
    return graph(path, body, ["batch", 3])
"""
case("onnx-scalar-output", "onnx", MODEL_SETUP + """
import xssab
p = graph(T / "s.onnx", [helper.make_node("ReduceMean", ["input"], ["emb"], keepdims=0)], [])
xssab.load_model(p)
""")
case("onnx-huge-input", "onnx", MODEL_SETUP + """
import xssab
p = graph(T / "h.onnx", [helper.make_node("ReduceMean", ["input"], ["emb"], axes=[2, 3],
          keepdims=0)], ["batch", 3], hw=(100000, 100000))
xssab.load_model(p)
""")
case("onnx-not-onnx", "onnx", "import xssab\nxssab.load_model(str(T / 'x.onnx'))",
     write("x.onnx", b"this is not a model"))
case("onnx-empty-file", "onnx", "import xssab\nxssab.load_model(str(T / 'x.onnx'))",
     write("x.onnx", b""))
EXPLAIN_BLACK = MODEL_SETUP + """
import cv2, numpy as np
from xssab.cli.main import main
cv2.imwrite(str(T / "black.png"), np.zeros((112, 112, 3), np.uint8))
cv2.imwrite(str(T / "grey.png"), np.full((112, 112, 3), 200, np.uint8))
code = main(["explain", str(T / "grey.png"), str(T / "black.png"), "--model",
             relu_mean(T / "m.onnx", NAN), "-t", "0.3"])
raise SystemExit(code)
"""
case("explain-zero-embedding", "embedding", "NAN = False\n" + EXPLAIN_BLACK, flag="nan",
     env={"XSSAB_HOME": "{T}/home"})
case("explain-nan-embedding", "embedding", "NAN = True\n" + EXPLAIN_BLACK, flag="nan",
     env={"XSSAB_HOME": "{T}/home"})
case("explain-seed-negative", "cli", MODEL_SETUP + """
import cv2, numpy as np
from xssab.cli.main import main
cv2.imwrite(str(T / "a.png"), np.full((112, 112, 3), 90, np.uint8))
raise SystemExit(main(["explain", str(T / "a.png"), str(T / "a.png"), "--model",
                       relu_mean(T / "m.onnx"), "-t", "0.3", "--method", "random",
                       "-O", "seed=-1"]))
""", env={"XSSAB_HOME": "{T}/home"})
case("explain-out-unwritable", "cli", MODEL_SETUP + """
import cv2, numpy as np
from xssab.cli.main import main
cv2.imwrite(str(T / "a.png"), np.full((112, 112, 3), 90, np.uint8))
(T / "file").write_text("x")
raise SystemExit(main(["explain", str(T / "a.png"), str(T / "a.png"), "--model",
                       relu_mean(T / "m.onnx"), "-t", "0.3", "--out",
                       str(T / "file" / "fig.png")]))
""", env={"XSSAB_HOME": "{T}/home"})
case("dpr-seed-negative", "cli", """
from xssab.metrics.dpr import random_order
random_order(100, -1, 0)
""")

# --- the benchmark's stage cache and outputs (xssab-bench on a tiny model and folder)
BENCH = """
import json, shutil, sys
sys.path.insert(0, SRC)
import cv2
from tests.graphs import export_onnx, folder_dataset, small_iresnet
from xssab.cli.bench import main as bench
model = str(export_onnx(small_iresnet(seed=3), T / "tiny.onnx"))
def data(name, seed):
    return folder_dataset(T / name, 8, seed=seed, jitter=20, noise_seed=seed)
def run(d, out, *extra):
    return bench(["--models", model, "--methods", "random", "--dataset", "folder",
                  "--data", str(d), "--pairs", "0", "--batch-size", "4", "--out", str(out),
                  "--force", *extra])
def numbers(out):
    r = json.loads((T / out / "results.json").read_text())
    m = next(iter(r["models"].values()))
    return json.dumps({k: v for k, v in m.items() if k != "methods"}, sort_keys=True)
"""
case("bench-images-changed-in-place", "bench-cache", BENCH + """
d = data("d", 5)
assert run(d, T / "o1") == 0
for f in sorted(d.glob("0000[1-4].png")):
    cv2.imwrite(str(f), cv2.GaussianBlur(cv2.imread(str(f)), (7, 7), 3))
assert run(d, T / "o2") == 0 and run(d, T / "o3", "--no-cache") == 0
raise SystemExit(0 if numbers("o2") == numbers("o3") else 3)
""", expect="ok", flag="data-loss", env={"XSSAB_HOME": "{T}/home"}, timeout=240)
case("bench-same-relative-data-elsewhere", "bench-cache", BENCH + """
import os
a, b = data("a/d", 5), data("b/d", 6)
os.chdir(T / "a"); assert run("d", T / "o1") == 0
os.chdir(T / "b"); assert run("d", T / "o2") == 0 and run("d", T / "o3", "--no-cache") == 0
raise SystemExit(0 if numbers("o2") == numbers("o3") else 3)
""", expect="ok", flag="data-loss", env={"XSSAB_HOME": "{T}/home"}, timeout=240)
case("bench-resume-other-batch-size", "bench-cache", BENCH + """
import xssab
d = data("d", 5)
real, calls = xssab.explain_pairs, []
def flaky(*a, **k):
    calls.append(1)
    if len(calls) == 2:
        raise KeyboardInterrupt
    return real(*a, **k)
xssab.explain_pairs = flaky
def run2(out, bs):
    return bench(["--models", model, "--methods", "xssab", "--dataset", "folder", "--data",
                  str(d), "--pairs", "0", "--batch-size", bs, "--out", str(out), "--force"])
run2(T / "o1", "3")
xssab.explain_pairs = real
rc1 = run2(T / "o2", "4")
rc2 = run2(T / "o3", "4")
raise SystemExit(0 if rc1 == rc2 == 0 else 3)
""", expect="ok", flag="data-loss", env={"XSSAB_HOME": "{T}/home"}, timeout=240)
case("bench-damaged-stage-file", "bench-cache", BENCH + """
d = data("d", 5)
assert run(d, T / "o1") == 0
for f in (T / "home").rglob("verify.npz"):
    f.write_bytes(f.read_bytes()[:300])
for f in (T / "home").rglob("dpr_random.npz"):
    f.write_bytes(b"PK\x03\x04garbage")
rc = run(d, T / "o2")
raise SystemExit(0 if rc == 0 and numbers("o1") == numbers("o2") else 3)
""", expect="ok", flag="data-loss", env={"XSSAB_HOME": "{T}/home"}, timeout=240)
case("bench-seed-negative", "bench-cache", BENCH + """
raise SystemExit(run(data("d", 5), T / "o1", "--seed", "-1"))
""", env={"XSSAB_HOME": "{T}/home"}, timeout=240)
case("bench-out-under-a-file", "bench-cache", BENCH + """
(T / "file").write_text("x")
raise SystemExit(run(data("d", 5), T / "file" / "out"))
""", env={"XSSAB_HOME": "{T}/home"}, timeout=240)

# --- the map export (xssab explain --dataset ... --out MAPS) and its store
EXPORT = """
import shutil, subprocess, sys
sys.path.insert(0, SRC)
import cv2, numpy as np
from tests.graphs import export_onnx, folder_dataset, small_iresnet
from xssab.cli.main import main
model = str(export_onnx(small_iresnet(seed=3), T / "tiny.onnx"))
def data(name, seed):
    return folder_dataset(T / name, 6, seed=seed, jitter=20, noise_seed=seed)
def export(d, out, *extra):
    return main(["explain", "--dataset", "folder", "--data", str(d), "--model", model,
                 "-t", "0.3", "--out", str(out), "--chunk-pairs", "2", "--dtype", "float32",
                 *extra])
def arrays(out):
    import zarr
    g = zarr.open_group(str(out), mode="r", zarr_format=2)
    return {k: np.asarray(g[k][:]) for k in ("combined", "positive", "similarity")}
def same(a, b):
    return all(np.array_equal(a[k], b[k]) for k in a)
"""
case("export-out-under-a-file", "export", EXPORT + """
(T / "file").write_text("x")
raise SystemExit(export(data("d", 5), T / "file" / "maps"))
""", timeout=120)
case("export-out-locked-by-another-run", "export", EXPORT + """
d = data("d", 5)
assert export(d, T / "maps") == 0  # a store another run is now (re)writing:
holder = subprocess.Popen([sys.executable, "-c", "import sys; from filelock import FileLock; "
                           f"l = FileLock({str(T / 'maps' / '.xssab.lock')!r}); l.acquire(); "
                           "print('held', flush=True); sys.stdin.read()"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
assert holder.stdout.readline().strip() == "held"
try:  # --force would replace the store under the other run
    rc = export(d, T / "maps", "--force", "--method", "random")
finally:
    holder.stdin.close(); holder.wait()
raise SystemExit(rc)
""", flag="data-loss", timeout=120)
case("export-resume-other-data-same-names", "export", EXPORT + """
assert export(data("a", 5), T / "maps") == 0
raise SystemExit(export(data("b", 6), T / "maps"))
""", flag="data-loss", timeout=120)
case("export-resume-images-changed", "export", EXPORT + """
d = data("d", 5)
assert export(d, T / "maps") == 0
cv2.imwrite(str(d / "00001.png"), 255 - cv2.imread(str(d / "00001.png")))
raise SystemExit(export(d, T / "maps"))
""", flag="data-loss", timeout=120)
case("export-damaged-chunk", "export", EXPORT + """
d = data("d", 5)
assert export(d, T / "maps") == 0
ref = arrays(T / "maps")
(T / "maps" / "combined" / "1.0.0.0").unlink()
p = T / "maps" / "positive" / "2.0.0.0"
p.write_bytes(p.read_bytes()[:40])
rc = export(d, T / "maps")
raise SystemExit(0 if rc == 0 and same(arrays(T / "maps"), ref) else 3)
""", expect="ok", flag="data-loss", timeout=120)

# --- the aligned-crop cache (align=true): XSSAB_HOME/aligned/<key>/
ALIGNED = """
import numpy as np, cv2
import xssab
class NoFace:  # finds no face: the crop is the resized image (deterministic, fast)
    name = "noface"
    def detect(self, images):
        return [[] for _ in images]
(T / "d").mkdir()
for i in range(4):
    cv2.imwrite(str(T / "d" / f"{i:05d}.png"),
                np.random.default_rng(i).integers(0, 255, (60, 50, 3), dtype=np.uint8))
(T / "d" / "pairs.txt").write_text("00000.png 00001.png 1\\n00002.png 00003.png -1\\n")
def ds():
    return xssab.get_dataset("folder", path=T / "d", align=True, detector=NoFace(),
                             align_size=32)
def fresh(key):
    return cv2.resize(cv2.imread(str(T / "d" / key))[:, :, ::-1], (32, 32),
                      interpolation=cv2.INTER_AREA)
def entry(key):
    a = ds().aligned
    return a.path(key, ds()._load_raw) if a.path.__code__.co_argcount > 2 else a.path(key)
"""
case("aligned-cache-image-changed", "aligned-cache", ALIGNED + """
ds().load("00000.png")
cv2.imwrite(str(T / "d" / "00000.png"), np.full((60, 50, 3), 7, np.uint8))
got = ds().load("00000.png")
raise SystemExit(0 if np.array_equal(got, fresh("00000.png")) else 3)
""", expect="ok", flag="data-loss")
case("aligned-cache-truncated-entry", "aligned-cache", ALIGNED + """
want = ds().load("00001.png")
e = entry("00001.png")
e.write_bytes(e.read_bytes()[:100])
raise SystemExit(0 if np.array_equal(ds().load("00001.png"), want) else 3)
""", expect="ok", flag="data-loss")
case("aligned-cache-wrong-size-entry", "aligned-cache", ALIGNED + """
want = ds().load("00001.png")
cv2.imwrite(str(entry("00001.png")), np.zeros((50, 50, 3), np.uint8))
raise SystemExit(0 if np.array_equal(ds().load("00001.png"), want) else 3)
""", expect="ok", flag="data-loss")
case("aligned-cache-same-size-other-pixels", "aligned-cache", ALIGNED + """
want = ds().load("00001.png")
cv2.imwrite(str(entry("00001.png")), np.zeros((32, 32, 3), np.uint8))
raise SystemExit(0 if np.array_equal(ds().load("00001.png"), want) else 3)
""", expect="ok", flag="data-loss")
case("aligned-cache-key-escape", "aligned-cache", ALIGNED + """
from xssab.align.cache import AlignedCache
c = AlignedCache("x", 32, NoFace(), root=T / "home" / "a" / "b")
c.get("../../../escape", lambda k: np.zeros((40, 40, 3), np.uint8))
outside = [p for p in T.rglob("*.png") if p.parent != T / "d"
           and (T / "home" / "a" / "b") not in p.parents]
raise SystemExit(3 if outside else 0)
""", expect="ok", flag="security")

# ------------------------------------------------------------------------ runner
HARNESS = """
import sys
from pathlib import Path
T = Path({tmp!r})
SRC = {src!r}
from xssab.errors import XssabError
try:
{body}
except XssabError as exc:
    print("error:", exc)
    sys.exit(2)
"""


def run_case(c: dict, src: Path, timeout: float, mem_mb: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        t = Path(tmp)
        if c["setup"]:
            c["setup"](t)
        code = HARNESS.format(tmp=str(t), src=str(src),
                              body=textwrap.indent(c["code"], "    "))
        env = dict(os.environ, PYTHONPATH=f"{src}{os.pathsep}{src / 'plugins'}",
                   XSSAB_HOME=str(t / "xssab-home"), XSSAB_ORT_THREADS="1",
                   OMP_NUM_THREADS="1", PYTHONFAULTHANDLER="")
        env.update({k: v.format(T=t) for k, v in c["env"].items()})
        t0 = time.time()
        log = open(t / ".case-output", "w+b")  # a file, not a pipe: a huge traceback
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=t, env=env,  # can't block
                                stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        status, rss_kb, hung = None, 0, False
        while True:
            pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                status, rss_kb = st, ru.ru_maxrss
                break
            if time.time() - t0 > timeout:
                hung = True
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, ru = os.wait4(proc.pid, 0)
                rss_kb = ru.ru_maxrss
                break
            try:  # watch the RSS of the running case: stop a blow-up early
                with open(f"/proc/{proc.pid}/status") as fh:
                    for line in fh:
                        if line.startswith("VmRSS:") and int(line.split()[1]) > mem_mb * 1024:
                            os.killpg(proc.pid, signal.SIGKILL)
                            rss_kb = int(line.split()[1])
                            break
            except OSError:
                pass
            time.sleep(0.05)
        log.seek(0)
        out = log.read().decode("utf-8", "replace")
        log.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        rc = proc.returncode
        lines = [ln for ln in out.strip().splitlines() if ln.strip()]
        if hung:
            outcome = "hang"
        elif rss_kb > mem_mb * 1024:
            outcome = "memory"
        elif rc < 0:
            outcome = "crash"
        elif "Traceback (most recent call last)" in out:
            outcome = "traceback"
        elif rc == 2 and lines and lines[-1].startswith("error:") and \
                sum(ln.startswith("error:") for ln in lines) == 1:
            outcome = "clean-error"
        elif rc == 0:
            outcome = "ok"
        else:
            outcome = f"exit {rc}"
        # a case flagged security/nan/data-loss that did not end in a refusal is an issue;
        # one expected to succeed must exit 0
        issue = None
        if c["expect"] == "error":
            clean = outcome == "clean-error"
            if outcome in ("ok", f"exit {rc}") and c["flag"]:
                issue = c["flag"]
        else:
            clean = outcome == "ok"
            if not clean and c["flag"]:  # e.g. a stale or corrupted cache kept
                issue = c["flag"]
        if c["flag"] == "nan" and outcome == "ok":
            issue = "nan"
        return dict(id=c["id"], group=c["group"], outcome=outcome, clean=clean, issue=issue,
                    rc=rc, rss_mb=round(rss_kb / 1024), seconds=round(time.time() - t0, 2),
                    last=(lines[-1] if lines else "")[:160])


def tally(rows: list[dict]) -> dict:
    t = {"tried": len(rows), "clean": sum(r["clean"] for r in rows)}
    for k in ("traceback", "crash", "hang", "memory"):
        t[k] = sum(r["outcome"] == k for r in rows)
    t["other"] = sum(1 for r in rows if not r["clean"] and r["outcome"] not in
                     ("traceback", "crash", "hang", "memory"))
    for k in ("security", "nan", "data-loss"):
        t[k] = sum(r["issue"] == k for r in rows)
    return t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=HERE, help="xssab source tree to test")
    ap.add_argument("--only", default=None, help="run cases whose id contains this (comma-separated: any)")
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--mem-mb", type=int, default=1500,
                    help="peak RSS counted as a memory blow-up (every valid case here needs "
                    "a few hundred MB at most)")
    ap.add_argument("--json", type=Path, default=None, help="write the rows and tally here")
    args = ap.parse_args(argv)
    rows = []
    for c in CASES:
        if args.only and not any(o in c["id"] for o in args.only.split(",")):
            continue
        r = run_case(c, args.src.resolve(), max(args.timeout, c["timeout"] or 0), args.mem_mb)
        rows.append(r)
        mark = "ok " if r["clean"] else "BAD"
        extra = f" [{r['issue']}]" if r["issue"] else ""
        print(f"{mark} {r['id']:<32} {r['outcome']:<12}{extra:<12} {r['rss_mb']:>6} MB  "
              f"{r['last'][:90]}", flush=True)
    t = tally(rows)
    print("tally:", json.dumps(t))
    if args.json:
        args.json.write_text(json.dumps({"src": str(args.src), "tally": t, "rows": rows},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

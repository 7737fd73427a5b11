"""Image dimensions from the file header, checked before anything is decoded.

A small compressed file can declare a huge image (a 388 KB PNG of 20000 x 20000 pixels
decodes to 1.2 GB, and every later copy costs as much again). Every image reader of xssab
calls :func:`check_image_header` on the encoded bytes first: the width and height are read
from the header of the formats listed below, and an image of more than
:func:`max_pixels` pixels, or in a format whose header is not understood, is refused with a
one-line :class:`~xssab.errors.DatasetError` before OpenCV sees it.

Formats read: PNG, JPEG (baseline/progressive/lossless SOF markers), BMP (all header
versions), GIF, WebP (VP8, VP8L, VP8X), TIFF (first image file directory, both byte
orders, classic and BigTIFF) and the Netpbm formats (PBM/PGM/PPM, P1-P6).

The limit is ``DEFAULT_MAX_PIXELS`` (40 megapixels, e.g. 8000 x 5000; aligned face crops
are far smaller) and is configured with the environment variable ``XSSAB_MAX_PIXELS``
(a positive integer number of pixels) or per call with ``max_pixels=``.
"""

from __future__ import annotations

import os
import struct

from ..errors import DatasetError

DEFAULT_MAX_PIXELS = 40_000_000
ENV = "XSSAB_MAX_PIXELS"
FORMATS = "PNG, JPEG, BMP, GIF, WebP, TIFF, PBM/PGM/PPM"


def max_pixels() -> int:
    """The pixel limit: ``$XSSAB_MAX_PIXELS`` if set, else ``DEFAULT_MAX_PIXELS``."""
    env = os.environ.get(ENV, "").strip()
    if not env:
        return DEFAULT_MAX_PIXELS
    try:
        v = int(env)
    except ValueError:
        v = 0
    if v <= 0:
        raise DatasetError(f"{ENV}={env!r}: expected a positive number of pixels")
    return v


class _Bad(Exception):
    pass


def _png(b: bytes):
    if len(b) < 24 or b[12:16] != b"IHDR":
        raise _Bad("PNG without an IHDR header")
    return struct.unpack(">II", b[16:24])


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(b: bytes):
    i, n = 2, len(b)
    while i < n:
        if b[i] != 0xFF:
            raise _Bad("JPEG with a broken marker sequence")
        while i < n and b[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            break
        marker = b[i]
        i += 1
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue  # no length
        if marker in (0xD9, 0xDA):
            break  # end of image / start of scan before any frame header
        if i + 2 > n:
            break
        seg = struct.unpack(">H", b[i:i + 2])[0]
        if seg < 2:
            raise _Bad("JPEG segment with a bad length")
        if marker in _SOF:
            if i + 7 > n:
                break
            h, w = struct.unpack(">HH", b[i + 3:i + 7])
            return w, h
        i += seg
    raise _Bad("JPEG without a frame header")


def _bmp(b: bytes):
    if len(b) < 26:
        raise _Bad("truncated BMP header")
    size = struct.unpack("<I", b[14:18])[0]
    if size == 12:  # OS/2 BITMAPCOREHEADER
        w, h = struct.unpack("<HH", b[18:22])
    else:
        w, h = struct.unpack("<ii", b[18:26])
    return abs(w), abs(h)


def _gif(b: bytes):
    if len(b) < 10:
        raise _Bad("truncated GIF header")
    return struct.unpack("<HH", b[6:10])


def _webp(b: bytes):
    kind = b[12:16]
    if kind == b"VP8 " and len(b) >= 30:
        w, h = struct.unpack("<HH", b[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if kind == b"VP8L" and len(b) >= 25:
        v = int.from_bytes(b[21:25], "little")
        return (v & 0x3FFF) + 1, ((v >> 14) & 0x3FFF) + 1
    if kind == b"VP8X" and len(b) >= 30:
        return int.from_bytes(b[24:27], "little") + 1, int.from_bytes(b[27:30], "little") + 1
    raise _Bad("WebP with an unknown or truncated chunk")


def _tiff(b: bytes):
    end = "<" if b[:2] == b"II" else ">"
    magic = struct.unpack(end + "H", b[2:4])[0]
    big = magic == 43
    if big:
        if len(b) < 16:
            raise _Bad("truncated BigTIFF header")
        off = struct.unpack(end + "Q", b[8:16])[0]
        cnt_fmt, cnt_len, ent_len = "Q", 8, 20
    else:
        off = struct.unpack(end + "I", b[4:8])[0]
        cnt_fmt, cnt_len, ent_len = "H", 2, 12
    if off + cnt_len > len(b):
        raise _Bad("TIFF directory outside the file")
    count = struct.unpack(end + cnt_fmt, b[off:off + cnt_len])[0]
    dims = {}
    for k in range(min(count, 4096)):
        e = off + cnt_len + k * ent_len
        if e + ent_len > len(b):
            break
        tag, typ = struct.unpack(end + "HH", b[e:e + 4])
        if tag not in (256, 257):
            continue
        vpos = e + (12 if big else 8)
        if typ == 3:
            dims[tag] = struct.unpack(end + "H", b[vpos:vpos + 2])[0]
        elif typ == 4:
            dims[tag] = struct.unpack(end + "I", b[vpos:vpos + 4])[0]
        elif typ == 16 and big:
            dims[tag] = struct.unpack(end + "Q", b[vpos:vpos + 8])[0]
    if 256 not in dims or 257 not in dims:
        raise _Bad("TIFF without image width/length")
    return dims[256], dims[257]


def _pnm(b: bytes):
    toks: list[bytes] = []
    i, n = 2, min(len(b), 4096)
    while len(toks) < 2 and i < n:
        c = b[i:i + 1]
        if c == b"#":
            while i < n and b[i:i + 1] not in (b"\n", b"\r"):
                i += 1
        elif c.isspace():
            i += 1
        else:
            j = i
            while j < n and not b[j:j + 1].isspace() and b[j:j + 1] != b"#":
                j += 1
            toks.append(b[i:j])
            i = j
    if len(toks) < 2 or not all(t.isdigit() for t in toks):
        raise _Bad("Netpbm image without a width and height")
    return int(toks[0]), int(toks[1])


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header, or None when the format is not one of FORMATS.

    Raises ``ValueError`` when the format is recognised but its header is broken.
    """
    b = data if isinstance(data, bytes) else bytes(data)
    try:
        if b[:8] == b"\x89PNG\r\n\x1a\n":
            return _png(b)
        if b[:2] == b"\xff\xd8":
            return _jpeg(b)
        if b[:2] == b"BM":
            return _bmp(b)
        if b[:6] in (b"GIF87a", b"GIF89a"):
            return _gif(b)
        if b[:4] == b"RIFF" and b[8:12] == b"WEBP":
            return _webp(b)
        if b[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
            return _tiff(b)
        if len(b) >= 3 and b[:1] == b"P" and b[1:2] in b"123456" and b[2:3].isspace():
            return _pnm(b)
    except (_Bad, struct.error, IndexError) as exc:
        raise ValueError(str(exc) or "truncated header") from None
    return None


def check_image_header(data, what: str, max_pixels_: int | None = None) -> tuple[int, int]:
    """(width, height) of encoded image ``data``; DatasetError (one line, naming ``what``)
    for an empty file, an unknown format, a broken header, a zero side or more pixels
    than the limit."""
    limit = max_pixels() if max_pixels_ is None else int(max_pixels_)
    if data is None or len(data) == 0:
        raise DatasetError(f"{what}: cannot decode the image: the file is empty")
    try:
        size = image_size(data)
    except ValueError as exc:
        raise DatasetError(f"{what}: cannot decode the image: broken header ({exc})") from None
    if size is None:
        raise DatasetError(f"{what}: cannot decode the image: not a supported format "
                           f"({FORMATS})")
    w, h = (int(v) for v in size)
    if w <= 0 or h <= 0:
        raise DatasetError(f"{what}: the header declares a {w}x{h} image")
    if w * h > limit:
        raise DatasetError(f"{what}: the header declares {w}x{h} = {w * h} pixels, more than "
                           f"the limit of {limit} ({ENV} sets it); refused before decoding")
    return w, h

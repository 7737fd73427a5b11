import struct
import zlib

import cv2
import numpy as np
import pytest

from xssab.data.folder import decode_image
from xssab.data.image_header import DEFAULT_MAX_PIXELS, check_image_header, image_size
from xssab.errors import DatasetError


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp", ".tiff", ".ppm", ".pgm"])
def test_header_size_matches_decoder(ext):
    img = np.random.default_rng(0).integers(0, 255, (37, 53, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(ext, img[..., 0] if ext == ".pgm" else img)
    assert ok
    assert image_size(buf.tobytes()) == (53, 37)
    assert decode_image(buf.tobytes(), "x").shape[:2] == (37, 53)


def _png_header(w, h):
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    raw = zlib.compress(b"\x00" * 64)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk
            + struct.pack(">I", zlib.crc32(chunk)) + struct.pack(">I", len(raw)) + b"IDAT"
            + raw + struct.pack(">I", zlib.crc32(b"IDAT" + raw)))


def test_bomb_refused_before_decoding():
    with pytest.raises(DatasetError, match="20000x20000 = 400000000 pixels.*refused"):
        decode_image(_png_header(20000, 20000), "bomb.png")


def test_limit_configurable(monkeypatch):
    check_image_header(_png_header(1000, 1000), "x")
    monkeypatch.setenv("XSSAB_MAX_PIXELS", "999999")
    with pytest.raises(DatasetError, match="limit of 999999"):
        check_image_header(_png_header(1000, 1000), "x")
    monkeypatch.setenv("XSSAB_MAX_PIXELS", "lots")
    with pytest.raises(DatasetError, match="XSSAB_MAX_PIXELS"):
        check_image_header(_png_header(10, 10), "x")
    monkeypatch.delenv("XSSAB_MAX_PIXELS")
    assert check_image_header(_png_header(DEFAULT_MAX_PIXELS, 1), "x")[0] == DEFAULT_MAX_PIXELS


@pytest.mark.parametrize("data,words", [
    (b"", "empty"), (b"GIF89a", "broken header"), (b"hello world", "not a supported"),
    (b"\xff\xd8\xff\xe0\x00\x01", "broken header"), (_png_header(0, 5), "0x5"),
])
def test_bad_headers_one_line(data, words):
    with pytest.raises(DatasetError, match=words) as exc:
        check_image_header(data, "img")
    assert "\n" not in str(exc.value)

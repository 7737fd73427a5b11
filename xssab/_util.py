"""Private helpers shared by the whole package (one copy of each; not public API).

* atomic writes: :func:`atomic_path` (context manager handing out a temporary path),
  :func:`atomic_write_bytes`, :func:`atomic_write_text`, :func:`atomic_write_json`. The
  temporary file sits next to the target, is removed on any failure, and the result gets
  the mode a plain ``open(path, "w")`` would give (``0o666`` minus the umask), not the
  ``0o600`` of :func:`tempfile.mkstemp`.
* :func:`atomic_dir` — the same for a whole folder (fill a temporary folder, rename).
* :func:`sha256_file` — hex digest of a file, read in blocks.
* :func:`l2_normalize` — rows (last axis) to unit length.
* images: :func:`write_png`, :func:`decode_image` (encoded bytes -> uint8 RGB),
  :func:`read_image` (file ->
  uint8 RGB), :func:`to_rgb` (any supported array -> uint8 RGB), :func:`resize_image`
  (the one "shrink" rule: pixel-area averaging when no axis grows, bilinear otherwise).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .errors import XssabError


# ------------------------------------------------------------------------- atomic writes
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``.

    Write the content to the yielded path (any writer: ``savefig``, ``np.savez``...). On
    any exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, marker: str, *,
               replace: bool = False) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; filled without error, it becomes ``path``
    (one rename). If another process published ``path`` first (``marker`` exists in it),
    that copy is kept. ``replace=True`` removes an existing ``path`` first. The folder gets
    the umask's mode (``tempfile.mkdtemp`` alone gives 0o700); the temporary folder is
    removed on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{path.name}.tmp-", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if replace and path.exists():
            shutil.rmtree(path, ignore_errors=True)
        try:
            os.rename(tmp, path)
        except OSError:
            if not (path / marker).exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file + ``os.replace``)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, data: Any, *, indent: int = 2,
                      sort_keys: bool = True) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=indent, sort_keys=sort_keys) + "\n")


# ------------------------------------------------------------------------------- hashing
def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of the file at ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


# ----------------------------------------------------------------------------- vectors
def l2_normalize(x: Any, eps: float = 1e-12) -> Any:
    """``x / max(||x||, eps)`` along the last axis.

    numpy: keeps a floating dtype (anything else becomes float32). A torch tensor stays a
    tensor (differentiable; the clamp only acts on rows of norm < ``eps``).
    """
    if not isinstance(x, np.ndarray) and hasattr(x, "norm") and hasattr(x, "clamp_min"):
        return x / x.norm(dim=-1, keepdim=True).clamp_min(eps)
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, eps)


# ------------------------------------------------------------------------------ images
def decode_image(data: bytes | np.ndarray, what: str, *,
                 error: type[XssabError] = XssabError, unchanged: bool = False) -> np.ndarray:
    """Encoded image bytes -> uint8 RGB (H, W, 3); one-line ``error`` naming ``what``.

    The header is read first (``xssab.data.image_header``): an empty file, an unknown
    format, a broken header or more pixels than the limit (``XSSAB_MAX_PIXELS``) is
    refused before OpenCV allocates anything. ``unchanged``: a one-channel uint8 image
    (label/mask PNGs) comes back as stored, (H, W).
    """
    import cv2

    from .data.image_header import check_image_header

    buf = np.frombuffer(bytes(data), dtype=np.uint8) if not isinstance(data, np.ndarray) \
        else np.ascontiguousarray(data, dtype=np.uint8).ravel()
    _as(error, check_image_header, buf, f"cannot read image {what}")
    try:
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED if unchanged else cv2.IMREAD_COLOR)
    except cv2.error:
        img = None
    if unchanged and img is not None and img.dtype == np.uint8 and img.ndim == 2:
        return img
    if img is None or img.ndim != 3 or min(img.shape[:2]) < 1 or unchanged:
        raise error(f"cannot read image {what}: cannot decode it (truncated or not an "
                    "image file)")
    return np.ascontiguousarray(img[:, :, ::-1])


def _as(error: type[XssabError], fn, *args):
    """``fn(*args)``, with an XssabError it raises re-raised as ``error`` (same text)."""
    try:
        return fn(*args)
    except XssabError as exc:
        if isinstance(exc, error):
            raise
        raise error(str(exc)) from None


def read_image(path: str | os.PathLike, *, error: type[XssabError] = XssabError,
               unchanged: bool = False) -> np.ndarray:
    """Image file -> uint8 RGB (H, W, 3); one-line ``error`` when missing, not a regular
    file (a directory, device or pipe: refused before reading), larger than
    ``MAX_IMAGE_BYTES`` or undecodable (see :func:`decode_image`)."""
    from .data.safe_io import MAX_IMAGE_BYTES, read_regular_bytes

    p = Path(path)
    if not p.exists():
        raise error(f"cannot read image {p}: no such file")
    buf = _as(error, read_regular_bytes, p, "image", MAX_IMAGE_BYTES)
    return decode_image(buf, str(p), error=error, unchanged=unchanged)


def encode_png(image: np.ndarray, what: str, *,
               error: type[XssabError] = XssabError) -> bytes:
    """Lossless PNG bytes of a uint8 RGB (H, W, 3) image or a one-channel (H, W) map."""
    import cv2

    arr = np.asarray(image)
    if arr.ndim == 3:
        arr = np.ascontiguousarray(arr[:, :, ::-1])  # OpenCV writes BGR
    ok, buf = cv2.imencode(".png", arr)
    if not ok:  # pragma: no cover
        raise error(f"cannot encode {what}")
    return buf.tobytes()


def write_png(path: str | os.PathLike, image: np.ndarray, *,
              error: type[XssabError] = XssabError) -> None:
    """Write :func:`encode_png` of ``image`` to ``path``."""
    Path(path).write_bytes(encode_png(image, str(path), error=error))


def to_rgb(image: Any) -> np.ndarray:
    """uint8 RGB (H, W, 3) from gray (H,W)/(H,W,1), RGB or RGBA (alpha dropped).

    Non-uint8 input: floats with maximum <= 1 are taken as [0, 1] and scaled by 255;
    everything is then clipped to [0, 255] (NaN -> 0) and cast to uint8.
    """
    im = np.asarray(image)
    if im.ndim == 2:
        im = im[:, :, None]
    if im.ndim != 3 or im.shape[2] not in (1, 3, 4):
        raise XssabError(f"expected an image of shape (H, W), (H, W, 1), (H, W, 3) or "
                         f"(H, W, 4), got {im.shape}")
    if im.dtype != np.uint8:
        if np.issubdtype(im.dtype, np.floating) and im.size and float(np.nanmax(im)) <= 1.0:
            im = im * 255.0
        im = np.clip(np.nan_to_num(im), 0, 255).astype(np.uint8)
    if im.shape[2] == 1:
        im = np.repeat(im, 3, axis=2)
    elif im.shape[2] == 4:
        im = im[:, :, :3]
    return np.ascontiguousarray(im)


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an image or map (H, W[, C]) to ``size = (H', W')``.

    The one resampling rule of the package: unchanged (same object) at the same size;
    pixel-area averaging (``cv2.INTER_AREA``) when no axis grows; bilinear
    (``cv2.INTER_LINEAR``) when any axis grows. The dtype is kept.
    """
    import cv2

    h, w = int(size[0]), int(size[1])
    if image.shape[:2] == (h, w):
        return image
    shrink = h <= image.shape[0] and w <= image.shape[1]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    out = cv2.resize(image, (w, h), interpolation=interp)
    if image.ndim == 3 and out.ndim == 2:  # cv2 drops a trailing channel of size 1
        out = out[:, :, None]
    return out

"""Image -> model input tensor: size, channel order, (x - mean) / std."""

from __future__ import annotations

import cv2
import numpy as np

from .._util import resize_image as resize, to_rgb
from ..errors import XssabError


def as_image_list(images) -> list[np.ndarray]:
    """Accept (H,W,3) / (H,W) / (H,W,1) / (H,W,4), a (N,H,W[,C]) array, or a list."""
    if isinstance(images, np.ndarray):
        if images.ndim == 4 or (images.ndim == 3 and images.shape[-1] not in (1, 3, 4)):
            return [images[i] for i in range(images.shape[0])]
        return [images]
    if isinstance(images, (list, tuple)):
        return [np.asarray(im) for im in images]
    raise XssabError(f"images must be a numpy array or a list of arrays, got "
                     f"{type(images).__name__}")


def _vec(v) -> np.ndarray:
    arr = np.asarray(v, dtype=np.float32).reshape(-1)
    if arr.size == 1:
        arr = np.repeat(arr, 3)
    if arr.size != 3:
        raise XssabError(f"mean/std must be one number or three, got {v!r}")
    return arr.reshape(1, 3, 1, 1)


def preprocess(images, input_size: tuple[int, int], channel_order: str = "rgb",
               mean=127.5, std=127.5) -> np.ndarray:
    """float32 (N, 3, H, W) model input from uint8 RGB images (see FaceModel docs).

    ``mean`` / ``std`` are given in the card's channel order (after any RGB->BGR swap).
    Images that are already uint8 RGB at ``input_size`` (the benchmark's re-embeddings)
    are stacked as they are; the others go through :func:`to_rgb` and :func:`resize`.
    """
    h, w = input_size
    x = _ready_batch(images, (h, w))
    if x is None:
        ims = [resize(to_rgb(im), input_size) for im in as_image_list(images)]
        if not ims:
            return np.zeros((0, 3, h, w), np.float32)
        x = np.stack(ims)  # N H W 3, RGB uint8
    return normalize(x, channel_order, mean, std)


def _ready_batch(images, size: tuple[int, int]) -> np.ndarray | None:
    """(N, H, W, 3) uint8 when every image is already uint8 RGB of ``size``, else None."""
    shape = size + (3,)
    if isinstance(images, np.ndarray):
        if images.dtype == np.uint8 and images.ndim == 4 and images.shape[1:] == shape:
            return images
        return None
    if isinstance(images, (list, tuple)) and images and all(
            isinstance(im, np.ndarray) and im.dtype == np.uint8 and im.shape == shape
            for im in images):
        return np.stack(images)
    return None


def normalize(x: np.ndarray, channel_order: str = "rgb", mean=127.5, std=127.5
              ) -> np.ndarray:
    """``(x - mean) / std`` of uint8 RGB (N, H, W, 3) as float32 (N, 3, H, W) in the
    card's channel order, one channel at a time into the output (no float copy of the
    batch in HWC order). Every value is the float32 ``(float32(v) - mean_c) / std_c`` of
    the plain array expression, bit for bit (tests/models/test_preprocess.py)."""
    m, s = _vec(mean).ravel(), _vec(std).ravel()
    n, h, w = x.shape[:3]
    out = np.empty((n, 3, h, w), np.float32)
    for c in range(3):
        src = 2 - c if channel_order == "bgr" else c
        o = out[:, c]
        np.subtract(x[..., src], m[c], out=o, dtype=np.float32)
        np.divide(o, s[c], out=o)
    return out


def probe_images(n: int, size: tuple[int, int], seed: int = 1234,
                 noise: float = 10.0) -> np.ndarray:
    """Deterministic smooth uint8 RGB images for parity and batch checks.

    Each is an upsampled coarse random colour grid plus Gaussian pixel noise of std
    ``noise``: more image-like than white noise.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    out = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        small = rng.uniform(0, 255, (max(h // 8, 2), max(w // 8, 2), 3)).astype(np.float32)
        big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
        big += rng.normal(0, noise, big.shape).astype(np.float32)
        out[i] = np.clip(big, 0, 255).astype(np.uint8)
    return out


__all__ = ["as_image_list", "normalize", "preprocess", "probe_images", "resize", "to_rgb"]

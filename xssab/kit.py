"""The public kit for explanation-method authors (first-party plugins use it too).

Everything a method's ``explain_pairs`` usually needs besides the model::

    from xssab.kit import check_pairs, chunks, signed_maps

    def explain_pairs(self, model, images_a, images_b, threshold, options=None, *,
                      sides="both", device=None):
        images_a, images_b = check_pairs(images_a, images_b, sides)
        for s in chunks(len(images_a), 16):
            ...  # a (h, w) signed map per image at model input size
            maps = signed_maps(signed, images_a[i].shape[:2])

* :func:`check_pairs` — the input check every method runs (``sides``, equal lengths, each
  image a uint8 (H, W[, C]) array); one-line :class:`~xssab.XssabError` otherwise.
* :func:`chunks` — ``range`` slices of at most ``size`` items.
* :func:`resize_map` — a float map back to an image's size (the package's one resampling
  rule: pixel-area averaging when no axis grows, bilinear otherwise).
* :func:`signed_maps` — one signed map (high = similar) -> :class:`~xssab.ImageMaps`
  (``positive = max(c, 0)``, ``negative = max(-c, 0)``, ``combined = c``) at an image's size.
* :func:`resolve_threshold` — explicit threshold > the model's > a one-line ThresholdError.
* :func:`explain_device` — the device to explain on (must be the model's).
* :func:`gaussian_blur`, :func:`l2_normalize`, :func:`to_rgb`, :func:`read_image`,
  :func:`normalize_device`, :func:`model_name`, :func:`cache_dir`,
  :func:`atomic_write_json`.

See also :func:`xssab.testing.check_method`, the conformance suite for a method.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ._util import atomic_write_json, l2_normalize, read_image, resize_image, to_rgb
from .errors import XssabError
from .explain.base import ImageMaps

SIDES = ("both", "a")


def check_image(img: Any, where: str) -> np.ndarray:
    """``img`` if it is a uint8 (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array, else a
    one-line :class:`XssabError` naming ``where``."""
    if not isinstance(img, np.ndarray):
        raise XssabError(f"{where}: expected a numpy uint8 image array, got "
                         f"{type(img).__name__}")
    if img.dtype != np.uint8:
        raise XssabError(f"{where}: expected dtype uint8 (0..255 RGB), got {img.dtype}; "
                         "convert with np.clip(x, 0, 255).astype(np.uint8)")
    ok = img.ndim == 2 or (img.ndim == 3 and img.shape[2] in (1, 3, 4))
    if not ok or min(img.shape[:2]) < 1:
        raise XssabError(f"{where}: expected an image of shape (H, W, 3) RGB (or (H, W) gray, "
                         f"(H, W, 4) RGBA), got shape {img.shape}")
    return img


def image_list(images: Any, label: str) -> list[np.ndarray]:
    """A list of checked images from a sequence or an (N, H, W[, C]) array."""
    if isinstance(images, np.ndarray):
        if images.ndim == 4 or (images.ndim == 3 and images.shape[-1] not in (1, 3, 4)):
            seq = list(images)  # a batch (N, H, W, C) or a batch of gray images (N, H, W)
        else:
            raise XssabError(f"{label}: expected a list of images or an (N, H, W, 3) array, "
                             f"got one array of shape {images.shape}; use xssab.explain for "
                             "one pair")
    else:
        try:
            seq = list(images)
        except TypeError:
            raise XssabError(f"{label}: expected a list of images, got "
                             f"{type(images).__name__}") from None
    return [check_image(img, f"{label}[{i}]") for i, img in enumerate(seq)]


def check_pairs(images_a: Any, images_b: Any,
                sides: str = "both") -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The input check of every method's ``explain_pairs``: both image lists, checked.

    Raises a one-line :class:`XssabError` for an unknown ``sides``, a bad image or lists of
    different lengths.
    """
    if sides not in SIDES:
        raise XssabError(f"sides must be 'both' or 'a', got {sides!r}")
    list_a = image_list(images_a, "images_a")
    list_b = image_list(images_b, "images_b")
    if len(list_a) != len(list_b):
        raise XssabError(f"got {len(list_a)} first images and {len(list_b)} second images; "
                         "pass one of each per pair")
    return list_a, list_b


def chunks(n: int, size: int) -> Iterator[slice]:
    """Slices ``[0:size], [size:2*size], ...`` covering ``range(n)`` (``size`` >= 1)."""
    size = max(1, int(size))
    for s in range(0, int(n), size):
        yield slice(s, min(s + size, int(n)))


def resize_map(map_: Any, size: Sequence[int]) -> np.ndarray:
    """Resample a float map ``(h, w)`` to ``size = (H, W)``; float32 out.

    Values are resampled, not rescaled. Same size: unchanged (as float32).
    """
    m = np.asarray(map_, dtype=np.float32)
    if m.ndim != 2:
        raise ValueError(f"expected a 2-D map, got shape {m.shape}")
    return np.ascontiguousarray(resize_image(m, (int(size[0]), int(size[1]))),
                                dtype=np.float32)


def signed_maps(signed: Any, size: Sequence[int]) -> ImageMaps:
    """:class:`ImageMaps` of one signed map (high = similar) resized to ``size``."""
    c = resize_map(signed, size)
    return ImageMaps(positive=np.maximum(c, 0.0).astype(np.float32),
                     negative=np.maximum(-c, 0.0).astype(np.float32),
                     combined=c)


def gaussian_blur(map_: Any, kernel: int, sigma: float) -> np.ndarray:
    """``cv2.GaussianBlur`` of a map with a square ``kernel`` (OpenCV's default border).

    A float map keeps its dtype (others become float32); ``kernel <= 1`` returns the map
    unblurred.
    """
    import cv2

    m = np.asarray(map_)
    if not np.issubdtype(m.dtype, np.floating):
        m = m.astype(np.float32)
    if int(kernel) <= 1:
        return m
    return cv2.GaussianBlur(m, (int(kernel), int(kernel)), float(sigma))


def normalize_device(device: Any) -> str:
    """``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (``"gpu"`` means ``"cuda"``); else XssabError."""
    d = str(device or "cpu").lower().strip()
    if d == "gpu":
        d = "cuda"
    if d != "cpu" and not re.fullmatch(r"cuda(:\d+)?", d):
        raise XssabError(f"unknown device {device!r}; use 'cpu' or 'cuda' (or 'cuda:N')")
    return d


def explain_device(model: Any, device: str | None) -> str:
    """The device to explain on: ``device`` (default: the model's), which must be where
    the model is loaded (``"cuda"`` and ``"cuda:0"`` are the same); else a one-line
    :class:`XssabError` saying how to load it there."""
    model_dev = str(getattr(model, "device", None) or "cpu")
    dev = normalize_device(device) if device is not None else model_dev

    def parts(d: str) -> tuple[str, int]:
        kind, _, index = d.partition(":")
        return kind, int(index or 0)

    if parts(dev) != parts(model_dev):
        raise XssabError(f"model {model_name(model)!r} is loaded on {model_dev}; load it "
                         f"with device={dev!r} to explain on {dev}")
    return model_dev


def model_name(model: Any) -> str:
    """A model's name for messages (its ``name``, else its ``path``, else ``"model"``)."""
    return str(getattr(model, "name", None) or getattr(model, "path", None) or "model")


def resolve_threshold(model: Any, threshold: float | None = None) -> float:
    """The decision threshold to use: an explicit ``threshold`` > ``model.threshold`` (the
    model resolves its explicit override, calibrated override and card) > a one-line
    :class:`~xssab.ThresholdError` saying how to get one."""
    from .errors import ThresholdError

    if threshold is not None:
        try:
            t = float(threshold)
        except (TypeError, ValueError):
            raise XssabError(f"threshold must be a number, got {threshold!r}") from None
        if not math.isfinite(t):
            raise XssabError(f"threshold must be a finite number, got {threshold!r}")
        return t
    t = getattr(model, "threshold", None)
    if t is not None:
        return float(t)
    name = model_name(model)
    raise ThresholdError(
        f"model {name!r} has no decision threshold: pass one (threshold=T, or --threshold T) "
        f"or calibrate it: xssab calibrate --model {name} --dataset synth")


def cache_dir() -> Path:
    """The user's xssab folder (``$XSSAB_HOME``, default ``~/.cache/xssab``) for a plugin's
    own cached files."""
    from .models.cache import xssab_home

    return xssab_home()


__all__ = ["SIDES", "atomic_write_json", "cache_dir", "check_image", "check_pairs", "chunks",
           "explain_device", "gaussian_blur", "image_list", "l2_normalize", "model_name", "normalize_device",
           "read_image", "resize_map", "resolve_threshold", "signed_maps", "to_rgb"]

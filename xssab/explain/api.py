"""``xssab.explain`` / ``xssab.explain_pairs``: validate, resolve the threshold, dispatch.

Every registered explanation method is reachable by name (``method=``); xSSAB is the
default. Images are uint8 arrays: RGB (H, W, 3), or gray (H, W) / (H, W, 1), or RGBA
(H, W, 4); sizes may differ between images, and each image's maps come back at its size.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..errors import ThresholdError, XssabError


def _model_name(model) -> str:
    return str(getattr(model, "name", None) or getattr(model, "path", None) or "model")


def resolve_threshold(model, threshold: float | None = None) -> float:
    """Explicit ``threshold`` > ``model.threshold`` (explicit override, calibrated override,
    card: the model resolves these) > :class:`ThresholdError` saying how to get one."""
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
    name = _model_name(model)
    raise ThresholdError(
        f"model {name!r} has no decision threshold: pass one (threshold=T, or --threshold T) "
        f"or calibrate it: xssab calibrate --model {name} --dataset synth")


def _check_image(img: Any, where: str) -> np.ndarray:
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


def _as_image_list(images: Any, label: str) -> list[np.ndarray]:
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
    return [_check_image(img, f"{label}[{i}]") for i, img in enumerate(seq)]


def _get_method(method: Any):
    if isinstance(method, str):
        from ..registry import get_explainer

        return get_explainer(method)
    if hasattr(method, "explain_pairs"):
        return method
    raise XssabError(f"method must be a registered method name, got {method!r}")


def explain_pairs(model, images_a: Sequence[np.ndarray], images_b: Sequence[np.ndarray],
                  threshold: float | None = None, *, method: Any = "xssab",
                  options: Any = None, device: str | None = None,
                  sides: str = "both") -> list:
    """Explain every pair ``(images_a[i], images_b[i])``; one Explanation per pair."""
    if sides not in ("both", "a"):
        raise XssabError(f"sides must be 'both' or 'a', got {sides!r}")
    if device is not None and str(device).split(":")[0] not in ("cpu", "cuda"):
        raise XssabError(f"device must be 'cpu' or 'cuda', got {device!r}")
    list_a = _as_image_list(images_a, "images_a")
    list_b = _as_image_list(images_b, "images_b")
    if len(list_a) != len(list_b):
        raise XssabError(f"explain_pairs got {len(list_a)} first images and {len(list_b)} "
                         "second images; pass one of each per pair")
    impl = _get_method(method)
    reason = impl.supports(model)
    if reason:
        raise XssabError(f"method {impl.name!r} cannot explain model {_model_name(model)!r}: "
                         f"{reason}")
    opts_cls = getattr(impl, "Options", None)
    if isinstance(options, dict):
        if opts_cls is None:
            raise XssabError(f"method {impl.name!r} takes no options")
        try:
            options = opts_cls(**options)
        except TypeError as exc:
            raise XssabError(f"bad options for method {impl.name!r}: {exc}") from None
    elif options is not None and opts_cls is not None and not isinstance(options, opts_cls):
        raise XssabError(f"options for method {impl.name!r} must be {opts_cls.__name__} or a "
                         f"dict, got {type(options).__name__}")
    t = resolve_threshold(model, threshold)
    if not list_a:
        return []
    return impl.explain_pairs(model, list_a, list_b, t, options, sides=sides, device=device)


def explain(model, image_a: np.ndarray, image_b: np.ndarray, threshold: float | None = None,
            *, method: Any = "xssab", options: Any = None, device: str | None = None):
    """Explain one pair; maps for both images (see :func:`explain_pairs`)."""
    a = _check_image(image_a, "image_a")
    b = _check_image(image_b, "image_b")
    return explain_pairs(model, [a], [b], threshold, method=method, options=options,
                         device=device, sides="both")[0]

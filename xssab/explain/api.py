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
from ..kit import check_image, check_pairs, normalize_device


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
    list_a, list_b = check_pairs(images_a, images_b, sides)
    if device is not None:
        device = normalize_device(device)
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
    a = check_image(image_a, "image_a")
    b = check_image(image_b, "image_b")
    return explain_pairs(model, [a], [b], threshold, method=method, options=options,
                         device=device, sides="both")[0]

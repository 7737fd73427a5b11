"""Map post-processing shared by xSSAB and the baselines.

* :func:`channel_abs_mean` — the xSSAB channel reduction: mean over the colour channels of
  the absolute value of an input gradient, ``(N, C, H, W) -> (N, H, W)``.
* colour helpers for figures: :data:`CMAP_POSITIVE`, :data:`CMAP_NEGATIVE`,
  :data:`CMAP_COMBINED`, :func:`symmetric_limits`, :func:`overlay`.

Maps go back to each image's size with :func:`xssab.kit.resize_map` (bilinear when an axis
grows, pixel-area averaging otherwise; values are resampled, not rescaled, so a map value
stays "per model-input pixel" and maps of differently sized images stay comparable).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._util import to_rgb
from ..kit import resize_map

#: display convention of the xSSAB paper for the one-signed maps; the signed combined map
#: uses a diverging, colour-blind-safe map (red = dissimilar, blue = similar) instead of
#: the paper's red/green, which many colour-blind readers cannot tell apart
CMAP_POSITIVE = "Greens"
CMAP_NEGATIVE = "Reds"
CMAP_COMBINED = "RdBu"


def channel_abs_mean(grad: Any) -> Any:
    """Mean over channels of ``|grad|``: ``(N, C, H, W) -> (N, H, W)`` (torch or numpy)."""
    if grad.ndim != 4:
        raise ValueError(f"expected an (N, C, H, W) gradient, got shape {tuple(grad.shape)}")
    if isinstance(grad, np.ndarray):
        return np.abs(grad).mean(axis=1)
    return grad.abs().mean(dim=1)


def symmetric_limits(map_: np.ndarray) -> tuple[float, float]:
    """``(-m, m)`` with ``m = max|map|`` (``(-1, 1)`` for an all-zero map)."""
    finite = np.abs(np.asarray(map_, dtype=np.float64))
    finite = finite[np.isfinite(finite)]
    m = float(finite.max()) if finite.size else 0.0
    if not np.isfinite(m) or m == 0.0:
        m = 1.0
    return -m, m


def overlay(image: np.ndarray, map_: np.ndarray, cmap: str, vmin: float, vmax: float,
            alpha: float = 0.8) -> np.ndarray:
    """Blend a colour-mapped map over a uint8 image; float RGB (H, W, 3) in [0, 1].

    The blend weight grows with the map's magnitude (``alpha`` at the extreme, a faint
    tint near zero), so weak regions keep the image visible. For a diverging range
    (``vmin < 0 < vmax``) the magnitude is ``|value| / max(|vmin|, vmax)``. NaN pixels
    (outside an aligned crop) show the image untinted.
    """
    import matplotlib

    rgb = to_rgb(image).astype(np.float32) / 255.0
    m = np.asarray(map_, dtype=np.float32)
    if m.shape != rgb.shape[:2]:
        m = resize_map(m, rgb.shape[:2])
    valid = np.isfinite(m)
    m = np.where(valid, m, 0.0)
    span = (vmax - vmin) or 1.0
    t = np.clip((m - vmin) / span, 0.0, 1.0)
    if vmin < 0 < vmax:
        mag = np.clip(np.abs(m) / max(abs(vmin), abs(vmax)), 0.0, 1.0)
    else:
        mag = t
    coloured = matplotlib.colormaps[cmap](t)[..., :3].astype(np.float32)
    w = np.where(valid, 0.1 + (alpha - 0.1) * mag, 0.0)[..., None]
    return np.clip((1.0 - w) * rgb + w * coloured, 0.0, 1.0)

"""Map post-processing shared by xSSAB and the baselines.

* :func:`channel_abs_mean` — the xSSAB channel reduction: mean over the colour channels of
  the absolute value of an input gradient, ``(N, C, H, W) -> (N, H, W)``.
* :func:`resize_map` — bring a map computed at the model's input size back to the size of
  the image the user passed. Resampling: bilinear (``cv2.INTER_LINEAR``) when enlarging,
  pixel-area averaging (``cv2.INTER_AREA``) when shrinking; values are resampled, not
  rescaled (a map value stays "per model-input pixel"), so maps of differently sized images
  of the same pair stay comparable.
* colour helpers for figures: :data:`CMAP_POSITIVE`, :data:`CMAP_NEGATIVE`,
  :data:`CMAP_COMBINED`, :func:`symmetric_limits`, :func:`normalize01`, :func:`overlay`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: display convention of the xSSAB paper
CMAP_POSITIVE = "Greens"
CMAP_NEGATIVE = "Reds"
CMAP_COMBINED = "RdYlGn"


def channel_abs_mean(grad: Any) -> Any:
    """Mean over channels of ``|grad|``: ``(N, C, H, W) -> (N, H, W)`` (torch or numpy)."""
    if grad.ndim != 4:
        raise ValueError(f"expected an (N, C, H, W) gradient, got shape {tuple(grad.shape)}")
    if isinstance(grad, np.ndarray):
        return np.abs(grad).mean(axis=1)
    return grad.abs().mean(dim=1)


def resize_map(map_: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample a float map ``(h, w)`` to ``size = (H, W)``; float32 out.

    Same size: returned as float32 unchanged. Otherwise bilinear when enlarging an axis,
    area averaging when shrinking both (see the module docstring).
    """
    import cv2

    m = np.asarray(map_, dtype=np.float32)
    if m.ndim != 2:
        raise ValueError(f"expected a 2-D map, got shape {m.shape}")
    H, W = int(size[0]), int(size[1])
    if (H, W) == m.shape:
        return np.ascontiguousarray(m)
    shrink = H <= m.shape[0] and W <= m.shape[1]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    out = cv2.resize(m, (W, H), interpolation=interp)
    return np.ascontiguousarray(out, dtype=np.float32)


def symmetric_limits(map_: np.ndarray) -> tuple[float, float]:
    """``(-m, m)`` with ``m = max|map|`` (``(-1, 1)`` for an all-zero map)."""
    m = float(np.max(np.abs(map_))) if np.size(map_) else 0.0
    if not np.isfinite(m) or m == 0.0:
        m = 1.0
    return -m, m


def normalize01(map_: np.ndarray) -> np.ndarray:
    """Scale a non-negative map to [0, 1] by its maximum (all-zero stays zero)."""
    m = np.asarray(map_, dtype=np.float32)
    top = float(m.max()) if m.size else 0.0
    return m / top if top > 0 else np.zeros_like(m)


def to_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) -> uint8 RGB (H, W, 3)."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif img.shape[2] == 4:
        img = img[:, :, :3]
    return np.ascontiguousarray(img)


def overlay(image: np.ndarray, map_: np.ndarray, cmap: str, vmin: float, vmax: float,
            alpha: float = 0.8) -> np.ndarray:
    """Blend a colour-mapped map over a uint8 image; float RGB (H, W, 3) in [0, 1].

    The blend weight grows with the map's magnitude (``alpha`` at the extreme, a faint
    tint near zero), so weak regions keep the image visible. For a diverging range
    (``vmin < 0 < vmax``) the magnitude is ``|value| / max(|vmin|, vmax)``.
    """
    import matplotlib

    rgb = to_rgb(image).astype(np.float32) / 255.0
    m = np.asarray(map_, dtype=np.float32)
    if m.shape != rgb.shape[:2]:
        m = resize_map(m, rgb.shape[:2])
    span = (vmax - vmin) or 1.0
    t = np.clip((m - vmin) / span, 0.0, 1.0)
    if vmin < 0 < vmax:
        mag = np.clip(np.abs(m) / max(abs(vmin), abs(vmax)), 0.0, 1.0)
    else:
        mag = t
    coloured = matplotlib.colormaps[cmap](t)[..., :3].astype(np.float32)
    w = (0.1 + (alpha - 0.1) * mag)[..., None]
    return np.clip((1.0 - w) * rgb + w * coloured, 0.0, 1.0)

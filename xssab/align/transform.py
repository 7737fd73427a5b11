"""Five-point similarity alignment: template, least-squares similarity fit, warp and the
inverse warp that brings maps from the aligned crop back onto the photo.

Coordinates are pixel coordinates with pixel centres at integers (OpenCV's convention);
a 2x3 matrix ``M`` maps a photo point ``(x, y)`` to the crop: ``M @ [x, y, 1]``.
"""

from __future__ import annotations

import numpy as np

#: InsightFace's ArcFace template for 112x112 crops: left eye, right eye, nose tip, left
#: and right mouth corner ("left" = the image's left), (x, y) in pixels.
ARCFACE_TEMPLATE_112 = np.array([
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041]], dtype=np.float64)


def template_for(input_size: tuple[int, int], template=None) -> np.ndarray:
    """The five target points for a crop of ``input_size`` (H, W).

    ``template`` (five (x, y) points in the crop's own pixels, e.g. a card's
    ``align_template``) is used as given; ``None`` scales the ArcFace 112x112 template by
    W/112 horizontally and H/112 vertically.
    """
    if template is not None:
        t = np.asarray(template, dtype=np.float64)
        if t.shape != (5, 2) or not np.all(np.isfinite(t)):
            from ..errors import XssabError

            raise XssabError(f"alignment template must be five (x, y) points, got shape "
                             f"{t.shape}")
        return t
    h, w = int(input_size[0]), int(input_size[1])
    return ARCFACE_TEMPLATE_112 * np.array([w / 112.0, h / 112.0])


def similarity_transform(src, dst) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping ``src`` points
    onto ``dst`` points (Umeyama 1991, without reflection). Returns the 2x3 matrix."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or src.shape[0] < 2:
        raise ValueError(f"need matching (n>=2, 2) point sets, got {src.shape}, {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    xs, xd = src - mu_s, dst - mu_d
    var_s = float((xs ** 2).sum(1).mean())
    if var_s <= 0:
        raise ValueError("source points coincide")
    cov = xd.T @ xs / src.shape[0]
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    rot = u @ np.diag(d) @ vt
    scale = float((sig * d).sum() / var_s)
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def invert(m: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine matrix (crop -> photo)."""
    full = np.vstack([np.asarray(m, np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def apply(m: np.ndarray, points) -> np.ndarray:
    """Map (n, 2) points through a 2x3 matrix."""
    p = np.asarray(points, np.float64).reshape(-1, 2)
    return p @ np.asarray(m, np.float64)[:, :2].T + np.asarray(m, np.float64)[:, 2]


def warp(image: np.ndarray, m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The aligned crop of ``size`` (H, W): bilinear, zeros outside the photo (as
    InsightFace's ``norm_crop``)."""
    import cv2

    h, w = int(size[0]), int(size[1])
    return cv2.warpAffine(image, np.asarray(m, np.float64), (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def crop_coverage(m: np.ndarray, crop_size: tuple[int, int],
                  photo_size: tuple[int, int]) -> np.ndarray:
    """Boolean (H, W) photo mask: pixels whose crop coordinates ``M @ [x, y, 1]`` round to a
    pixel inside the crop (nearest-neighbour inverse warp of an all-ones crop)."""
    import cv2

    ph, pw = int(photo_size[0]), int(photo_size[1])
    ones = np.ones((int(crop_size[0]), int(crop_size[1])), np.uint8)
    cov = cv2.warpAffine(ones, np.asarray(m, np.float64), (pw, ph),
                         flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return cov.astype(bool)


def map_to_photo(crop_map: np.ndarray, m: np.ndarray, photo_size: tuple[int, int],
                 fill: float = float("nan"), coverage: np.ndarray | None = None) -> np.ndarray:
    """Bring a crop-sized map back onto the photo (``photo_size`` (H, W)) through the
    inverse of ``m``: each photo pixel samples the map (bilinear) at its crop coordinates.
    Photo pixels the crop does not cover get ``fill`` (NaN by default: the model never saw
    them; pass 0.0 for "no evidence"). ``coverage``: a precomputed :func:`crop_coverage`."""
    import cv2

    ph, pw = int(photo_size[0]), int(photo_size[1])
    src = np.asarray(crop_map, np.float32)
    out = cv2.warpAffine(src, np.asarray(m, np.float64), (pw, ph),
                         flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REPLICATE)
    if coverage is None:
        coverage = crop_coverage(m, src.shape[:2], (ph, pw))
    out[~coverage] = fill
    return out.astype(np.float32)

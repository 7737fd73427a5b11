"""Faithfulness metrics beyond decision-based replacement (pure numpy / cv2).

**Deletion and insertion** (Petsiuk et al., RISE, BMVC 2018), for verification: the
score is the cosine similarity ``s`` of the explained image A against its fixed partner
B; pixels of A are ranked by the ``combined`` map (high = similar).

* deletion, MoRF (most relevant first): replace the top ``f`` fraction of pixels of A by
  the fill image, for ``f`` in ``FRACTIONS`` (0, 0.1, ..., 1); a faithful map makes ``s``
  fall fast: **lower ``deletion_auc`` is better**;
* deletion, LeRF (least relevant first): the same from the bottom of the ranking; ``s``
  should stay high. Deleting the least relevant fraction ``f`` leaves exactly the
  insertion image of fraction ``1 - f``, so the LeRF curve is the insertion curve read
  backwards and has the same area: it is reported once, as ``insertion_auc``;
* insertion, MoRF: start from the fill image and put back the top ``f`` fraction of A's
  pixels; ``s`` should rise fast: **higher ``insertion_auc`` is better**.

Areas: trapezoid over ``f`` in [0, 1] of the per-pair similarity curve (so an area is in
[-1, 1], the mean similarity along the curve). Fill (``FILLS``, one for both curves):
``"blur"`` (default; the image blurred with a Gaussian of sigma ``BLUR_SIGMA`` = 5 px,
kernel 31, as RISE's insertion start), ``"mean"`` (each channel's mean value) or
``"black"`` (0, RISE's deletion fill). Ties in the map are broken by pixel index (stable
sort), so a constant map deletes in raster order.

**Model-randomisation sanity check** (Adebayo et al., "Sanity checks for saliency maps",
NeurIPS 2018): maps of the trained model vs maps of a copy whose weights are randomised;
per pair the Spearman rank correlation of the two ``combined`` maps (``spearman``). A map
that explains the model should change when the weights do: **lower ``randomization_rho``
is better** (near 0); a map that survives randomisation (rho near 1) reflects the input
(edges, the architecture) rather than what the trained model learned.
``randomized_model_proto``: every float initializer with 2 or more dimensions (convolution
and fully connected weights) replaced by Gaussian values with that tensor's own mean and
standard deviation (seeded, ``numpy.random.default_rng``); 1-D parameters (biases,
BatchNorm statistics, PReLU slopes) kept — "full" (not cascading) randomisation.
"""

from __future__ import annotations

import numpy as np

FRACTIONS = tuple(np.round(np.linspace(0.0, 1.0, 11), 2).tolist())
FILLS = ("blur", "mean", "black")
BLUR_SIGMA = 5.0
BLUR_KERNEL = 31


def fill_image(img: np.ndarray, fill: str) -> np.ndarray:
    """The fill image of ``img`` (uint8 HxWxC or HxW) for ``fill`` in :data:`FILLS`."""
    from ..kit import gaussian_blur

    img = np.asarray(img)
    if fill == "blur":
        out = gaussian_blur(img, BLUR_KERNEL, BLUR_SIGMA)
        return np.clip(np.round(out), 0, 255).astype(img.dtype) if img.dtype == np.uint8 \
            else out.astype(img.dtype)
    if fill == "mean":
        mean = img.reshape(-1, img.shape[-1]).mean(axis=0) if img.ndim == 3 else img.mean()
        return np.broadcast_to(np.round(mean).astype(img.dtype), img.shape).copy()
    if fill == "black":
        return np.zeros_like(img)
    raise ValueError(f"fill must be one of {', '.join(FILLS)}, got {fill!r}")


def ranking(map_: np.ndarray, most_relevant_first: bool = True) -> np.ndarray:
    """Flat pixel indices ordered by the map (descending for MoRF), stable."""
    flat = np.asarray(map_, np.float64).ravel()
    return np.argsort(-flat if most_relevant_first else flat, kind="stable")


def perturbed(img: np.ndarray, fill: np.ndarray, order: np.ndarray,
              fractions=FRACTIONS, insertion: bool = False) -> list[np.ndarray]:
    """Images with the first ``f`` fraction of ``order`` deleted (set to ``fill``) or,
    for ``insertion``, the fill image with those pixels of ``img`` put back."""
    img, fill = np.asarray(img), np.asarray(fill)
    h, w = img.shape[:2]
    n = h * w
    src, dst = (img, fill) if insertion else (fill, img)
    out = []
    for f in fractions:
        k = int(round(float(f) * n))
        x = dst.reshape(n, -1).copy()
        x[order[:k]] = src.reshape(n, -1)[order[:k]]
        out.append(x.reshape(img.shape))
    return out


def curve_area(values, fractions=FRACTIONS) -> np.ndarray:
    """Trapezoid area over ``fractions`` of ``values`` (..., F)."""
    v = np.asarray(values, np.float64)
    x = np.asarray(fractions, np.float64)
    return ((v[..., 1:] + v[..., :-1]) * 0.5 * np.diff(x)).sum(axis=-1)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps (average ranks for ties); NaN if either is
    constant."""
    from scipy.stats import rankdata

    ra = rankdata(np.asarray(a, np.float64).ravel())
    rb = rankdata(np.asarray(b, np.float64).ravel())
    ra -= ra.mean()
    rb -= rb.mean()
    den = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


def randomized_model_proto(proto, seed: int = 0):
    """A copy of an ONNX ``ModelProto`` with randomised weights (see module docstring)."""
    import onnx
    from onnx import numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(proto)
    rng = np.random.default_rng(seed)
    for init in m.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.ndim < 2 or arr.dtype.kind != "f" or arr.size < 2:
            continue
        new = rng.normal(float(arr.mean()), float(arr.std()) or 1e-3, arr.shape)
        init.CopyFrom(numpy_helper.from_array(new.astype(arr.dtype), init.name))
    return m


def gaussian_smooth(map_: np.ndarray, sigma: float) -> np.ndarray:
    """Display-and-ranking smoothing: Gaussian blur of a float map, sigma in pixels (0 =
    unchanged); kernel = the odd size covering +-3 sigma; OpenCV's default border
    (reflect-101), through :func:`xssab.kit.gaussian_blur`."""
    from ..kit import gaussian_blur

    m = np.asarray(map_, np.float32)
    if not sigma or float(sigma) <= 0:
        return m
    k = 2 * int(np.ceil(3.0 * float(sigma))) + 1
    return gaussian_blur(m, k, float(sigma)).astype(np.float32)

"""x-face explanation maps: systematic occlusion of both images of a pair.

Faithful to the public x-face code (``MapGenerator`` in Martlgap/x-face-verification) by
default, stated in our words in ``docs``/``plugins/README.md``:

* patch sizes 7, 14, 28, stride 5; top-left corners ``0, 5, 10, ...`` while ``< S - p``
  (``np.arange(0, S - p, stride)``), rows by ``H`` and columns by ``W`` of the model input;
* the SAME square is blanked in BOTH images, fill = pixel value 0 (black); the original
  draws the square with an inclusive end point, so the hole is ``(p+1) x (p+1)`` pixels
  (clipped at the border) and the last 1-4 rows/columns are never covered;
* cosine distance ``d = 1 - cos``; distance methods 1 (1:all, the original's default),
  2 (occluded vs intact partner) and 3 (1:1);
* ``dev = (d - d0) / p^2``; map = MEAN over positions of ``dev * hole`` (no coverage
  normalisation); Gaussian blur with kernel ``stride x stride`` and sigma ``stride``
  (5x5, sigma 5; ``cv2.GaussianBlur``, default border) per patch size; mean of the patch
  sizes; divided by ``max|map|`` per image. The original then shows ``(x + 1) / 2`` in
  [0, 1] with the PiYG colormap: high = similar.

Mapping to the common :class:`xssab.ImageMaps` convention (high ``combined`` = similar):
``combined`` is the signed map BEFORE ``(x + 1) / 2``, in [-1, 1] (x-face's displayed map
is exactly ``(combined + 1) / 2``); ``positive = max(combined, 0)``,
``negative = max(-combined, 0)``.

Occlusion is applied to the model-input tensor of the image resized to the model input
size (fill = the preprocessed value of a black pixel, i.e. exactly "pixel value 0"); the
maps are computed at the model input size and resized back to each image's own size with
:func:`xssab.kit.resize_map`. Every occluded copy is embedded with ONNX Runtime
(``model.embed_input``) in large batches.

``corrected=True`` gives the corrected variant: positions cover the whole image (the last
position is ``S - p``), holes are exactly ``p x p``, and the sum of ``dev * hole`` is
divided by the per-pixel coverage count instead of the number of positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from xssab import Explanation, ImageMaps, MethodOptions
from xssab.kit import check_pairs, gaussian_blur, l2_normalize, signed_maps


@dataclass
class XFaceOptions(MethodOptions):
    #: occluding square sizes in model-input pixels
    patch_sizes: tuple[int, ...] = (7, 14, 28)
    stride: int = 5
    #: 1 = 1:all (original default), 2 = occluded vs intact partner, 3 = 1:1
    distance_method: int = 1
    #: pixel value (0..255) of the occluding square; 0 = black as in the original
    fill: int = 0
    #: corrected variant: full coverage, p x p holes, coverage normalisation
    corrected: bool = False
    #: Gaussian blur kernel / sigma; None = ``stride`` as in the original (5x5, sigma 5)
    blur_kernel: int | None = None
    blur_sigma: float | None = None
    #: ONNX Runtime batch size for the occluded copies
    batch_size: int = 256
    #: attach the x-face confidence score when a calibration is cached for the model
    confidence: bool = True
    #: calibrate the confidence score on this dataset first (cached in XSSAB_HOME)
    calibration_dataset: str | None = None


def positions(size: int, patch: int, stride: int, corrected: bool = False) -> np.ndarray:
    """Top-left corners along one axis."""
    if corrected:
        pos = list(range(0, max(size - patch, 0) + 1, stride))
        if pos[-1] != max(size - patch, 0):
            pos.append(max(size - patch, 0))
        return np.asarray(pos, dtype=np.int64)
    return np.arange(0, size - patch, stride, dtype=np.int64)


def hole_extent(patch: int, corrected: bool = False) -> int:
    """Side of the blanked square: (p+1) in the original (inclusive end point), p corrected."""
    return patch if corrected else patch + 1


def indicator(pos: np.ndarray, extent: int, size: int) -> np.ndarray:
    """(len(pos), size) 0/1 matrix: row i marks pixels pos[i] .. pos[i]+extent-1 (clipped)."""
    idx = np.arange(size)
    return ((idx[None, :] >= pos[:, None]) & (idx[None, :] < pos[:, None] + extent)).astype(
        np.float64)


def occluded_copies(x: np.ndarray, fill: np.ndarray, ys, xs, extent: int) -> np.ndarray:
    """Copies of one input tensor (3, H, W), one per (y, x) position, row-major (y outer)."""
    out = np.repeat(x[None], len(ys) * len(xs), axis=0)
    k = 0
    for y in ys:
        for xx in xs:
            out[k, :, y:y + extent, xx:xx + extent] = fill[:, y:y + extent, xx:xx + extent]
            k += 1
    return out


def _cos_dist_matrix(e1: np.ndarray, e2: np.ndarray) -> np.ndarray:
    return 1.0 - l2_normalize(e1) @ l2_normalize(e2).T


def _cos_dist_paired(e1: np.ndarray, e2: np.ndarray) -> np.ndarray:
    return 1.0 - np.sum(l2_normalize(e1) * l2_normalize(e2), axis=-1)


def deviation_map(dev: np.ndarray, ys, xs, extent: int, hw: tuple[int, int],
                  corrected: bool) -> np.ndarray:
    """Mean over positions of ``dev[n] * hole_n`` (or coverage-normalised when corrected).

    ``dev`` is (len(ys), len(xs)); the holes are separable, so the sum over positions is
    ``R^T dev C`` with row/column indicator matrices R, C.
    """
    H, W = hw
    R = indicator(np.asarray(ys), extent, H)
    C = indicator(np.asarray(xs), extent, W)
    total = R.T @ dev @ C
    if corrected:
        cover = R.sum(0)[:, None] * C.sum(0)[None, :]
        return total / np.maximum(cover, 1.0)
    return total / float(dev.size)


class XFace:
    """x-face: model-agnostic occlusion maps of both images (Knoche et al., WACV-W 2023)."""

    name = "xface"
    description = ("x-face (Knoche et al. 2023): systematic occlusion of both images "
                   "(patches 7/14/28, stride 5), distance deviation maps; "
                   "ONNX Runtime forward passes only")
    Options = XFaceOptions

    def supports(self, model) -> str | None:
        h, w = model.input_size
        return None if min(h, w) > 7 else f"input size {h}x{w} is too small for x-face"

    # ------------------------------------------------------------------ main entry
    def explain_pairs(self, model, images_a: Sequence[np.ndarray],
                      images_b: Sequence[np.ndarray], threshold: float, options=None, *,
                      sides: str = "both", device=None) -> list[Explanation]:
        opt = options if options is not None else XFaceOptions()
        if opt.distance_method not in (1, 2, 3):
            raise ValueError("x-face distance_method must be 1, 2 or 3")
        images_a, images_b = check_pairs(images_a, images_b, sides)
        n = len(images_a)
        if n == 0:
            return []
        H, W = model.input_size
        xa = model.preprocess(images_a)
        xb = model.preprocess(images_b)
        fill = model.preprocess(np.full((H, W, 3), int(opt.fill), np.uint8))[0]
        orig = np.asarray(model.embed_input(np.concatenate([xa, xb]),
                                            batch_size=opt.batch_size), np.float64)
        ea, eb = orig[:n], orig[n:]
        confidence = self._confidence_model(model, opt)

        out = []
        for i in range(n):
            ma, mb, passes = self._pair_maps(model, xa[i], xb[i], ea[i], eb[i], fill, opt,
                                             sides)
            sim = float(1.0 - _cos_dist_paired(ea[i], eb[i]))
            match = bool(sim >= threshold)
            a = _image_maps(ma, images_a[i].shape[:2])
            b = _image_maps(mb, images_b[i].shape[:2]) if mb is not None else None
            extras = {
                "distance": 1.0 - sim,
                "distance_method": int(opt.distance_method),
                "variant": "corrected" if opt.corrected else "faithful",
            }
            if confidence is not None:
                # the fitted sigmoid can overshoot [0, 1] by a little: clip the score
                score = confidence.score(1.0 - sim, match=match)
                extras["confidence"] = float(min(1.0, max(0.0, score)))
                extras["confidence_calibration"] = confidence.dataset
            out.append(Explanation(method=self.name, similarity=sim,
                                   threshold=float(threshold), match=match, a=a, b=b,
                                   forward_passes=2 + passes, backward_passes=0,
                                   extras=extras))
        return out

    # ------------------------------------------------------------------ one pair
    def _pair_maps(self, model, xa, xb, ea, eb, fill, opt: XFaceOptions, sides: str):
        """Signed, max-normalised maps (model-input size) of A (and B) + embeddings used."""
        H, W = xa.shape[1:]
        d0 = float(_cos_dist_paired(ea, eb))
        need_b = sides == "both" or opt.distance_method != 2
        k = opt.blur_kernel if opt.blur_kernel is not None else opt.stride
        if k % 2 == 0:
            k += 1  # cv2 needs an odd kernel; the defaults (5) are unaffected
        sigma = float(opt.blur_sigma if opt.blur_sigma is not None else opt.stride)
        maps_a, maps_b, passes = [], [], 0
        for p in opt.patch_sizes:
            ys = positions(H, p, opt.stride, opt.corrected)
            xs = positions(W, p, opt.stride, opt.corrected)
            if len(ys) == 0 or len(xs) == 0:
                continue
            ext = hole_extent(p, opt.corrected)
            batch = [occluded_copies(xa, fill, ys, xs, ext)]
            if need_b:
                batch.append(occluded_copies(xb, fill, ys, xs, ext))
            emb = np.asarray(model.embed_input(np.concatenate(batch),
                                               batch_size=opt.batch_size), np.float64)
            passes += emb.shape[0]
            m = len(ys) * len(xs)
            E1 = emb[:m]
            E2 = emb[m:] if need_b else None
            if opt.distance_method == 1:
                D = _cos_dist_matrix(E1, E2)
                d1, d2 = D.mean(axis=1), D.mean(axis=0)
            elif opt.distance_method == 2:
                d1 = _cos_dist_paired(E1, eb[None])
                d2 = _cos_dist_paired(E2, ea[None]) if E2 is not None else None
            else:
                d1 = d2 = _cos_dist_paired(E1, E2)
            shape = (len(ys), len(xs))
            dev1 = ((d1 - d0) / p ** 2).reshape(shape)
            maps_a.append(gaussian_blur(deviation_map(dev1, ys, xs, ext, (H, W), opt.corrected),
                                k, sigma))
            if sides == "both":
                dev2 = ((d2 - d0) / p ** 2).reshape(shape)
                maps_b.append(gaussian_blur(deviation_map(dev2, ys, xs, ext, (H, W),
                                                  opt.corrected), k, sigma))
        ma = _normalise(np.mean(maps_a, axis=0)) if maps_a else np.zeros((H, W))
        mb = None
        if sides == "both":
            mb = _normalise(np.mean(maps_b, axis=0)) if maps_b else np.zeros((H, W))
        return ma, mb, passes

    @staticmethod
    def _confidence_model(model, opt: XFaceOptions):
        if not opt.confidence and opt.calibration_dataset is None:
            return None
        from .confidence import calibrate_confidence, load_confidence

        if opt.calibration_dataset is not None:
            cached = load_confidence(model, dataset=opt.calibration_dataset)
            if cached is not None:
                return cached
            import xssab

            return calibrate_confidence(model, xssab.get_dataset(opt.calibration_dataset))
        return load_confidence(model)


def _normalise(m: np.ndarray) -> np.ndarray:
    top = float(np.max(np.abs(m)))
    return m / top if top != 0 else m


def _image_maps(signed: np.ndarray, hw) -> ImageMaps:
    return signed_maps(signed, hw)

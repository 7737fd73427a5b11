"""xCos: an explainable cosine metric (Lin et al., arXiv 2003.05383).

Needs a spatial feature output named by the model card (``feature_output``), e.g. the
(N, 32, 7, 7) grid features of ``synth-xcos`` or any backbone's last conv map:

* patch cosine map ``c_ij = cos(G_A[:, i, j], G_B[:, i, j])`` over the grid cells;
* attention weights ``w_ij`` (summing to 1): from the trained xCos attention head when the
  card names one in ``extra["xcos_attention"]`` (a separate ONNX file with inputs
  ``grid_a``, ``grid_b`` and output ``weights`` (N, h, w), already softmaxed; a relative
  path resolves against the card's folder, then the model file's folder); otherwise
  UNIFORM weights ``1 / (h w)`` — labelled "xcos-uniform (untrained attention)" in
  ``extras["variant"]`` of every result;
* xCos score ``sum_ij w_ij c_ij``.

Explanation maps (method ``xcos``): ``combined`` = the patch cosine map upsampled to each
image (bilinear, :func:`xssab.kit.resize_map`; high = similar cell),
``positive = max(combined, 0)``, ``negative = max(-combined, 0)``. Both images get the same
grid (the cosine map is symmetric). ``similarity``/``match`` stay the model's plain cosine
against the threshold (comparable with every other method); the xCos score, the grids
(``cos_grid``, ``weights`` as nested lists), the upsampled attention map of image A
(``attention_map_a``) and the variant are in ``extras``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from xssab import Explanation, ImageMaps, MethodOptions, ModelLoadError
from xssab.kit import check_pairs, l2_normalize, resize_map, signed_maps

TRAINED = "xcos (trained attention)"
UNIFORM = "xcos-uniform (untrained attention)"


@dataclass
class XCosOptions(MethodOptions):
    batch_size: int = 64


def _feature_output(model) -> str | None:
    name = getattr(model, "feature_output", None)
    if name is None:
        name = getattr(getattr(model, "card", None), "feature_output", None)
    return name


def attention_path(model) -> Path | None:
    """The trained attention head's ONNX file named by the card, or None."""
    card = getattr(model, "card", None)
    rel = (getattr(card, "extra", None) or {}).get("xcos_attention")
    if not rel:
        return None
    p = Path(rel).expanduser()
    if p.is_absolute():
        candidates = [p]
    else:
        candidates = []
        if getattr(card, "base_dir", None):
            candidates.append(Path(card.base_dir) / p)
        if getattr(model, "path", None):
            candidates.append(Path(model.path).parent / p)
    for c in candidates:
        if c.is_file():
            return c
    raise ModelLoadError(
        f"model {getattr(model, 'name', '?')!r}: xCos attention head {rel!r} not found "
        f"(looked in {', '.join(str(c.parent) for c in candidates)}); fix the card's "
        "extra.xcos_attention or remove it to use uniform weights")


@functools.lru_cache(maxsize=8)
def _session(path: str, mtime: float, device: str):
    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ort.InferenceSession(path, providers=providers)


def patch_cosine(ga: np.ndarray, gb: np.ndarray) -> np.ndarray:
    """(N, C, h, w) x2 -> (N, h, w) cosine per cell (0 where a cell vector is zero)."""
    ga = np.asarray(ga, np.float64)
    gb = np.asarray(gb, np.float64)
    num = np.sum(ga * gb, axis=1)
    den = np.linalg.norm(ga, axis=1) * np.linalg.norm(gb, axis=1)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def xcos_grids(model, images_a, images_b, batch_size: int = 64):
    """Patch cosine grid, weights, xCos score, plain cosine and the variant label.

    Returns ``(cos (N,h,w), weights (N,h,w), xcos (N,), cosine (N,), variant)``.
    """
    feat = _feature_output(model)
    if feat is None:
        raise ModelLoadError(f"model {getattr(model, 'name', '?')!r} names no spatial "
                             "feature output; set feature_output in its card for xCos")
    images_a, images_b = list(images_a), list(images_b)
    n = len(images_a)
    emb_name = model.embedding_output
    outs = model.run_outputs(images_a + images_b, names=[feat, emb_name],
                             batch_size=batch_size)
    grid = np.asarray(outs[feat], np.float32)
    if grid.ndim != 4:
        raise ModelLoadError(f"model {model.name!r}: feature output {feat!r} has shape "
                             f"{grid.shape}; xCos needs a spatial map (N, C, h, w)")
    ga, gb = grid[:n], grid[n:]
    emb = l2_normalize(np.asarray(outs[emb_name], np.float64))
    cosine = np.sum(emb[:n] * emb[n:], axis=1)
    cos = patch_cosine(ga, gb)
    att = attention_path(model)
    if att is not None:
        sess = _session(str(att), os.path.getmtime(att), getattr(model, "device", "cpu"))
        w = []
        for s in range(0, n, batch_size):
            (ws,) = sess.run(["weights"], {"grid_a": ga[s:s + batch_size],
                                           "grid_b": gb[s:s + batch_size]})
            w.append(np.asarray(ws, np.float64).reshape(-1, *cos.shape[1:]))
        weights = np.concatenate(w) if w else np.zeros_like(cos)
        variant = TRAINED
    else:
        h, w_ = cos.shape[1:]
        weights = np.full_like(cos, 1.0 / (h * w_))
        variant = UNIFORM
    score = np.sum(weights * cos, axis=(1, 2))
    return cos, weights, score, cosine, variant


class XCosComparator:
    """The xCos score ``sum_ij w_ij c_ij`` as a comparator."""

    name = "xcos"
    description = ("xCos (Lin et al. 2020): attention-weighted patch cosine of the spatial "
                   "feature map; uniform weights (xcos-uniform) without a trained head")

    def supports(self, model) -> str | None:
        return _support(model)

    def compare(self, model, images_a, images_b) -> np.ndarray:
        _, _, score, _, _ = xcos_grids(model, images_a, images_b)
        return score.astype(np.float64)

    def variant(self, model) -> str:
        return TRAINED if attention_path(model) is not None else UNIFORM


def _support(model) -> str | None:
    if _feature_output(model) is None:
        return (f"model {getattr(model, 'name', '?')!r} names no spatial feature output "
                "(card field feature_output)")
    return None


class XCos:
    """xCos maps: the patch cosine grid and the attention grid, upsampled to the image."""

    name = "xcos"
    description = ("xCos (Lin et al. 2020): 7x7 patch-cosine map and attention map of the "
                   "spatial features; 'xcos-uniform (untrained attention)' when the model "
                   "has no trained xCos attention head")
    Options = XCosOptions

    def supports(self, model) -> str | None:
        return _support(model)

    def explain_pairs(self, model, images_a: Sequence[np.ndarray],
                      images_b: Sequence[np.ndarray], threshold: float, options=None, *,
                      sides: str = "both", device=None) -> list[Explanation]:
        opt = options if options is not None else XCosOptions()
        images_a, images_b = check_pairs(images_a, images_b, sides)
        if not images_a:
            return []
        reason = _support(model)
        if reason:
            raise ModelLoadError(reason)
        cos, weights, score, cosine, variant = xcos_grids(model, images_a, images_b,
                                                          opt.batch_size)
        extra = getattr(getattr(model, "card", None), "extra", None) or {}
        xthr = extra.get("xcos_threshold")
        out = []
        for i in range(len(images_a)):
            ha = images_a[i].shape[:2]
            a = _maps(cos[i], ha)
            b = _maps(cos[i], images_b[i].shape[:2]) if sides == "both" else None
            sim = float(cosine[i])
            extras = {"xcos": float(score[i]), "variant": variant,
                      "cos_grid": cos[i].tolist(), "weights": weights[i].tolist(),
                      "attention_map_a": resize_map(weights[i].astype(np.float32),
                                                    (int(ha[0]), int(ha[1])))}
            if xthr is not None and variant == TRAINED:
                extras["xcos_threshold"] = float(xthr)
                extras["xcos_match"] = bool(score[i] >= float(xthr))
            out.append(Explanation(
                method=self.name, similarity=sim, threshold=float(threshold),
                match=bool(sim >= threshold), a=a, b=b, forward_passes=2,
                backward_passes=0,
                extras=extras))
        return out


def _maps(grid: np.ndarray, hw) -> ImageMaps:
    return signed_maps(grid, hw)

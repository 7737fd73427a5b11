"""Embedding and pair scores: the one path used by the benchmark, ``calibrate`` and
x-face's confidence fit.

Scores are cosine similarities of L2-normalised float64 embeddings (ONNX Runtime, no flip
augmentation): the score xSSAB explains. Images are embedded in batches of
``batch_size``; each distinct image of a dataset is loaded and embedded once.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .._util import l2_normalize
from ..metrics.verification import eer


def embed(model, images: Sequence, batch_size: int = 256,
          progress: Callable[[int], None] | None = None) -> np.ndarray:
    """L2-normalised float64 embeddings (N, D) of ``images``; ``progress(k)`` per batch."""
    bs = max(1, int(batch_size))
    out = []
    for i in range(0, len(images), bs):
        chunk = images[i:i + bs]
        out.append(np.asarray(model.embed(chunk, batch_size=bs, align=False)))
        if progress is not None:
            progress(len(chunk))
    if not out:
        return np.zeros((0, 0))
    return l2_normalize(np.concatenate(out, axis=0).astype(np.float64))


def model_inputs(model, images: Sequence) -> np.ndarray | None:
    """The preprocessed input (N, 3, H, W) of ``images`` when preprocessing them is pixel
    by pixel (every image uint8 RGB at the model's input size: nothing is resized), else
    None. Pixel replacement then commutes with preprocessing."""
    size = getattr(model, "input_size", None)
    if size is None or not hasattr(model, "embed_input") or not len(images):
        return None
    shape = tuple(size) + (3,)
    if not all(isinstance(im, np.ndarray) and im.dtype == np.uint8 and im.shape == shape
               for im in images):
        return None
    return model.preprocess(np.stack(images))


def embed_inputs(model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """:func:`embed` of images whose model input ``x`` (N, 3, H, W) is already built:
    the same ONNX Runtime batches of ``batch_size``, the same checks and normalisation."""
    from ..models.model import check_embeddings

    e = np.asarray(model.embed_input(x, max(1, int(batch_size))))
    check_embeddings(e, getattr(model, "name", "model"))
    return l2_normalize(e.astype(np.float64))


def cosine(emb_a: np.ndarray, emb_b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two arrays of L2-normalised embeddings."""
    return (np.asarray(emb_a) * np.asarray(emb_b)).sum(1)


def embed_dataset(model, dataset, keys: Sequence[str], batch_size: int = 256,
                  progress: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
    """``{key: embedding}`` of the dataset images ``keys`` (loaded batch by batch)."""
    bs = max(1, int(batch_size))
    emb: dict[str, np.ndarray] = {}
    for i in range(0, len(keys), bs):
        chunk = list(keys[i:i + bs])
        e = embed(model, [dataset.load(k) for k in chunk], bs)
        emb.update(zip(chunk, e))
        if progress is not None:
            progress(len(chunk))
    return emb


def pair_keys(pairs: Sequence) -> list[str]:
    """Every distinct image key of ``pairs``, sorted."""
    return sorted({k for p in pairs for k in (p.a, p.b)}, key=str)


def scores_of_pairs(emb: dict[str, np.ndarray], pairs: Sequence) -> np.ndarray:
    """Cosine similarity of each pair from ``{key: embedding}``.

    One dot product per pair (BLAS ``dot``), not :func:`cosine`'s row sums: the two
    round differently in the last bit, and this is how the benchmark's EER threshold has
    always been computed (its numbers are pinned by tests/eval/test_golden.py)."""
    return np.array([float(emb[p.a] @ emb[p.b]) for p in pairs], dtype=np.float64)


def pair_scores(model, dataset, pairs: Sequence, batch_size: int = 256,
                progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Cosine similarity of every pair of ``dataset`` (each image embedded once)."""
    pairs = list(pairs)
    if not pairs:
        return np.zeros(0)
    emb = embed_dataset(model, dataset, pair_keys(pairs), batch_size, progress)
    return scores_of_pairs(emb, pairs)


def eer_threshold(scores, labels) -> tuple[float, float]:
    """``(eer, threshold)`` of pair scores (``xssab.metrics.verification.eer``)."""
    e, t = eer(np.asarray(scores, np.float64), np.asarray(labels, bool))
    return float(e), float(t)

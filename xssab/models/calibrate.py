"""Threshold calibration: EER threshold and LFW-style k-fold accuracy on a pair dataset.

``calibrate(model, dataset)`` embeds every image of the dataset's pairs once (ONNX Runtime,
in batches, streaming: only embeddings are kept), scores each pair by the cosine similarity
of the two embeddings -- the score xSSAB explains, so no flip augmentation -- and computes

* the EER and its threshold (``xssab.metrics.verification.eer``: the ROC point where
  ``|1 - TPR - FPR|`` is smallest, as in the xSSAB paper), and
* the LFW protocol accuracy (best threshold on 9 folds applied to the 10th) over the
  dataset's folds (pairs interleaved into 10 folds if the dataset has only one).

The record is stored as a local override of the model card in
``xssab_home()/calibration.json`` (``xssab.models.cache.write_calibration``);
``xssab.load_model`` then uses its threshold and ``xssab models`` shows it.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import DatasetError
from ..metrics.verification import eer as _eer, error_rates, kfold_accuracy


def balanced_subset(pairs: Sequence, n: int | None) -> list:
    """About ``n`` pairs, half genuine half impostor, spread evenly through the list (so
    every fold contributes), in dataset order. ``None``/``0``/``n >= len`` keeps all."""
    pairs = list(pairs)
    if not n or n <= 0 or n >= len(pairs):
        return pairs
    gen = [i for i, p in enumerate(pairs) if p.same]
    imp = [i for i, p in enumerate(pairs) if not p.same]
    n_gen = min(len(gen), max(1, n // 2)) if gen else 0
    n_imp = min(len(imp), max(1, n - n_gen)) if imp else 0

    def spread(idx, k):
        if k <= 0:
            return []
        pos = np.linspace(0, len(idx), k, endpoint=False).astype(int)
        return [idx[j] for j in pos]

    chosen = sorted(spread(gen, n_gen) + spread(imp, n_imp))
    return [pairs[i] for i in chosen]


def pair_scores(model, dataset, pairs: Sequence, batch_size: int = 64,
                progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Cosine similarity of every pair; each distinct image is loaded and embedded once."""
    keys: list[str] = []
    index: dict[str, int] = {}
    for p in pairs:
        for k in (p.a, p.b):
            if k not in index:
                index[k] = len(keys)
                keys.append(k)
    emb = None
    bs = max(1, int(batch_size))
    for start in range(0, len(keys), bs):
        batch = [dataset.load(k) for k in keys[start:start + bs]]
        e = np.asarray(model.embed(batch, batch_size=bs), dtype=np.float64)
        if emb is None:
            emb = np.empty((len(keys), e.shape[1]), np.float64)
        emb[start:start + len(batch)] = e
        if progress is not None:
            progress(min(len(keys), start + len(batch)), len(keys))
    if emb is None:
        return np.zeros(0)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    ia = np.array([index[p.a] for p in pairs])
    ib = np.array([index[p.b] for p in pairs])
    return np.sum(emb[ia] * emb[ib], axis=1)


def calibrate(model, dataset, batch_size: int = 64, *, pairs: int | None = None,
              dataset_name: str | None = None, data_path: str | None = None,
              save: bool = True,
              progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Calibrate ``model`` on ``dataset`` (a PairDataset); returns the stored record.

    ``pairs``: use a balanced subset of about this many pairs (default all). With ``save``
    the record becomes the model's calibrated override and ``model.threshold`` is updated.
    """
    name = dataset_name or getattr(dataset, "name", None) or type(dataset).__name__
    chosen = balanced_subset(dataset.pairs(), pairs)
    labels = np.array([bool(p.same) for p in chosen])
    if labels.size == 0:
        raise DatasetError(f"dataset {name!r} has no pairs to calibrate on")
    if labels.all() or not labels.any():
        raise DatasetError(f"dataset {name!r}: calibration needs genuine and impostor pairs "
                           f"(got {int(labels.sum())} genuine of {labels.size}); raise --pairs")
    scores = pair_scores(model, dataset, chosen, batch_size, progress)
    eer_value, threshold = _eer(scores, labels)
    folds = np.array([int(getattr(p, "fold", 0)) for p in chosen])
    fold_note = "dataset folds"
    if np.unique(folds).size < 2:
        folds = np.arange(labels.size) % 10
        fold_note = "10 interleaved folds (the dataset has one fold)"
    acc = kfold_accuracy(scores, labels, folds=folds)
    fmr, fnmr = error_rates(scores, labels, threshold)
    record = {
        "threshold": float(threshold),
        "eer": float(eer_value),
        "accuracy": float(acc.mean),
        "accuracy_std": float(acc.std),
        "folds": int(np.unique(folds).size),
        "fold_source": fold_note,
        "fmr_at_threshold": float(fmr),
        "fnmr_at_threshold": float(fnmr),
        "dataset": str(name),
        "data": None if data_path is None else str(data_path),
        "pairs": int(labels.size),
        "genuine": int(labels.sum()),
        "impostor": int((~labels).sum()),
        "score": "cosine similarity of the embeddings (no flip augmentation)",
        "model_path": str(getattr(model, "path", "")),
        "calibrated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if save:
        from .cache import write_calibration

        write_calibration(model.name, record)
        model.threshold = float(threshold)
        if hasattr(model, "threshold_source"):
            model.threshold_source = "calibrated"
    return record

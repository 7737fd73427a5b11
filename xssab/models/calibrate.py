"""Threshold calibration: EER threshold and LFW-style k-fold accuracy on a pair dataset.

``calibrate(model, dataset)`` embeds every image of the dataset's pairs once and scores each
pair by the cosine similarity of the two embeddings -- the score xSSAB explains, so no flip
augmentation; the same path as the benchmark (``xssab.eval.scoring.pair_scores``) and the
same balanced subset (``xssab.eval.pairs.balanced_subset``) -- and computes

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
from typing import Any, Callable

import numpy as np

from ..eval.pairs import balanced_subset, check_both_classes
from ..eval.scoring import eer_threshold, pair_scores
from ..metrics.verification import error_rates, kfold_accuracy

__all__ = ["balanced_subset", "calibrate", "pair_scores"]


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
    check_both_classes(labels, f"dataset {name!r} (calibration)")
    done = [0]

    def step(k: int) -> None:
        done[0] += k
        if progress is not None:
            progress(done[0], n_images)

    n_images = len({k for p in chosen for k in (p.a, p.b)})
    scores = pair_scores(model, dataset, chosen, batch_size, step)
    eer_value, threshold = eer_threshold(scores, labels)
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

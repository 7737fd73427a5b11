"""The x-face confidence score (Knoche et al. 2023), fitted on a calibration dataset.

Faithful to the public ``ConfidenceScoreGenerator``:

* cosine distances ``d = 1 - cos`` of the calibration pairs, split into genuine/impostor;
* density histograms with 2000 bins over [0, 2]; per-bin ratio
  ``genuine / (genuine + impostor)``; empty bins count as 1 below the threshold bin and 0
  from it on; x = the left bin edges;
* ``scipy.optimize.curve_fit`` of ``f(d) = a / (1 + exp(-k (d - x0))) + b`` (method
  ``dogbox``) from the initial guess (max ratio, threshold, k = -20, min ratio), where the
  threshold is the best-accuracy distance threshold of the calibration data;
* the score of a decision: ``f(d)`` for a match (d below the threshold), ``1 - f(d)`` for a
  non-match. Here "match" is the decision actually made by the explanation (cosine
  similarity >= the model threshold); without one, ``d < threshold`` is used.
* ``kfold=10``: one fit per fold of a contiguous 10-fold split (each on the other 9 folds,
  with their own best-accuracy threshold); ``f`` is the mean of the fold sigmoids.

Fits are cached in ``xssab.kit.cache_dir()/xface_confidence.json`` as
``{model_name: {dataset_name: params}}``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np


def sigmoid(x, a, x0, k, b):
    return a / (1.0 + np.exp(-k * (np.asarray(x, np.float64) - x0))) + b


def best_accuracy_threshold(distances: np.ndarray, labels: np.ndarray) -> float:
    """Distance threshold t maximising the accuracy of ``d < t => genuine``.

    Candidates are midpoints between consecutive sorted distances (and the two ends).
    """
    d = np.asarray(distances, np.float64)
    y = np.asarray(labels, bool)
    order = np.argsort(d, kind="stable")
    ds, ys = d[order], y[order]
    # predict genuine for the first i sorted pairs, i = 0..n
    correct = np.concatenate([[0], np.cumsum(ys)]) + (
        np.sum(~ys) - np.concatenate([[0], np.cumsum(~ys)]))
    i = int(np.argmax(correct))
    if i == 0:
        return float(ds[0] - 1e-6)
    if i == len(ds):
        return float(ds[-1] + 1e-6)
    return float((ds[i - 1] + ds[i]) / 2.0)


def fit_sigmoid(distances, labels, threshold: float, bins: int = 2000,
                p0k: float = -20.0) -> list[float]:
    """The x-face fit: sigmoid parameters ``[a, x0, k, b]``."""
    from scipy.optimize import curve_fit

    d = np.asarray(distances, np.float64)
    y = np.asarray(labels, bool)
    pos, _ = np.histogram(d[y], bins=bins, range=(0.0, 2.0), density=True)
    neg, _ = np.histogram(d[~y], bins=bins, range=(0.0, 2.0), density=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = pos / (pos + neg)
    cut = int(threshold / (2.0 / bins))
    ratios = np.concatenate([np.nan_to_num(ratio, nan=1.0)[:cut],
                             np.nan_to_num(ratio, nan=0.0)[cut:]])
    x = np.arange(0, 2, 2.0 / bins)
    p0 = [float(np.max(ratios)), float(threshold), float(p0k), float(np.min(ratios))]
    params, _ = curve_fit(sigmoid, x, ratios, p0, method="dogbox")
    return [float(v) for v in params]


@dataclass
class ConfidenceModel:
    """Fitted x-face confidence: one ``[a, x0, k, b]`` per fold (one without k-fold)."""

    model: str
    dataset: str
    threshold: float  # best-accuracy cosine-distance threshold on the calibration data
    params: list[list[float]] = field(default_factory=list)
    n_pairs: int = 0
    bins: int = 2000

    def ratio(self, distance) -> np.ndarray | float:
        """Fitted genuine ratio f(d) (mean over folds)."""
        vals = np.mean([sigmoid(distance, *p) for p in self.params], axis=0)
        return float(vals) if np.ndim(vals) == 0 else vals

    def score(self, distance: float, match: bool | None = None) -> float:
        """Confidence in the decision: f(d) for a match, 1 - f(d) for a non-match."""
        if match is None:
            match = distance < self.threshold
        f = float(self.ratio(float(distance)))
        return f if match else 1.0 - f

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ConfidenceModel":
        """A fit from its stored record; ValueError saying what is malformed."""
        if not isinstance(data, dict):
            raise ValueError(f"a record must be an object, got {type(data).__name__}")

        def number(v, what, integer=False):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) \
                    or (integer and (not float(v).is_integer() or v < 0)):
                raise ValueError(f"{what} must be a finite {'count' if integer else 'number'}, "
                                 f"got {v!r}"[:160])
            return int(v) if integer else float(v)

        params = data.get("params")
        if not isinstance(params, list) or not params or not all(
                isinstance(p, list) and len(p) == 4 for p in params):
            raise ValueError("params must be a non-empty list of [a, x0, k, b] lists")
        return cls(model=str(data.get("model", "")), dataset=str(data.get("dataset", "")),
                   threshold=number(data.get("threshold"), "threshold"),
                   params=[[number(v, "a parameter") for v in p] for p in params],
                   n_pairs=number(data.get("n_pairs", 0), "n_pairs", True),
                   bins=number(data.get("bins", 2000), "bins", True))


def fit_confidence(distances, labels, *, model: str = "", dataset: str = "",
                   kfold: int | None = None, bins: int = 2000) -> ConfidenceModel:
    d = np.asarray(distances, np.float64)
    y = np.asarray(labels, bool)
    thr = best_accuracy_threshold(d, y)
    if not kfold or kfold < 2:
        params = [fit_sigmoid(d, y, thr, bins)]
    else:
        folds = np.array_split(np.arange(len(d)), kfold)
        params = []
        for f in folds:
            train = np.setdiff1d(np.arange(len(d)), f)
            t = best_accuracy_threshold(d[train], y[train])
            params.append(fit_sigmoid(d[train], y[train], t, bins))
    return ConfidenceModel(model=model, dataset=dataset, threshold=thr, params=params,
                           n_pairs=int(len(d)), bins=bins)


def pair_distances(model, dataset, batch_size: int = 64,
                   pairs=None) -> tuple[np.ndarray, np.ndarray]:
    """Cosine distances and genuine labels of ``pairs`` (default: every pair of
    ``dataset``; scores from ``xssab.eval.pair_scores``, the benchmark's and calibration's
    path)."""
    from xssab.eval import pair_scores

    pairs = list(dataset.pairs() if pairs is None else pairs)
    d = 1.0 - pair_scores(model, dataset, pairs, batch_size)
    return d, np.array([bool(p.same) for p in pairs])


def _cache_file():
    from xssab.kit import cache_dir

    return cache_dir() / "xface_confidence.json"


def _read_cache() -> dict:
    """The cache file's ``{model: {dataset: record}}`` ({} when absent or unreadable: a
    broken cache is rewritten by the next calibration; reading a record checks its shape)."""
    path = _cache_file()
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def calibrate_confidence(model, dataset, *, kfold: int | None = None, bins: int = 2000,
                         cache: bool = True, pairs=None) -> ConfidenceModel:
    """Fit the x-face confidence for ``model`` on ``dataset`` (a PairDataset; ``pairs``: a
    subset of its pairs, default all); cache it."""
    d, y = pair_distances(model, dataset, pairs=pairs)
    if y.all() or not y.any():
        from xssab import DatasetError

        raise DatasetError(f"dataset {getattr(dataset, 'name', '?')!r} needs genuine AND "
                           "impostor pairs to calibrate the x-face confidence")
    conf = fit_confidence(d, y, model=model.name, dataset=str(getattr(dataset, "name", "")),
                          kfold=kfold, bins=bins)
    if cache:
        data = _read_cache()
        if not isinstance(data.get(model.name), dict):
            data[model.name] = {}  # a malformed entry is replaced, not kept
        data[model.name][conf.dataset] = conf.to_dict()
        from xssab.kit import atomic_write_json

        atomic_write_json(_cache_file(), data, indent=1, sort_keys=False)
    return conf


def load_confidence(model, dataset: str | None = None) -> ConfidenceModel | None:
    """The cached fit for ``model`` (for ``dataset``, or the first one cached), or None."""
    from xssab import XssabError

    name = getattr(model, "name", "")
    entry = _read_cache().get(name, {})
    if entry is None or entry == {}:
        return None
    rec = None
    if isinstance(entry, dict):
        rec = entry.get(dataset) if dataset is not None else entry[sorted(entry)[0]]
        if rec is None:
            return None
    try:
        if not isinstance(entry, dict):
            raise ValueError(f"the entry must be an object, got {type(entry).__name__}")
        return ConfidenceModel.from_dict(rec)
    except ValueError as exc:
        raise XssabError(f"{_cache_file()}: the x-face confidence record of model {name!r} "
                         f"is malformed ({exc}); rerun `xssab xface-calibrate --model {name}` "
                         "or delete the file") from None

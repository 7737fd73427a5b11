"""Opt-in benchmark stages beyond DPR: deletion/insertion and model randomisation.

Both run on the UNPATCHED pairs (the first image as the user gave it, explained against
the second image; maps ``u<i>`` of the explain stage), on a balanced subset of each
method's pairs of size ``config.faithfulness_pairs`` (default 100), so that they measure
the maps on ordinary images, independently of the patch protocol. Definitions:
:mod:`xssab.metrics.faithfulness`. Intervals: the pair-level bootstrap of
:mod:`xssab.metrics.intervals`, stratified by genuine/impostor, seeded with the run's
seed. Results per method (results.json): ``deletion_auc``, ``insertion_auc``,
``randomization_rho`` (each with ``_ci``), the mean curves under
``faithfulness`` and the per-pair values under ``per_pair``.

Cost per method: deletion + insertion re-embed 2 x 11 images per pair; randomisation
explains every subset pair once more with the randomised model (built once per model:
``xssab_home()/bench/randomized/<sha12>-<seed>.onnx``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..metrics import faithfulness as F
from .scoring import cosine, embed
from .subsets import subset_index

KEYS = ("deletion_auc", "insertion_auc", "randomization_rho")
HIGHER_IS_BETTER = {"deletion_auc": False, "insertion_auc": True, "randomization_rho": False}


def pick_pairs(same_of_method: np.ndarray, k: int) -> np.ndarray:
    """Positions (within the method's pairs) of a balanced subset of ``k`` pairs."""
    return subset_index(np.asarray(same_of_method, bool), int(k))


def deletion_insertion(model, images, partner_emb, maps, fill: str, emb_batch: int):
    """Per-pair similarity curves (n, F) of deletion (MoRF) and insertion (MoRF).

    The LeRF deletion curve needs no images of its own: deleting the least relevant
    fraction ``f`` leaves exactly the insertion image of fraction ``1 - f``, so it is the
    insertion curve read backwards (and has the same area)."""
    curves = {"deletion": [], "insertion": []}
    nf = len(F.FRACTIONS)
    for img, emb_b, m in zip(images, partner_emb, maps):
        fi = F.fill_image(img, fill)
        morf = F.ranking(m, True)
        batch = F.perturbed(img, fi, morf) + F.perturbed(img, fi, morf, insertion=True)
        s = cosine(embed(model, batch, emb_batch), np.repeat(emb_b[None], len(batch), 0))
        curves["deletion"].append(s[:nf])
        curves["insertion"].append(s[nf:])
    return {k: np.asarray(v, np.float64).reshape(-1, nf) for k, v in curves.items()}


def randomized_model(model, seed: int):
    """The weight-randomised copy of ``model`` (same preprocessing, threshold and
    outputs), written once into the bench cache."""
    import onnx

    from .. import load_model
    from .._util import atomic_write_bytes, sha256_file
    from ..models.cache import xssab_home

    sha = sha256_file(model.path)[:12]
    path = Path(xssab_home()) / "bench" / "randomized" / f"{sha}-{int(seed)}.onnx"
    if not path.is_file():
        proto = F.randomized_model_proto(onnx.load(str(model.path)), seed)
        atomic_write_bytes(path, proto.SerializeToString())
    card = model.card
    over = {"channel_order": card.channel_order, "mean": card.mean, "std": card.std,
            "input_size": tuple(model.input_size), "threshold": model.threshold,
            "embedding_output": model.embedding_output,
            "feature_output": model.feature_output, "name": f"{model.name}-randomized"}
    return load_model(str(path), device=model.device,
                      **{k: v for k, v in over.items() if v is not None})


def randomization_rho(rmodel, method_name: str, opts, images_a, images_b, maps,
                      threshold: float, device: str, batch: int) -> np.ndarray:
    """Per-pair Spearman correlation of the trained maps ``maps`` with the maps of the
    randomised model ``rmodel`` for the same pairs and options."""
    import xssab

    rho = []
    for s in range(0, len(images_a), max(1, batch)):
        res = xssab.explain_pairs(rmodel, images_a[s:s + batch], images_b[s:s + batch],
                                  threshold=threshold, method=method_name, options=opts,
                                  device=device, sides="a")
        rho += [F.spearman(m, r.a.combined) for m, r in zip(maps[s:s + batch], res)]
    return np.asarray(rho, np.float64)


def intervals(per_pair: dict, same: np.ndarray, n_resamples: int, level: float,
              method: str, seed: int) -> dict:
    """``{key: value, key_ci: [lo, hi]}`` for the per-pair arrays in ``per_pair``."""
    from ..metrics.intervals import Bootstrap, nan_mean

    stats = {k: nan_mean(v) for k, v in per_pair.items()}
    if not stats:
        return {}
    res = Bootstrap(strata=np.asarray(same, bool), n_resamples=n_resamples, level=level,
                    method=method, seed=seed).run(stats)
    out = {}
    for k, iv in res.items():
        out[k] = None if not np.isfinite(iv.estimate) else float(iv.estimate)
        out[f"{k}_ci"] = iv.ci()
    return out


def run(model, method_name: str, opts, data, ver, maps: dict, config, rmodels: dict,
        progress=None) -> dict:
    """Every enabled extra metric of one method (``maps``: the explain stage's maps of
    the method's own pairs ``data``/``ver``, already subset). Returns the results.json
    fields (see the module docstring)."""
    k = int(config.faithfulness_pairs) or len(data.pairs)
    pos = pick_pairs(data.same, min(k, len(data.pairs)))
    ps = data.patched
    imgs_a = [ps.original[i] for i in pos]
    imgs_b = [ps.b[i] for i in pos]
    umaps = [F.gaussian_smooth(maps[f"u{i}"], config.smooth_sigma) for i in pos]
    per_pair: dict[str, np.ndarray] = {}
    curves = {}
    if config.deletion:
        c = deletion_insertion(model, imgs_a, np.asarray(ver.emb_b)[pos], umaps,
                               config.deletion_fill, config.emb_batch)
        per_pair["deletion_auc"] = F.curve_area(c["deletion"])
        per_pair["insertion_auc"] = F.curve_area(c["insertion"])
        curves = {name: v.mean(axis=0).tolist() for name, v in c.items()}
    if config.randomization and method_name != "random":
        if model.name not in rmodels:
            rmodels[model.name] = randomized_model(model, config.seed)
        per_pair["randomization_rho"] = randomization_rho(
            rmodels[model.name], method_name, opts, imgs_a, imgs_b, umaps, ver.threshold,
            config.device, config.batch_size)
    if not per_pair:
        return {}
    same = np.asarray(data.same, bool)[pos]
    out = intervals(per_pair, same, config.bootstrap, config.ci, config.ci_method,
                    config.seed)
    out["faithfulness"] = {"pairs": int(len(pos)), "genuine_pairs": int(same.sum()),
                           "impostor_pairs": int((~same).sum()),
                           "fill": config.deletion_fill if config.deletion else None,
                           "fractions": list(F.FRACTIONS), "mean_curves": curves,
                           "images": "unpatched first image vs second image",
                           "smooth_sigma": float(config.smooth_sigma or 0.0)}
    out["faithfulness_per_pair"] = {"pair_index": [int(i) for i in pos],
                                    **{k: [None if not np.isfinite(x) else float(x)
                                           for x in v] for k, v in per_pair.items()}}
    return out

"""Why does xSSAB localise the planted patches at chance? Measurements for
docs/investigation.md (issue 14).

For each model, on a balanced subset of the patched benchmark (the bench's own data
stage, so the pairs, patches and threshold are the bench's), this computes per pair:

* ``auroc_combined``: the localisation AUROC of ``C = |G+| - |G-|`` (what the bench uses;
  impostor pairs: planted patches should rank high, genuine: low);
* ``auroc_positive`` (impostors, |G+| as detector) and ``auroc_negative`` (genuine,
  |G-| as detector): the two sign maps on their own, each with its ``_control`` (the
  map of the UNPATCHED first image against the same mask: position alone);
* ``auroc_decision_map``: AUROC of the sign map of the pair's decision (|G+| for a
  match, -|G-| for a non-match);
* ``corr_pos_neg``: Pearson correlation of |G+| and |G-| over the pixels (cancellation:
  C is the difference of two strongly correlated maps);
* ``rel_diff``: mean |C| / mean (|G+| + |G-|) (how small the difference is);
* ``lag1``: correlation of C with C shifted by one pixel (spatial smoothness; speckle
  is near 0);
* ``auroc_smooth_<s>``: AUROC of C after a Gaussian blur of sigma s px (2, 4, 8);
* ``auroc_pool16``: AUROC of C averaged over 16x16 blocks (the patch size);
* ``mass_patch`` / ``area_patch``: share of sum |C| on the planted pixels vs their area;
  ``mass_centre``: share of sum |C| in the central 56x56 square (a quarter of the image);
* ``gradcam_auroc``: the same localisation AUROC for Grad-CAM at the card's layer.

Usage (2-core shared machine: keep it small; all numbers in docs come from this script):

    XSSAB_ORT_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/investigate_xssab.py \
        --models synth-arcface,synth-elasticface,synth-cosface,synth-xcos --pairs 100 \
        --out /tmp/investigate.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _auroc(score, mask):
    from xssab.metrics.localization import auroc

    v = auroc(np.asarray(score, np.float64).ravel(), np.asarray(mask, bool).ravel())
    return np.nan if v is None else float(v)


def _pool(m, k):
    h, w = m.shape
    hh, ww = h - h % k, w - w % k
    blocks = m[:hh, :ww].reshape(hh // k, k, ww // k, k).mean(axis=(1, 3))
    out = np.repeat(np.repeat(blocks, k, 0), k, 1)
    full = np.pad(out, ((0, h - hh), (0, w - ww)), mode="edge")
    return full


def analyse(model_name: str, dataset: str, data_path, n_pairs: int) -> dict:
    import xssab
    from xssab.eval.cache import StageCache
    from xssab.eval.data import load_data
    from xssab.eval.verify import verify
    from xssab.eval.run import NullProgress
    from xssab.explain.xssab import XssabMethod
    from xssab.metrics.faithfulness import gaussian_smooth
    from xssab.models.cache import sha256_file, xssab_home

    cache = StageCache(xssab_home() / "bench")
    data = load_data(dataset, data_path, n_pairs, cache)
    model = xssab.load_model(model_name)
    ver = verify(model, model_name, sha256_file(model.path), data, cache, 256, NullProgress())
    t = ver.threshold
    ps = data.patched
    t0 = time.perf_counter()
    raw, _ = XssabMethod().compute(model, ps.patched, ps.b, t, sides="a")
    secs = time.perf_counter() - t0
    rawu, _ = XssabMethod().compute(model, ps.original, ps.b, t, sides="a")
    gc = None
    if getattr(model, "feature_output", None):
        gc = xssab.explain_pairs(model, ps.patched, ps.b, threshold=t, method="gradcam",
                                 sides="a")
    rows = []
    c = 112 // 4
    for i in range(len(ps.same)):
        pos, neg = raw.pos_a[i].astype(np.float64), raw.neg_a[i].astype(np.float64)
        comb = pos - neg
        mask, same = ps.mask[i], bool(ps.same[i])
        sign = -1.0 if same else 1.0
        r = {"same": same,
             "auroc_combined": _auroc(sign * comb, mask),
             "corr_pos_neg": float(np.corrcoef(pos.ravel(), neg.ravel())[0, 1]),
             "rel_diff": float(np.abs(comb).mean() / (pos + neg).mean()),
             "lag1": float(np.corrcoef(comb[:, 1:].ravel(), comb[:, :-1].ravel())[0, 1]),
             "auroc_pool16": _auroc(sign * _pool(comb, 16), mask),
             "mass_patch": float(np.abs(comb)[mask].sum() / np.abs(comb).sum()),
             "area_patch": float(mask.mean()),
             "mass_centre": float(np.abs(comb)[c:-c, c:-c].sum() / np.abs(comb).sum())}
        pu, nu = rawu.pos_a[i].astype(np.float64), rawu.neg_a[i].astype(np.float64)
        r["auroc_combined_control"] = _auroc(sign * (pu - nu), mask)
        if same:
            r["auroc_negative"] = _auroc(neg, mask)
            r["auroc_negative_control"] = _auroc(nu, mask)
        else:
            r["auroc_positive"] = _auroc(pos, mask)
            r["auroc_positive_control"] = _auroc(pu, mask)
        # sign map of the decision (|G+| for a match, -|G-| for a non-match)
        dec = pos if raw.similarity[i] >= t else -neg
        r["auroc_decision_map"] = _auroc(sign * dec, mask)
        for s in (2, 4, 8):
            r[f"auroc_smooth_{s}"] = _auroc(sign * gaussian_smooth(comb, s), mask)
        if gc is not None:
            r["gradcam_auroc"] = _auroc(sign * gc[i].a.combined, mask)
        rows.append(r)
    keys = sorted({k for r in rows for k in r if k != "same"})
    summary = {}
    for k in keys:
        v = np.array([r.get(k, np.nan) for r in rows], np.float64)
        v = v[np.isfinite(v)]
        if v.size:
            lo, hi = np.percentile(_boot_means(v), [2.5, 97.5])
            summary[k] = {"mean": float(v.mean()), "ci": [float(lo), float(hi)],
                          "n": int(v.size)}
    return {"model": model_name, "dataset": dataset, "pairs": len(rows),
            "genuine": int(sum(r["same"] for r in rows)), "threshold": float(t),
            "xssab_seconds": secs, "summary": summary}


def _boot_means(v, n=2000, seed=0):
    rng = np.random.default_rng(seed)
    return v[rng.integers(0, v.size, (n, v.size))].mean(axis=1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="synth-arcface")
    ap.add_argument("--dataset", default="synth")
    ap.add_argument("--data", default=None)
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    out = [analyse(m.strip(), a.dataset, a.data, a.pairs) for m in a.models.split(",")]
    for r in out:
        print(f"== {r['model']} on {r['dataset']}: {r['pairs']} pairs "
              f"({r['genuine']} genuine), t={r['threshold']:.3f}")
        for k, v in r["summary"].items():
            print(f"  {k:18s} {v['mean']:+.3f} [{v['ci'][0]:+.3f}, {v['ci'][1]:+.3f}] "
                  f"n={v['n']}")
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()

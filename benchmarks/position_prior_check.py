"""How much of a map's DPR gap does position alone buy? (docs/investigation.md)

Builds a map that knows NOTHING about the pair: the mean |G+| + |G-| of faithful xSSAB
over the run's patched first images (one fixed H x W map: where the network is sensitive
on average, i.e. the face centre), signed like the decision map of ``xssab-dm``
(+prior for a match, -prior for a non-match), and runs the bench's decision-based
replacement and localisation with it on the same pairs. A method whose gap does not
clearly exceed this prior's gap is ranking pixels by position, not by the pair.

    XSSAB_ORT_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/position_prior_check.py \
        --model synth-arcface --pairs 1000
"""

from __future__ import annotations

import argparse

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="synth-arcface")
    ap.add_argument("--dataset", default="synth")
    ap.add_argument("--data", default=None)
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--bootstrap", type=int, default=1000)
    a = ap.parse_args(argv)

    import xssab
    from xssab.eval import replacement
    from xssab.eval.cache import StageCache
    from xssab.eval.data import load_data
    from xssab.eval.executor import LocalExecutor
    from xssab.eval.run import NullProgress
    from xssab.eval.verify import verify
    from xssab.explain.xssab import XssabMethod
    from xssab.metrics import summaries as S
    from xssab.models.cache import xssab_home
    from xssab.models.cache import sha256_file

    cache = StageCache(xssab_home() / "bench")
    data = load_data(a.dataset, a.data, a.pairs, cache)
    model = xssab.load_model(a.model)
    sha = sha256_file(model.path)
    ver = verify(model, a.model, sha, data, cache, 256, NullProgress())
    ps = data.patched
    raw, _ = XssabMethod().compute(model, ps.patched, ps.b, ver.threshold, sides="a")
    prior = (raw.pos_a + raw.neg_a).mean(axis=0)
    match = np.asarray(ver.s_patched) >= ver.threshold
    match_u = np.asarray(ver.s_unpatched) >= ver.threshold
    maps = {}
    for i in range(len(ps.same)):
        maps[f"p{i}"] = (prior if match[i] else -prior).astype(np.float32)
        maps[f"u{i}"] = (prior if match_u[i] else -prior).astype(np.float32)
    nocache = StageCache(None)
    curve, loc = replacement.dpr_best_worst(model, a.model, data, ver, "position-prior",
                                            {"stage": "prior"}, maps, nocache,
                                            LocalExecutor(), 256, NullProgress())
    rnd = replacement.dpr_random(model, a.model, sha, data, ver, 0, cache, LocalExecutor(),
                                 256, NullProgress())
    same = np.asarray(data.same, bool)
    t = ver.threshold
    init = S.decisions(np.asarray(ver.s_patched)[:, None], same, t)[:, 0]
    st = S.model_intervals(same, S.decisions(rnd.scores, same, t),
                           {"position-prior": {"decisions_best_worst":
                                               S.decisions(curve.scores, same, t),
                                               "auroc": loc.per_pair,
                                               "auroc_control": loc.per_pair_control}},
                           n_resamples=a.bootstrap, initial=init)
    iv = S.interval_fields(st["methods"]["position-prior"])
    print(f"position prior on {a.model} / {a.dataset}: {len(same)} pairs "
          f"({int(same.sum())} genuine)")
    for k in ("gap_fmr", "gap_fnmr", "gap_fnmr_5_30", "gap_fnmr_30_95",
              "halving_fnmr_best_worst", "localization_auroc",
              "localization_auroc_control", "localization_difference"):
        if k in iv and iv[k] is not None:
            lo, hi = iv[f"{k}_ci"]
            print(f"  {k:28s} {iv[k]:+.3f} [{lo:+.3f}, {hi:+.3f}]")


if __name__ == "__main__":
    main()

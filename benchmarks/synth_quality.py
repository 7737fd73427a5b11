"""Measured quality of the embedded SynthFace models (issue 3 targets).

    python benchmarks/synth_quality.py [--pairs-per-fold 300] [--models synth-arcface,...]

For every model card in model_zoo/cards/synth-*.toml: cosine scores on the held-out
SynthFace test pairs (``synth`` dataset, 10 folds), 10-fold accuracy (LFW protocol) and
EER with its threshold; on the patched version of the same pairs (docs/benchmark.md),
FNMR and FMR at the unpatched EER threshold (and at the card's validation threshold);
for synth-xcos, the Pearson correlation between the xCos score and the cosine of the
reference model synth-arcface. Runs the ONNX files with onnxruntime (2 threads).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CARDS = ROOT / "model_zoo" / "cards"


def _session(path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _prep(images, card):
    x = np.stack(images).astype(np.float32)
    if card.channel_order == "bgr":
        x = x[..., ::-1]
    x = (x - np.float32(card.mean if np.isscalar(card.mean) else np.array(card.mean))) / \
        np.float32(card.std if np.isscalar(card.std) else np.array(card.std))
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)


def _run(sess, card, images, batch=256):
    outs = {}
    names = [o.name for o in sess.get_outputs()]
    for k in range(0, len(images), batch):
        res = sess.run(None, {sess.get_inputs()[0].name: _prep(images[k:k + batch], card)})
        for n, r in zip(names, res):
            outs.setdefault(n, []).append(r)
    return {n: np.concatenate(v) for n, v in outs.items()}


def _cos(a, b):
    a = a.reshape(len(a), -1)
    b = b.reshape(len(b), -1)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)


def _xcos(card, grid_a, grid_b):
    att = _session((Path(card.base_dir) / card.extra["xcos_attention"]).resolve())
    w = att.run(None, {"grid_a": grid_a.astype(np.float32),
                       "grid_b": grid_b.astype(np.float32)})[0]
    ga = grid_a / (np.linalg.norm(grid_a, axis=1, keepdims=True) + 1e-8)
    gb = grid_b / (np.linalg.norm(grid_b, axis=1, keepdims=True) + 1e-8)
    return (w * (ga * gb).sum(1)).sum((1, 2))


def evaluate(pairs_per_fold: int, models: list[str] | None):
    from xssab.data.patched import build_patched
    from xssab.metrics.verification import eer, error_rates, kfold_accuracy
    from xssab.models.card import ModelCard
    from xssab.synth.dataset import SynthDataset

    t0 = time.time()
    ds = SynthDataset(pairs_per_fold=pairs_per_fold)
    pairs = ds.pairs()
    labels = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    imgs_a = [ds.load(p.a) for p in pairs]
    imgs_b = [ds.load(p.b) for p in pairs]
    patched = build_patched(ds, pairs).patched
    t_data = time.time() - t0
    results = {"dataset": "synth", "pairs": len(pairs), "pairs_per_fold": pairs_per_fold,
               "settings": ds.settings, "data_seconds": round(t_data, 1), "models": {}}
    cards = sorted(CARDS.glob("synth-*.toml"))
    ref_cos = {}
    for f in cards:
        card = ModelCard.from_toml(f)
        if models and card.name not in models:
            continue
        sess = _session((f.parent / card.path).resolve())
        oa, ob, op = (_run(sess, card, imgs) for imgs in (imgs_a, imgs_b, patched))
        emb = card.embedding_output or sess.get_outputs()[0].name
        s = _cos(oa[emb], ob[emb])
        sp = _cos(op[emb], ob[emb])
        acc = kfold_accuracy(s, labels, folds=10) if len(set(folds)) == 10 else None
        e, thr = eer(s, labels)
        fmr_p, fnmr_p = error_rates(sp, labels, thr)
        fmr_c, fnmr_c = error_rates(sp, labels, card.threshold)
        fmr_u, fnmr_u = error_rates(s, labels, card.threshold)
        r = {"accuracy_10fold": acc.mean if acc else None,
             "accuracy_std": acc.std if acc else None, "eer": e, "eer_threshold": thr,
             "card_threshold": card.threshold,
             "unpatched_at_card_threshold": {"fmr": fmr_u, "fnmr": fnmr_u},
             "patched_at_eer_threshold": {"fmr": fmr_p, "fnmr": fnmr_p},
             "patched_at_card_threshold": {"fmr": fmr_c, "fnmr": fnmr_c}}
        if card.name == "synth-arcface":
            ref_cos["s"] = s
        if "xcos_attention" in card.extra:
            g = card.feature_output
            xs = _xcos(card, oa[g], ob[g])
            xe, xthr = eer(xs, labels)
            xacc = kfold_accuracy(xs, labels, folds=10)
            r["xcos"] = {"accuracy_10fold": xacc.mean, "eer": xe, "eer_threshold": xthr}
            r["_xs"] = xs
        results["models"][card.name] = r
    for name, r in results["models"].items():
        xs = r.pop("_xs", None)
        if xs is not None and "s" in ref_cos:
            r["xcos"]["correlation_with_synth_arcface_cosine"] = float(
                np.corrcoef(xs, ref_cos["s"])[0, 1])
    results["seconds"] = round(time.time() - t0, 1)
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs-per-fold", type=int, default=300)
    ap.add_argument("--models", default=None, help="comma-separated card names")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)
    models = args.models.split(",") if args.models else None
    res = evaluate(args.pairs_per_fold, models)
    print(f"SynthFace test: {res['pairs']} pairs ({res['pairs_per_fold']} per fold x 10 folds)")
    hdr = (f"{'model':18} {'acc(10f)':>9} {'EER':>7} {'thr':>7} | patched@EERthr "
           f"{'FNMR':>6} {'FMR':>6} | xcos acc  corr")
    print(hdr)
    for name, r in res["models"].items():
        x = r.get("xcos")
        xs = (f"{x['accuracy_10fold'] * 100:6.2f}%  {x.get('correlation_with_synth_arcface_cosine', float('nan')):.3f}"
              if x else "")
        print(f"{name:18} {r['accuracy_10fold'] * 100:8.2f}% {r['eer'] * 100:6.2f}% "
              f"{r['eer_threshold']:7.3f} |               "
              f"{r['patched_at_eer_threshold']['fnmr'] * 100:5.1f}% "
              f"{r['patched_at_eer_threshold']['fmr'] * 100:5.1f}% | {xs}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

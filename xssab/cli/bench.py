"""``xssab-bench``: the patched benchmark with decision-based replacement (DPR) and the
localisation score, for models x explanation methods. Protocol: docs/benchmark.md.

Stages (each cached under ``xssab_home()/bench/<key>/`` so an interrupted run resumes):
dataset -> unpatched scores + EER threshold -> patched set -> per method: explanations
(timed) -> DPR curves + localisation -> report.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from ..errors import DatasetError, XssabError
from ..metrics import dpr as dprm
from ..metrics.localization import localization
from ..metrics.verification import eer, error_rates

PROTOCOL_VERSION = "xssab-dpr-1"
DEFAULT_MODELS = ("synth-arcface", "synth-elasticface", "synth-cosface", "synth-xcos")
DEFAULT_METHODS = ("xssab", "xface", "xcos", "random")
DEFAULT_DATASET = "synth"
#: default subset size: keeps the no-argument run under 5 minutes on 2 CPU cores
DEFAULT_PAIRS = 6
N_EXAMPLES = 4
#: the synth dataset is rendered with at least this many genuine (and impostor) pairs per
#: fold, so the EER threshold comes from at least 200 unpatched pairs
SYNTH_MIN_PER_FOLD = 10


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise SystemExit(f"{self.prog}: error: {message}")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="xssab-bench",
                description="Patched benchmark: decision-based replacement and localisation "
                            "of explanation methods across face-recognition models.")
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help="comma-separated model names or ONNX paths (default: %(default)s)")
    p.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                   help="comma-separated explanation methods (default: %(default)s)")
    p.add_argument("--dataset", default=DEFAULT_DATASET,
                   help="registered dataset: synth, lfw, bin, folder (default: %(default)s)")
    p.add_argument("--data", default=None, help="dataset path (lfw/bin/folder)")
    p.add_argument("--pairs", type=int, default=DEFAULT_PAIRS,
                   help="number of pairs (balanced genuine/impostor subset; 0 = all; "
                        "default %(default)s)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--ort-device", choices=("cpu", "cuda"), default=None,
                   help="where ONNX Runtime runs, if not on --device (e.g. --device cuda "
                   "--ort-device cpu without onnxruntime-gpu)")
    p.add_argument("--out", default=None, help="folder for results.json, CSV and PNGs")
    p.add_argument("--seed", type=int, default=0, help="seed of random replacement and "
                   "random methods (default %(default)s)")
    p.add_argument("--force", action="store_true", help="overwrite results in --out")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the "
                   "stage cache")
    p.add_argument("--batch-size", type=int, default=64,
                   help="pairs per explanation batch; images per embedding batch is 4x "
                        "(default %(default)s)")
    return p


# ---------------------------------------------------------------------------- cache
class StageCache:
    """Finished stages as ``<root>/<key>/<stage>.npz`` (atomic writes); ``root=None``
    disables the cache. ``key`` = hash of the stage's identity (model file sha256,
    dataset and pairs, method and options, protocol version)."""

    def __init__(self, root: Path | None):
        self.root = root
        self.computed: list[str] = []
        self.reused: list[str] = []

    @staticmethod
    def key(parts: dict) -> str:
        blob = json.dumps(parts, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:24]

    def _path(self, parts: dict, stage: str) -> Path | None:
        if self.root is None:
            return None
        return self.root / self.key(parts) / f"{stage}.npz"

    def _load(self, path: Path | None):
        if path is None or not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files if k != "__meta__"}
                meta = json.loads(str(z["__meta__"]))
            return arrays, meta
        except Exception:  # a damaged cache file is recomputed
            return None

    @staticmethod
    def _save(path: Path, arrays: dict, meta: dict) -> None:
        from ..report.results import atomic_write_bytes

        buf = io.BytesIO()
        np.savez(buf, __meta__=np.array(json.dumps(meta)), **arrays)
        atomic_write_bytes(path, buf.getvalue())

    def get(self, parts: dict, stage: str, compute: Callable[[], tuple[dict, dict]],
            label: str) -> tuple[dict, dict]:
        """``compute() -> (arrays, meta)``; cached result when the stage finished before."""
        from ..report.results import atomic_write_text

        path = self._path(parts, stage)
        hit = self._load(path)
        if hit is not None:
            self.reused.append(label)
            return hit
        arrays, meta = compute()
        self.computed.append(label)
        if path is not None:
            self._save(path, arrays, meta)
            info = path.parent / "key.json"
            if not info.exists():
                atomic_write_text(info, json.dumps(parts, indent=1, default=str))
            parts_dir = path.parent / f"{stage}.parts"
            if parts_dir.exists():
                import shutil

                shutil.rmtree(parts_dir, ignore_errors=True)
        return arrays, meta

    def part(self, parts: dict, stage: str, name: str,
             compute: Callable[[], tuple[dict, dict]]) -> tuple[dict, dict]:
        """A chunk of a long stage (e.g. one batch of explanations), cached on its own so
        an interrupted stage resumes at its first unfinished chunk; removed when the
        stage completes."""
        path = self._path(parts, stage)
        cpath = None if path is None else path.parent / f"{stage}.parts" / f"{name}.npz"
        hit = self._load(cpath)
        if hit is not None:
            return hit
        arrays, meta = compute()
        if cpath is not None:
            self._save(cpath, arrays, meta)
        return arrays, meta


def _file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------------- helpers
def _split(text: str) -> list[str]:
    out = [t.strip() for t in str(text).split(",") if t.strip()]
    return list(dict.fromkeys(out))


def select_pairs(pairs, n: int):
    """Balanced deterministic subset: ``ceil(n/2)`` genuine and ``floor(n/2)`` impostor
    pairs, evenly spaced through each list (so every fold contributes), in dataset order.
    ``n <= 0`` or ``n >= len(pairs)`` keeps all pairs."""
    pairs = list(pairs)
    if n <= 0 or n >= len(pairs):
        return pairs
    gen = [i for i, p in enumerate(pairs) if p.same]
    imp = [i for i, p in enumerate(pairs) if not p.same]
    k_gen = min(len(gen), (n + 1) // 2)
    k_imp = min(len(imp), n - k_gen)
    k_gen = min(len(gen), n - k_imp)

    def spread(idx, k):
        if k <= 0:
            return []
        pos = np.floor(np.arange(k) * len(idx) / k).astype(int)
        return [idx[j] for j in pos]

    chosen = sorted(spread(gen, k_gen) + spread(imp, k_imp))
    return [pairs[i] for i in chosen]


def patched_arrays(ps) -> dict[str, list]:
    """Per-pair lists from a :class:`xssab.data.patched.PatchedSet` (a sequence of
    ``PatchedPair(patched, original, other, mask, same)``)."""
    items = list(ps)
    return {"patched": [np.asarray(it.patched) for it in items],
            "original": [np.asarray(it.original) for it in items],
            "b": [np.asarray(it.other) for it in items],
            "mask": [np.asarray(it.mask, dtype=bool) for it in items],
            "same": [bool(it.same) for it in items]}


def _l2(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description:<44}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                    transient=False)


def _options_dict(opts) -> dict:
    try:
        return dataclasses.asdict(opts)
    except TypeError:
        return {"repr": repr(opts)}


# ---------------------------------------------------------------------------- the run
class Bench:
    def __init__(self, args, console: Console):
        self.args = args
        self.console = console
        self.device = args.device
        self.ort_device = args.ort_device
        self.seed = int(args.seed)
        self.emb_batch = max(1, int(args.batch_size) * 4)
        self.expl_batch = max(1, int(args.batch_size))
        if args.no_cache:
            root = None
        else:
            from ..models.cache import xssab_home

            root = Path(xssab_home()) / "bench"
        self.cache = StageCache(root)

    # -- validation: everything before any work ------------------------------
    def validate(self):
        from .. import load_model, registry
        from ..report.results import check_out_dir

        a = self.args
        if a.pairs < 0:
            raise XssabError(f"--pairs {a.pairs}: expected 0 (all) or a positive number")
        if a.batch_size < 1:
            raise XssabError(f"--batch-size {a.batch_size}: expected a positive number")
        model_names, method_names = _split(a.models), _split(a.methods)
        if not model_names:
            raise XssabError("--models is empty; name at least one model")
        if not method_names:
            raise XssabError("--methods is empty; name at least one method")
        methods = {n: registry.get_explainer(n) for n in method_names}
        registry.datasets()
        if a.dataset not in registry.datasets():
            registry.get_dataset(a.dataset)  # raises UnknownNameError with suggestions
        check_out_dir(a.out, a.force)
        models = {}
        for n in model_names:
            model = load_model(n, device=self.device, ort_device=self.ort_device)
            label = str(getattr(model, "name", None) or n)
            if label in models:
                label = n
            models[label] = model
        plan = {}
        for mn, model in models.items():
            plan[mn] = {}
            for xn, meth in methods.items():
                why = meth.supports(model)
                plan[mn][xn] = why
                if why:
                    self.console.print(f"[yellow]note:[/] skipping {xn} on {mn}: {why}",
                                       highlight=False)
        self.models, self.methods, self.plan = models, methods, plan

    # -- stages ---------------------------------------------------------------
    def load_dataset(self, progress):
        from .. import registry

        a = self.args
        options = {}
        if a.dataset == "synth" and a.data is None and a.pairs > 0:
            # render only what the subset needs: the SynthFace benchmark with
            # ceil(N / 20) genuine + as many impostor pairs per fold (10 folds)
            options["pairs_per_fold"] = max(SYNTH_MIN_PER_FOLD, -(-a.pairs // 20))
        task = progress.add_task(f"dataset {a.dataset}", total=None)
        ds = registry.get_dataset(a.dataset, path=a.data, **options)
        progress.update(task, total=1, completed=1)
        self.all_pairs = list(ds.pairs())
        pairs = select_pairs(self.all_pairs, a.pairs)
        if not pairs:
            raise DatasetError(f"dataset {a.dataset!r} has no pairs")
        if all(p.same for p in pairs) or not any(p.same for p in pairs):
            raise DatasetError(f"dataset {a.dataset!r}: the selected {len(pairs)} pairs need "
                               "both genuine and impostor pairs; raise --pairs")
        self.dataset, self.pairs = ds, pairs
        self.data_key = {"dataset": a.dataset, "data": str(a.data) if a.data else None,
                         "pairs": hashlib.sha256(json.dumps(
                             [[p.a, p.b, p.same] for p in pairs]).encode()).hexdigest(),
                         "n": len(pairs), "protocol": PROTOCOL_VERSION,
                         "threshold_pairs": hashlib.sha256(json.dumps(
                             [[p.a, p.b, p.same] for p in self.all_pairs]).encode()
                         ).hexdigest()}
        task = progress.add_task("patched set", total=None)
        from ..data.patched import build_patched

        cache_dir = None
        if self.cache.root is not None:
            cache_dir = self.cache.root / ("patched-" + StageCache.key(self.data_key))
        ps = build_patched(ds, pairs, cache_dir=cache_dir)
        self.ps = patched_arrays(ps)
        if len(self.ps["same"]) != len(pairs):
            raise XssabError(f"patched set has {len(self.ps['same'])} pairs, expected "
                             f"{len(pairs)}")
        self.same = np.asarray(self.ps["same"], dtype=bool)
        progress.update(task, total=1, completed=1)

    def _embed(self, model, images, progress=None, task=None) -> np.ndarray:
        out = []
        for i in range(0, len(images), self.emb_batch):
            chunk = images[i:i + self.emb_batch]
            out.append(np.asarray(model.embed(chunk, batch_size=self.emb_batch)))
            if progress is not None:
                progress.advance(task, len(chunk))
        return _l2(np.concatenate(out, axis=0))

    def verify_stage(self, mname, model, progress) -> dict:
        ps = self.ps
        parts = {"model": self.model_sha[mname], "data": self.data_key, "stage": "verify"}

        def compute():
            n = len(self.pairs)
            keys = sorted({k for p in self.all_pairs for k in (p.a, p.b)})
            task = progress.add_task(f"{mname}: embeddings", total=3 * n + len(keys))
            # threshold: EER of the UNPATCHED pairs of the whole dataset
            emb = {}
            for i in range(0, len(keys), self.emb_batch):
                chunk = keys[i:i + self.emb_batch]
                e = self._embed(model, [self.dataset.load(k) for k in chunk])
                emb.update(zip(chunk, e))
                progress.advance(task, len(chunk))
            s_all = np.array([float(emb[p.a] @ emb[p.b]) for p in self.all_pairs])
            e, t = eer(s_all, np.array([p.same for p in self.all_pairs], bool))
            ea = self._embed(model, ps["original"], progress, task)
            eb = self._embed(model, ps["b"], progress, task)
            ep = self._embed(model, ps["patched"], progress, task)
            s_u, s_p = (ea * eb).sum(1), (ep * eb).sum(1)
            return ({"emb_b": eb, "s_unpatched": s_u, "s_patched": s_p},
                    {"eer": e, "threshold": t, "threshold_pairs": len(self.all_pairs)})

        arrays, meta = self.cache.get(parts, "verify", compute, f"{mname}/verify")
        t = meta["threshold"]
        fu = error_rates(arrays["s_unpatched"], self.same, t)
        fp = error_rates(arrays["s_patched"], self.same, t)
        return {"threshold": float(t), "eer": float(meta["eer"]),
                "threshold_pairs": int(meta["threshold_pairs"]),
                "unpatched": {"fmr": fu[0], "fnmr": fu[1]},
                "patched": {"fmr": fp[0], "fnmr": fp[1]},
                "_emb_b": arrays["emb_b"], "_s_patched": arrays["s_patched"]}

    def _score_fn(self, model, emb_b):
        def score(images, idx):
            e = self._embed(model, images)
            return (e * emb_b[np.asarray(idx)]).sum(1)
        return score

    def explain_stage(self, mname, model, xname, t, progress) -> tuple[dict, dict]:
        import xssab

        meth = self.methods[xname]
        opts = meth.Options(seed=self.seed)
        parts = {"model": self.model_sha[mname], "data": self.data_key, "method": xname,
                 "options": _options_dict(opts), "threshold": t, "stage": "explain"}
        ps = self.ps

        def compute():
            n = len(self.pairs)
            task = progress.add_task(f"{mname}/{xname}: explain", total=2 * n)
            maps = {}
            elapsed = 0.0
            for which, imgs in (("p", ps["patched"]), ("u", ps["original"])):
                for i in range(0, n, self.expl_batch):
                    sl = slice(i, min(n, i + self.expl_batch))

                    def chunk():
                        t0 = time.perf_counter()
                        res = xssab.explain_pairs(model, imgs[sl], ps["b"][sl], threshold=t,
                                                  method=xname, options=opts,
                                                  device=self.device, sides="a")
                        dt = time.perf_counter() - t0
                        return ({f"{which}{i + j}": np.asarray(r.a.combined, np.float32)
                                 for j, r in enumerate(res)}, {"seconds": dt})

                    part_maps, pmeta = self.cache.part(parts, "explain", f"{which}{i}", chunk)
                    maps.update(part_maps)
                    if which == "p":
                        elapsed += pmeta["seconds"]
                    progress.advance(task, sl.stop - sl.start)
            return maps, {"ms_per_pair": 1000.0 * elapsed / n}

        return self.cache.get(parts, "explain", compute, f"{mname}/{xname}/explain")

    def dpr_stage(self, mname, model, xname, vr, maps, progress) -> dict:
        t = vr["threshold"]
        meth = self.methods[xname]
        parts = {"model": self.model_sha[mname], "data": self.data_key, "method": xname,
                 "options": _options_dict(meth.Options(seed=self.seed)), "threshold": t,
                 "stage": "dpr"}
        ps, n = self.ps, len(self.pairs)

        def compute():
            task = progress.add_task(f"{mname}/{xname}: replacement", total=n)
            mp = [maps[f"p{i}"] for i in range(n)]
            mu = [maps[f"u{i}"] for i in range(n)]
            c = dprm.dpr_curve(self._score_fn(model, vr["_emb_b"]), ps["patched"],
                               ps["original"], self.same, vr["_s_patched"], t, "best_worst",
                               maps=mp, seed=self.seed, batch_size=self.emb_batch,
                               progress=lambda k: progress.advance(task, k))
            loc = localization(mp, mu, ps["mask"], self.same)
            meta = {k: c[k] for k in ("percent", "fmr", "fnmr", "area_fmr", "area_fnmr")}
            meta["localization"] = {k: loc[k] for k in ("auroc", "control", "difference")}
            return {"scores": c["scores"]}, meta

        return self.cache.get(parts, "dpr", compute, f"{mname}/{xname}/dpr")[1]

    def random_stage(self, mname, model, vr, progress) -> dict:
        """Random replacement depends on the seed and pair index only: computed once per
        model and reported under every method."""
        t = vr["threshold"]
        parts = {"model": self.model_sha[mname], "data": self.data_key, "seed": self.seed,
                 "threshold": t, "stage": "dpr_random"}
        n = len(self.pairs)

        def compute():
            task = progress.add_task(f"{mname}: random replacement", total=n)
            c = dprm.dpr_curve(self._score_fn(model, vr["_emb_b"]), self.ps["patched"],
                               self.ps["original"], self.same, vr["_s_patched"], t, "random",
                               seed=self.seed, batch_size=self.emb_batch,
                               progress=lambda k: progress.advance(task, k))
            return ({"scores": c["scores"]},
                    {k: c[k] for k in ("percent", "fmr", "fnmr", "area_fmr", "area_fnmr")})

        return self.cache.get(parts, "dpr_random", compute, f"{mname}/random")[1]

    # -- whole run ------------------------------------------------------------
    def run(self) -> dict:
        self.validate()
        a = self.args
        results: dict[str, Any] = {}
        examples: dict[str, dict] = {}
        with _progress(self.console) as progress:
            self.load_dataset(progress)
            self.model_sha = {}
            for mname, model in self.models.items():
                self.model_sha[mname] = _file_sha256(model.path)
            models_out = {}
            for mname, model in self.models.items():
                vr = self.verify_stage(mname, model, progress)
                t = vr["threshold"]
                rnd = self.random_stage(mname, model, vr, progress)
                methods_out, skipped, ex_maps = {}, {}, {}
                for xname in self.methods:
                    why = self.plan[mname][xname]
                    if why:
                        skipped[xname] = why
                        continue
                    maps, emeta = self.explain_stage(mname, model, xname, t, progress)
                    d = self.dpr_stage(mname, model, xname, vr, maps, progress)
                    methods_out[xname] = _method_result(emeta, d, rnd)
                    ex_maps[xname] = maps
                models_out[mname] = {
                    "threshold": vr["threshold"], "eer": vr["eer"],
                    "threshold_source": "EER of the unpatched pairs of the whole dataset",
                    "threshold_pairs": vr["threshold_pairs"],
                    "model_sha256": self.model_sha[mname],
                    "unpatched": vr["unpatched"], "patched": vr["patched"],
                    "methods": methods_out, "skipped_methods": skipped}
                examples[mname] = {"maps": ex_maps, "s_patched": vr["_s_patched"]}
        results = {"dataset": a.dataset, "pairs": len(self.pairs), "models": models_out,
                   "data": str(a.data) if a.data else None,
                   "genuine_pairs": int(self.same.sum()),
                   "impostor_pairs": int((~self.same).sum()),
                   "seed": self.seed, "device": self.device,
                   "protocol": {"version": PROTOCOL_VERSION,
                                "percent": list(dprm.PERCENTS),
                                "threshold": "EER threshold of all unpatched pairs of the dataset",
                                "score": "cosine similarity of ONNX Runtime embeddings",
                                "area": "trapezoid over p/100 from 0.05 to 0.95",
                                "gap": "area(random) - area(best_worst)",
                                "localization": "mean over pairs of the per-pair AUROC"}}
        self.examples = examples
        return results

    def write_outputs(self, results: dict) -> list[Path]:
        from ..report.figures import plot_curves, plot_map_grid
        from ..report.results import write_results

        out = Path(self.args.out)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        gen = [i for i in range(len(self.pairs)) if self.same[i]][: N_EXAMPLES // 2]
        imp = [i for i in range(len(self.pairs)) if not self.same[i]][: N_EXAMPLES // 2]
        for mname, mres in results["models"].items():
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in mname)
            written.append(plot_curves(mname, mres, out / f"curves_{safe}.png"))
            ex = self.examples[mname]
            methods = list(ex["maps"])
            if methods:
                rows = [{"patched": self.ps["patched"][i], "original": self.ps["original"][i],
                         "b": self.ps["b"][i], "mask": self.ps["mask"][i],
                         "same": bool(self.same[i]), "score": float(ex["s_patched"][i]),
                         "maps": {x: ex["maps"][x][f"p{i}"] for x in methods}}
                        for i in gen + imp]
                written.append(plot_map_grid(mname, rows, methods, out / f"maps_{safe}.png"))
        written += write_results(out, results, force=self.args.force)
        return written


def _method_result(emeta: dict, d: dict, rnd: dict) -> dict:
    def curve(c):
        return {"percent": list(c["percent"]), "fmr": list(c["fmr"]),
                "fnmr": list(c["fnmr"]), "area_fmr": c["area_fmr"],
                "area_fnmr": c["area_fnmr"]}

    loc = d["localization"]
    return {"ms_per_pair": float(emeta["ms_per_pair"]),
            "dpr": {"best_worst": curve(d), "random": curve(rnd)},
            "localization_auroc": loc["auroc"],
            "localization_auroc_control": loc["control"],
            "localization_difference": loc["difference"],
            "area_fmr_best_worst": d["area_fmr"], "area_fmr_random": rnd["area_fmr"],
            "gap_fmr": rnd["area_fmr"] - d["area_fmr"],
            "area_fnmr_best_worst": d["area_fnmr"], "area_fnmr_random": rnd["area_fnmr"],
            "gap_fnmr": rnd["area_fnmr"] - d["area_fnmr"]}


def main(argv: list[str] | None = None, console: Console | None = None) -> int:
    console = console or Console()
    err_console = console if console.file is not sys.stdout else Console(stderr=True)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        if isinstance(exc.code, str):
            err_console.print(exc.code, highlight=False, markup=False, soft_wrap=True)
            return 2
        return int(exc.code or 0)
    from .main import run_guarded

    def go() -> int:
        from ..report.tables import print_report

        t0 = time.perf_counter()
        bench = Bench(args, console)
        results = bench.run()
        print_report(results, console)
        if args.out:
            paths = bench.write_outputs(results)
            console.print(f"wrote {len(paths)} files to {args.out}", highlight=False)
        c = bench.cache
        console.print(f"done in {time.perf_counter() - t0:.1f} s ({len(c.computed)} stages "
                      f"computed, {len(c.reused)} reused from the cache)", highlight=False)
        return 0

    return run_guarded(go, console, err_console)


def entry() -> None:  # pragma: no cover - console script wrapper
    sys.exit(main())

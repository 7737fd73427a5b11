"""``run_bench(config) -> BenchResult``: validate everything, then run the stages
(data -> per model: verify, random replacement -> per method: explain, best_worst
replacement + localisation). Protocol: docs/benchmark.md."""

from __future__ import annotations

from typing import Callable

from . import data as data_stage
from . import explain as explain_stage
from . import replacement, subsets, verify as verify_stage
from .._util import sha256_file as file_sha256
from .cache import StageCache
from .config import BenchConfig
from .executor import make_executor
from .result import BenchResult, MethodResult, ModelResult


class NullProgress:
    """The progress interface the stages use (a subset of ``rich.progress.Progress``)."""

    def add_task(self, description: str, total=None):
        return 0

    def advance(self, task, advance: float = 1) -> None:
        pass

    def update(self, task, **kw) -> None:
        pass


def prepare(config: BenchConfig, log: Callable[[str], None] | None = None):
    """Check the configuration, the names, the output folder and load the models, before
    any work. Returns ``(models, methods, skipped)``."""
    from .. import load_model, registry
    from ..report.results import check_out_dir

    config.validate()
    registry.unknown_names("explainers", "explanation method", config.methods)
    methods = {n: registry.get_explainer(n) for n in config.methods}
    if config.dataset not in registry.datasets():
        registry.get_dataset(config.dataset)  # raises UnknownNameError with suggestions
    check_out_dir(config.out, config.force)
    models = {}
    for n in config.models:
        model = load_model(n, device=config.device, ort_device=config.ort_device)
        label = str(getattr(model, "name", None) or n)
        models[n if label in models else label] = model
    skipped: dict[str, dict[str, str]] = {}
    for mn, model in models.items():
        skipped[mn] = {}
        for xn, meth in methods.items():
            why = meth.supports(model)
            if why:
                skipped[mn][xn] = why
                if log is not None:
                    log(f"skipping {xn} on {mn}: {why}")
    return models, methods, skipped


def run_bench(config: BenchConfig, *, progress=None, executor=None,
              log: Callable[[str], None] | None = None) -> BenchResult:
    """Run the benchmark described by ``config``.

    ``progress``: an object with ``add_task(description, total=...)`` and
    ``advance(task, n)`` (e.g. ``rich.progress.Progress``); ``executor``: where units
    of work run (default: the one ``config.executor`` names, closed at the end);
    ``log(message)``: notes (skipped methods). Raises a one-line ``XssabError`` for bad
    input before any work.
    """
    models, methods, skipped = prepare(config, log)
    progress = progress or NullProgress()
    own = executor is None
    if own:
        executor = make_executor(config.executor, workers=config.workers,
                                 address=config.address)
    try:
        result = _run(config, models, methods, skipped, progress, executor)
    finally:
        if own and hasattr(executor, "close"):
            executor.close()
    describe = getattr(executor, "describe", None)
    result.executor = describe() if describe else {
        "executor": getattr(executor, "name", type(executor).__name__), "workers": 1}
    return result


def _run(config, models, methods, skipped, progress, executor) -> BenchResult:
    cache = StageCache(config.cache_root())
    seed, eb = int(config.seed), config.emb_batch

    data = data_stage.load_data(config.dataset, config.data, config.pairs, cache,
                                align=config.align)
    sha = {mn: file_sha256(model.path) for mn, model in models.items()}
    n = len(data.pairs)
    caps = config.pair_caps()
    notes: list[str] = []
    out: dict[str, ModelResult] = {}
    rmodels: dict = {}  # weight-randomised copies (randomisation check), one per model
    for mn, model in models.items():
        ver = verify_stage.verify(model, mn, sha[mn], data, cache, eb, progress)
        rnd = replacement.dpr_random(model, mn, sha[mn], data, ver, seed, cache, executor,
                                     eb, progress)
        sizes = _method_sizes(config, model, methods, skipped[mn], data, ver, caps, n)
        results = {}
        for xn, meth in methods.items():
            if xn in skipped[mn]:
                continue
            opts = meth.Options(seed=seed)
            idx = subsets.subset_index(data.same, sizes[xn])
            d_x = subsets.subset_data(data, idx)
            v_x = subsets.subset_verification(ver, idx)
            if len(idx) < n:
                notes.append(f"{mn}/{xn}: {len(idx)} of {n} pairs "
                             f"({int(d_x.same.sum())} genuine, {int((~d_x.same).sum())} "
                             "impostor; a balanced subset of the same pairs)")
            maps, ms = explain_stage.explain_maps(
                model, mn, sha[mn], d_x, xn, opts, ver.threshold, cache, executor,
                config.batch_size, config.device, progress)
            cached = f"{mn}/{xn}/explain" in cache.reused
            parts = explain_stage.explain_parts(sha[mn], d_x, xn, opts, ver.threshold,
                                                "dpr")
            if config.smooth_sigma:
                maps = smooth_maps(maps, config.smooth_sigma)
                parts = dict(parts, smooth_sigma=float(config.smooth_sigma))
            curve, loc = replacement.dpr_best_worst(model, mn, d_x, v_x, xn, parts, maps,
                                                    cache, executor, eb, progress)
            r_x = rnd if len(idx) == n else replacement.restrict(rnd, idx, d_x.same,
                                                                  ver.threshold)
            extra = {}
            if config.deletion or config.randomization:
                from . import faithfulness

                extra = faithfulness.run(model, xn, opts, d_x, v_x, maps, config, rmodels)
            results[xn] = MethodResult(xn, ms, curve, r_x, loc, maps, pair_index=idx,
                                       timing_cached=cached, extra=extra)
        out[mn] = ModelResult(mn, sha[mn], ver, rnd, results, skipped[mn])
    return BenchResult(config, data, out, list(cache.computed), list(cache.reused),
                       notes=notes)


def smooth_maps(maps: dict, sigma: float) -> dict:
    """Every map Gaussian-smoothed (display-and-ranking option, sigma in pixels)."""
    from ..metrics.faithfulness import gaussian_smooth

    return {k: gaussian_smooth(v, sigma) for k, v in maps.items()}


def _method_sizes(config: BenchConfig, model, methods, skipped, data, ver, caps, n
                  ) -> dict[str, int]:
    """Pairs each method runs on (see :mod:`xssab.eval.subsets`)."""
    sizes = {xn: subsets.method_pair_count(xn, n, caps) for xn in methods}
    if config.budget is None:
        return sizes
    secs = {}
    for xn, meth in methods.items():
        if xn in skipped or xn in (config.method_pairs or {}):
            continue
        opts = meth.Options(seed=int(config.seed))
        secs[xn] = min(subsets.probe_cost(model, xn, data, ver.threshold, opts,
                                          config.device) for _ in range(2))
    sizes.update(subsets.sizes_from_budget(float(config.budget), secs, n))
    return sizes

"""Typed result of a benchmark run. ``BenchResult.to_dict()`` is the results.json
schema (docs/benchmark.md, "results.json"); the per-pair arrays stay reachable for
statistics over pairs (e.g. bootstrap intervals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..metrics import dpr as dprm
from .config import PROTOCOL_VERSION, BenchConfig
from .data import BenchData
from .replacement import Curve, Localization
from .verify import Verification

THRESHOLD_SOURCE = "EER of the unpatched pairs of the whole dataset"


@dataclass
class MethodResult:
    name: str
    ms_per_pair: float
    best_worst: Curve
    random: Curve  # the model's random replacement (shared by its methods)
    localization: Localization
    maps: dict[str, np.ndarray] = field(repr=False)  # "p<i>"/"u<i>" -> map (H, W)
    #: the run's pairs this method ran on (``maps``/``scores`` row j = pair_index[j])
    pair_index: np.ndarray | None = None
    #: ms_per_pair comes from the stage cache (measured by an earlier run)
    timing_cached: bool = False
    #: opt-in extra metrics (xssab/eval/faithfulness.py): results.json fields
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d, r, loc = self.best_worst, self.random, self.localization
        n = len(self.best_worst.scores)
        return {"ms_per_pair": float(self.ms_per_pair),
                "ms_per_pair_cached": bool(self.timing_cached),
                "pairs": int(n),
                "dpr": {"best_worst": d.to_dict(), "random": r.to_dict()},
                "localization_auroc": loc.auroc,
                "localization_auroc_control": loc.control,
                "localization_difference": loc.difference,
                "area_fmr_best_worst": d.area_fmr, "area_fmr_random": r.area_fmr,
                "gap_fmr": r.area_fmr - d.area_fmr,
                "area_fnmr_best_worst": d.area_fnmr, "area_fnmr_random": r.area_fnmr,
                "gap_fnmr": r.area_fnmr - d.area_fnmr,
                **self.extra}


@dataclass
class ModelResult:
    name: str
    model_sha256: str
    verification: Verification
    random: Curve
    methods: dict[str, MethodResult]
    skipped: dict[str, str]  # method -> why it does not apply to this model

    def to_dict(self) -> dict:
        v = self.verification
        return {"threshold": v.threshold, "eer": v.eer,
                "threshold_source": THRESHOLD_SOURCE,
                "threshold_pairs": v.threshold_pairs,
                "model_sha256": self.model_sha256,
                "unpatched": {"fmr": v.unpatched_rates[0], "fnmr": v.unpatched_rates[1]},
                "patched": {"fmr": v.patched_rates[0], "fnmr": v.patched_rates[1]},
                "methods": {k: m.to_dict() for k, m in self.methods.items()},
                "skipped_methods": dict(self.skipped)}


@dataclass
class BenchResult:
    """Everything a run produced. Per pair ``i`` (subset order, ``data.pairs[i]``):
    ``models[M].verification.s_unpatched[i]``/``s_patched[i]``,
    ``models[M].methods[X].best_worst.scores[i]`` (and ``.random.scores[i]``), the
    localisation inputs ``methods[X].maps["p<i>"]``, ``data.patched.mask[i]``,
    ``data.same[i]`` and the per-pair AUROCs ``methods[X].localization.per_pair``."""

    config: BenchConfig
    data: BenchData
    models: dict[str, ModelResult]
    stages_computed: list[str] = field(default_factory=list)
    stages_reused: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: where the units ran: {"executor": "local"|"ray", "workers": n, ...}
    executor: dict = field(default_factory=lambda: {"executor": "local", "workers": 1})

    @property
    def same(self) -> np.ndarray:
        return self.data.same

    def to_dict(self, intervals: bool = True, per_pair: bool = True) -> dict[str, Any]:
        """results.json; with ``intervals`` the bootstrap intervals, comparisons and (with
        ``per_pair``) per-pair values of :mod:`xssab.eval.stats` (computed once)."""
        key = (bool(intervals), bool(per_pair))
        memo = getattr(self, "_dict_memo", None)
        if memo is not None and memo[0] == key:
            return memo[1]
        res = self._base_dict()
        if intervals:
            from .stats import annotate, per_pair_arrays

            cfg = self.config
            annotate(res, per_pair_arrays(self), n_resamples=cfg.bootstrap, level=cfg.ci,
                     method=cfg.ci_method, seed=cfg.seed, per_pair=per_pair)
        self._dict_memo = (key, res)
        return res

    def _base_dict(self) -> dict[str, Any]:
        from .environment import environment

        cfg, same = self.config, self.data.same
        out = {"dataset": cfg.dataset, "pairs": len(self.data.pairs),
               "environment": environment(cfg.device),
               "method_pairs": {mn: {xn: len(x.best_worst.scores)
                                     for xn, x in m.methods.items()}
                                for mn, m in self.models.items()},
               "notes": list(self.notes),
               "stages": {"computed": list(self.stages_computed),
                          "reused_from_cache": list(self.stages_reused)},
               "models": {k: m.to_dict() for k, m in self.models.items()},
               "data": str(cfg.data) if cfg.data else None,
               "genuine_pairs": int(same.sum()),
               "impostor_pairs": int((~same).sum()),
               "seed": cfg.seed, "device": cfg.device,
               "executor": dict(self.executor),
               "protocol": {"version": PROTOCOL_VERSION,
                            "percent": list(dprm.PERCENTS),
                            "threshold": "EER threshold of all unpatched pairs of the dataset",
                            "score": "cosine similarity of ONNX Runtime embeddings",
                            "area": "trapezoid over p/100 from 0.05 to 0.95",
                            "gap": "area(random) - area(best_worst)",
                            "localization": "mean over pairs of the per-pair AUROC"}}
        if getattr(cfg, "align", False):
            out["align"] = "detected and aligned (docs/alignment.md)"
        return out

"""The evaluation layer: the patched benchmark as a library.

``run_bench(BenchConfig(...)) -> BenchResult``; ``BenchResult.to_dict()`` is results.json;
``write_outputs(result)`` writes it with the CSVs and figures. ``xssab-bench`` /
``xssab bench`` are thin shells over this. Layout: ``config`` (BenchConfig), ``data``
(dataset, subset, patched set), ``verify`` (threshold, scores), ``explain`` (maps),
``replacement`` (DPR curves, localisation), ``result`` (typed results), ``cache`` (stage
cache), ``executor`` (where units of work run; ``ray_executor`` for Ray), ``export``
(dataset maps into a map store), ``pairs`` (balanced subset), ``scoring``
(embed / pair scores / EER, shared with calibration).
"""

from .config import (DEFAULT_DATASET, DEFAULT_METHODS, DEFAULT_MODELS, DEFAULT_PAIRS,
                     PROTOCOL_VERSION, BenchConfig)
from .data import open_dataset
from .executor import LocalExecutor, ModelSpec, make_executor
from .export import export_maps
from .outputs import write_outputs
from .pairs import balanced_subset
from .result import BenchResult, MethodResult, ModelResult
from .run import run_bench
from .scoring import embed, pair_scores

__all__ = ["BenchConfig", "BenchResult", "MethodResult", "ModelResult", "LocalExecutor",
           "ModelSpec", "make_executor", "export_maps",
           "run_bench", "write_outputs", "balanced_subset", "embed", "pair_scores",
           "open_dataset",
           "PROTOCOL_VERSION", "DEFAULT_MODELS", "DEFAULT_METHODS", "DEFAULT_DATASET",
           "DEFAULT_PAIRS"]

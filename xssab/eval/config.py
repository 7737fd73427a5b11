"""``BenchConfig``: everything one benchmark run depends on, checked before any work."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ..errors import XssabError

#: version of the protocol; part of every stage-cache key (bump it when numbers change)
PROTOCOL_VERSION = "xssab-dpr-1"
DEFAULT_MODELS = ("synth-arcface", "synth-elasticface", "synth-cosface", "synth-xcos")
DEFAULT_METHODS = ("xssab", "xface", "xcos", "random")
DEFAULT_DATASET = "synth"
#: default subset size (100 genuine + 100 impostor pairs); the expensive methods run on
#: a balanced subset of these (eval.subsets.DEFAULT_METHOD_PAIRS). Timing of the default
#: run: benchmarks/bench_default_run.py, recorded in benchmarks/RESULTS.md
DEFAULT_PAIRS = 200
DEVICES = ("cpu", "cuda")


def split_names(text) -> list[str]:
    """``"a, b,a"`` (or a sequence) -> ``["a", "b"]``: stripped, empty and repeated names
    dropped, order kept."""
    items = str(text).split(",") if isinstance(text, str) else [str(t) for t in text]
    return list(dict.fromkeys(t.strip() for t in items if t.strip()))


@dataclass
class BenchConfig:
    """One benchmark run (what ``xssab-bench`` builds from its options).

    ``models``/``methods``: names (or ONNX paths) as a sequence or a comma-separated
    string. ``pairs``: size of the balanced subset (0 = every pair). ``batch_size``: pairs
    per explanation chunk; an embedding batch holds ``4 * batch_size`` images.
    ``cache``: ``True`` = the stage cache under ``xssab_home()/bench``, ``False`` = none,
    or a folder. ``out``/``force``: where ``write_outputs`` writes and whether it may
    overwrite (checked by :meth:`validate`, before any work). ``align``: detect and align
    the dataset's images (lfw, folder; docs/alignment.md).
    """

    models: tuple[str, ...] = DEFAULT_MODELS
    methods: tuple[str, ...] = DEFAULT_METHODS
    dataset: str = DEFAULT_DATASET
    data: str | None = None
    pairs: int = DEFAULT_PAIRS
    seed: int = 0
    device: str = "cpu"
    ort_device: str | None = None
    batch_size: int = 64
    cache: bool | str | Path = True
    out: str | Path | None = None
    force: bool = False
    align: bool = False
    #: where units of work run: "local" (this process) or "ray" (``workers`` actors per
    #: model; ``address`` None = a local Ray instance, "auto", or "ray://host:port")
    executor: str = "local"
    address: str | None = None
    workers: int | None = None
    #: intervals (xssab/metrics/intervals.py): level, resamples, "percentile" or "BCa"
    ci: float = 0.95
    bootstrap: int = 1000
    ci_method: str = "percentile"
    #: per-method caps on the pairs (0 = all); None = eval.subsets.DEFAULT_METHOD_PAIRS
    method_pairs: dict | None = None
    #: seconds of explanation per method and model; sizes the subsets from a timed probe
    budget: float | None = None
    #: display-and-ranking smoothing of every method's map (Gaussian, sigma in pixels;
    #: 0 = off) before DPR ranking, localisation, the extra metrics and the figures
    smooth_sigma: float = 0.0
    #: opt-in extra metrics (xssab/eval/faithfulness.py) on a balanced subset of each
    #: method's pairs: deletion/insertion curves (fill blur|mean|black) and the
    #: model-randomisation sanity check
    deletion: bool = False
    deletion_fill: str = "blur"
    randomization: bool = False
    faithfulness_pairs: int = 100

    def __post_init__(self):
        self.models = tuple(split_names(self.models))
        self.methods = tuple(split_names(self.methods))

    @property
    def emb_batch(self) -> int:
        """Images per embedding batch."""
        return max(1, int(self.batch_size) * 4)

    def validate(self) -> "BenchConfig":
        """Raise a one-line :class:`XssabError` for a bad value; returns ``self``."""
        for name in ("pairs", "batch_size", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise XssabError(f"{name}: expected an integer, got {v!r}")
        if self.seed < 0:
            raise XssabError(f"--seed {self.seed}: expected 0 or a positive integer")
        if self.pairs < 0:
            raise XssabError(f"--pairs {self.pairs}: expected 0 (all) or a positive number")
        if self.batch_size < 1:
            raise XssabError(f"--batch-size {self.batch_size}: expected a positive number")
        if not self.models:
            raise XssabError("--models is empty; name at least one model")
        if not self.methods:
            raise XssabError("--methods is empty; name at least one method")
        if self.device not in DEVICES:
            raise XssabError(f"--device {self.device!r}: expected one of {', '.join(DEVICES)}")
        if self.ort_device is not None and self.ort_device not in DEVICES:
            raise XssabError(f"--ort-device {self.ort_device!r}: expected one of "
                             f"{', '.join(DEVICES)}")
        if self.executor not in ("local", "ray"):
            raise XssabError(f"--executor {self.executor!r}: expected local or ray")
        if self.workers is not None and (isinstance(self.workers, bool) or
                                         not isinstance(self.workers, int) or
                                         self.workers < 1):
            raise XssabError(f"--workers {self.workers!r}: expected a positive number")
        if self.executor == "local" and (self.address or self.workers):
            raise XssabError("--address and --workers need --executor ray")
        if not self.dataset:
            raise XssabError("--dataset is empty; name a registered dataset")
        from ..metrics.intervals import Bootstrap

        Bootstrap(n_pairs=1, n_resamples=self.bootstrap, level=self.ci,
                  method=self.ci_method)  # one-line errors for bad values
        for name, k in (self.method_pairs or {}).items():
            if isinstance(k, bool) or not isinstance(k, int) or k < 0 or k == 1:
                raise XssabError(f"--method-pairs {name}={k!r}: expected 0 (all pairs) or "
                                 "a whole number of at least 2")
        from ..metrics.faithfulness import FILLS

        try:
            sigma = float(self.smooth_sigma)
        except (TypeError, ValueError):
            sigma = float("nan")
        if not sigma >= 0:
            raise XssabError(f"--smooth {self.smooth_sigma!r}: expected a sigma in pixels "
                             ">= 0 (0 = off)")
        if self.deletion_fill not in FILLS:
            raise XssabError(f"--deletion-fill {self.deletion_fill!r}: expected one of "
                             f"{', '.join(FILLS)}")
        k = self.faithfulness_pairs
        if isinstance(k, bool) or not isinstance(k, int) or k < 0 or k == 1:
            raise XssabError(f"--faithfulness-pairs {k!r}: expected 0 (all pairs) or a "
                             "whole number of at least 2")
        if self.budget is not None and not (float(self.budget) > 0):
            raise XssabError(f"--budget {self.budget}: expected a positive number of "
                             "seconds")
        return self

    def pair_caps(self) -> dict[str, int]:
        """Per-method caps on the pairs (``method_pairs`` or the default)."""
        from .subsets import DEFAULT_METHOD_PAIRS

        caps = dict(DEFAULT_METHOD_PAIRS)
        caps.update(self.method_pairs or {})
        return caps

    def cache_root(self) -> Path | None:
        if self.cache is False or self.cache is None:
            return None
        if self.cache is True:
            from ..models.cache import xssab_home

            return Path(xssab_home()) / "bench"
        return Path(self.cache)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["models"], d["methods"] = list(self.models), list(self.methods)
        for k in ("cache", "out", "data"):
            if isinstance(d[k], Path):
                d[k] = str(d[k])
        return d

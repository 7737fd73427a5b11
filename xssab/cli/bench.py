"""``xssab-bench`` / ``xssab bench``: the patched benchmark from the command line.

A thin shell: options -> :class:`xssab.eval.BenchConfig` -> :func:`xssab.eval.run_bench`
-> tables (and files with ``--out``). Protocol: docs/benchmark.md; stages and cache:
``xssab/eval/``.
"""

from __future__ import annotations

import argparse
import sys
import time

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from ..eval.config import DEFAULT_DATASET, DEFAULT_METHODS, DEFAULT_MODELS, DEFAULT_PAIRS

DESCRIPTION = ("Patched benchmark: decision-based replacement and localisation of "
               "explanation methods across face-recognition models.")


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help="comma-separated model names or ONNX paths (default: %(default)s)")
    p.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                   help="comma-separated explanation methods (default: %(default)s)")
    p.add_argument("--dataset", default=DEFAULT_DATASET,
                   help="registered dataset: synth, lfw, bin, folder (default: %(default)s)")
    p.add_argument("--data", default=None, help="dataset path (lfw/bin/folder)")
    p.add_argument("--align", action="store_true",
                   help="detect and align the dataset's images (lfw, folder; cached)")
    p.add_argument("--pairs", type=int, default=DEFAULT_PAIRS,
                   help="number of pairs (balanced genuine/impostor subset; 0 = all; "
                        "default %(default)s)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--ort-device", choices=("cpu", "cuda"), default=None,
                   help="where ONNX Runtime runs, if not on --device (e.g. --device cuda "
                   "--ort-device cpu without onnxruntime-gpu)")
    p.add_argument("--out", default=None, help="folder for results.json, CSVs and figures "
                   "(default: a new timestamped folder under XSSAB_HOME/runs/, printed)")
    p.add_argument("--no-out", action="store_true", help="write no files (tables only)")
    p.add_argument("--format", default="png", choices=("png", "pdf", "svg"),
                   help="figure format (default %(default)s)")
    p.add_argument("--ci", type=float, default=0.95, help="confidence level of the "
                   "intervals (default %(default)s)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples "
                   "(pair level; default %(default)s)")
    p.add_argument("--ci-method", default="percentile", choices=("percentile", "BCa"),
                   help="bootstrap interval (default %(default)s)")
    p.add_argument("--method-pairs", default=None, metavar="M=N,...",
                   help="pairs per method, a balanced subset of the run's pairs (0 = all); "
                        "default: xface=12,fggb=40,corrrise=40")
    p.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                   help="size each method's subset from a timed probe so that its "
                        "explanations take about SECONDS per model (printed; repeat the "
                        "run exactly with --method-pairs)")
    p.add_argument("--smooth", type=float, default=0.0, metavar="SIGMA",
                   help="Gaussian smoothing of every method's map before ranking, "
                        "localisation and figures (sigma in pixels; default 0 = off)")
    p.add_argument("--deletion", action="store_true",
                   help="also measure deletion (MoRF, LeRF) and insertion curves on the "
                        "unpatched pairs (opt-in: 33 embeddings per pair)")
    p.add_argument("--deletion-fill", default="blur", choices=("blur", "mean", "black"),
                   help="what deleted pixels become / insertion starts from (default blur)")
    p.add_argument("--randomization", action="store_true",
                   help="also run the model-randomisation sanity check (maps of a "
                        "weight-randomised copy; per-pair Spearman rho; opt-in)")
    p.add_argument("--faithfulness-pairs", type=int, default=100, metavar="N",
                   help="pairs per method for --deletion/--randomization (a balanced "
                        "subset; 0 = all; default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed of random replacement and "
                   "random methods (default %(default)s)")
    p.add_argument("--force", action="store_true", help="overwrite results in --out")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the "
                   "stage cache")
    p.add_argument("--batch-size", type=int, default=64,
                   help="pairs per explanation batch; images per embedding batch is 4x "
                        "(default %(default)s)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where units of work run: this process (local) or Ray actors "
                   "(ray; extra [ray]); same results either way")
    p.add_argument("--address", default=None,
                   help="Ray cluster for --executor ray: auto or ray://host:port "
                   "(default: start a local Ray instance)")
    p.add_argument("--workers", type=int, default=None,
                   help="Ray actors per model for --executor ray (default 2)")
    return p


def build_parser() -> argparse.ArgumentParser:
    from .main import _Parser

    return add_arguments(_Parser(prog="xssab-bench", description=DESCRIPTION))


def add_parser(sub):
    """``xssab bench``: the same options."""
    return add_arguments(sub.add_parser("bench", help="run the patched benchmark",
                                        description=DESCRIPTION))


def config_from_args(args):
    from ..eval import BenchConfig

    return BenchConfig(models=args.models, methods=args.methods, dataset=args.dataset,
                       data=args.data, pairs=args.pairs, seed=args.seed, device=args.device,
                       ort_device=args.ort_device, batch_size=args.batch_size,
                       cache=not args.no_cache, out=args.out, force=args.force,
                       align=args.align, executor=args.executor, address=args.address,
                       workers=args.workers,
                       ci=args.ci, bootstrap=args.bootstrap, ci_method=args.ci_method,
                       method_pairs=parse_method_pairs(args.method_pairs),
                       budget=args.budget, smooth_sigma=args.smooth,
                       deletion=args.deletion, deletion_fill=args.deletion_fill,
                       randomization=args.randomization,
                       faithfulness_pairs=args.faithfulness_pairs)


def parse_method_pairs(text) -> dict[str, int] | None:
    """``"xface=16,fggb=0"`` -> ``{"xface": 16, "fggb": 0}`` (one-line error if bad)."""
    from ..errors import XssabError

    if text is None:
        return None
    out = {}
    for item in str(text).split(","):
        if not item.strip():
            continue
        name, sep, num = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = int(num)
        except ValueError:
            raise XssabError(f"--method-pairs {item.strip()!r}: expected METHOD=N, e.g. "
                             "xface=16 (0 = every pair)") from None
    return out


def default_out_dir():
    """A new folder ``XSSAB_HOME/runs/<UTC date-time>`` (suffixed if taken)."""
    from datetime import datetime, timezone
    from pathlib import Path

    from ..models.cache import xssab_home

    root = Path(xssab_home()) / "runs"
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out, k = root / stamp, 2
    while out.exists():
        out, k = root / f"{stamp}-{k}", k + 1
    return out


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description:<44}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                    transient=False)


def run(args, console: Console) -> int:
    from ..eval import run_bench, write_outputs
    from ..report.tables import print_report

    t0 = time.perf_counter()
    config = config_from_args(args)
    if config.out is None and not args.no_out:
        config.out = default_out_dir()

    def note(msg: str) -> None:
        console.print(f"[yellow]note:[/] {msg}", highlight=False)

    import contextlib

    from ..safe_output import folder_lock

    # the --out folder is locked from the first check to the last file: two runs into one
    # folder cannot interleave their figures and results.json
    with folder_lock(config.out) if config.out else contextlib.nullcontext():
        with _progress(console) as progress:
            result = run_bench(config, progress=progress, log=note)
        print_report(result.to_dict(), console)
        if config.out:
            paths = write_outputs(result, fmt=args.format)
            console.print(f"wrote {len(paths)} files to {config.out} (re-render: xssab "
                          f"report {config.out}/results.json)", highlight=False)
    ex = result.executor
    if ex.get("executor") != "local":
        console.print(f"executor {ex['executor']} ({ex.get('workers')} workers per model, "
                      f"{ex.get('address', 'local')})", highlight=False)
    console.print(f"done in {time.perf_counter() - t0:.1f} s ({len(result.stages_computed)} "
                  f"stages computed, {len(result.stages_reused)} reused from the cache)",
                  highlight=False)
    return 0


def main(argv: list[str] | None = None, console: Console | None = None) -> int:
    from .main import run_cli

    return run_cli(build_parser(), argv, console or Console(), run=run)


def entry() -> None:  # pragma: no cover - console script wrapper
    sys.exit(main())

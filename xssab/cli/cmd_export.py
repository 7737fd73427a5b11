"""``xssab explain --dataset NAME [--data PATH] --out MAPS``: maps for every pair of a
dataset into a map store (:mod:`xssab.report.mapstore`), resumable.

``cmd_explain`` adds these options (:func:`add_arguments`) and hands over to :func:`run`
when ``--dataset`` is given.
"""

from __future__ import annotations

import os
import time

from ..errors import XssabError

DEFAULT_MODEL = "synth-arcface"
DEFAULT_CHUNK = 16


def add_arguments(p) -> None:
    g = p.add_argument_group("dataset export (--dataset: maps for every pair into --out MAPS)")
    g.add_argument("--dataset", default=None,
                   help="registered dataset (synth, lfw, bin, folder): export the maps of "
                   "every pair (both images) to the map store --out (a zarr folder)")
    g.add_argument("--data", default=None, help="dataset path (lfw/bin/folder)")
    g.add_argument("--pairs", type=int, default=0,
                   help="balanced subset of N pairs (default 0 = all)")
    g.add_argument("--dtype", choices=("float16", "float32"), default="float16",
                   help="stored map precision (default float16; its measured error is "
                   "recorded in the store)")
    g.add_argument("--chunk-pairs", type=int, default=DEFAULT_CHUNK,
                   help="pairs per chunk = per unit of work (default %(default)s)")
    g.add_argument("--force", action="store_true",
                   help="replace a map store made with other settings")
    g.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="run units in this process (local) or on Ray actors (ray)")
    g.add_argument("--address", default=None,
                   help="Ray cluster: auto or ray://host:port (default: start a local one)")
    g.add_argument("--workers", type=int, default=None,
                   help="Ray actors per model (default 2)")
    g.add_argument("--ort-device", choices=("cpu", "cuda"), default=None,
                   help="where ONNX Runtime runs, if not on --device")


def run(args, console) -> int:
    if args.image_a is not None or args.image_b is not None:
        raise XssabError("--dataset exports a whole dataset; give no image files with it")
    if args.out is None:
        raise XssabError("--dataset needs --out MAPS (the map store folder)")
    if args.pairs < 0:
        raise XssabError(f"--pairs {args.pairs}: expected 0 (all) or a positive number")
    from ..safe_output import folder_lock

    # --out is checked writable and locked before any work (as the bench's --out): a
    # read-only place fails now, and a second export into the same store stops at once
    with folder_lock(args.out):
        return _run(args, console)


def _run(args, console) -> int:
    import xssab
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    from .._util import sha256_file
    from ..eval.data import open_dataset
    from ..eval.executor import ModelSpec, make_executor
    from ..eval.export import export_maps
    from ..eval.pairs import balanced_subset
    from ..explain.api import resolve_threshold
    from ..registry import get_explainer
    from .cmd_explain import parse_options

    meth = get_explainer(args.method)
    raw = parse_options(args.option)
    try:
        options = meth.Options(**raw)
    except TypeError as exc:
        raise XssabError(f"bad option for method {args.method!r}: {exc}") from None
    overrides = {"channel_order": args.channel_order, "input_size": args.input_size,
                 "feature_output": args.feature_output}
    overrides = tuple(sorted((k, v) for k, v in overrides.items() if v is not None))
    source = args.model or DEFAULT_MODEL
    model = xssab.load_model(source, device=args.device, ort_device=args.ort_device,
                             **dict(overrides))
    spec = ModelSpec.of(model)  # workers load the same card (overrides applied)
    why = meth.supports(model)
    if why:
        raise XssabError(f"method {args.method!r} cannot explain model {model.name!r}: {why}")
    threshold = resolve_threshold(model, args.threshold)
    t_source = "given" if args.threshold is not None else (
        getattr(model, "threshold_source", None) or "model")
    ds = open_dataset(args.dataset, args.data, min_pairs=args.pairs)
    pairs = balanced_subset(list(ds.pairs()), args.pairs)
    settings = {"model": model.name, "model_sha256": sha256_file(model.path),
                "model_overrides": [list(kv) for kv in overrides],
                "dataset": args.dataset,
                "data": os.path.abspath(os.path.expanduser(args.data)) if args.data else None,
                "threshold_source": t_source, "device": args.device,
                "xssab_version": xssab.__version__}
    executor = make_executor(args.executor, workers=args.workers, address=args.address)
    t0 = time.perf_counter()
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                      TimeRemainingColumn(), console=console) as progress:
            task = progress.add_task(f"{model.name}/{args.method} maps", total=len(pairs),
                                     rate="")
            first: list = []

            def on_progress(done, total):
                now = time.perf_counter()
                if not first:
                    first.append((done, now))
                d0, t_0 = first[0]
                rate = (done - d0) / (now - t_0) if now > t_0 and done > d0 else 0.0
                progress.update(task, completed=done, total=total,
                                rate=f"{rate:.2f} pairs/s" if rate else "")

            summary = export_maps(dataset=ds, pairs=pairs, settings=settings, model=model,
                                  spec=spec, method=args.method, options=options,
                                  threshold=threshold, out=args.out, executor=executor,
                                  chunk_pairs=args.chunk_pairs, dtype=args.dtype,
                                  force=args.force, on_progress=on_progress)
    finally:
        executor.close()
    n = summary["session_pairs"]
    rate = summary["session_pairs_per_second"]
    console.print(f"maps       {summary['path']} ({len(pairs)} pairs, both images, "
                  f"{args.dtype})", highlight=False)
    console.print(f"threshold  {threshold:.4f} ({t_source})", highlight=False)
    if n:
        console.print(f"computed   {n} pairs in {summary['session_seconds']:.1f} s "
                      f"({rate:.2f} pairs/s, executor {summary['session_executor']}, "
                      f"{summary['session_workers']} worker(s))", highlight=False)
    else:
        console.print("computed   nothing: every chunk was already in the store",
                      highlight=False)
    if summary.get("repaired_chunks"):
        console.print(f"repaired   {len(summary['repaired_chunks'])} damaged chunk(s) "
                      f"recomputed: {summary['repaired_chunks']}", highlight=False)
    if args.dtype == "float16":
        console.print(f"float16    max abs error {summary['storage_max_abs_error']:.3g} "
                      f"({summary['storage_max_rel_error']:.3g} of the largest |value|)",
                      highlight=False)
    console.print(f"done in {time.perf_counter() - t0:.1f} s", highlight=False)
    return 0

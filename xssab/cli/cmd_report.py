"""``xssab report RESULTS.json``: tables and figures of a benchmark run from its
results.json alone (no model, no data, no cache).

Prints the tables ``xssab-bench`` printed and writes the DPR curve figures (with their
bands) next to the file, or into ``--out``. ``--recompute`` recomputes every interval
and comparison from the per-pair values stored in the file (``--bootstrap``, ``--ci``,
``--ci-method``, ``--seed`` as in ``xssab-bench``); the point values are the file's.
Map grids need the images and maps, which results.json does not hold; they are not
re-rendered.
"""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub):
    p = sub.add_parser("report", help="re-render tables and figures from a results.json",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("results", help="a results.json written by xssab-bench")
    p.add_argument("--out", default=None, help="folder for the figures (default: the "
                   "results file's folder)")
    p.add_argument("--format", default="png", choices=("png", "pdf", "svg"))
    p.add_argument("--no-figures", action="store_true", help="print the tables only")
    p.add_argument("--recompute", action="store_true", help="recompute intervals and "
                   "comparisons from the per-pair values in the file")
    p.add_argument("--bootstrap", type=int, default=None, help="resamples (--recompute; "
                   "default: the file's)")
    p.add_argument("--ci", type=float, default=None, help="level (--recompute; default: "
                   "the file's)")
    p.add_argument("--ci-method", default=None, choices=("percentile", "BCa"))
    p.add_argument("--seed", type=int, default=None)
    return p


def load_results(path) -> dict:
    """Read and check a results.json (one-line XssabError when it is not one)."""
    from ..errors import XssabError
    from ..report.results import validate_results

    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        res = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise XssabError(f"{path}: no such file; pass the results.json of an xssab-bench "
                         "run") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise XssabError(f"{path}: not a readable JSON file ({type(exc).__name__})"
                         ) from None
    problems = validate_results(res)
    if problems:
        raise XssabError(f"{path}: not an xssab-bench results file ({problems[0]})")
    return res


def recompute(res: dict, n_resamples=None, level=None, method=None, seed=None) -> dict:
    """Intervals and comparisons recomputed from the file's per-pair values."""
    from ..errors import XssabError
    from ..eval.stats import annotate, per_pair_arrays_from_dict

    arrays = per_pair_arrays_from_dict(res)
    if not arrays:
        raise XssabError("the results file holds no per-pair values (written by an older "
                         "xssab-bench); rerun the benchmark to recompute intervals")
    iv = res.get("intervals") or {}
    return annotate(res, arrays, n_resamples=n_resamples or iv.get("resamples", 1000),
                    level=level or iv.get("level", 0.95),
                    method=method or iv.get("method", "percentile"),
                    seed=iv.get("seed", res.get("seed", 0)) if seed is None else seed,
                    per_pair=True)


def run(args, console) -> int:
    from ..report.tables import print_report

    res = load_results(args.results)
    if args.recompute:
        recompute(res, args.bootstrap, args.ci, args.ci_method, args.seed)
    print_report(res, console)
    if not args.no_figures:
        from ..report.figures import plot_curves

        src = Path(args.results)
        out = Path(args.out) if args.out else (src if src.is_dir() else src.parent)
        paths = []
        for mname, mres in res["models"].items():
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in mname)
            paths.append(plot_curves(mname, mres, out / f"curves_{safe}.{args.format}"))
        console.print(f"wrote {len(paths)} figures to {out}", highlight=False)
    return 0

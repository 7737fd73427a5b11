"""results.json and CSV files of a benchmark run: schema check, atomic writes, no silent
overwrite.

The minimum schema is the public contract (docs/benchmark.md, "results.json") (``dataset``, ``pairs``,
``models.M.threshold/eer/methods.X.ms_per_pair/dpr/localization_auroc[_control]``);
the bench adds fields next to it (areas, gaps, unpatched/patched error rates, protocol
facts), which the contract allows.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

from .._util import atomic_write_bytes, atomic_write_text  # noqa: F401 (used by callers)
from ..errors import XssabError
from ..metrics.dpr import STRATEGIES

RESULTS_NAME = "results.json"
CURVES_CSV = "results.csv"
SUMMARY_CSV = "summary.csv"


class OutputExistsError(XssabError):
    """--out already holds a results.json and --force was not given."""


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, numpy scalars/arrays -> Python values."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        return _clean(obj.tolist())
    if isinstance(obj, bool) or obj is None or isinstance(obj, (str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


def to_json(results: dict) -> str:
    return json.dumps(_clean(results), indent=2, allow_nan=False) + "\n"


def check_out_dir(out: str | os.PathLike | None, force: bool) -> None:
    """Refuse (before any work) to overwrite an existing results.json without --force."""
    if out is None:
        return
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"--out {out} is a file, not a folder; choose a folder")
    if (out / RESULTS_NAME).exists() and not force:
        raise OutputExistsError(f"{out / RESULTS_NAME} already exists; pass --force to "
                                "overwrite it or choose another --out folder")
    from ..safe_output import check_writable_dir

    check_writable_dir(out)  # a read-only folder or a full disk: now, not after the run


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def validate_results(res: Any) -> list[str]:
    """Problems with ``res`` against the public minimum schema (docs/benchmark.md) ([] = valid)."""
    errs: list[str] = []
    if not isinstance(res, dict):
        return ["results is not an object"]
    if not isinstance(res.get("dataset"), str):
        errs.append("dataset: expected a string")
    if not (isinstance(res.get("pairs"), int) and not isinstance(res.get("pairs"), bool)):
        errs.append("pairs: expected an integer")
    models = res.get("models")
    if not isinstance(models, dict):
        return errs + ["models: expected an object"]
    for mname, m in models.items():
        where = f"models.{mname}"
        if not isinstance(m, dict):
            errs.append(f"{where}: expected an object")
            continue
        for k in ("threshold", "eer"):
            if not _is_num(m.get(k)):
                errs.append(f"{where}.{k}: expected a number")
        methods = m.get("methods")
        if not isinstance(methods, dict):
            errs.append(f"{where}.methods: expected an object")
            continue
        for xname, x in methods.items():
            w = f"{where}.methods.{xname}"
            if not isinstance(x, dict):
                errs.append(f"{w}: expected an object")
                continue
            if not _is_num(x.get("ms_per_pair")):
                errs.append(f"{w}.ms_per_pair: expected a number")
            for k in ("localization_auroc", "localization_auroc_control"):
                if k not in x or not (x[k] is None or _is_num(x[k])):
                    errs.append(f"{w}.{k}: expected a number or null")
            dpr = x.get("dpr")
            if not isinstance(dpr, dict):
                errs.append(f"{w}.dpr: expected an object")
                continue
            for strat in STRATEGIES:
                c = dpr.get(strat)
                if not isinstance(c, dict):
                    errs.append(f"{w}.dpr.{strat}: missing")
                    continue
                pct = c.get("percent")
                if pct != list(range(5, 100, 5)):
                    errs.append(f"{w}.dpr.{strat}.percent: expected [5, 10, ..., 95]")
                for k in ("fmr", "fnmr"):
                    v = c.get(k)
                    if not (isinstance(v, list) and isinstance(pct, list)
                            and len(v) == len(pct)
                            and all(e is None or _is_num(e) for e in v)):
                        errs.append(f"{w}.dpr.{strat}.{k}: expected one number per percent")
    return errs


def curves_csv(res: dict) -> str:
    """Long format: model, method, strategy, percent, fmr, fnmr."""
    buf = io.StringIO()
    wr = csv.writer(buf, lineterminator="\n")
    wr.writerow(["model", "method", "strategy", "percent", "fmr", "fnmr"])
    for mname, m in res["models"].items():
        for xname, x in m["methods"].items():
            for strat in STRATEGIES:
                c = x["dpr"][strat]
                for p, a, b in zip(c["percent"], c["fmr"], c["fnmr"]):
                    wr.writerow([mname, xname, strat, p, _fmt(a), _fmt(b)])
    return buf.getvalue()


SUMMARY_FIELDS = ("ms_per_pair", "area_fmr_best_worst", "area_fmr_random", "gap_fmr",
                  "area_fnmr_best_worst", "area_fnmr_random", "gap_fnmr",
                  "localization_auroc", "localization_auroc_control",
                  "localization_difference")


def summary_csv(res: dict) -> str:
    """One row per model x method with the one-number summaries."""
    buf = io.StringIO()
    wr = csv.writer(buf, lineterminator="\n")
    wr.writerow(["model", "threshold", "eer", "method", *SUMMARY_FIELDS])
    for mname, m in res["models"].items():
        for xname, x in m["methods"].items():
            wr.writerow([mname, _fmt(m["threshold"]), _fmt(m["eer"]), xname,
                         *[_fmt(x.get(k)) for k in SUMMARY_FIELDS]])
    return buf.getvalue()


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    return repr(float(v)) if isinstance(v, float) else str(v)


def write_results(out: str | os.PathLike, res: dict, force: bool = False) -> list[Path]:
    """Write results.json, results.csv and summary.csv atomically into ``out``."""
    out = Path(out)
    check_out_dir(out, force)
    problems = validate_results(_clean(res))
    if problems:  # a bug, not a user error
        raise ValueError("results do not follow the schema: " + "; ".join(problems[:5]))
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / CURVES_CSV, out / SUMMARY_CSV, out / RESULTS_NAME]
    atomic_write_text(paths[0], curves_csv(res))
    atomic_write_text(paths[1], summary_csv(res))
    atomic_write_text(paths[2], to_json(res))  # last: its presence marks a finished run
    return paths

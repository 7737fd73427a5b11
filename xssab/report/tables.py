"""Rich tables of a benchmark run (built from the results dict)."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table


def _f(v, digits: int = 3, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _gap(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    colour = "green" if v > 0 else ("red" if v < 0 else "")
    s = f"{v:+.3f}"
    return f"[{colour}]{s}[/]" if colour else s


def models_table(res: dict) -> Table:
    t = Table(title=f"Verification on {res['dataset']} ({res['pairs']} pairs): unpatched "
                    "vs patched, at the unpatched EER threshold", title_justify="left")
    for col in ("model", "threshold", "EER", "FMR", "FNMR", "patched FMR", "patched FNMR"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for name, m in res["models"].items():
        u, p = m.get("unpatched", {}), m.get("patched", {})
        t.add_row(name, _f(m["threshold"]), _f(m["eer"]), _f(u.get("fmr")),
                  _f(u.get("fnmr")), _f(p.get("fmr")), _f(p.get("fnmr")))
    return t


def methods_table(res: dict) -> Table:
    t = Table(title="Decision-based replacement (areas over 5-95 %, lower is better; gap = "
                    "random - best_worst, higher is better) and localisation AUROC",
              title_justify="left")
    cols = ["model", "method", "FMR area", "FMR random", "FMR gap", "FNMR area",
            "FNMR random", "FNMR gap", "loc. AUROC", "control", "loc. diff", "ms/pair"]
    for c in cols:
        t.add_column(c, justify="left" if c in ("model", "method") else "right")
    for name, m in res["models"].items():
        first = True
        for xname, x in m["methods"].items():
            t.add_row(name if first else "", xname,
                      _f(x.get("area_fmr_best_worst")), _f(x.get("area_fmr_random")),
                      _gap(x.get("gap_fmr")),
                      _f(x.get("area_fnmr_best_worst")), _f(x.get("area_fnmr_random")),
                      _gap(x.get("gap_fnmr")),
                      _f(x.get("localization_auroc")), _f(x.get("localization_auroc_control")),
                      _f(x.get("localization_difference"), signed=True),
                      _f(x.get("ms_per_pair"), digits=1))
            first = False
        if name != list(res["models"])[-1]:
            t.add_section()
    return t


def print_report(res: dict, console: Console) -> None:
    console.print(models_table(res))
    console.print(methods_table(res))
    skipped = [(m, x, why) for m, mr in res["models"].items()
               for x, why in (mr.get("skipped_methods") or {}).items()]
    for m, x, why in skipped:
        console.print(f"[yellow]note:[/] {x} skipped on {m}: {why}", highlight=False)

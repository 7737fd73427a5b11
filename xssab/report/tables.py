"""Rich tables of a benchmark run (built from the results dict)."""

from __future__ import annotations

import math

from rich.console import Console
from rich import box
from rich.table import Table


def _f(v, digits: int = 3, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _ms(v) -> str:
    if v is None:
        return "-"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def _gap(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    colour = "green" if v > 0 else ("red" if v < 0 else "")
    s = f"{v:+.3f}"
    return f"[{colour}]{s}[/]" if colour else s


LEGEND = ("[dim]area: under the FMR/FNMR curve over 5-95 % replaced pixels, best_worst "
          "strategy (lower is better); random: the same for random replacement; gap = "
          "random - area (higher is better); loc. AUROC: the map of the patched image as a "
          "detector of the patch mask; ctrl: the unpatched image's map against the same "
          "mask; diff = AUROC - ctrl; ms/pair: explanation time.[/]")


def models_table(res: dict) -> Table:
    t = Table(title=f"Verification on {res['dataset']} ({res['pairs']} pairs): unpatched "
                    "vs patched, at the EER threshold of the unpatched dataset",
              title_justify="left")
    for col in ("model", "threshold", "EER", "FMR", "FNMR", "patched\nFMR", "patched\nFNMR"):
        t.add_column(col, justify="left" if col == "model" else "right", no_wrap=True)
    for name, m in res["models"].items():
        u, p = m.get("unpatched", {}), m.get("patched", {})
        t.add_row(name, _f(m["threshold"]), _f(m["eer"]), _f(u.get("fmr")),
                  _f(u.get("fnmr")), _f(p.get("fmr")), _f(p.get("fnmr")))
    return t


def methods_table(res: dict, model: str) -> Table:
    """One model: a row per method. Areas under FMR/FNMR over 5-95 % replaced (lower is
    better) for best_worst and random; gap = random - best_worst (higher is better);
    localisation AUROC on the patched map, its control (unpatched map), difference."""
    m = res["models"][model]
    t = Table(title=f"{model}: decision-based replacement and localisation",
              title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0))
    t.add_column("method", justify="left", no_wrap=True, min_width=6)
    for c in ("FMR\narea", "FMR\nrandom", "FMR\ngap", "FNMR\narea", "FNMR\nrandom",
              "FNMR\ngap", "loc.\nAUROC", "loc.\nctrl", "loc.\ndiff", "ms/\npair"):
        t.add_column(c, justify="right", no_wrap=True, min_width=6)
    for xname, x in m["methods"].items():
        t.add_row(xname,
                  _f(x.get("area_fmr_best_worst")), _f(x.get("area_fmr_random")),
                  _gap(x.get("gap_fmr")),
                  _f(x.get("area_fnmr_best_worst")), _f(x.get("area_fnmr_random")),
                  _gap(x.get("gap_fnmr")),
                  _f(x.get("localization_auroc")), _f(x.get("localization_auroc_control")),
                  _f(x.get("localization_difference"), signed=True),
                  _ms(x.get("ms_per_pair")))
    return t


def print_report(res: dict, console: Console) -> None:
    console.print(models_table(res))
    for name in res["models"]:
        console.print(methods_table(res, name))
    console.print(LEGEND, highlight=False)
    skipped = [(m, x, why) for m, mr in res["models"].items()
               for x, why in (mr.get("skipped_methods") or {}).items()]
    for m, x, why in skipped:
        console.print(f"[yellow]note:[/] {x} skipped on {m}: {why}", highlight=False)

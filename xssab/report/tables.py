"""Rich tables of a benchmark run (built from the results dict alone).

Every statistic is printed as its value with its bootstrap interval underneath
(``[lo, hi]``, the level in the title) when the results carry intervals (``x_ci``);
the pair counts each number rests on are in the table. Timings read back from the stage
cache are marked ``(cached)``. The threshold is printed with its source.
"""

from __future__ import annotations

import math

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _ok(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _f(v, digits: int = 3, signed: bool = False) -> str:
    if not _ok(v):
        return "-"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _ms(v, cached: bool = False) -> str:
    if not _ok(v):
        return "-"
    s = f"{v:.0f}" if v >= 100 else f"{v:.1f}"
    return s + ("\n[dim](cached)[/]" if cached else "")


def _ci_text(ci, digits: int = 3) -> str:
    if not ci or len(ci) != 2 or not all(_ok(c) for c in ci):
        return ""
    return escape(f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]")


def _cell(x: dict, key: str, signed: bool = False, colour: bool = False,
          digits: int = 3) -> str:
    v = x.get(key)
    s = _f(v, digits, signed=signed)
    if colour and _ok(v):
        ci = x.get(f"{key}_ci")
        sig = ci and all(_ok(c) for c in ci) and (ci[0] > 0 or ci[1] < 0)
        col = ("green" if v > 0 else "red") if sig else ""
        s = f"[{col}]{s}[/]" if col else s
    ci = _ci_text(x.get(f"{key}_ci"), digits)
    return f"{s}\n[dim]{ci}[/]" if ci else s


def _level(res: dict) -> str:
    iv = res.get("intervals") or {}
    lv = iv.get("level")
    return f"{int(round(100 * lv))}%" if _ok(lv) else ""


LEGEND = ("[dim]area: under the FMR/FNMR curve over 5-95 % replaced pixels, best_worst "
          "strategy (lower is better); random: the same for random replacement; gap = "
          "random - area (higher is better; green/red = the interval excludes 0); loc. "
          "AUROC: the map of the patched image as a detector of the patch mask; ctrl: the "
          "unpatched image's map against the same mask; diff = AUROC - ctrl; [lo, hi]: "
          "pair-level bootstrap interval; pairs: genuine/impostor pairs the row rests on; "
          "ms/pair: explanation time ((cached) = measured by an earlier run).[/]").replace(
    "[lo, hi]", escape("[lo, hi]"))


def models_table(res: dict) -> Table:
    srcs = {(m.get("threshold_source"), m.get("threshold_pairs"))
            for m in res["models"].values()}
    cap = "; ".join(f"threshold: {src}" + (f" ({n} pairs)" if n else "")
                    for src, n in srcs if src)
    lv = _level(res)
    t = Table(title=f"Verification on {res['dataset']} ({res['pairs']} pairs): unpatched "
                    "vs patched" + (f" ({lv} intervals)" if lv else ""),
              caption=cap or None, title_justify="left", caption_justify="left",
              box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    for col in ("model", "t", "EER", "FMR", "FNMR", "patched\nFMR",
                "patched\nFNMR"):
        t.add_column(col, justify="left" if col == "model" else "right", no_wrap=True,
                     min_width=min(18, max(len(n) for n in res["models"]))
                     if col == "model" else 5)
    for name, m in res["models"].items():
        u, p = m.get("unpatched", {}), m.get("patched", {})
        t.add_row(name, _f(m["threshold"]), _f(m["eer"]), _cell(u, "fmr", digits=2),
                  _cell(u, "fnmr", digits=2), _cell(p, "fmr", digits=2),
                  _cell(p, "fnmr", digits=2))
    return t


def methods_table(res: dict, model: str) -> Table:
    """One model: per method, three rows (FMR, FNMR, localisation): the method's value,
    its baseline (random replacement / the unpatched control) and the difference, each
    with its interval."""
    m = res["models"][model]
    lv = _level(res)
    t = Table(title=f"{model}: decision-based replacement and localisation"
                    + (f" ({lv} intervals)" if lv else ""),
              title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    t.add_column("method\n[dim]gen/imp pairs\nms/pair[/]", justify="left", no_wrap=True)
    t.add_column("metric", justify="left", no_wrap=True)
    t.add_column("method's\narea / AUROC", justify="right", no_wrap=True)
    t.add_column("random area\n/ control", justify="right", no_wrap=True)
    t.add_column("gap /\ndifference", justify="right", no_wrap=True)
    for k, (xname, x) in enumerate(m["methods"].items()):
        g, i = x.get("genuine_pairs"), x.get("impostor_pairs")
        pairs = f"{g}/{i}" if g is not None and i is not None else str(x.get("pairs", "-"))
        ms = _ms(x.get("ms_per_pair"))
        if ms != "-":
            ms += " ms" + (" (cached)" if x.get("ms_per_pair_cached") else "")
        head = [xname, f"[dim]{pairs} pairs[/]", f"[dim]{ms}[/]"]
        rows = [("FMR", "area_fmr_best_worst", "area_fmr_random", "gap_fmr"),
                ("FNMR", "area_fnmr_best_worst", "area_fnmr_random", "gap_fnmr"),
                ("loc.", "localization_auroc", "localization_auroc_control",
                 "localization_difference")]
        for r, (lab, a, b, d) in enumerate(rows):
            t.add_row(head[r], lab, _cell(x, a), _cell(x, b),
                      _cell(x, d, signed=True, colour=True),
                      end_section=r == len(rows) - 1 and k < len(m["methods"]) - 1)
    return t


def curve_summaries_table(res: dict, model: str) -> Table | None:
    """One model: summaries that do not hide the curve's shape (gaps over 5-30 % and
    30-95 % replaced pixels, the percentage that halves the false decisions) and the
    opt-in extra metrics (deletion/insertion areas, randomisation rho), with intervals."""
    m = res["models"][model]
    cols = [("FMR gap\n5-30 %", "gap_fmr_5_30", True),
            ("FMR gap\n30-95 %", "gap_fmr_30_95", True),
            ("FNMR gap\n5-30 %", "gap_fnmr_5_30", True),
            ("FNMR gap\n30-95 %", "gap_fnmr_30_95", True),
            ("FMR halved\nat % (rnd)", "halving_fmr_best_worst", False),
            ("FNMR halved\nat % (rnd)", "halving_fnmr_best_worst", False),
            ("deletion\nAUC (low)", "deletion_auc", False),
            ("insertion\nAUC (high)", "insertion_auc", False),
            ("random.\nrho (low)", "randomization_rho", False)]
    present = [c for c in cols if any(c[1] in x for x in m["methods"].values())]
    if not present:
        return None
    t = Table(title=f"{model}: curve summaries and extra metrics", title_justify="left",
              box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    t.add_column("method", justify="left", no_wrap=True)
    for lab, _, _ in present:
        t.add_column(lab, justify="right", no_wrap=True)
    for xname, x in m["methods"].items():
        cells = []
        for _, key, signed in present:
            c = _cell(x, key, signed=signed, colour=signed,
                      digits=1 if key.startswith("halving") else 3)
            if key.startswith("halving_") and _ok(x.get(key.replace("best_worst", "random"))):
                c += f" [dim]({x[key.replace('best_worst', 'random')]:.1f})[/]"
            cells.append(c)
        t.add_row(xname, *cells)
    return t


METRIC_LABEL = {"gap_fmr": "FMR gap", "gap_fnmr": "FNMR gap",
                "localization_difference": "loc. diff"}


def comparisons_table(res: dict, model: str) -> Table | None:
    """Paired differences ``a - b`` (same pairs) per metric; ``*`` = the interval
    excludes 0; the pairs column says how many pairs each comparison rests on."""
    m = res["models"][model]
    comps = m.get("comparisons") or []
    if not comps:
        return None
    metrics = list(dict.fromkeys(c["metric"] for c in comps))
    lv = _level(res)
    t = Table(title=f"{model}: paired differences a - b on the pairs both ran on "
                    f"({lv} intervals, * = excludes 0; {len(comps)} comparisons)",
              title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    t.add_column("a - b", no_wrap=True)
    t.add_column("pairs", justify="right", no_wrap=True)
    for k in metrics:
        t.add_column(METRIC_LABEL.get(k, k), justify="right", no_wrap=True)
    rows: dict = {}
    for c in comps:
        rows.setdefault((c["a"], c["b"]), {})[c["metric"]] = c
    for (a, b), byk in rows.items():
        cells = []
        for k in metrics:
            c = byk.get(k)
            if c is None:
                cells.append("-")
                continue
            star = "*" if c.get("significant") else ""
            cells.append(f"{_f(c.get('difference'), signed=True)}{star}\n"
                         f"[dim]{_ci_text(c.get('difference_ci'))}[/]")
        n = next(iter(byk.values()))["pairs"]
        t.add_row(f"{a} - {b}", str(n), *cells)
    return t


def verdict_line(res: dict, model: str) -> str:
    """One line: per metric, the best method and whether the data supports it."""
    from ..eval.stats import verdicts

    m = res["models"][model]
    parts = []
    for v in verdicts(m):
        lab = METRIC_LABEL.get(v["metric"], v["metric"])
        s = f"{lab}: {v['best']} ({_f(v['value'], signed=True)})"
        if not v["not_separated_from"] and v["beats_significantly"]:
            s += " beats all (supported)"
        elif v["beats_significantly"]:
            s += (f" beats {', '.join(v['beats_significantly'])}; not separated from "
                  f"{', '.join(v['not_separated_from'])}")
        elif v["not_separated_from"]:
            s += " - not significant"
        parts.append(s)
    return f"[bold]{model}[/]: " + "; ".join(parts) if parts else ""


def print_report(res: dict, console: Console) -> None:
    console.print(models_table(res))
    for name in res["models"]:
        console.print(methods_table(res, name))
        ct = comparisons_table(res, name)
        if ct is not None:
            console.print(ct)
        cs = curve_summaries_table(res, name)
        if cs is not None:
            console.print(cs)
    console.print(LEGEND, highlight=False)
    lines = [verdict_line(res, name) for name in res["models"]]
    lines = [ln for ln in lines if ln]
    if lines:
        console.print("[bold]Who wins[/] (best value per metric; \"supported\" = its "
                      "paired intervals against every other method exclude 0):",
                      highlight=False)
        for ln in lines:
            console.print("  " + ln, highlight=False)
    skipped = [(m, x, why) for m, mr in res["models"].items()
               for x, why in (mr.get("skipped_methods") or {}).items()]
    for m, x, why in skipped:
        console.print(f"[yellow]note:[/] {x} skipped on {m}: {why}", highlight=False)
    for note in res.get("notes") or []:
        console.print(f"[dim]note: {note}[/]", highlight=False)

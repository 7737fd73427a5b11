"""Markdown variant tables (docs/investigation.md) from xssab-bench results.json files.

    python benchmarks/variant_table.py RUN/results.json [RUN2/results.json ...]

Per model: one row per method with its pairs (genuine/impostor), the FMR and FNMR gaps
to random replacement over 5-95 %, 5-30 % and 30-95 %, the percentage that halves the
false non-matches, the localisation difference, and (when the run had --deletion /
--randomization) the deletion and insertion areas and the randomisation rho; each value
with its 95 % interval. Then the paired differences against `xssab` (the faithful
method) that the bench computed on shared pairs.
"""

from __future__ import annotations

import json
import sys

COLS = [("FMR gap", "gap_fmr", True), ("FNMR gap", "gap_fnmr", True),
        ("FMR gap 5-30", "gap_fmr_5_30", True), ("FNMR gap 5-30", "gap_fnmr_5_30", True),
        ("FNMR gap 30-95", "gap_fnmr_30_95", True),
        ("FNMR halved at %", "halving_fnmr_best_worst", False),
        ("loc. diff", "localization_difference", True),
        ("deletion AUC", "deletion_auc", False), ("insertion AUC", "insertion_auc", False),
        ("random. rho", "randomization_rho", False)]


def fmt(x: dict, key: str, signed: bool) -> str:
    v = x.get(key)
    if v is None:
        return "-"
    ci = x.get(f"{key}_ci")
    s = f"{v:+.3f}" if signed else (f"{v:.1f}" if key.startswith("halving") else f"{v:.3f}")
    if ci and None not in ci:
        d = 1 if key.startswith("halving") else 3
        s += f" [{ci[0]:.{d}f}, {ci[1]:.{d}f}]"
    return s


def table(res: dict, title: str = "") -> str:
    out = []
    for mn, m in res["models"].items():
        cols = [c for c in COLS if any(c[1] in x for x in m["methods"].values())]
        out.append(f"**{mn}** on `{res['dataset']}` ({res['pairs']} pairs; threshold "
                   f"{m['threshold']:.3f}, EER {m['eer']:.3f}){title}\n")
        out.append("| method | pairs (gen/imp) | " + " | ".join(c[0] for c in cols) + " |")
        out.append("|---|---|" + "---|" * len(cols))
        for xn, x in m["methods"].items():
            pairs = f"{x.get('genuine_pairs', '?')}/{x.get('impostor_pairs', '?')}"
            out.append(f"| {xn} | {pairs} | " +
                       " | ".join(fmt(x, k, s) for _, k, s in cols) + " |")
        comps = [c for c in m.get("comparisons", []) if "xssab" in (c["a"], c["b"])]
        if comps:
            out.append("\nPaired differences against faithful `xssab` (other - xssab, on "
                       "the pairs both ran on; * = interval excludes 0):\n")
            out.append("| method | metric | pairs | difference [95% CI] |")
            out.append("|---|---|---|---|")
            for c in comps:
                other = c["b"] if c["a"] == "xssab" else c["a"]
                sign = -1 if c["a"] == "xssab" else 1
                d, ci = c["difference"], c["difference_ci"]
                lo, hi = sorted((sign * ci[0], sign * ci[1]))
                star = "*" if c.get("significant") else ""
                out.append(f"| {other} | {c['metric']} | {c['pairs']} | "
                           f"{sign * d:+.3f} [{lo:+.3f}, {hi:+.3f}]{star} |")
        out.append("")
    return "\n".join(out)


def main(argv=None):
    for path in (argv if argv is not None else sys.argv[1:]):
        with open(path) as fh:
            print(table(json.load(fh)))


if __name__ == "__main__":
    main()

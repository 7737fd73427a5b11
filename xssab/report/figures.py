"""Benchmark figures (matplotlib, Agg backend), written atomically as PNG, PDF or SVG.

Conventions (the same in every run, so figures of different runs compare):

* one fixed colour per method (:func:`method_colour`): the Okabe-Ito colour-blind-safe
  palette for the known methods, a stable hash of the name for others;
* DPR curves with pointwise bootstrap bands (``fmr_ci`` / ``fnmr_ci`` in the results,
  see :mod:`xssab.metrics.summaries`) and the pair counts in the legend; the legend sits
  below the axes, never on the data;
* maps in a diverging, colour-blind-safe map (:data:`CMAP_MAP`, ``RdBu``: red = the
  pixels the method calls dissimilar, blue = similar), symmetric limits per map, a
  colourbar with the sign spelled out on every map panel; the similarity shown on a row
  is the cosine similarity of the patched pair and is compared with the model threshold
  and its source.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .._util import atomic_write_bytes  # noqa: E402
from ..errors import XssabError  # noqa: E402

FORMATS = ("png", "pdf", "svg")
#: diverging and colour-blind safe; low (red) = dissimilar, high (blue) = similar
CMAP_MAP = "RdBu"
#: Okabe & Ito (2008) colour-blind-safe palette
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
             "#F0E442", "#000000")
METHOD_COLOURS = {"xssab": "#0072B2", "xface": "#D55E00", "xcos": "#009E73",
                  "fggb": "#CC79A7", "corrrise": "#E69F00", "gradcam": "#56B4E9",
                  "gradcampp": "#8C6D31", "random": "#000000"}
RANDOM_COLOUR = "0.55"


def method_colour(name: str) -> str:
    """The colour of a method in every figure of every run."""
    if name in METHOD_COLOURS:
        return METHOD_COLOURS[name]
    h = int(hashlib.sha256(name.encode()).hexdigest(), 16)
    extra = ("#882255", "#44AA99", "#999933", "#AA4499", "#332288", "#117733", "#88CCEE")
    return extra[h % len(extra)]


def check_format(fmt: str) -> str:
    f = str(fmt).lower().lstrip(".")
    if f not in FORMATS:
        raise XssabError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    return f


def _save(fig, path, fmt: str | None = None) -> Path:
    path = Path(path)
    fmt = check_format(fmt or path.suffix.lstrip(".") or "png")
    if path.suffix.lstrip(".").lower() != fmt:
        path = path.with_suffix("." + fmt)
    buf = io.BytesIO()
    meta = None
    if fmt == "svg":
        meta = {"Creator": "xssab", "Date": None}
    elif fmt == "pdf":
        meta = {"Creator": "xssab", "CreationDate": None}
    with plt.rc_context({"svg.hashsalt": "xssab"}):  # reproducible SVG ids
        fig.savefig(buf, format=fmt, dpi=150, bbox_inches="tight", metadata=meta)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _band(c: dict, key: str):
    ci = c.get(f"{key}_ci")
    if not ci:
        return None
    arr = np.array([[np.nan if v is None else v for v in row] for row in ci], dtype=float)
    return arr[:, 0], arr[:, 1]


def _threshold_text(model_res: dict) -> str:
    t = model_res.get("threshold")
    src = model_res.get("threshold_source")
    s = f"threshold {t:.3f}" if isinstance(t, (int, float)) else "threshold ?"
    return f"{s} ({src})" if src else s


def plot_curves(model_name: str, model_res: dict, path, fmt: str | None = None) -> Path:
    """FMR and FNMR against the replaced percentage: a fixed colour per method, solid =
    best_worst with its pointwise band, grey dashed = random replacement (shared by all
    methods when it is one curve) with its band."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.0))
    methods = model_res["methods"]
    randoms = [x["dpr"]["random"] for x in methods.values()]
    shared = len(randoms) > 1 and all(
        r.get("fmr") == randoms[0].get("fmr") and r.get("fnmr") == randoms[0].get("fnmr")
        for r in randoms)
    handles, labels = [], []
    for i, (xname, x) in enumerate(methods.items()):
        col = method_colour(xname)
        n = x.get("pairs")
        for strat in ("best_worst", "random"):
            if strat == "random" and shared and i > 0:
                continue
            c = x["dpr"][strat]
            colour = col if strat == "best_worst" else (RANDOM_COLOUR if shared else col)
            ls = "-" if strat == "best_worst" else "--"
            for ax, key in zip(axes, ("fmr", "fnmr")):
                y = np.array([np.nan if v is None else v for v in c[key]], dtype=float)
                (line,) = ax.plot(c["percent"], y, ls, color=colour, lw=1.6,
                                  marker="o" if strat == "best_worst" else None,
                                  markersize=2.5)
                band = _band(c, key)
                if band is not None:
                    ax.fill_between(c["percent"], band[0], band[1], color=colour,
                                    alpha=0.15 if strat == "best_worst" else 0.10, lw=0)
            if strat == "best_worst":
                lab = xname + (f" (n={n})" if n else "")
            elif shared:
                lab = "random replacement (all methods)"
            else:
                lab = f"{xname}: random replacement"
            handles.append(line)
            labels.append(lab)
    for ax, key in zip(axes, ("FMR of impostor pairs", "FNMR of genuine pairs")):
        ax.set_xlabel("replaced pixels (%)")
        ax.set_ylabel(key)
        ax.set_xlim(0, 100)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    g, i = model_res.get("genuine_pairs"), model_res.get("impostor_pairs")
    counts = f"; {g} genuine / {i} impostor pairs" if g is not None and i is not None else ""
    level = model_res.get("ci_level")
    band = f"; bands: pointwise {int(round(100 * level))}% bootstrap" if level else ""
    fig.suptitle(f"{model_name}: decision-based replacement (lower is better){counts}\n"
                 f"{_threshold_text(model_res)}{band}", fontsize=9)
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=min(4, max(1, len(labels))), fontsize=8, frameon=False)
    fig.tight_layout()
    return _save(fig, path, fmt)


def plot_map_grid(model_name: str, examples: Sequence[dict], methods: Sequence[str], path,
                  fmt: str | None = None, threshold: float | None = None,
                  threshold_source: str | None = None) -> Path:
    """Rows = example pairs; columns = patched A, original A, B, patch mask, then the
    combined map of the patched A for each method (:data:`CMAP_MAP`, symmetric limits,
    a colourbar with the sign on every map panel).

    ``examples``: dicts with ``patched``, ``original``, ``b``, ``mask``, ``same``,
    ``score`` (cosine similarity of the patched pair) and ``maps`` (method -> (H, W)).
    """
    ncols = 4 + len(methods)
    nrows = max(1, len(examples))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.9 * ncols, 2.0 * nrows + 0.6),
                             squeeze=False)
    heads = ["patched A", "original A", "B", "patch mask", *methods]
    for r, ex in enumerate(examples):
        cells = [ex["patched"], ex["original"], ex["b"], ex["mask"]]
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < 4:
                ax.imshow(cells[c], cmap="gray" if c == 3 else None)
            else:
                m = np.asarray(ex["maps"].get(methods[c - 4]), dtype=np.float64)
                lim = float(np.nanmax(np.abs(m))) if m.size else 0.0
                lim = lim if np.isfinite(lim) and lim > 0 else 1.0
                im = ax.imshow(m, cmap=CMAP_MAP, vmin=-lim, vmax=lim)
                cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03, ticks=[-lim, 0, lim])
                cb.ax.set_yticklabels(["- dissim.", "0", "+ sim."])
                cb.ax.tick_params(labelsize=6)
            if r == 0:
                ax.set_title(heads[c], fontsize=8)
        kind = "genuine" if ex["same"] else "impostor"
        s = float(ex["score"])
        if threshold is not None:
            dec = "match" if s >= threshold else "non-match"
            lab = f"{kind}\ncos sim {s:.2f}\n{'>=' if s >= threshold else '<'} t {threshold:.2f}: {dec}"
        else:
            lab = f"{kind}\ncos sim {s:.2f}"
        axes[r, 0].set_ylabel(lab, fontsize=7)
    src = f" ({threshold_source})" if threshold_source and threshold is not None else ""
    fig.suptitle(f"{model_name}: combined maps of the patched first image "
                 f"(blue = similar, red = dissimilar; each map scaled to its own max |C|)\n"
                 f"cos sim = cosine similarity of the patched pair; t = model threshold{src}",
                 fontsize=8)
    fig.tight_layout()
    return _save(fig, path, fmt)


__all__ = ["CMAP_MAP", "FORMATS", "METHOD_COLOURS", "check_format", "method_colour",
           "plot_curves", "plot_map_grid"]

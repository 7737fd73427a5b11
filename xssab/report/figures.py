"""Matplotlib figures (Agg backend, no display needed), written atomically as PNG."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .._util import atomic_write_bytes  # noqa: E402


def _save(fig, path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def plot_curves(model_name: str, model_res: dict, path) -> Path:
    """FMR and FNMR against the replaced percentage: one colour per method, solid =
    best_worst, dashed = random."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    methods = model_res["methods"]
    randoms = [x["dpr"]["random"] for x in methods.values()]
    shared = len(randoms) > 1 and all(r == randoms[0] for r in randoms)
    for i, (xname, x) in enumerate(methods.items()):
        col = colours[i % len(colours)]
        for ax, key in zip(axes, ("fmr", "fnmr")):
            for strat, ls in (("best_worst", "-"), ("random", "--")):
                if strat == "random" and shared and i > 0:
                    continue  # one shared random-replacement curve, drawn once in grey
                c = x["dpr"][strat]
                y = [np.nan if v is None else v for v in c[key]]
                label = f"{xname} ({strat})"
                colour = col
                if strat == "random" and shared:
                    label, colour = "random replacement (all methods)", "0.45"
                ax.plot(c["percent"], y, ls, color=colour, marker="o" if ls == "-" else None,
                        markersize=3, label=label)
    for ax, key in zip(axes, ("FMR (impostor pairs)", "FNMR (genuine pairs)")):
        ax.set_xlabel("replaced pixels (%)")
        ax.set_ylabel(key)
        ax.set_xlim(0, 100)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="upper right")
    fig.suptitle(f"{model_name}: decision-based replacement (solid best_worst, dashed random;"
                 f" threshold {model_res['threshold']:.3f})", fontsize=10)
    return _save(fig, path)


def plot_map_grid(model_name: str, examples: Sequence[dict], methods: Sequence[str], path
                  ) -> Path:
    """Rows = example pairs; columns = patched A, original A, B, patch mask, then the
    combined map of the patched A for each method (red = similar, blue = dissimilar).

    ``examples``: dicts with ``patched``, ``original``, ``b``, ``mask``, ``same``,
    ``score`` and ``maps`` (method -> (H, W) map).
    """
    ncols = 4 + len(methods)
    nrows = max(1, len(examples))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.7 * ncols, 1.8 * nrows), squeeze=False)
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
                lim = float(np.nanmax(np.abs(m))) or 1.0
                ax.imshow(m, cmap="bwr", vmin=-lim, vmax=lim)
            if r == 0:
                ax.set_title(heads[c], fontsize=8)
        axes[r, 0].set_ylabel(f"{'genuine' if ex['same'] else 'impostor'}\ns={ex['score']:.2f}",
                              fontsize=7)
    fig.suptitle(f"{model_name}: combined maps of the patched first image", fontsize=9)
    return _save(fig, path)

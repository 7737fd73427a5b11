"""The ``xssab explain`` figure: both images with their positive, negative and combined maps.

Layout: one row per image (A, B); columns: the image, positive map (Greens), negative map
(Reds), combined map (RdYlGn, symmetric limits +-max|C| over both images), then the three
maps as overlays on the image. Positive and negative maps share one colour scale over both
images (0 .. max of both), so their strengths compare across the pair. The title names the
model, the method, the similarity, the threshold and the decision. Rendered with the Agg
backend; nothing is shown on screen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._util import atomic_path, to_rgb
from ..explain.maps import (CMAP_COMBINED, CMAP_NEGATIVE, CMAP_POSITIVE, overlay,
                            symmetric_limits)


def _atomic_savefig(fig, out: Path, dpi: int) -> None:
    with atomic_path(out, suffix=out.suffix or ".png") as tmp:
        fig.savefig(tmp, dpi=dpi, format=(out.suffix.lstrip(".") or "png"))


def explain_figure(explanation, image_a: np.ndarray, image_b: np.ndarray, out, *,
                   model_name: str = "", labels: tuple[str, str] = ("A", "B"),
                   dpi: int = 110) -> Path:
    """Write the figure for one :class:`~xssab.Explanation` to ``out`` (PNG, PDF, SVG...)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    out = Path(out)
    rows = [(labels[0], image_a, explanation.a)]
    if explanation.b is not None:
        rows.append((labels[1], image_b, explanation.b))
    pos_max = max(float(np.max(m.positive)) for _, _, m in rows) or 1.0
    neg_max = max(float(np.max(m.negative)) for _, _, m in rows) or 1.0
    cmax = max(symmetric_limits(m.combined)[1] for _, _, m in rows)
    climits = (-cmax, cmax)

    cols = ["image", "positive", "negative", "combined",
            "positive overlay", "negative overlay", "combined overlay"]
    fig = Figure(figsize=(2.2 * len(cols), 2.45 * len(rows) + 0.7))
    axes = fig.subplots(len(rows), len(cols), squeeze=False)
    specs = [(CMAP_POSITIVE, 0.0, pos_max), (CMAP_NEGATIVE, 0.0, neg_max),
             (CMAP_COMBINED, *climits)]
    for r, (label, img, maps) in enumerate(rows):
        rgb = to_rgb(img)
        axes[r][0].imshow(rgb)
        axes[r][0].set_ylabel(f"{label}  {rgb.shape[1]}x{rgb.shape[0]}")
        for j, (arr, (cmap, lo, hi)) in enumerate(zip(
                (maps.positive, maps.negative, maps.combined), specs)):
            im = axes[r][1 + j].imshow(arr, cmap=cmap, vmin=lo, vmax=hi)
            if r == len(rows) - 1:
                from matplotlib.ticker import MaxNLocator

                cb = fig.colorbar(im, ax=axes[r][1 + j], fraction=0.046, pad=0.02,
                                  orientation="horizontal")
                cb.locator = MaxNLocator(3)
                cb.update_ticks()
                cb.ax.tick_params(labelsize=7)
            axes[r][4 + j].imshow(overlay(rgb, arr, cmap, lo, hi))
    for c, name in enumerate(cols):
        axes[0][c].set_title(name, fontsize=9)
    for row in axes:
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    decision = "MATCH" if explanation.match else "NO MATCH"
    title = (f"{model_name or 'model'} | {explanation.method} | similarity "
             f"{explanation.similarity:.4f} vs threshold {explanation.threshold:.4f} -> "
             f"{decision}")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    _atomic_savefig(fig, out, dpi)
    return out

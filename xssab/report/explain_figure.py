"""The ``xssab explain`` figure: both images with their positive, negative and combined maps.

Layout: one row per image (A, B); columns: the image, positive map (Greens), negative map
(Reds), combined map (RdBu: red = dissimilar, blue = similar; symmetric limits +-max|C|
over both images), then the three maps as overlays on the image. Positive and negative maps share one colour scale over both
images (0 .. max of both), so their strengths compare across the pair. The title names the
model, the method, the similarity, the threshold and the decision. Rendered with the Agg
backend; nothing is shown on screen.

Raw photos (the explanation carries ``extras["alignment_a"|"alignment_b"]``): one row per
image with the photo and its combined map warped back onto it (the detected box and five
landmarks drawn; outside the aligned crop the photo is untinted), the aligned crop the
model saw (template points marked), and the crop's positive, negative and combined maps
plus the combined overlay on the crop.
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
    extras = getattr(explanation, "extras", {}) or {}
    if extras.get("alignment_a") is not None or extras.get("alignment_b") is not None:
        return _aligned_figure(explanation, image_a, image_b, out, model_name=model_name,
                               labels=labels, dpi=dpi)
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
        _map_panels(fig, axes[r][1:4], maps, specs, colorbars=r == len(rows) - 1)
        for j, (arr, (cmap, lo, hi)) in enumerate(zip(
                (maps.positive, maps.negative, maps.combined), specs)):
            axes[r][4 + j].imshow(overlay(rgb, arr, cmap, lo, hi))
    _label_axes(fig, axes, cols, _title(explanation, model_name))
    fig.tight_layout()
    _atomic_savefig(fig, out, dpi)
    return out


def _title(explanation, model_name: str) -> str:
    decision = "MATCH" if explanation.match else "NO MATCH"
    return (f"{model_name or 'model'} | {explanation.method} | similarity "
            f"{explanation.similarity:.4f} vs threshold {explanation.threshold:.4f} -> "
            f"{decision}")


def _map_panels(fig, axes, maps, specs, *, colorbars: bool) -> None:
    """Draw ``maps``' positive, negative and combined maps into the three ``axes`` with
    their ``specs`` (cmap, vmin, vmax); under each a small horizontal colourbar when
    ``colorbars`` (the figure's last row)."""
    from matplotlib.ticker import MaxNLocator

    for ax, arr, (cmap, lo, hi) in zip(axes, (maps.positive, maps.negative, maps.combined),
                                       specs):
        im = ax.imshow(arr, cmap=cmap, vmin=lo, vmax=hi)
        if colorbars:
            cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02, orientation="horizontal")
            cb.locator = MaxNLocator(3)
            cb.update_ticks()
            cb.ax.tick_params(labelsize=7)


def _label_axes(fig, axes, cols, title: str) -> None:
    """Column names over the first row, no ticks anywhere, ``title`` over the figure."""
    for c, name in enumerate(cols):
        axes[0][c].set_title(name, fontsize=9)
    for row in axes:
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title, fontsize=11)


def _aligned_figure(explanation, image_a, image_b, out: Path, *, model_name: str,
                    labels: tuple[str, str], dpi: int) -> Path:
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    rows = []
    for side, label, img in (("a", labels[0], image_a), ("b", labels[1], image_b)):
        maps = getattr(explanation, side)
        if maps is None:
            continue
        info = explanation.extras.get(f"alignment_{side}")
        crop_maps = getattr(info, "crop_maps", None) if info is not None else None
        crop = info.crop if info is not None and info.crop is not None else img
        rows.append((label, img, maps, info, crop, crop_maps or maps))
    pos_max = max(float(np.nanmax(cm.positive)) for *_, cm in rows) or 1.0
    neg_max = max(float(np.nanmax(cm.negative)) for *_, cm in rows) or 1.0
    cmax = max(symmetric_limits(cm.combined)[1] for *_, cm in rows)
    cols = ["photo + combined", "aligned crop", "positive", "negative", "combined",
            "combined overlay"]
    fig = Figure(figsize=(2.4 * len(cols), 2.6 * len(rows) + 0.7))
    axes = fig.subplots(len(rows), len(cols), squeeze=False)
    specs = [(CMAP_POSITIVE, 0.0, pos_max), (CMAP_NEGATIVE, 0.0, neg_max),
             (CMAP_COMBINED, -cmax, cmax)]
    for r, (label, img, maps, info, crop, cm) in enumerate(rows):
        rgb = to_rgb(img)
        ax = axes[r][0]
        ax.imshow(overlay(rgb, maps.combined, CMAP_COMBINED, -cmax, cmax))
        ax.set_ylabel(f"{label}  {rgb.shape[1]}x{rgb.shape[0]}", fontsize=8)
        if info is not None:
            x1, y1, x2, y2 = (float(v) for v in info.detection.box)
            ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec="cyan", lw=1))
            lm = np.asarray(info.detection.landmarks)
            ax.scatter(lm[:, 0], lm[:, 1], s=9, c="cyan", marker="o", linewidths=0)
            ax.set_xlabel(f"face {info.face_index + 1}/{info.faces}, "
                          f"{info.detector} {float(info.detection.score):.2f}", fontsize=7)
        crgb = to_rgb(crop)
        axes[r][1].imshow(crgb)
        if info is not None:
            tpl = np.asarray(info.points_to_crop(info.detection.landmarks))
            axes[r][1].scatter(tpl[:, 0], tpl[:, 1], s=9, c="cyan", linewidths=0)
            axes[r][1].scatter(info.template[:, 0], info.template[:, 1], s=22, c="none",
                               edgecolors="magenta", linewidths=0.8)
        axes[r][1].set_xlabel(f"{crgb.shape[1]}x{crgb.shape[0]}"
                              + (" (as given)" if info is None else ""), fontsize=7)
        _map_panels(fig, axes[r][2:5], cm, specs, colorbars=r == len(rows) - 1)
        axes[r][5].imshow(overlay(crgb, cm.combined, CMAP_COMBINED, -cmax, cmax))
    _label_axes(fig, axes, cols, _title(explanation, model_name))
    fig.text(0.5, 0.005, "cyan: detected box and landmarks; magenta rings: alignment template",
             ha="center", fontsize=7)
    fig.tight_layout()
    _atomic_savefig(fig, out, dpi)
    return out

"""``xssab explain A B --model M [--threshold T] [--method NAME] [--device D] [--out F.png]``.

Prints the similarity, the threshold (and where it came from) and the decision; with
``--out`` writes the figure (:mod:`xssab.report.explain_figure`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import XssabError


def add_parser(sub):
    p = sub.add_parser(
        "explain", help="explain one pair of face images (xSSAB by default)",
        description="Compare two aligned face crops with a model and explain the decision: "
        "prints similarity, threshold and decision; --out writes a figure with both images "
        "and their positive (greens), negative (reds) and combined (red-yellow-green) maps.")
    p.add_argument("image_a", metavar="A", help="first image (jpg/png/...)")
    p.add_argument("image_b", metavar="B", help="second image")
    p.add_argument("--model", "-m", required=True, help="model-zoo name or path to an ONNX file")
    p.add_argument("--threshold", "-t", type=float, default=None,
                   help="decision threshold (default: calibrated override, else the card's)")
    p.add_argument("--method", default="xssab",
                   help="registered explanation method (default xssab; see `xssab plugins`)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="where to run the model (default cpu)")
    p.add_argument("--out", "-o", default=None, help="figure file to write (png, pdf, svg)")
    return p


def read_image(path) -> np.ndarray:
    """uint8 RGB (H, W, 3) from an image file; one-line XssabError when unreadable."""
    import cv2

    p = Path(path)
    if not p.is_file():
        raise XssabError(f"cannot read image {p}: no such file")
    buf = np.fromfile(str(p), dtype=np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if img is None:
        raise XssabError(f"cannot read image {p}: not an image file OpenCV can decode")
    return np.ascontiguousarray(img[:, :, ::-1])


def run(args, console) -> int:
    import xssab
    from ..explain.api import resolve_threshold

    img_a = read_image(args.image_a)
    img_b = read_image(args.image_b)
    if args.out is not None and Path(args.out).suffix.lower() not in (
            ".png", ".pdf", ".svg", ".jpg", ".jpeg"):
        raise XssabError(f"--out {args.out}: use a .png, .pdf, .svg or .jpg file name")
    model = xssab.load_model(args.model, device=args.device)
    threshold = resolve_threshold(model, args.threshold)
    source = "given" if args.threshold is not None else (
        getattr(model, "threshold_source", None) or "model")
    res = xssab.explain(model, img_a, img_b, threshold=threshold, method=args.method,
                        device=args.device)
    decision = "[bold green]MATCH[/]" if res.match else "[bold red]NO MATCH[/]"
    console.print(f"model      {model.name}")
    console.print(f"method     {res.method}")
    console.print(f"similarity {res.similarity:.4f}")
    console.print(f"threshold  {res.threshold:.4f} ({source})")
    console.print(f"decision   {decision}")
    console.print(f"passes     {res.forward_passes} forward, {res.backward_passes} backward")
    if args.out is not None:
        from ..report.explain_figure import explain_figure

        out = explain_figure(res, img_a, img_b, args.out, model_name=model.name,
                             labels=(Path(args.image_a).name, Path(args.image_b).name))
        console.print(f"figure     {out}")
    return 0

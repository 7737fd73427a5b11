"""``xssab explain A B --model M [--threshold T] [--method NAME] [--device D] [--out F.png]``.

Prints the similarity, the threshold (and where it came from) and the decision; with
``--out`` writes the figure (:mod:`xssab.report.explain_figure`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._util import read_image
from ..errors import XssabError


#: where a threshold came from, in words
THRESHOLD_SOURCES = {"override": "load-time override", "calibrated": "calibrated locally",
                     "card": "model card"}
#: method extras a user reads without -v (key, label)
USER_EXTRAS = (("confidence", "confidence"), ("variant", "variant"), ("xcos", "xcos score"),
               ("xcos_match", "xcos match"))


def add_parser(sub):
    p = sub.add_parser(
        "explain", help="explain one pair of face images (xSSAB by default)",
        description="Compare two face photos (raw photos are detected and aligned; aligned "
        "crops of the model's input size are used as they are) with a model and explain the "
        "decision: prints similarity, threshold and decision; --out writes a figure with "
        "both images and their positive (greens), negative (reds) and combined "
        "(red-yellow-green) maps, on the photo and on the aligned crop.")
    p.add_argument("image_a", metavar="A", nargs="?", help="first image (jpg/png/...)")
    p.add_argument("image_b", metavar="B", nargs="?", help="second image")
    p.add_argument("--model", "-m", default=None,
                   help="model-zoo name or path to an ONNX file (required for A B)")
    p.add_argument("--threshold", "-t", type=float, default=None,
                   help="decision threshold (default: calibrated override, else the card's)")
    p.add_argument("--method", default="xssab",
                   help="registered explanation method (default xssab; see `xssab plugins`)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="where to run the model (default cpu)")
    p.add_argument("--out", "-o", default=None, help="figure file to write (png, pdf, svg)")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="also print the model evaluations and the method's internals")
    p.add_argument("--align", choices=("auto", "on", "off"), default="auto",
                   help="detect and align faces: auto (default) = photos not of the model's "
                   "input size; on = always; off = resize the whole image")
    p.add_argument("--face", type=int, default=None, metavar="K",
                   help="which detected face to use, 0 = largest (default)")
    p.add_argument("--detector", default=None, metavar="NAME",
                   help="registered face detector (default mtcnn, shipped; see `xssab plugins`)")
    p.add_argument("--smooth", type=float, default=0.0, metavar="SIGMA",
                   help="Gaussian smoothing of the maps for display (sigma in pixels; "
                        "default 0 = off; any method)")
    p.add_argument("--option", "-O", action="append", default=[], metavar="KEY=VALUE",
                   help="method option, repeatable (e.g. -O seed=1, -O patch_sizes=7,14, "
                   "-O calibration_dataset=synth for the x-face confidence)")
    g = p.add_argument_group("model overrides (for ONNX files without a card)")
    g.add_argument("--channel-order", choices=("rgb", "bgr"), default=None)
    g.add_argument("--input-size", type=int, default=None, metavar="N",
                   help="square input size, e.g. 112")
    g.add_argument("--feature-output", default=None, metavar="NAME",
                   help="graph output holding the last spatial feature map (xcos)")
    from . import cmd_export

    cmd_export.add_arguments(p)
    return p


def parse_options(items: list[str]) -> dict:
    """``["k=v", ...]`` -> dict; values read as Python literals where they parse."""
    import ast

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise XssabError(f"--option {item!r}: expected KEY=VALUE")
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parsed = value
        out[key.strip()] = parsed
    return out


def smooth_explanation(res, sigma: float):
    """The explanation with every map Gaussian-smoothed (display option, any method)."""
    import dataclasses

    from ..explain.base import ImageMaps
    from ..metrics.faithfulness import gaussian_smooth

    def sm(m):
        return None if m is None else ImageMaps(
            *(gaussian_smooth(getattr(m, f), sigma) for f in ("positive", "negative",
                                                              "combined")))

    return dataclasses.replace(res, a=sm(res.a), b=sm(res.b),
                               extras=dict(res.extras, smooth_sigma=float(sigma)))


def run(args, console) -> int:
    import xssab
    from ..explain.api import resolve_threshold

    if getattr(args, "dataset", None):
        from . import cmd_export

        return cmd_export.run(args, console)
    if args.image_a is None or args.image_b is None:
        raise XssabError("give two images A B (or --dataset NAME to export a dataset's maps)")
    if args.model is None:
        raise XssabError("--model is required: a model-zoo name or an ONNX file")
    img_a = read_image(args.image_a)
    img_b = read_image(args.image_b)
    if args.out is not None and Path(args.out).suffix.lower() not in (
            ".png", ".pdf", ".svg", ".jpg", ".jpeg"):
        raise XssabError(f"--out {args.out}: use a .png, .pdf, .svg or .jpg file name")
    if args.out is not None:
        from ..safe_output import check_writable_file

        check_writable_file(args.out)
    from ..registry import get_explainer

    get_explainer(args.method)  # unknown name: fail before any loading
    if args.detector is not None:
        from ..registry import get_detector

        get_detector(args.detector)
    if args.face is not None and args.face < 0:
        raise XssabError(f"--face {args.face}: use 0 (largest face) or a larger index")
    options = parse_options(args.option) or None
    overrides = {"channel_order": args.channel_order, "input_size": args.input_size,
                 "feature_output": args.feature_output}
    model = xssab.load_model(args.model, device=args.device,
                             **{k: v for k, v in overrides.items() if v is not None})
    threshold = resolve_threshold(model, args.threshold)
    source = "given" if args.threshold is not None else (
        getattr(model, "threshold_source", None) or "model")
    if not float(args.smooth) >= 0:
        raise XssabError(f"--smooth {args.smooth}: expected a sigma in pixels >= 0")
    from ..explain.api import explain as _explain

    align = {"auto": "auto", "on": True, "off": False}[args.align]
    res = _explain(model, img_a, img_b, threshold=threshold, method=args.method,
                   options=options, device=args.device, align=align, face_index=args.face,
                   detector=args.detector,
                   labels=(str(args.image_a), str(args.image_b)))
    if args.smooth:
        res = smooth_explanation(res, args.smooth)
    decision = "[bold green]MATCH[/]" if res.match else "[bold red]NO MATCH[/]"
    console.print(f"model      {model.name}")
    console.print(f"method     {res.method}")
    console.print(f"similarity {res.similarity:.4f}")
    console.print(f"threshold  {res.threshold:.4f} ({THRESHOLD_SOURCES.get(source, source)})")
    console.print(f"decision   {decision}")
    for key, label in USER_EXTRAS:
        if key in res.extras:
            value = res.extras[key]
            shown = f"{value:.4f}" if isinstance(value, (float, np.floating)) else value
            console.print(f"{label:<10} {shown}", highlight=False)
    for side, label in (("a", args.image_a), ("b", args.image_b)):
        face = res.extras.get(f"face_{side}")
        if face:
            x1, y1, x2, y2 = face["box"]
            console.print(f"face {side}     {Path(label).name}: face {face['face_index']} of "
                          f"{face['faces']} ({face['detector']}, score {face['score']:.3f}), "
                          f"box {x1:.0f},{y1:.0f},{x2:.0f},{y2:.0f}", highlight=False)
    if args.verbose:
        console.print(f"passes     {res.forward_passes} forward, {res.backward_passes} "
                      "backward")
        shown_already = {k for k, _ in USER_EXTRAS}
        scalars = {k: v for k, v in sorted(res.extras.items()) if k not in shown_already
                   and isinstance(v, (str, bool, int, float, np.floating, np.integer))}
        width = max([10, *(len(k) for k in scalars)])
        for key, value in scalars.items():
            shown = f"{value:.4f}" if isinstance(value, (float, np.floating)) else value
            console.print(f"{key:<{width}} {shown}", highlight=False)
    if args.out is not None:
        from ..report.explain_figure import explain_figure

        try:
            out = explain_figure(res, img_a, img_b, args.out, model_name=model.name,
                                 labels=(Path(args.image_a).name, Path(args.image_b).name))
        except OSError as exc:  # e.g. the disk filled up since the check
            raise XssabError(f"--out {args.out}: cannot write the figure "
                             f"({exc.strerror or exc})") from None
        console.print(f"figure     {out}")
    else:
        console.print("[dim]figure     none (write one with --out FILE.png; internals "
                      "with -v)[/]", highlight=False)
    return 0

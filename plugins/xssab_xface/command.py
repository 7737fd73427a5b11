"""``xssab xface-calibrate``: fit x-face's confidence score (added by the plugin through the
``register_commands`` hook; public names only)."""

from __future__ import annotations

NAME = "xface-calibrate"


def add_command(subparsers) -> None:
    p = subparsers.add_parser(
        NAME, help="fit x-face's confidence score for a model on a pair dataset",
        description="Embed every pair of a dataset, fit x-face's confidence (sigmoid of the "
        "cosine distance around the best-accuracy threshold, per fold) and cache it in "
        "XSSAB_HOME/xface_confidence.json; `xssab explain --method xface` then prints it.")
    p.add_argument("--model", "-m", required=True, help="model-zoo name or ONNX path")
    p.add_argument("--dataset", "-d", default="synth",
                   help="registered dataset name (default synth)")
    p.add_argument("--data", default=None, help="dataset location (file or folder)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--dry-run", action="store_true", help="fit and print, cache nothing")
    p.set_defaults(func=run)


def run(args, console) -> int:
    import xssab

    from .confidence import calibrate_confidence

    model = xssab.load_model(args.model, device=args.device)
    dataset = xssab.get_dataset(args.dataset, path=args.data)
    conf = calibrate_confidence(model, dataset, cache=not args.dry_run)
    console.print(f"x-face     confidence fitted on {conf.n_pairs} pairs (best-accuracy "
                  f"distance threshold {conf.threshold:.4f})")
    if args.dry_run:
        console.print("x-face     not cached (--dry-run)")
    return 0

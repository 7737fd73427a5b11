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
    p.add_argument("--pairs", type=int, default=0,
                   help="fit on a balanced subset of about N pairs (the same subset as "
                   "`xssab calibrate --pairs N` and the benchmark; default 0 = all)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--dry-run", action="store_true", help="fit and print, cache nothing")
    p.set_defaults(func=run)


def run(args, console) -> int:
    import xssab
    from xssab.eval import balanced_subset, open_dataset

    from .confidence import calibrate_confidence

    if args.pairs < 0:
        raise xssab.XssabError(f"--pairs {args.pairs}: expected 0 (all) or a positive number")
    model = xssab.load_model(args.model, device=args.device)
    dataset = open_dataset(args.dataset, args.data, min_pairs=args.pairs)
    pairs = balanced_subset(dataset.pairs(), args.pairs or None)
    conf = calibrate_confidence(model, dataset, pairs=pairs, cache=not args.dry_run)
    console.print(f"x-face     confidence fitted on {conf.n_pairs} pairs (best-accuracy "
                  f"distance threshold {conf.threshold:.4f})")
    if args.dry_run:
        console.print("x-face     not cached (--dry-run)")
    return 0

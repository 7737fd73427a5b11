"""``xssab calibrate --model M --dataset D [--data PATH] [--pairs N]``.

Computes the EER threshold and the LFW-style 10-fold accuracy of a model on a registered
pair dataset and stores them as the model's local calibration override
(``xssab_home()/calibration.json``); later runs use that threshold.
"""

from __future__ import annotations

from ..errors import XssabError


def add_parser(sub):
    p = sub.add_parser(
        "calibrate", help="calibrate a model's decision threshold (EER) on a dataset",
        description="Embed every image of a pair dataset, compute the EER threshold and the "
        "10-fold (LFW protocol) accuracy of cosine similarity, and store the threshold as the "
        "model's local override (shown by `xssab models`).")
    p.add_argument("--model", "-m", required=True, help="model-zoo name or ONNX path")
    p.add_argument("--dataset", "-d", default="synth",
                   help="registered dataset name (synth, lfw, bin, folder, ...; default synth)")
    p.add_argument("--data", default=None, help="dataset location (file or folder)")
    p.add_argument("--align", action="store_true",
                   help="detect and align the dataset's images (lfw, folder; cached)")
    p.add_argument("--pairs", type=int, default=0,
                   help="use a balanced subset of about N pairs (default 0 = all)")
    p.add_argument("--batch-size", type=int, default=64, help="images per embedding batch")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--dry-run", action="store_true", help="print the numbers, store nothing")
    p.add_argument("--xface-confidence", action="store_true",
                   help="DEPRECATED: use `xssab xface-calibrate` (the x-face plugin's own "
                   "command); still runs it after the threshold calibration")
    return p


def run(args, console) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, \
        TimeRemainingColumn

    import xssab
    from ..models.calibrate import calibrate
    from ..models.cache import calibration_path, ignoring_bad_calibration

    if args.pairs < 0:
        raise XssabError(f"--pairs {args.pairs}: expected 0 (all) or a positive number")
    if args.batch_size < 1:
        raise XssabError(f"--batch-size {args.batch_size}: expected a positive number")
    with ignoring_bad_calibration():  # a malformed calibration.json is what we replace
        model = xssab.load_model(args.model, device=args.device)
    from ..eval.data import open_dataset

    dataset = open_dataset(args.dataset, args.data, min_pairs=args.pairs, align=args.align)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), console=console, transient=True)
    with progress:
        task = progress.add_task(f"embedding ({model.name})", total=None)

        def update(done, total):
            progress.update(task, completed=done, total=total)

        rec = calibrate(model, dataset, args.batch_size, pairs=args.pairs or None,
                        dataset_name=args.dataset, data_path=args.data, save=not args.dry_run,
                        progress=update)
    console.print(f"model      {model.name}")
    console.print(f"dataset    {args.dataset} ({rec['pairs']} pairs: {rec['genuine']} genuine, "
                  f"{rec['impostor']} impostor)")
    console.print(f"EER        {100 * rec['eer']:.2f}%")
    console.print(f"threshold  {rec['threshold']:.4f} (EER of {args.dataset}, {rec['pairs']} "
                  "pairs; used by explain as the calibrated threshold"
                  + (", not stored: --dry-run)" if args.dry_run else ")"))
    console.print(f"accuracy   {100 * rec['accuracy']:.2f}% +- {100 * rec['accuracy_std']:.2f} "
                  f"({rec['folds']}-fold)")
    if args.xface_confidence:
        _xface_confidence(args, console)
    if args.dry_run:
        console.print("not stored (--dry-run)")
    else:
        console.print(f"stored     {calibration_path()} (used by later runs; see `xssab models`)")
    return 0


def _xface_confidence(args, console) -> None:
    """The deprecated ``--xface-confidence``: runs the plugin's ``xface-calibrate`` command
    (core does not import the plugin)."""
    from .main import build_parser

    argv = ["xface-calibrate", "--model", args.model, "--dataset", args.dataset,
            "--pairs", str(args.pairs), "--device", args.device]
    if args.data is not None:
        argv += ["--data", args.data]
    if args.dry_run:
        argv.append("--dry-run")
    console.print("[yellow]--xface-confidence is deprecated: run `xssab xface-calibrate "
                  "--model M ...` instead[/]", highlight=False)
    import argparse

    parser = build_parser()
    commands = next(a.choices for a in parser._actions
                    if isinstance(a, argparse._SubParsersAction))
    if "xface-calibrate" not in commands:
        raise XssabError("--xface-confidence needs the x-face plugin (xssab_xface), which "
                         "is not loaded; see `xssab plugins`")
    sub_args = parser.parse_args(argv)
    sub_args.func(sub_args, console)

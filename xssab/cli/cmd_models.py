"""``xssab models``: list model cards; ``xssab models fetch NAME``: download + verify."""

from __future__ import annotations

from rich.table import Table

from ..errors import XssabError


def add_parser(sub):
    p = sub.add_parser("models", help="list registered models (or fetch one's weights)",
                       description="List every registered model card with its plugin, "
                       "whether the weights are present locally, preprocessing, embedding "
                       "size, threshold and licence. `xssab models fetch NAME` downloads "
                       "a model's file into the cache and verifies its sha256.")
    p.add_argument("action", nargs="?", choices=("list", "fetch"), default="list",
                   help="list (default) or fetch")
    p.add_argument("name", nargs="?", help="model name, or a face detector card such as "
                   "scrfd-10g (for fetch)")
    p.add_argument("--force", action="store_true", help="fetch: download again")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="list: also the plugin, the weights' path, the full preprocessing "
                   "and where each threshold comes from (a wide table)")
    return p


def run(args, console) -> int:
    if args.action == "fetch":
        return _fetch(args, console)
    if args.name:
        raise XssabError(f"unexpected argument {args.name!r}; did you mean "
                         f"`xssab models fetch {args.name}`?")
    return _list(console, verbose=args.verbose)


def _list(console, verbose: bool = False) -> int:
    from ..models import cache
    from ..registry import model_cards, plugin_of

    cards = model_cards()
    cache.read_calibration()  # a broken file: one line, before the table
    table = Table(title=f"models (cache: {cache.models_dir()})", show_lines=False,
                  title_justify="left")
    table.add_column("name", no_wrap=True)
    if verbose:
        for col in ("plugin", "weights", "preprocessing", "dim", "threshold", "licence"):
            table.add_column(col, overflow="fold")
    else:
        table.add_column("weights", no_wrap=True)
        table.add_column("input", no_wrap=True)
        table.add_column("dim", no_wrap=True, justify="right")
        table.add_column("threshold", no_wrap=True)
        table.add_column("licence", overflow="ellipsis", no_wrap=True, max_width=18)
    for name in sorted(cards):
        card = cards[name]
        try:
            found = cache.find_weights(card)
            refused = None
        except XssabError as exc:  # a card naming a path outside the cache
            from rich.markup import escape

            found, refused = None, f"[red]refused[/] ({escape(str(exc))})"
        thr = "-" if card.threshold is None else (
            f"{card.threshold:g}" if verbose else f"{card.threshold:.4f}")
        try:
            rec = cache.calibrated(name)
        except XssabError:
            rec, thr = None, "[red]malformed calibration record[/] (run xssab calibrate)"
        if rec and rec.get("threshold") is not None:
            thr = f"{float(rec['threshold']):.4g} [cyan]calibrated[/]" + (
                f" [cyan]({rec['dataset']})[/]" if verbose and rec.get("dataset") else "")
        elif verbose and card.threshold is not None and card.threshold_dataset:
            thr += f" ({card.threshold_dataset})"
        if verbose:
            weights = refused or (f"[green]yes[/] {found}" if found else "[red]missing[/]")
            plugin = card.plugin or plugin_of("models", name) or "-"
            table.add_row(name, plugin, weights, card.preprocessing_summary(),
                          str(card.embedding_size), thr, _short(card.licence))
        else:
            weights = "[red]refused[/]" if refused else (
                "[green]yes[/]" if found else "[red]missing[/]")
            h, w = card.input_size
            size = f"{w}" if w == h else f"{w}x{h}"
            table.add_row(name, weights, f"{size} {card.channel_order.upper()}",
                          str(card.embedding_size), thr, _short(card.licence))
    console.print(table)
    if not cards:
        console.print("no models registered")
    elif not verbose:
        console.print("[dim]`xssab models -v`: plugin, weights path, full preprocessing and "
                      "threshold sources; `xssab models fetch NAME` downloads weights[/]",
                      highlight=False)
    return 0


def _short(licence: str | None) -> str:
    if not licence:
        return "unknown"
    return licence.split(" (")[0].strip()


def _fetch(args, console) -> int:
    from ..models import cache
    from ..registry import get_card

    if not args.name:
        raise XssabError("usage: xssab models fetch NAME (see `xssab models` for names)")
    from .. import registry

    detector = registry.detectors().get(args.name)
    if detector is not None and getattr(detector, "card", None) is not None:
        card = detector.card  # a face detector's card (e.g. scrfd-10g)
    else:
        card = get_card(args.name)
    local = cache.find_weights(card)
    if local is not None and not args.force and local != cache.cache_path(card):
        console.print(f"{card.name}: weights present at {local}")
        return 0
    path = cache.fetch(card, force=args.force)
    if card.sha256:
        console.print(f"{card.name}: {path} (sha256 verified)")
    else:
        console.print(f"{card.name}: {path} [yellow](sha256 unknown: not verified; "
                      f"sha256 {cache.sha256_file(path)})[/]")
    return 0

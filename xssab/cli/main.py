"""The ``xssab`` command: thin argparse front end over subcommand modules.

Each subcommand lives in ``xssab/cli/cmd_<name>.py`` and provides
``add_parser(subparsers)`` (returns the parser) and ``run(args, console) -> int``; plugins
add theirs through the ``register_commands`` hook (``set_defaults(func=run)``). One rich
Console is injected so tests can read the output. :func:`run_cli` is the one
parse -> run -> exit-code shell (also used by ``xssab-bench``).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rich.console import Console
from rich.markup import escape as rich_escape

from ..errors import XssabError

SUBCOMMANDS = ("models", "methods", "plugins", "explain", "calibrate", "bench", "report")
#: subcommands whose module is not named cmd_<name>
_MODULES = {"bench": ".bench"}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other user error
        self.print_usage(sys.stderr)
        raise SystemExit(f"{self.prog}: error: {message}")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = _Parser(prog="xssab", description="Explain face-verification decisions.")
    parser.add_argument("--version", action="version", version=f"xssab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMANDS:
        try:
            mod = importlib.import_module(_MODULES.get(name, f".cmd_{name}"), __package__)
        except ModuleNotFoundError as exc:  # a subcommand not written yet: skip only that
            if exc.name != f"{__package__}{_MODULES.get(name, f'.cmd_{name}')}":
                raise
            continue
        p = mod.add_parser(sub)
        p.set_defaults(func=mod.run)
    from ..plugins import call_hook

    call_hook("register_commands", subparsers=sub)
    return parser


def run_guarded(fn, console: Console, err_console: Console | None = None) -> int:
    """Run ``fn()``; XssabError -> one red line and exit 2; Ctrl-C -> exit 130."""
    err_console = err_console or console
    try:
        return int(fn() or 0)
    except XssabError as exc:
        # soft_wrap: the message stays one line, whatever the terminal width
        err_console.print(f"[bold red]error:[/] {rich_escape(str(exc))}", highlight=False,
                          markup=True, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        return 130


def run_cli(parser: argparse.ArgumentParser, argv: list[str] | None, console: Console,
            run=None) -> int:
    """Parse ``argv`` and run: ``run(args, console)``, else the ``func`` set by the
    subcommand. Usage errors and XssabError: one line, exit 2; help/version: exit 0."""
    err_console = console if console.file is not sys.stdout else Console(stderr=True)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        if isinstance(exc.code, str):
            err_console.print(exc.code, highlight=False, markup=False, soft_wrap=True)
            return 2
        return int(exc.code or 0)
    fn = run or getattr(args, "func", None)
    if fn is None:
        parser.print_help()
        return 2
    return run_guarded(lambda: fn(args, console), console, err_console)


def main(argv: list[str] | None = None, console: Console | None = None) -> int:
    console = console or Console()
    return run_cli(build_parser(), argv, console)


def entry() -> None:  # pragma: no cover - console script wrapper
    sys.exit(main())

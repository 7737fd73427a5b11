"""``xssab methods [--model M]``: explanation methods, their options and what they support."""

from __future__ import annotations

import dataclasses


def add_parser(sub):
    p = sub.add_parser("methods", help="list explanation methods and their options",
                       description="List every registered explanation method with its "
                       "plugin, description and options (with defaults; set them with "
                       "`xssab explain -O key=value`). With --model, also say whether each "
                       "method can explain that model, and why not.")
    p.add_argument("--model", "-m", default=None,
                   help="model-zoo name or ONNX path: check which methods support it")
    return p


def option_defaults(method) -> list[tuple[str, str]]:
    """``[(name, default as text), ...]`` of a method's ``Options`` dataclass."""
    opts = getattr(method, "Options", None)
    if opts is None or not dataclasses.is_dataclass(opts):
        return []
    out = []
    for f in dataclasses.fields(opts):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = "(required)"
        out.append((f.name, repr(default) if isinstance(default, str) else str(default)))
    return out


def plugin_label(plugin: str | None) -> str:
    if not plugin:
        return "-"
    return "built-in" if plugin.startswith("xssab._builtin") else plugin


def run(args, console) -> int:
    from rich.markup import escape
    from rich.padding import Padding

    from ..registry import explainers, plugin_of

    methods = explainers()
    model = None
    if args.model is not None:
        import xssab

        model = xssab.load_model(args.model)
    for name in sorted(methods):
        m = methods[name]
        plugin = plugin_label(plugin_of("explainers", name))
        console.print(f"[bold]{name}[/]  [dim]({escape(plugin)})[/]", highlight=False)
        lines = [escape(str(getattr(m, "description", "") or "-"))]
        opts = ", ".join(f"{k}={v}" for k, v in option_defaults(m)) or "-"
        lines.append(f"[dim]options:[/] {escape(opts)}")
        if model is not None:
            reason = m.supports(model)
            verdict = "[green]yes[/]" if reason is None else f"[red]no[/]: {escape(reason)}"
            lines.append(f"[dim]supports {escape(model.name)}:[/] {verdict}")
        for line in lines:
            console.print(Padding(line, (0, 0, 0, 2)), highlight=False)
    console.print("\nEvery method explains both images (sides='both') or only the first "
                  "(sides='a', the patched-benchmark protocol). Set options with "
                  "`xssab explain -O key=value`; `--model M` says which methods can explain "
                  "M.", highlight=False)
    return 0

"""``xssab plugins``: plugins with their version and hooks, and plugin failures."""

from __future__ import annotations

from rich.table import Table


def add_parser(sub):
    return sub.add_parser("plugins", help="list plugins, their hooks and failures",
                          description="List loaded plugins (built-in and entry points in "
                          "the group 'xssab') with version and hooks, and any plugin that "
                          "failed to import or raised.")


def run(args, console) -> int:
    from .. import plugins

    infos = plugins.plugin_infos()
    # calling the hooks once surfaces plugins that raise while registering
    from .. import registry

    for kind in ("models", "explainers", "comparators", "datasets", "detectors"):
        registry._collect(kind)
    table = Table(title="plugins")
    for col in ("name", "version", "kind", "hooks"):
        table.add_column(col, overflow="fold")
    for info in infos:
        table.add_row(info["name"], info["version"] or "-",
                      "built-in" if info["builtin"] else "entry point",
                      ", ".join(info["hooks"]) or "-")
    console.print(table)
    failures = plugins.failures()
    if failures:
        ft = Table(title="plugin failures", title_style="bold red")
        for col in ("plugin", "stage", "error"):
            ft.add_column(col, overflow="fold")
        for f in failures:
            ft.add_row(f.name, f.stage, f.error)
        console.print(ft)
    if plugins.entry_points_disabled():
        console.print(f"entry points disabled ({plugins.DISABLE_ENV}=1)")
    return 0

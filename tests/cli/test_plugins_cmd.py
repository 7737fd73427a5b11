from __future__ import annotations

import io
import types

from rich.console import Console

import xssab
from xssab.cli.main import main


def run(argv):
    con = Console(file=io.StringIO(), width=1000, color_system=None)
    return main(argv, console=con), con.file.getvalue()


def test_plugins_lists_builtins_with_hooks_and_versions():
    rc, out = run(["plugins"])
    assert rc == 0
    line = next(ln for ln in out.splitlines() if "xssab._builtin_models" in ln)
    assert "register_models" in line and "built-in" in line
    assert xssab.__version__ in line
    assert "entry points disabled" in out


def test_plugins_reports_failures(fake_plugin):
    mod = types.ModuleType("exploding_plugin")

    @xssab.hookimpl
    def register_datasets(register):
        raise ValueError("dataset hook exploded")

    mod.register_datasets = register_datasets
    fake_plugin(mod, "exploding_plugin")
    rc, out = run(["plugins"])
    assert rc == 0
    assert "plugin failures" in out and "exploding_plugin" in out
    assert "dataset hook exploded" in out


def test_plugins_shows_template_entry_point(template_plugin):
    rc, out = run(["plugins"])
    line = next(ln for ln in out.splitlines() if ln.strip("│ ").startswith("template"))
    assert "0.1.0" in line and "entry point" in line and "register_explainers" in line

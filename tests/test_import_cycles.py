"""The module cycles named in issue 9 are gone: models/loader <-> models/model,
plugins <-> registry, and explain/xssab calling back up into explain/api. Every import
counts, also the ones inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "xssab"


def _imports(module: str) -> set[str]:
    """Absolute names of the xssab modules that ``module`` imports anywhere."""
    path = PKG.joinpath(*module.split(".")[1:]).with_suffix(".py")
    tree = ast.parse(path.read_text())
    pkg = module.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {n for n in out if n.startswith("xssab")}


@pytest.mark.parametrize("a, b", [
    ("xssab.models.loader", "xssab.models.model"),
    ("xssab.plugins", "xssab.registry"),
    ("xssab.explain.xssab", "xssab.explain.api"),
])
def test_no_cycle(a, b):
    assert not (b in _imports(a) and a in _imports(b)), f"{a} <-> {b}"


def test_loader_does_not_write_private_fields_of_the_model():
    src = (PKG / "models" / "loader.py").read_text()
    assert "model._" not in src


def test_method_does_not_call_back_into_the_api():
    assert "xssab.explain.api" not in _imports("xssab.explain.xssab")


PUBLIC_MODULES = {"xssab", "xssab.kit", "xssab.testing", "xssab.eval"}


def test_plugins_use_public_names_only():
    """First-party plugins and the template import xssab, xssab.kit and xssab.testing
    only (they used to import explain.base.pair_lists, explain.maps.resize_map and
    models.cache.xssab_home)."""
    root = PKG.parent / "plugins"
    bad = []
    for path in sorted(root.rglob("*.py")):
        if "build" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            bad += [f"{path.relative_to(root)}: {n}" for n in names
                    if n.startswith("xssab") and n.split(".")[0] == "xssab"
                    and n not in PUBLIC_MODULES]
    assert bad == []


def test_core_does_not_import_first_party_plugins_by_name():
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        if path.name == "plugins.py":  # DEFAULT_PLUGINS names them as strings only
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            mods = ([node.module or ""] if isinstance(node, ast.ImportFrom) else
                    [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            bad += [f"{path.relative_to(PKG)}: {m}" for m in mods
                    if m.split(".")[0] in ("xssab_xface", "xssab_xcos", "xssab_fggb",
                                            "xssab_corrrise")]
    assert bad == []

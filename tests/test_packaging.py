"""Packaging: the installed layout matches the source tree and the customer's rules."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def test_every_source_package_is_listed():
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "xssab").rglob("__init__.py")
    }
    assert found <= listed, f"packages missing from pyproject: {sorted(found - listed)}"


def test_plugin_and_zoo_packages_map_to_their_folders():
    cfg = _pyproject()["tool"]["setuptools"]
    for pkg, folder in cfg["package-dir"].items():
        assert pkg in cfg["packages"]
        assert pkg.startswith("xssab_"), f"{pkg}: top-level names must not be generic"
        assert (ROOT / folder / "__init__.py").is_file(), folder


def test_console_scripts_and_extras():
    proj = _pyproject()["project"]
    assert set(proj["scripts"]) == {"xssab", "xssab-bench"}
    assert any(d.startswith("onnxruntime-gpu") for d in proj["optional-dependencies"]["gpu"])
    assert any(d.startswith("pytest") for d in proj["optional-dependencies"]["dev"])
    for dep in ("numpy", "onnx", "onnx2torch", "onnxruntime", "torch", "pluggy",
                "opencv-python", "rich", "matplotlib"):
        assert any(d.split(">")[0].split("=")[0] == dep for d in proj["dependencies"]), dep


def _importable(name: str, cwd: Path) -> bool:
    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({name!r}) else 1)"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd).returncode == 0


def test_no_generic_top_level_packages_installed(tmp_path):
    # run outside the checkout so only installed packages are visible
    for generic in ("model_zoo", "benchmarks", "plugins", "tests", "xface", "xcos"):
        assert not _importable(generic, tmp_path), generic
    for ours in ("xssab", "xssab_zoo", "xssab_xface", "xssab_xcos", "xssab_fggb",
                 "xssab_corrrise"):
        assert _importable(ours, tmp_path), ours


def test_console_scripts_run():
    for script in ("xssab", "xssab-bench"):
        out = subprocess.run([script, "--help"], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert "usage" in out.stdout.lower()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    marker = ci.index("# --- the README's test command, verbatim ---")
    command = ci[marker + 1].strip()
    assert command in readme

"""The register_commands hook: a plugin adds its own `xssab` subcommand."""

from __future__ import annotations

import io

from rich.console import Console

import xssab
from xssab import plugins
from xssab.cli.main import main


def _run(argv):
    buf = io.StringIO()
    code = main(argv, console=Console(file=buf, width=200))
    return code, buf.getvalue()


class _Hello:
    @xssab.hookimpl
    def register_commands(self, subparsers):
        p = subparsers.add_parser("hello", help="say hello")
        p.add_argument("--name", default="world")
        p.set_defaults(func=self.run)

    @staticmethod
    def run(args, console):
        if args.name == "error":
            raise xssab.XssabError("no greeting for 'error'")
        console.print(f"hello {args.name}")
        return 0


class _Clash:
    @xssab.hookimpl
    def register_commands(self, subparsers):
        subparsers.add_parser("explain", help="tries to replace a built-in")


def test_plugin_adds_a_subcommand(fake_plugin):
    fake_plugin(_Hello(), "hello-plugin")
    assert _run(["hello", "--name", "kit"]) == (0, "hello kit\n")
    code, text = _run(["hello", "--name", "error"])
    assert code == 2 and text == "error: no greeting for 'error'\n"
    code, text = _run(["--help"])
    assert code == 0
    infos = {i["name"]: i for i in plugins.plugin_infos()}
    assert "register_commands" in infos["hello-plugin"]["hooks"]


def test_a_clashing_command_is_reported_and_the_builtin_kept(fake_plugin, capsys):
    fake_plugin(_Clash(), "clash-plugin")
    code, _ = _run(["explain", "--help"])
    assert code == 0 and "--model" in capsys.readouterr().out  # the built-in's help
    fails = [f for f in plugins.failures() if f.name == "clash-plugin"]
    assert len(fails) == 1 and fails[0].stage == "register_commands"
    assert "explain" in fails[0].error


def test_xface_plugin_adds_its_calibration_command(capsys):
    code, _ = _run(["xface-calibrate", "--help"])
    assert code == 0 and "x-face's confidence" in capsys.readouterr().out
    infos = {i["name"]: i for i in plugins.plugin_infos()}
    assert "register_commands" in infos["xssab_xface"]["hooks"]


def test_xface_calibrate_fits_and_caches_the_confidence(tmp_path, xssab_home):
    import json
    import stat

    from tests.graphs import model_and_folder

    model, data = model_and_folder(tmp_path, 20, model_seed=10, data_seed=41, jitter=25,
                                   noise_seed=1, model_name="xfcal.onnx")
    import os

    old = os.umask(0o022)
    try:
        code, text = _run(["xface-calibrate", "--model", str(model), "--dataset", "folder",
                           "--data", str(data)])
    finally:
        os.umask(old)
    assert code == 0, text
    assert "confidence fitted on 20 pairs" in text
    cache = xssab_home / "xface_confidence.json"
    assert "xfcal" in json.loads(cache.read_text())
    assert stat.S_IMODE(cache.stat().st_mode) == 0o644  # the umask's, not mkstemp's 0o600

"""The `xssab` front end: user errors are one line, exit 2, no traceback."""

from __future__ import annotations

import io

from rich.console import Console

from xssab.cli.bench import main as bench_main
from xssab.cli.main import main


def _run(fn, argv, width=40):
    buf = io.StringIO()
    code = fn(argv, console=Console(file=buf, width=width))
    return code, buf.getvalue()


def test_long_error_stays_one_line_on_a_narrow_terminal(tmp_path):
    missing = tmp_path / ("a-rather-long-folder-name-" * 3) / "face.png"
    code, text = _run(main, ["explain", str(missing), "b.png", "--model", "synth-arcface"])
    assert code == 2
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("error:") and "Traceback" not in text
    assert str(missing) in lines[0]


def test_markup_in_messages_is_printed_literally():
    from xssab.cli.main import run_guarded
    from xssab.errors import XssabError

    def boom():
        raise XssabError("cannot read /data/[bold]x[/bold].png")

    buf = io.StringIO()
    assert run_guarded(boom, Console(file=buf, width=200)) == 2
    assert "cannot read /data/[bold]x[/bold].png" in buf.getvalue()


def test_bench_unknown_model_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path))
    code, text = _run(bench_main, ["--models", "no-such-model-with-a-long-name"], width=30)
    assert code == 2
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1 and "no-such-model-with-a-long-name" in lines[0], text


def test_usage_error_exits_2():
    code, text = _run(main, ["explain"], width=200)
    assert code == 2 and "error" in text

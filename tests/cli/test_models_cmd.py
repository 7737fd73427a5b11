from __future__ import annotations

import hashlib
import io
import shutil

from rich.console import Console

import xssab
from xssab.cli.main import main
from xssab.models import cache


def run(argv):
    con = Console(file=io.StringIO(), width=1000, color_system=None)
    rc = main(argv, console=con)
    return rc, con.file.getvalue()


def test_models_lists_cards_with_plugin_weights_preprocessing(small_iresnet_onnx,
                                                              xssab_home):
    rc, out = run(["models"])
    assert rc == 0
    for name in ("arcface", "arcface-r100", "arcface-mbf", "elasticface-arc",
                 "elasticface-cos", "curricularface", "adaface", "mobilefacenet"):
        assert name in out
    line = next(ln for ln in out.splitlines() if " adaface " in ln)
    assert "missing" in line and "112 BGR" in line
    rc, out = run(["models", "-v"])
    line = next(ln for ln in out.splitlines() if " adaface " in ln)
    assert "xssab._builtin_models" in line and "missing" in line and "(x-127.5)" in line
    (xssab_home / "models").mkdir()
    shutil.copy(small_iresnet_onnx, xssab_home / "models" / "w600k_r50.onnx")
    cache.write_calibration("arcface", {"threshold": 0.2812, "dataset": "synth"})
    rc, out = run(["models"])
    line = next(ln for ln in out.splitlines() if " arcface " in ln)
    assert "yes" in line and "0.2812 calibrated" in line
    rc, out = run(["models", "--verbose"])
    line = next(ln for ln in out.splitlines() if " arcface " in ln)
    assert "yes" in line and "w600k_r50.onnx" in line and "(synth)" in line


def test_models_list_fits_80_columns():
    con = Console(file=io.StringIO(), width=80, color_system=None)
    assert main(["models"], console=con) == 0
    lines = con.file.getvalue().splitlines()
    rows = [ln for ln in lines if ln.startswith("│")]
    assert max(len(ln) for ln in lines) <= 80
    # one line per model: nothing wraps into a second row
    assert len(rows) == len(xssab.list_models())


def test_models_fetch_offline_and_unknown(xssab_home):
    rc, out = run(["models", "fetch", "arcface-r100"])
    assert rc == 2 and "error:" in out and "glintr100.onnx" in out
    assert "Traceback" not in out
    rc, out = run(["models", "fetch", "nonexistent-model"])
    assert rc == 2 and "unknown model" in out
    rc, out = run(["models", "fetch"])
    assert rc == 2 and "usage" in out


def test_models_fetch_downloads_and_verifies(tmp_path, xssab_home, fake_plugin):
    src = tmp_path / "dl.onnx"
    src.write_bytes(b"abc" * 100)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()

    class P:
        @xssab.hookimpl
        def register_models(self, register):
            register(xssab.ModelCard(name="dl", url=src.as_uri(), sha256=digest))

    fake_plugin(P(), "dl_plugin")
    rc, out = run(["models", "fetch", "dl"])
    assert rc == 0 and "sha256 verified" in out
    assert (xssab_home / "models" / "dl.onnx").read_bytes() == src.read_bytes()


def test_template_model_usable_from_cli(template_plugin):
    rc, out = run(["models"])
    line = next(ln for ln in out.splitlines() if "template-tiny" in ln)
    assert "yes" in line


def test_template_model_explained_from_cli(template_plugin, tmp_path):
    """The template plugin's model and method work end to end through `xssab explain`."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    cv2.imwrite(str(a), rng.integers(0, 255, (112, 112, 3), dtype=np.uint8))
    cv2.imwrite(str(b), rng.integers(0, 255, (120, 100, 3), dtype=np.uint8))
    out = tmp_path / "fig.png"
    rc, text = run(["explain", str(a), str(b), "--model", "template-tiny", "--method",
                    "template-gradient", "--out", str(out), "--align", "off"])  # noise: no face
    assert rc == 0, text
    assert "similarity" in text and out.is_file() and out.stat().st_size > 0


def test_card_escaping_the_cache_is_refused_not_fetched(tmp_path, xssab_home, fake_plugin):
    """(#13) a card's file_name is data: `../../x.onnx` must not write outside models/."""
    src = tmp_path / "w.onnx"
    src.write_bytes(b"abc")

    class P:
        @xssab.hookimpl
        def register_models(self, register):
            register(xssab.ModelCard(name="evil", url=src.as_uri(),
                                     file_name="../../[red]x.onnx"))

    fake_plugin(P(), "evil_plugin")
    rc, out = run(["models", "fetch", "evil"])
    assert rc == 2 and "not a plain file name" in out and "Traceback" not in out
    assert not list(xssab_home.parent.rglob("*x.onnx"))
    rc, out = run(["models", "--verbose"])
    assert rc == 0 and "refused" in out and "[red]x.onnx" in out  # shown, not as markup

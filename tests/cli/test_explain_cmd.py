"""`xssab explain A B --model M --out fig.png`."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from rich.console import Console

import xssab
from tests.graphs import export_onnx, random_faces, small_iresnet
from xssab.cli.main import main


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain_cmd")
    model = export_onnx(small_iresnet(seed=9), root / "cli.onnx")
    faces = random_faces(2, seed=31)
    a, b = root / "a.png", root / "b.jpg"
    cv2.imwrite(str(a), faces[0][..., ::-1])
    cv2.imwrite(str(b), cv2.resize(faces[1], (140, 150))[..., ::-1])
    return root, model, a, b


def _run(argv):
    if argv and argv[0] == "explain" and "--align" not in argv:
        argv = [*argv, "--align", "off"]  # the random test images hold no face
    buf = io.StringIO()
    code = main(argv, console=Console(file=buf, width=200))
    return code, buf.getvalue()


def test_explain_prints_and_writes_figure(assets, tmp_path, monkeypatch):
    root, model, a, b = assets
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path / "home"))
    out = tmp_path / "figs" / "fig.png"
    code, text = _run(["explain", str(a), str(b), "--model", str(model), "--threshold", "0.3",
                       "--out", str(out)])
    assert code == 0, text
    # the printed numbers are the API's
    m = xssab.load_model(str(model))
    img_a = cv2.imread(str(a))[..., ::-1].copy()
    img_b = cv2.imread(str(b))[..., ::-1].copy()
    res = xssab.explain(m, img_a, img_b, threshold=0.3, align=False)
    assert f"similarity {res.similarity:.4f}" in text
    assert "threshold  0.3000 (given)" in text
    assert ("NO MATCH" in text) == (not res.match)
    assert f"figure     {out}" in text
    assert "passes" not in text  # internals only with -v
    fig = cv2.imread(str(out))
    assert fig is not None and fig.shape[0] > 200 and fig.shape[1] > 800
    assert fig.std() > 10  # not blank


def test_explain_other_method_and_card_threshold(assets, tmp_path, monkeypatch):
    root, model, a, b = assets
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path / "home"))
    from xssab.models import cache

    cache.write_calibration("cli", {"threshold": 0.2, "dataset": "synth"})
    code, text = _run(["explain", str(a), str(b), "--model", str(model), "--method", "random"])
    assert code == 0, text
    assert "method     random" in text and "threshold  0.2000 (calibrated locally)" in text
    assert "figure     none" in text


def test_explain_errors_are_one_line(assets, tmp_path, monkeypatch):
    root, model, a, b = assets
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path / "home"))
    code, text = _run(["explain", str(a), str(root / "missing.png"), "--model", str(model),
                       "-t", "0.3"])
    assert code == 2 and text.startswith("error: cannot read image") and "missing.png" in text
    assert "Traceback" not in text and text.count("\n") == 1
    bad = root / "bad.png"
    bad.write_bytes(b"not an image")
    code, text = _run(["explain", str(a), str(bad), "--model", str(model), "-t", "0.3"])
    assert code == 2 and "bad.png" in text and "decode" in text
    code, text = _run(["explain", str(a), str(b), "--model", str(model)])
    assert code == 2 and "xssab calibrate --model cli" in text
    code, text = _run(["explain", str(a), str(b), "--model", str(model), "-t", "0.3",
                       "--method", "nope"])
    assert code == 2 and "unknown explanation method 'nope'" in text


def test_explain_options_and_model_overrides(assets, tmp_path, monkeypatch):
    root, model, a, b = assets
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path / "home"))
    multi = export_onnx(small_iresnet(seed=9), tmp_path / "multi.onnx", style="multi_output")
    # without naming the feature output, xcos cannot run: one line, exit 2
    code, text = _run(["explain", str(a), str(b), "--model", str(multi), "-t", "0.3",
                       "--method", "xcos"])
    assert code == 2 and "Traceback" not in text and len(text.strip().splitlines()) == 1
    code, text = _run(["explain", str(a), str(b), "--model", str(multi), "-t", "0.3",
                       "--method", "xcos", "--feature-output", "features"])
    assert code == 0, text
    assert "xcos-uniform" in text
    code, text = _run(["explain", str(a), str(b), "--model", str(model), "-t", "0.3",
                       "--method", "random", "-O", "seed=3"])
    assert code == 0, text
    code, bad = _run(["explain", str(a), str(b), "--model", str(model), "-t", "0.3",
                      "-O", "nonsense"])
    assert code == 2 and "KEY=VALUE" in bad
    code, bad = _run(["explain", str(a), str(b), "--model", str(model), "-t", "0.3",
                      "-O", "no_such_option=1", "-O", "chunksize=4"])
    assert code == 2 and "Traceback" not in bad
    assert "unknown options 'no_such_option', 'chunksize' (did you mean chunk_size?)" in bad
    assert "valid keys: seed, chunk_size, vjp, deterministic" in bad
    code, bad = _run(["explain", str(a), str(b), "--model", str(model), "--method", "nope"])
    assert code == 2 and "unknown explanation method" in bad


def test_explain_prints_scalar_extras_of_the_method(assets, tmp_path, monkeypatch):
    root, model, a, b = assets
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path / "home"))
    from xssab.cli.cmd_explain import parse_options

    assert parse_options(["seed=3", "patch_sizes=7,14", "name=abc", "flag=True"]) == {
        "seed": 3, "patch_sizes": (7, 14), "name": "abc", "flag": True}
    code, text = _run(["explain", str(a), str(b), "--model", str(model), "-t", "0.3",
                       "--method", "xface", "-O", "patch_sizes=28,", "-O", "stride=7", "-v"])
    assert code == 0, text
    m = xssab.load_model(str(model))
    img_a = cv2.imread(str(a))[..., ::-1].copy()
    img_b = cv2.imread(str(b))[..., ::-1].copy()
    res = xssab.explain(m, img_a, img_b, threshold=0.3, method="xface",
                        options={"patch_sizes": (28,), "stride": 7}, align=False)
    assert f"passes     {res.forward_passes} forward" in text
    scalars = {k: v for k, v in res.extras.items() if isinstance(v, (str, int, float))}
    for key in scalars:
        assert key in text


# ---------------------------------------------------------------- hostile inputs (#13)
def test_unwritable_out_fails_before_any_work(assets, tmp_path, monkeypatch):
    import os

    root, model, a, b = assets
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path / "home"))
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    calls = []
    monkeypatch.setattr(xssab, "load_model", lambda *a, **k: calls.append(1))
    try:
        if os.access(ro, os.W_OK):  # root ignores permissions: use a file as the folder
            ro = tmp_path / "file"
            ro.write_text("x")
        code, text = _run(["explain", str(a), str(b), "--model", str(model),
                           "--threshold", "0.3", "--out", str(ro / "fig.png")])
    finally:
        (tmp_path / "ro").chmod(0o700)
    assert code == 2 and text.startswith("error: --out") and "Traceback" not in text
    assert len(text.strip().splitlines()) == 1 and calls == []


def test_directory_fifo_and_empty_images(assets, tmp_path, monkeypatch):
    import os

    root, model, a, b = assets
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path / "home"))
    (tmp_path / "d.png").mkdir()
    os.mkfifo(tmp_path / "f.png")
    (tmp_path / "e.png").write_bytes(b"")
    for bad, words in (("d.png", "directory"), ("f.png", "not a regular file"),
                       ("e.png", "empty"), ("/dev/zero", "not a regular file")):
        path = bad if bad.startswith("/") else str(tmp_path / bad)
        code, text = _run(["explain", path, str(b), "--model", str(model), "-t", "0.3"])
        assert code == 2 and text.startswith("error:") and words in text, text
        assert len(text.strip().splitlines()) == 1


def test_negative_seed_is_one_line(assets, tmp_path, monkeypatch):
    root, model, a, b = assets
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path / "home"))
    code, text = _run(["explain", str(a), str(b), "--model", str(model), "-t", "0.3",
                       "--method", "random", "-O", "seed=-1"])
    assert code == 2 and "seed must be a non-negative integer" in text, text


def test_explain_smooth_option_smooths_any_method(assets, tmp_path, monkeypatch):
    from xssab.cli.cmd_explain import smooth_explanation

    root, model, a, b = assets
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path / "home"))
    code, text = _run(["explain", str(a), str(b), "--model", str(model), "--threshold", "0.3",
                       "--method", "random", "--smooth", "3", "-v", "--out",
                       str(tmp_path / "s.png")])
    assert code == 0, text
    assert "smooth_sigma" in text
    m = xssab.load_model(str(model))
    res = xssab.explain(m, random_faces(1, seed=1)[0], random_faces(1, seed=2)[0],
                        threshold=0.3)
    sm = smooth_explanation(res, 3.0)
    lag = lambda x: np.corrcoef(x[:, 1:].ravel(), x[:, :-1].ravel())[0, 1]  # noqa: E731
    assert lag(sm.a.combined) > lag(res.a.combined) and sm.b is not None
    code, text = _run(["explain", str(a), str(b), "--model", str(model), "--threshold", "0.3",
                       "--smooth", "-1"])
    assert code == 2 and "--smooth" in text

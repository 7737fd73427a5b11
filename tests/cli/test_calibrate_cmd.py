"""`xssab calibrate --model M --dataset folder --data DIR`."""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pytest
from rich.console import Console

import xssab
from tests.graphs import model_and_folder
from xssab.cli.main import main
from xssab.metrics.verification import eer

N_PAIRS = 20


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return model_and_folder(tmp_path_factory.mktemp("calibrate_cmd"), N_PAIRS, model_seed=10,
                            data_seed=41, jitter=25, noise_seed=1, model_name="calcli.onnx")


def _run(argv):
    buf = io.StringIO()
    code = main(argv, console=Console(file=buf, width=200))
    return code, buf.getvalue()


def test_calibrate_stores_override_used_later(assets, tmp_path, monkeypatch):
    model, data = assets
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path))
    code, text = _run(["calibrate", "--model", str(model), "--dataset", "folder",
                       "--data", str(data), "--batch-size", "8"])
    assert code == 0, text
    rec = json.loads((tmp_path / "calibration.json").read_text())["calcli"]
    # independent check of the stored threshold
    ds = xssab.get_dataset("folder", path=str(data))
    m = xssab.load_model(str(model))
    pairs = ds.pairs()
    ea = m.embed([ds.load(p.a) for p in pairs], normalize=True)
    eb = m.embed([ds.load(p.b) for p in pairs], normalize=True)
    e, t = eer(np.sum(ea * eb, axis=1), np.array([p.same for p in pairs]))
    assert rec["threshold"] == pytest.approx(t, abs=1e-5) and rec["eer"] == pytest.approx(e)
    assert rec["dataset"] == "folder" and rec["pairs"] == N_PAIRS
    assert f"threshold  {t:.4f} (EER of " in text and "EER" in text and "accuracy" in text
    assert m.threshold == pytest.approx(t, abs=1e-5) and m.threshold_source == "calibrated"
    # `xssab models` is the core's command; the explain command now needs no --threshold
    img = cv2.imread(str(data / "00001.png"))
    assert img is not None
    code, text = _run(["explain", str(data / "00001.png"), str(data / "00002.png"),
                       "--model", str(model)])
    assert code == 0 and "(calibrated locally)" in text


def test_calibrate_subset_dry_run_and_errors(assets, tmp_path, monkeypatch):
    model, data = assets
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path))
    code, text = _run(["calibrate", "--model", str(model), "--dataset", "folder",
                       "--data", str(data), "--pairs", "10", "--dry-run"])
    assert code == 0, text
    assert "10 pairs: 5 genuine, 5 impostor" in text and "not stored" in text
    assert not (tmp_path / "calibration.json").exists()
    code, text = _run(["calibrate", "--model", str(model), "--dataset", "nope"])
    assert code == 2 and text.startswith("error: unknown dataset 'nope'")
    code, text = _run(["calibrate", "--model", str(model), "--dataset", "folder",
                       "--data", str(tmp_path / "absent")])
    assert code == 2 and text.startswith("error:") and "Traceback" not in text


def test_calibrate_fits_xface_confidence_shown_by_explain(assets, tmp_path, monkeypatch):
    model, data = assets
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path))
    code, text = _run(["calibrate", "--model", str(model), "--dataset", "folder",
                       "--data", str(data), "--xface-confidence"])
    assert code == 0, text
    assert f"x-face     confidence fitted on {N_PAIRS} pairs" in text
    assert "--xface-confidence is deprecated" in text and "xssab xface-calibrate" in text
    cached = json.loads((tmp_path / "xface_confidence.json").read_text())
    assert "calcli" in cached
    a, b = data / "00001.png", data / "00002.png"
    code, text = _run(["explain", str(a), str(b), "--model", str(model), "--method", "xface",
                       "-O", "patch_sizes=28,", "-O", "stride=7", "-v"])
    assert code == 0, text
    line = [ln for ln in text.splitlines() if ln.split()[:1] == ["confidence"]]
    assert len(line) == 1
    assert 0.0 <= float(line[0].split()[1]) <= 1.0
    assert "confidence_calibration folder" in text


def test_calibrate_repairs_a_malformed_calibration_file(assets, tmp_path, monkeypatch):
    """(#13) a wrong type in calibration.json broke every command, calibrate included."""
    model, data = assets
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path))
    (tmp_path / "calibration.json").write_text('{"calcli": {"threshold": [1]}, '
                                               '"other": {"threshold": 0.5}}')
    code, text = _run(["explain", str(data / "00001.png"), str(data / "00002.png"),
                       "--model", str(model)])
    assert code == 2 and text.startswith("error:") and "malformed" in text
    assert len(text.strip().splitlines()) == 1
    code, text = _run(["calibrate", "--model", str(model), "--dataset", "folder",
                       "--data", str(data), "--batch-size", "8"])
    assert code == 0, text
    rec = json.loads((tmp_path / "calibration.json").read_text())
    assert isinstance(rec["calcli"]["threshold"], float) and rec["other"]["threshold"] == 0.5
    code, text = _run(["explain", str(data / "00001.png"), str(data / "00002.png"),
                       "--model", str(model)])
    assert code == 0 and "calibrated" in text

from __future__ import annotations

import hashlib
import json
import zipfile

import pytest

import xssab
from xssab.errors import WeightsMissingError
from xssab.models import cache


def test_home_from_env_and_default(monkeypatch, tmp_path, xssab_home):
    assert cache.xssab_home() == xssab_home
    monkeypatch.delenv("XSSAB_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.xssab_home() == tmp_path / "xdg" / "xssab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.xssab_home().parts[-2:] == (".cache", "xssab")


def test_fetch_file_url_verifies_sha256(tmp_path, xssab_home):
    src = tmp_path / "w.onnx"
    src.write_bytes(b"weights" * 1000)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    card = xssab.ModelCard(name="m", url=src.as_uri(), sha256=digest)
    got = cache.fetch(card)
    assert got == xssab_home / "models" / "w.onnx" and got.read_bytes() == src.read_bytes()
    assert cache.find_weights(card) == got
    bad = xssab.ModelCard(name="bad", url=src.as_uri(), sha256="0" * 64, file_name="b.onnx")
    with pytest.raises(WeightsMissingError, match="sha256") as exc:
        cache.fetch(bad)
    assert "\n" not in str(exc.value)
    assert not (xssab_home / "models" / "b.onnx").exists()
    assert not list((xssab_home / "models").glob("*.part"))


def test_fetch_extracts_archive_member(tmp_path, xssab_home):
    payload = b"onnx bytes" * 100
    archive = tmp_path / "pack.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pack/model.onnx", payload)
        zf.writestr("pack/other.onnx", b"x")
    card = xssab.ModelCard(name="z", url=archive.as_uri(), file_name="model.onnx",
                           sha256=hashlib.sha256(payload).hexdigest(),
                           extra={"archive_member": "model.onnx"})
    assert cache.fetch(card).read_bytes() == payload


def test_fetch_offline_says_where_to_put_the_file(xssab_home):
    card = xssab.ModelCard(name="off", url="http://127.0.0.1:9/none/off.onnx")
    with pytest.raises(WeightsMissingError) as exc:
        cache.fetch(card, timeout=5)
    msg = str(exc.value)
    assert str(xssab_home / "models" / "off.onnx") in msg and "\n" not in msg
    nourl = xssab.ModelCard(name="nourl", file_name="n.onnx", how_to_obtain="ask Bob")
    with pytest.raises(WeightsMissingError, match="ask Bob"):
        cache.fetch(nourl)


def test_calibration_roundtrip_atomic(xssab_home):
    assert cache.read_calibration() == {}
    cache.write_calibration("a", {"threshold": 0.3, "eer": 0.1, "dataset": "synth"})
    cache.write_calibration("b", {"threshold": 0.5})
    data = json.loads((xssab_home / "calibration.json").read_text())
    assert data["a"]["threshold"] == 0.3 and data["b"]["threshold"] == 0.5
    assert cache.calibrated_threshold("a") == 0.3 and cache.calibrated_threshold("c") is None
    assert list(xssab_home.glob("*.tmp")) == []
    (xssab_home / "calibration.json").write_text("{broken")
    with pytest.raises(xssab.XssabError, match="calibration.json"):
        cache.read_calibration()

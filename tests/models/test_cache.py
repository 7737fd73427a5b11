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


# ---------------------------------------------------------------- hostile inputs (#13)
def test_home_pointing_at_a_file_is_one_line(monkeypatch, tmp_path):
    from xssab.errors import XssabError

    f = tmp_path / "file"
    f.write_text("x")
    monkeypatch.setenv("XSSAB_HOME", str(f))
    with pytest.raises(XssabError, match="is a file, not a folder") as exc:
        cache.calibration_path()
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("name", ["../../x.onnx", "/tmp/abs.onnx", "sub/x.onnx", "..",
                                  "a\\b.onnx"])
def test_card_file_name_cannot_leave_the_model_cache(tmp_path, xssab_home, name):
    from xssab.errors import XssabError

    src = tmp_path / "w.onnx"
    src.write_bytes(b"weights")
    card = xssab.ModelCard(name="evil", url=src.as_uri(), file_name=name)
    with pytest.raises(XssabError, match="not a plain file name") as exc:
        cache.fetch(card)
    assert "\n" not in str(exc.value)
    assert not (xssab_home.parent / "x.onnx").exists() and not list(tmp_path.rglob("x.onnx"))
    url_card = xssab.ModelCard(name="evil2", url=src.as_uri().replace("w.onnx", "..%2F..") + "/..")
    with pytest.raises(XssabError):
        cache.fetch(url_card)


@pytest.mark.parametrize("content", ['{"m": {"threshold": "abc"}}', '{"m": [1, 2]}',
                                     '{"m": {"threshold": NaN}}', "[1, 2]", "{broken",
                                     '{"m": {"threshold": true}}'])
def test_malformed_calibration_is_one_line_and_repairable(xssab_home, content):
    from xssab.errors import XssabError

    (xssab_home / "calibration.json").write_text(content)
    with pytest.raises(XssabError, match="calibrat") as exc:
        cache.calibrated_threshold("m")
    assert "\n" not in str(exc.value)
    with cache.ignoring_bad_calibration():
        assert cache.calibrated_threshold("m") is None
    cache.write_calibration("m", {"threshold": 0.25})
    assert cache.calibrated_threshold("m") == 0.25

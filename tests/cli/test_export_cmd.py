"""`xssab explain --dataset NAME --out MAPS`: every pair's maps into a resumable store."""

import io

import numpy as np
import pytest
from rich.console import Console

import xssab
from xssab import registry
from xssab.cli.main import main
from xssab.report import mapstore
from xssab.report.mapstore import MapStore

from tests.graphs import folder_dataset, model_and_folder

pytest.importorskip("zarr")
N = 8


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return model_and_folder(tmp_path_factory.mktemp("export_assets"), N, model_seed=4,
                            data_seed=6, noise_seed=1)


def _run(argv):
    con = Console(file=io.StringIO(), width=200)
    rc = main(argv, console=con)
    return rc, con.file.getvalue()


def _argv(assets, out, *extra):
    model, data = assets
    return ["explain", "--dataset", "folder", "--data", str(data), "--model", str(model),
            "-t", "0.3", "--out", str(out), "--chunk-pairs", "3", *extra]


def _arrays(path):
    s = MapStore.read(path)
    return {k: s.array(k) for k in ("positive", "negative", "combined", "similarity",
                                    "match", "image_shape", "forward_passes")}


def test_export_interrupted_resumes_to_identical_store(assets, tmp_path, monkeypatch):
    rc, text = _run(_argv(assets, tmp_path / "full", "--dtype", "float32"))
    assert rc == 0, text
    assert f"computed   {N} pairs" in text and "pairs/s" in text
    full = _arrays(tmp_path / "full")

    real = MapStore.write_chunk
    calls = {"n": 0}

    def flaky(self, k, result):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(self, k, result)

    monkeypatch.setattr(mapstore.MapStore, "write_chunk", flaky)
    rc, text = _run(_argv(assets, tmp_path / "part", "--dtype", "float32"))
    assert rc == 130 and "interrupted" in text
    assert MapStore.read(tmp_path / "part").pending() == [1, 2]
    monkeypatch.setattr(mapstore.MapStore, "write_chunk", real)
    rc, text = _run(_argv(assets, tmp_path / "part", "--dtype", "float32"))
    assert rc == 0 and "computed   5 pairs" in text, text  # chunks 1, 2 = pairs 3..7
    part = _arrays(tmp_path / "part")
    for k in full:
        np.testing.assert_array_equal(part[k], full[k], err_msg=k)
    rc, text = _run(_argv(assets, tmp_path / "part", "--dtype", "float32"))
    assert rc == 0 and "computed   nothing" in text

    # read back: the stored maps are what xssab.explain_pairs gives for the pair's chunk
    model_path, data = assets
    store = MapStore.read(tmp_path / "full")
    ds = registry.get_dataset("folder", path=str(data))
    chunk = ds.pairs()[3:6]  # chunk 1 holds pairs 3, 4, 5
    assert store.pairs()[4]["a"] == chunk[1].a
    res = xssab.explain_pairs(xssab.load_model(str(model_path)),
                              [ds.load(p.a) for p in chunk], [ds.load(p.b) for p in chunk],
                              threshold=0.3)[1]
    got_a, got_b = store.maps(4, 0), store.maps(4, 1)
    np.testing.assert_array_equal(got_a["combined"], res.a.combined)
    np.testing.assert_array_equal(got_b["negative"], res.b.negative)
    assert store.array("similarity")[4] == res.similarity
    assert store.attrs["threshold"] == 0.3 and store.attrs["method"] == "xssab"
    assert store.attrs["options"] == {**store.attrs["options"], "seed": 0}


def test_float16_error_recorded_and_random_maps_independent_of_chunking(assets, tmp_path):
    rc, text = _run(_argv(assets, tmp_path / "h", "--method", "random"))
    assert rc == 0 and "float16    max abs error" in text, text
    rc, _ = _run(_argv(assets, tmp_path / "f", "--method", "random", "--dtype", "float32",
                       "--chunk-pairs", "8"))
    assert rc == 0
    h, f = MapStore.read(tmp_path / "h"), MapStore.read(tmp_path / "f")
    exact, half = f.array("combined"), h.array("combined").astype(np.float32)
    err = float(np.abs(half - exact).max())
    assert 0 < err == pytest.approx(h.attrs["storage_max_abs_error"], rel=1e-6)
    assert err <= 2 ** -11 * np.abs(exact).max()
    # random maps depend on the pair index only, not on the chunk they were computed in
    assert not np.array_equal(exact[0], exact[1])
    np.testing.assert_allclose(half, exact, atol=err)


def test_export_bad_input_one_line(assets, tmp_path):
    model, data = assets
    rc, text = _run(["explain", "a.png", "--dataset", "folder", "--data", str(data),
                     "--out", str(tmp_path / "x")])
    assert rc == 2 and "give no image files" in text
    rc, text = _run(["explain", "--dataset", "folder", "--data", str(data)])
    assert rc == 2 and "needs --out" in text
    rc, text = _run(_argv(assets, tmp_path / "y", "--address", "auto"))
    assert rc == 2 and "need --executor ray" in text
    rc, text = _run(_argv(assets, tmp_path / "y", "-O", "bogus=1"))
    assert rc == 2 and "bad option" in text
    rc, text = _run(_argv(assets, tmp_path / "y", "--chunk-pairs", "0"))
    assert rc == 2 and "--chunk-pairs 0" in text
    rc, _ = _run(_argv(assets, tmp_path / "z"))
    assert rc == 0
    rc, text = _run(_argv(assets, tmp_path / "z", "--method", "random"))
    assert rc == 2 and "other settings" in text and "--force" in text
    rc, text = _run(["explain", "--model", str(model)])
    assert rc == 2 and "give two images" in text
    for line in text.strip().splitlines():
        assert "Traceback" not in line


def test_synth_export_writes_resumes_reads_back(tmp_path):
    out = tmp_path / "maps"
    rc, text = _run(["explain", "--dataset", "synth", "--pairs", "12", "--out", str(out),
                     "--chunk-pairs", "5"])
    assert rc == 0 and "computed   12 pairs" in text, text
    rc, text = _run(["explain", "--dataset", "synth", "--pairs", "12", "--out", str(out),
                     "--chunk-pairs", "5"])
    assert rc == 0 and "computed   nothing" in text
    s = MapStore.read(out)
    assert s.complete and s.attrs["model"] == "synth-arcface"
    assert s.array("same").sum() == 6 and s.array("combined").shape[:2] == (12, 2)
    assert np.isfinite(s.array("combined").astype(np.float32)).all()
    assert s.attrs["threshold_source"] and s.attrs["storage_max_rel_error"] < 1e-3


def test_export_out_checked_and_locked_before_any_work(assets, tmp_path, monkeypatch):
    import subprocess
    import sys

    def no_work(*a, **k):
        raise AssertionError("the model was loaded before --out was checked")

    (tmp_path / "file").write_text("x")
    monkeypatch.setattr(xssab, "load_model", no_work)
    rc, text = _run(_argv(assets, tmp_path / "file" / "maps"))
    assert rc == 2 and "is a file, not a folder" in text, text
    # another process holds the store: one line, nothing loaded or written
    out = tmp_path / "busy"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from filelock import FileLock; "
         f"lock = FileLock({str(out / '.xssab.lock')!r}); lock.acquire(); print('held', flush=True); "
         "sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        rc, text = _run(_argv(assets, out))
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert rc == 2 and "in use by another xssab run" in text, text
    assert sorted(q.name for q in out.iterdir()) == [".xssab.lock"]


def test_resume_refuses_other_images_and_recomputes_damaged_chunks(assets, tmp_path):
    import shutil

    import cv2

    model, data = assets
    mine = shutil.copytree(data, tmp_path / "data")
    out = tmp_path / "maps"
    argv = ["explain", "--dataset", "folder", "--data", str(mine), "--model", str(model),
            "-t", "0.3", "--out", str(out), "--chunk-pairs", "3", "--dtype", "float32"]
    rc, text = _run(argv)
    assert rc == 0, text
    full = _arrays(out)
    # the same pair names in another folder with other images: refused, not mixed
    other = tmp_path / "other"
    folder_dataset(other, N, seed=9, jitter=20, noise_seed=2)
    rc, text = _run([*argv[:4], str(other), *argv[5:]])
    assert rc == 2 and "other settings" in text and "data" in text, text
    # an image changed in place: the stored maps no longer match the data
    img = cv2.imread(str(mine / "00001.png"))
    cv2.imwrite(str(mine / "00001.png"), 255 - img)
    rc, text = _run(argv)
    errors = [ln for ln in text.splitlines() if "error" in ln]
    assert rc == 2 and len(errors) == 1 and "data_fingerprint" in errors[0], text
    cv2.imwrite(str(mine / "00001.png"), img)
    # a damaged chunk (its file gone: zarr would read zeros) is recomputed, not kept
    (out / "combined" / "1.0.0.0").unlink()
    rc, text = _run(argv)
    assert rc == 0 and "computed   3 pairs" in text and "repaired   1" in text, text
    again = _arrays(out)
    for k in full:
        np.testing.assert_array_equal(again[k], full[k], err_msg=k)
    assert (out / ".xssab.lock").exists() and MapStore.read(out).complete

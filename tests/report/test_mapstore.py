"""The map store: create, write chunks, resume only with the same settings, read back."""

import numpy as np
import pytest

from xssab.data.base import Pair
from xssab.errors import XssabError
from xssab.report.mapstore import MapStore, pairs_sha256

pytest.importorskip("zarr")

PAIRS = [Pair(f"a{i}", f"b{i}", i % 2 == 0, i // 3) for i in range(5)]
SETTINGS = {"model": "m", "model_sha256": "abc", "method": "xssab", "options": {"seed": 0},
            "threshold": 0.3, "dataset": "folder", "dtype": "float16", "chunk_pairs": 2,
            "sides": "both"}


def _chunk(store, k, rng):
    start, stop = store.chunk_range(k)
    n = stop - start
    maps = {name: rng.normal(size=(n, 2, 6, 5)).astype(np.float32) * 3
            for name in ("positive", "negative", "combined")}
    return dict(maps, similarity=rng.random(n), match=rng.random(n) > 0.5,
                image_shape=np.full((n, 2, 2), 6, np.int32),
                forward_passes=np.arange(n), backward_passes=np.arange(n) + 1,
                seconds=0.5)


def test_chunks_resume_and_read_back(tmp_path):
    rng = np.random.default_rng(0)
    store = MapStore.open(tmp_path / "m", settings=SETTINGS, pairs=PAIRS, map_size=(6, 5))
    assert (store.n_chunks, store.chunk_range(2), store.pending()) == (3, (4, 5), [0, 1, 2])
    written = {}
    for k in (0, 2):
        written[k] = _chunk(store, k, rng)
        store.write_chunk(k, written[k])
    # reopened with the same settings: only the unfinished chunk is pending
    again = MapStore.open(tmp_path / "m", settings=SETTINGS, pairs=PAIRS, map_size=(6, 5))
    assert again.pending() == [1] and not again.complete
    written[1] = _chunk(again, 1, rng)
    again.write_chunk(1, written[1])
    again.finish({"note": "x"})
    r = MapStore.read(tmp_path / "m")
    assert r.complete and r.attrs["note"] == "x" and r.attrs["pairs_sha256"] == \
        pairs_sha256(PAIRS)
    full = np.concatenate([written[k]["combined"] for k in range(3)])
    stored = r.array("combined")
    assert stored.dtype == np.float16 and stored.shape == (5, 2, 6, 5)
    err = float(np.abs(stored.astype(np.float32) - full).max())
    assert 0 < err == pytest.approx(r.attrs["storage_max_abs_error"], rel=1e-6)
    assert err <= np.abs(full).max() * 2 ** -11  # float16 rounding: half an ulp
    np.testing.assert_array_equal(r.array("same"), [p.same for p in PAIRS])
    np.testing.assert_array_equal(r.array("fold"), [p.fold for p in PAIRS])
    assert [p["a"] for p in r.pairs()] == [p.a for p in PAIRS]
    np.testing.assert_allclose(r.maps(4, 1)["positive"], written[2]["positive"][0, 1],
                               atol=err)


def test_other_settings_refused_unless_force(tmp_path):
    MapStore.open(tmp_path / "m", settings=SETTINGS, pairs=PAIRS, map_size=(6, 5))
    with pytest.raises(XssabError, match="other settings.*method 'xssab' -> 'xface'"):
        MapStore.open(tmp_path / "m", settings=dict(SETTINGS, method="xface"), pairs=PAIRS,
                      map_size=(6, 5))
    with pytest.raises(XssabError, match="other settings.*n_pairs"):
        MapStore.open(tmp_path / "m", settings=SETTINGS, pairs=PAIRS[:4], map_size=(6, 5))
    s = MapStore.open(tmp_path / "m", settings=dict(SETTINGS, dtype="float32"),
                      pairs=PAIRS, map_size=(6, 5), force=True)
    assert s.attrs["dtype"] == "float32" and s.pending() == [0, 1, 2]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("keep")
    with pytest.raises(XssabError, match="not a map store"):
        MapStore.open(tmp_path / "other", settings=SETTINGS, pairs=PAIRS, map_size=(6, 5))
    with pytest.raises(XssabError, match="not a map store"):
        MapStore.open(tmp_path / "other", settings=SETTINGS, pairs=PAIRS, map_size=(6, 5),
                      force=True)
    assert (tmp_path / "other" / "x.txt").read_text() == "keep"
    with pytest.raises(XssabError, match="--dtype"):
        MapStore.open(tmp_path / "n", settings=dict(SETTINGS, dtype="int8"), pairs=PAIRS,
                      map_size=(6, 5))
    with pytest.raises(XssabError, match="not a map store"):
        MapStore.read(tmp_path / "other")


def test_interrupted_creation_restarts_but_foreign_zarr_is_kept(tmp_path):
    import zarr

    half = zarr.open_group(str(tmp_path / "half"), mode="w", zarr_format=2)
    half.create_array("combined", shape=(1,), dtype="float32")
    s = MapStore.open(tmp_path / "half", settings=SETTINGS, pairs=PAIRS, map_size=(6, 5))
    assert s.pending() == [0, 1, 2] and s.attrs["method"] == "xssab"
    foreign = zarr.open_group(str(tmp_path / "foreign"), mode="w", zarr_format=2)
    foreign.create_array("data", shape=(3,), dtype="float32")
    with pytest.raises(XssabError, match="not an xssab map store"):
        MapStore.open(tmp_path / "foreign", settings=SETTINGS, pairs=PAIRS, map_size=(6, 5))
    assert (tmp_path / "foreign" / "data").exists()


def _written_store(tmp_path, rng):
    store = MapStore.open(tmp_path / "m", settings=SETTINGS, pairs=PAIRS, map_size=(6, 5))
    for k in range(store.n_chunks):
        store.write_chunk(k, _chunk(store, k, rng))
    return store


def test_damaged_chunks_are_recomputed_never_kept(tmp_path):
    """A chunk marked done whose files were deleted, truncated or altered is pending again
    on reopening (zarr would serve a missing chunk file as zeros)."""
    import zarr

    _written_store(tmp_path, np.random.default_rng(1))
    m = tmp_path / "m"
    (m / "combined" / "0.0.0.0").unlink()  # missing: zarr reads the fill value 0
    data = (m / "positive" / "1.0.0.0").read_bytes()
    (m / "positive" / "1.0.0.0").write_bytes(data[: len(data) // 2])  # truncated
    g = zarr.open_group(str(m), mode="r+", zarr_format=2)
    g["similarity"][4] = 0.125  # altered value of chunk 2 (still decodes)
    again = MapStore.open(m, settings=SETTINGS, pairs=PAIRS, map_size=(6, 5))
    assert again.repaired == [0, 1, 2] and again.pending() == [0, 1, 2]
    # an intact store reopens with nothing to redo
    rng = np.random.default_rng(2)
    for k in again.pending():
        again.write_chunk(k, _chunk(again, k, rng))
    third = MapStore.open(m, settings=SETTINGS, pairs=PAIRS, map_size=(6, 5))
    assert third.repaired == [] and third.pending() == [] and third.complete


def test_damaged_bookkeeping_is_refused_in_one_line(tmp_path):
    _written_store(tmp_path, np.random.default_rng(3))
    (tmp_path / "m" / "chunk_sha256" / ".zarray").write_text("{not json")
    with pytest.raises(XssabError, match="bookkeeping is damaged.*--force") as exc:
        MapStore.open(tmp_path / "m", settings=SETTINGS, pairs=PAIRS, map_size=(6, 5))
    assert "\n" not in str(exc.value)


def test_store_creation_keeps_the_lock_of_the_running_export(tmp_path):
    """``folder_lock`` puts ``.xssab.lock`` in the store folder: creating (or recreating
    with --force) must neither refuse that folder nor delete the held lock file."""
    from xssab.safe_output import LOCK_NAME, folder_lock

    with folder_lock(tmp_path / "m"):
        s = MapStore.open(tmp_path / "m", settings=SETTINGS, pairs=PAIRS, map_size=(6, 5))
        assert s.pending() == [0, 1, 2] and (tmp_path / "m" / LOCK_NAME).exists()
        s = MapStore.open(tmp_path / "m", settings=dict(SETTINGS, dtype="float32"),
                          pairs=PAIRS, map_size=(6, 5), force=True)
        assert s.attrs["dtype"] == "float32" and (tmp_path / "m" / LOCK_NAME).exists()

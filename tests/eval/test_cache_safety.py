"""The stage cache never changes a result (#13): a cached run equals a --no-cache run
when images change in place, when the same relative --data names another folder, when a
run resumes with another batch size, and when cache files are damaged; --out is locked
and checked before any work."""

import io
import json
import multiprocessing as mp
import shutil

import cv2
import numpy as np
import pytest
from rich.console import Console

import xssab
from xssab.cli.bench import main as bench_main
from xssab.eval import BenchConfig, run_bench
from xssab.report.results import to_json

from tests.graphs import folder_dataset, model_and_folder

N_PAIRS = 8


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache_safety")
    model, data = model_and_folder(root, N_PAIRS)
    other = folder_dataset(root / "other", N_PAIRS, seed=6, jitter=20, noise_seed=1)
    return model, data, other


def _cfg(model, data, cache, **kw):
    base = dict(models=[str(model)], methods="random", dataset="folder", data=str(data),
                pairs=0, batch_size=4, cache=cache)
    base.update(kw)
    return BenchConfig(**base)


def _numbers(res):
    d = json.loads(to_json(res.to_dict()))
    for m in d["models"].values():
        for x in m["methods"].values():
            x.pop("ms_per_pair", None)
            x.pop("ms_per_pair_cached", None)  # fresh vs read back, by design
    d.pop("stages", None)  # which stages came from the cache
    return d


def test_images_changed_in_place_are_not_served_from_the_cache(assets, tmp_path):
    model, data, _ = assets
    d = tmp_path / "d"
    shutil.copytree(data, d)
    cache = tmp_path / "cache"
    run_bench(_cfg(model, d, cache))
    for f in sorted(d.glob("0000[1-4].png")):  # same names, other pixels
        cv2.imwrite(str(f), cv2.GaussianBlur(cv2.imread(str(f)), (7, 7), 3))
    cached = run_bench(_cfg(model, d, cache))
    fresh = run_bench(_cfg(model, d, False))
    assert _numbers(cached) == _numbers(fresh)
    assert cached.stages_computed  # recomputed, not reused


def test_same_relative_data_in_another_folder(assets, tmp_path, monkeypatch):
    model, data, other = assets
    for name, src in (("a", data), ("b", other)):
        shutil.copytree(src, tmp_path / name / "d")
    cache = tmp_path / "cache"
    monkeypatch.chdir(tmp_path / "a")
    run_bench(_cfg(model, "d", cache))
    monkeypatch.chdir(tmp_path / "b")
    cached = run_bench(_cfg(model, "d", cache))
    assert _numbers(cached) == _numbers(run_bench(_cfg(model, "d", False)))


def test_resume_with_another_batch_size_keeps_every_map(assets, tmp_path, monkeypatch):
    """Interrupted with --batch-size 3, resumed with 4: the old chunk (pairs 0-2) is not
    taken for the new one (pairs 0-3): the stage used to be saved with a map missing and
    every later run failed with KeyError."""
    model, data, _ = assets
    cache = tmp_path / "cache"
    real = xssab.explain_pairs
    calls = []

    def explain(*a, **k):
        calls.append(len(a[1]))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(xssab, "explain_pairs", explain)
    with pytest.raises(KeyboardInterrupt):
        run_bench(_cfg(model, data, cache, methods="xssab", batch_size=3))
    monkeypatch.setattr(xssab, "explain_pairs", real)
    res = run_bench(_cfg(model, data, cache, methods="xssab", batch_size=4))
    maps = next(iter(res.models.values())).methods["xssab"].maps
    assert sorted(maps) == sorted(f"{w}{i}" for w in "pu" for i in range(N_PAIRS))
    again = run_bench(_cfg(model, data, cache, methods="xssab", batch_size=4))
    assert again.stages_computed == []
    fresh = run_bench(_cfg(model, data, False, methods="xssab", batch_size=4))
    assert _numbers(again) == _numbers(fresh)


@pytest.mark.parametrize("damage", ["truncate", "swap", "garbage"])
def test_damaged_or_foreign_entries_are_recomputed(assets, tmp_path, damage):
    model, data, _ = assets
    cache = tmp_path / "cache"
    ref = run_bench(_cfg(model, data, cache))
    entries = sorted(cache.glob("*/*.npz"))
    verify = next(p for p in entries if p.name == "verify.npz")
    other = next(p for p in entries if p.name == "dpr_random.npz")
    if damage == "truncate":
        verify.write_bytes(verify.read_bytes()[:200])
    elif damage == "swap":  # another stage's complete file under this stage's name
        np.savez(verify, **dict(np.load(other)))
    else:
        verify.write_bytes(b"PK\x03\x04 not really a zip")
    again = run_bench(_cfg(model, data, cache))
    assert any("verify" in s for s in again.stages_computed)
    assert _numbers(again) == _numbers(ref)


def _run_cli(argv):
    con = Console(file=io.StringIO(), width=200)
    rc = bench_main(argv, console=con)
    return rc, con.file.getvalue()


def _hold(folder, ready, done):
    from xssab.safe_output import folder_lock

    with folder_lock(folder):
        ready.set()
        done.wait(30)


def test_out_locked_and_checked_before_any_work(assets, tmp_path, monkeypatch):
    model, data, _ = assets
    argv = ["--models", str(model), "--methods", "random", "--dataset", "folder",
            "--data", str(data), "--batch-size", "4", "--no-cache", "--out"]
    loads = []
    real = xssab.load_model
    monkeypatch.setattr(xssab, "load_model", lambda *a, **k: loads.append(1) or real(*a, **k))
    (tmp_path / "file").write_text("x")
    rc, text = _run_cli(argv + [str(tmp_path / "file" / "out")])
    assert rc == 2 and "is a file, not a folder" in text and loads == []
    ctx = mp.get_context("fork")
    ready, done = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold, args=(tmp_path / "out", ready, done))
    p.start()
    try:
        assert ready.wait(30)
        rc, text = _run_cli(argv + [str(tmp_path / "out")])
    finally:
        done.set()
        p.join(30)
    assert rc == 2 and "in use by another xssab run" in text and loads == []
    assert len(text.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "results.json").exists()
    rc, text = _run_cli(argv + [str(tmp_path / "out")])
    assert rc == 0, text
    assert (tmp_path / "out" / "results.json").exists()


def test_negative_seed_is_one_line(assets):
    model, data, _ = assets
    with pytest.raises(xssab.XssabError, match="--seed -1") as exc:
        run_bench(_cfg(model, data, False, seed=-1))
    assert "\n" not in str(exc.value)

"""End-to-end xssab-bench on a tiny ONNX model and a tiny numbered-folder dataset."""

import io
import json

import pytest
from rich.console import Console

import xssab
from xssab.cli import bench as bench_mod
from xssab.cli.bench import main, select_pairs
from xssab.data.base import Pair
from xssab.report.results import validate_results

from tests.graphs import export_onnx, folder_dataset, small_iresnet

N_PAIRS = 8


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench_assets")
    model = export_onnx(small_iresnet(seed=3), root / "tiny.onnx")
    data = folder_dataset(root / "data", N_PAIRS, seed=5, jitter=20, noise_seed=0)
    return model, data


def _argv(assets, out, *extra):
    model, data = assets
    return ["--models", str(model), "--methods", "xssab,random", "--dataset", "folder",
            "--data", str(data), "--pairs", "0", "--out", str(out), "--batch-size", "4",
            *extra]


def _run(argv):
    con = Console(file=io.StringIO(), width=200)
    rc = main(argv, console=con)
    return rc, con.file.getvalue()


def _strip_timing(res):
    res = json.loads(json.dumps(res))
    for m in res["models"].values():
        for x in m["methods"].values():
            x.pop("ms_per_pair")
    return res


def test_end_to_end_outputs_and_resume(assets, tmp_path, monkeypatch):
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path / "home"))
    out = tmp_path / "out"

    # first run: interrupted (Ctrl-C) inside the second method's replacement stage
    real_loc = bench_mod.localization
    calls = {"loc": 0, "explain": 0}

    def flaky_loc(*a, **k):
        calls["loc"] += 1
        if calls["loc"] == 2:
            raise KeyboardInterrupt
        return real_loc(*a, **k)

    monkeypatch.setattr(bench_mod, "localization", flaky_loc)
    rc, text = _run(_argv(assets, out))
    assert rc == 130, text
    assert not (out / "results.json").exists()

    # rerun: finished stages come from the cache (no explanation is recomputed; only the
    # interrupted stage runs again)
    real_explain = xssab.explain_pairs

    def counting_explain(*a, **k):
        calls["explain"] += 1
        return real_explain(*a, **k)

    monkeypatch.setattr(xssab, "explain_pairs", counting_explain)
    calls["loc"] = 10  # no more interrupts
    rc, text = _run(_argv(assets, out))
    assert rc == 0, text
    assert calls["explain"] == 0
    assert calls["loc"] == 11  # only the interrupted method's stage was recomputed
    assert "1 stages computed" in text

    res = json.loads((out / "results.json").read_text())
    assert validate_results(res) == []
    assert res["dataset"] == "folder" and res["pairs"] == N_PAIRS
    (mres,) = res["models"].values()
    assert set(mres["methods"]) == {"xssab", "random"}
    assert mres["threshold_pairs"] == N_PAIRS  # EER of every unpatched pair
    for x in mres["methods"].values():
        assert x["dpr"]["best_worst"]["percent"] == list(range(5, 100, 5))
        assert 0.0 <= x["localization_auroc"] <= 1.0
        assert 0.0 <= x["localization_auroc_control"] <= 1.0
        assert x["ms_per_pair"] > 0
    # the random strategy is shared by every method of a model
    assert (mres["methods"]["xssab"]["dpr"]["random"]
            == mres["methods"]["random"]["dpr"]["random"])
    for name in ("results.csv", "summary.csv"):
        assert (out / name).stat().st_size > 0
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert len(pngs) == 2 and pngs[0].startswith("curves_") and pngs[1].startswith("maps_")
    assert "FNMR" in text and "xssab" in text

    # identical to a run from scratch (timings aside: they are measured per run)
    monkeypatch.setattr(xssab, "explain_pairs", real_explain)
    monkeypatch.setattr(bench_mod, "localization", real_loc)
    rc, text = _run(_argv(assets, tmp_path / "fresh", "--no-cache"))
    assert rc == 0, text
    fresh = json.loads((tmp_path / "fresh" / "results.json").read_text())
    assert _strip_timing(fresh) == _strip_timing(res)

    # no silent overwrite; --force overwrites
    rc, text = _run(_argv(assets, out))
    assert rc == 2 and "--force" in text and "Traceback" not in text
    rc, text = _run(_argv(assets, out, "--force"))
    assert rc == 0, text
    assert "0 stages computed" in text
    assert json.loads((out / "results.json").read_text()) == res


@pytest.mark.parametrize("change, needle", [
    (["--methods", "xssab,nosuch"], "nosuch"),
    (["--models", "no-such-model"], "no-such-model"),
    (["--dataset", "nosuchset"], "nosuchset"),
    (["--models", "arcface"], "arcface"),  # a zoo card whose weights are not downloaded
])
def test_validation_before_any_work(assets, tmp_path, monkeypatch, change, needle):
    home = tmp_path / "home"
    monkeypatch.setenv("XSSAB_HOME", str(home))
    called = []
    monkeypatch.setattr(bench_mod.Bench, "load_dataset", lambda *a: called.append(1))
    argv = _argv(assets, tmp_path / "out")
    i = argv.index(change[0])
    argv[i + 1] = change[1]
    rc, text = _run(argv)
    assert rc == 2
    assert "error:" in text and needle in text and "Traceback" not in text
    assert called == []
    assert not (home / "bench").exists()


def test_weights_missing_message_from_card(tmp_path, monkeypatch):
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path))
    with pytest.raises(xssab.WeightsMissingError) as exc:
        xssab.load_model("arcface")
    rc, text = _run(["--models", "arcface", "--methods", "random"])
    assert rc == 2 and str(exc.value)[:40] in text


def test_select_pairs_balanced_and_ordered():
    pairs = [Pair(str(i), str(i + 1), i % 20 < 10, i // 20) for i in range(200)]
    sub = select_pairs(pairs, 21)
    assert len(sub) == 21
    assert sum(p.same for p in sub) == 11
    idx = [pairs.index(p) for p in sub]
    assert idx == sorted(idx)
    assert len({p.fold for p in sub}) == 10  # spread over every fold
    assert select_pairs(pairs, 0) == pairs


def test_interrupted_explanations_resume_per_chunk(assets, tmp_path, monkeypatch):
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path / "home"))
    argv = _argv(assets, tmp_path / "out")
    argv[argv.index("--methods") + 1] = "xssab"
    real = xssab.explain_pairs
    calls = []
    interrupt = [True]

    def explain(*a, **k):
        calls.append(len(a[1]))
        if interrupt[0] and len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(xssab, "explain_pairs", explain)
    assert _run(argv)[0] == 130
    calls.clear()
    interrupt[0] = False
    rc, text = _run(argv)
    assert rc == 0, text
    # 8 pairs in chunks of 4: patched 0-3 was cached; patched 4-7, unpatched 0-3, 4-7 remain
    assert calls == [4, 4, 4]
    assert not list((tmp_path / "home" / "bench").glob("*/explain.parts"))

"""End-to-end xssab-bench on a tiny ONNX model and a tiny numbered-folder dataset."""

import io
import json

import pytest
from rich.console import Console

import xssab
from xssab.cli.bench import main
from xssab.cli.main import main as xssab_main
from xssab.eval import data as data_stage
from xssab.eval import replacement
from xssab.report.results import validate_results

from tests.graphs import model_and_folder

N_PAIRS = 8


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return model_and_folder(tmp_path_factory.mktemp("bench_assets"), N_PAIRS)


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
            x.pop("ms_per_pair_cached", None)  # fresh vs cached by design
    res.pop("stages", None)
    return res


def test_end_to_end_outputs_and_resume(assets, tmp_path, monkeypatch):
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path / "home"))
    out = tmp_path / "out"

    # first run: interrupted (Ctrl-C) inside the second method's replacement stage
    real_loc = replacement.localization
    calls = {"loc": 0, "explain": 0}

    def flaky_loc(*a, **k):
        calls["loc"] += 1
        if calls["loc"] == 2:
            raise KeyboardInterrupt
        return real_loc(*a, **k)

    monkeypatch.setattr(replacement, "localization", flaky_loc)
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
    monkeypatch.setattr(replacement, "localization", real_loc)
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
    again = json.loads((out / "results.json").read_text())
    assert _strip_timing(again) == _strip_timing(res)
    for mname, m in again["models"].items():  # the cached timings, marked as cached
        for xname, x in m["methods"].items():
            assert x["ms_per_pair"] == res["models"][mname]["methods"][xname]["ms_per_pair"]
            assert x["ms_per_pair_cached"] is True


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
    monkeypatch.setattr(data_stage, "load_data", lambda *a: called.append(1))
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


def test_xssab_bench_subcommand_is_the_same_command(assets, tmp_path):
    """``xssab bench`` takes the same options and writes the same numbers."""
    rc, text = _run(_argv(assets, tmp_path / "a", "--no-cache"))
    assert rc == 0, text
    con = Console(file=io.StringIO(), width=200)
    rc = xssab_main(["bench", *_argv(assets, tmp_path / "b", "--no-cache")], console=con)
    assert rc == 0, con.file.getvalue()
    a = json.loads((tmp_path / "a" / "results.json").read_text())
    b = json.loads((tmp_path / "b" / "results.json").read_text())
    assert _strip_timing(a) == _strip_timing(b)
    con = Console(file=io.StringIO(), width=200)
    assert xssab_main(["bench", "--pairs", "-1", "--models", "x"], console=con) == 2
    assert "error:" in con.file.getvalue() and "--pairs" in con.file.getvalue()

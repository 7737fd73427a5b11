"""Intervals, comparisons, per-pair values and per-method subsets of a benchmark run
(xssab/eval/stats.py, xssab/eval/subsets.py), and ``xssab report`` on its results.json."""

import io
import json

import numpy as np
import pytest
from rich.console import Console

from xssab.cli.main import main as xssab_main
from xssab.errors import XssabError
from xssab.eval import BenchConfig, run_bench, write_outputs
from xssab.eval.stats import annotate, bits, per_pair_arrays, per_pair_arrays_from_dict, unbits
from xssab.eval.subsets import sizes_from_budget, subset_index
from xssab.metrics import dpr as dprm
from xssab.metrics.intervals import trapezoid_weights
from xssab.report.results import to_json

from tests.graphs import model_and_folder

N_PAIRS = 12


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return model_and_folder(tmp_path_factory.mktemp("stats_assets"), N_PAIRS)


def _config(assets, **kw):
    model, data = assets
    base = dict(models=[str(model)], methods="xssab,random", dataset="folder",
                data=str(data), pairs=0, batch_size=4, cache=False, bootstrap=300,
                method_pairs={"xssab": 6})
    base.update(kw)
    return BenchConfig(**base)


@pytest.fixture(scope="module")
def run(assets):
    return run_bench(_config(assets))


def test_subset_method_intervals_and_comparisons(run):
    res = json.loads(to_json(run.to_dict()))
    (m,) = res["models"].values()
    x, r = m["methods"]["xssab"], m["methods"]["random"]
    assert (x["pairs"], x["genuine_pairs"], x["impostor_pairs"]) == (6, 3, 3)
    assert r["pairs"] == N_PAIRS and res["method_pairs"][next(iter(res["models"]))] == {
        "xssab": 6, "random": N_PAIRS}
    # the subset is a balanced subset of the SAME pairs
    idx = x["per_pair"]["pair_index"]
    assert idx == subset_index(m["per_pair"]["same"], 6).tolist()
    for k in ("gap_fmr", "gap_fnmr", "area_fmr_best_worst", "localization_difference"):
        lo, hi = x[f"{k}_ci"]
        assert lo - 1e-12 <= x[k] <= hi + 1e-12, k
    for strat in ("best_worst", "random"):
        band = x["dpr"][strat]["fmr_ci"]
        assert len(band) == 19 and all(lo <= v + 1e-12 and v <= hi + 1e-12 for (lo, hi), v
                                       in zip(band, x["dpr"][strat]["fmr"]))
    # the random strategy of a subset method is the model's random replacement on its pairs
    dec_r = unbits(m["per_pair"]["decisions_random"])[idx]
    same = np.asarray(m["per_pair"]["same"], bool)[idx]
    w = trapezoid_weights(dprm.PERCENTS)
    assert x["area_fnmr_random"] == pytest.approx((dec_r[same] @ w).mean())
    dec = unbits(x["per_pair"]["decisions_best_worst"])
    assert x["area_fmr_best_worst"] == pytest.approx((dec[~same] @ w).mean())
    comps = {(c["a"], c["b"], c["metric"]): c for c in m["comparisons"]}
    c = comps[("xssab", "random", "gap_fnmr")]
    assert c["pairs"] == 6 and c["genuine_pairs"] == 3
    assert c["difference"] == pytest.approx(x["gap_fnmr"] - np.mean(
        (unbits(m["per_pair"]["decisions_random"])[idx][same].astype(float)
         - unbits(r["per_pair"]["decisions_best_worst"])[idx][same]) @ w))
    assert 0 <= c["p_value"] <= 1 and c["significant"] == (
        not c["difference_ci"][0] <= 0 <= c["difference_ci"][1])
    assert m["unpatched"]["fmr_ci"][0] <= m["unpatched"]["fmr"] <= m["unpatched"]["fmr_ci"][1]
    env = res["environment"]
    assert {"numpy", "onnxruntime", "xssab"} <= set(env["packages"]) and env["cpu"]
    assert res["intervals"]["resamples"] == 300 and res["intervals"]["unit"] == "pair"


def test_per_pair_values_round_trip_to_the_same_intervals(run):
    res = json.loads(to_json(run.to_dict()))
    again = json.loads(json.dumps(res))
    iv = res["intervals"]
    annotate(again, per_pair_arrays_from_dict(again), n_resamples=iv["resamples"],
             level=iv["level"], method=iv["method"], seed=iv["seed"])
    again = json.loads(to_json(again))
    assert again == res
    a, b = per_pair_arrays(run), per_pair_arrays_from_dict(res)
    for mn in a:
        assert np.array_equal(a[mn]["decisions_random"], b[mn]["decisions_random"])


def test_bits_round_trip():
    d = np.random.default_rng(0).random((5, 19)) < 0.5
    assert np.array_equal(unbits(bits(d)), d) and len(bits(d)[0]) == 19


def test_report_rerenders_from_results_file_alone(run, tmp_path):
    out = tmp_path / "run"
    paths = write_outputs(run, out=out, fmt="svg")
    assert any(p.suffix == ".svg" for p in paths)
    con = Console(file=io.StringIO(), width=200)
    rc = xssab_main(["report", str(out / "results.json"), "--recompute", "--format", "pdf",
                     "--out", str(tmp_path / "fig")], console=con)
    text = con.file.getvalue()
    assert rc == 0, text
    assert "paired differences" in text and "Who wins" in text and "[0." in text
    assert list((tmp_path / "fig").glob("curves_*.pdf"))
    (tmp_path / "bad.json").write_text("{}")
    con = Console(file=io.StringIO(), width=200)
    assert xssab_main(["report", str(tmp_path / "bad.json")], console=con) == 2
    assert "error:" in con.file.getvalue() and "Traceback" not in con.file.getvalue()


def test_cached_timings_are_marked(assets, tmp_path):
    cfg = dict(cache=str(tmp_path / "cache"), bootstrap=50, methods="random",
               method_pairs={})
    first = run_bench(_config(assets, **cfg)).to_dict(per_pair=False)
    second = run_bench(_config(assets, **cfg)).to_dict(per_pair=False)
    (m1,), (m2,) = first["models"].values(), second["models"].values()
    assert m1["methods"]["random"]["ms_per_pair_cached"] is False
    assert m2["methods"]["random"]["ms_per_pair_cached"] is True
    assert "per_pair" not in m2


@pytest.mark.parametrize("change, needle", [
    (dict(ci=95), "level"), (dict(bootstrap=1), "resamples"),
    (dict(ci_method="student"), "method"), (dict(method_pairs={"xssab": 1}), "method-pairs"),
    (dict(budget=-3), "budget")])
def test_bad_interval_options_are_one_line_errors(assets, change, needle):
    with pytest.raises(XssabError, match=needle):
        _config(assets, **change).validate()


def test_budget_sizes():
    assert sizes_from_budget(60, {"xface": 1.5, "xssab": 0.01, "slow": 100}, 200) == {
        "xface": 20, "xssab": 200, "slow": 10}


def test_budget_sizes_each_method_from_a_timed_probe(assets):
    res = run_bench(_config(assets, budget=1e-6, method_pairs={"random": 0}, bootstrap=50))
    (m,) = res.models.values()
    # a budget far too small for any pair: the floor of 10 pairs (balanced), except the
    # method whose size was given explicitly
    assert len(m.methods["xssab"].pair_index) == 10
    assert int(res.data.same[m.methods["xssab"].pair_index].sum()) == 5
    assert len(m.methods["random"].pair_index) == N_PAIRS
    assert any("xssab: 10 of 12 pairs" in n for n in res.notes)

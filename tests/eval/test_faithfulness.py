"""Opt-in bench metrics (xssab/eval/faithfulness.py), --smooth, and the curve summaries in
results.json and the tables."""

import io

import numpy as np
import pytest
from rich.console import Console

from xssab.cli.bench import build_parser, config_from_args
from xssab.errors import XssabError
from xssab.eval import BenchConfig, run_bench

from tests.graphs import model_and_folder


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return model_and_folder(tmp_path_factory.mktemp("faith_assets"), 8, style="multi_output")


def _config(assets, **kw):
    model, data = assets
    base = dict(models=[str(model)], methods="xssab,random", dataset="folder",
                data=str(data), pairs=0, batch_size=4, cache=False, bootstrap=200)
    base.update(kw)
    return BenchConfig(**base)


@pytest.fixture(scope="module")
def extra(assets):
    return run_bench(_config(assets, deletion=True, randomization=True,
                             faithfulness_pairs=4)).to_dict()


def test_extra_metrics_with_intervals_in_results(extra):
    m = next(iter(extra["models"].values()))["methods"]
    x = m["xssab"]
    for k in ("deletion_auc", "insertion_auc", "randomization_rho"):
        assert np.isfinite(x[k]) and len(x[f"{k}_ci"]) == 2
        assert x[f"{k}_ci"][0] <= x[k] <= x[f"{k}_ci"][1]
    assert -1 <= x["randomization_rho"] <= 1
    f = x["faithfulness"]
    assert f["pairs"] == 4 and f["genuine_pairs"] == 2 and f["fill"] == "blur"
    curves = f["mean_curves"]
    # deletion starts and insertion ends at the unperturbed similarity
    assert curves["deletion"][0] == pytest.approx(curves["insertion"][-1], abs=1e-5)
    assert "randomization_rho" not in m["random"] or m["random"]["randomization_rho"] is None
    assert "deletion_auc" in m["random"]  # a random map is a valid deletion baseline
    # sub-range areas and halving are there with intervals
    for k in ("gap_fnmr_5_30", "gap_fmr_30_95"):
        assert k in x and len(x[f"{k}_ci"]) == 2


def test_tables_show_extra_metrics(extra):
    from xssab.report.tables import print_report

    buf = io.StringIO()
    print_report(extra, Console(file=buf, width=250))
    text = buf.getvalue()
    assert "curve summaries and extra metrics" in text and "deletion" in text


def test_smoothing_changes_ranking_not_default(assets):
    plain = run_bench(_config(assets, methods="xssab")).to_dict(intervals=False)
    smooth = run_bench(_config(assets, methods="xssab", smooth_sigma=4.0)).to_dict(
        intervals=False)
    a = next(iter(plain["models"].values()))["methods"]["xssab"]
    b = next(iter(smooth["models"].values()))["methods"]["xssab"]
    assert a["localization_auroc"] != b["localization_auroc"]
    assert "faithfulness" not in a  # opt-in: the default run has no extra metrics


@pytest.mark.parametrize("change,needle", [({"smooth_sigma": -1}, "--smooth"),
                                           ({"deletion_fill": "white"}, "--deletion-fill"),
                                           ({"faithfulness_pairs": 1}, "--faithfulness-pairs")])
def test_bad_options_are_one_line_errors(assets, change, needle):
    with pytest.raises(XssabError, match=needle) as e:
        _config(assets, **change).validate()
    assert "\n" not in str(e.value)


def test_cli_flags_reach_the_config():
    args = build_parser().parse_args(["--deletion", "--deletion-fill", "mean",
                                      "--randomization", "--faithfulness-pairs", "20",
                                      "--smooth", "2.5"])
    c = config_from_args(args)
    assert (c.deletion, c.deletion_fill, c.randomization, c.faithfulness_pairs,
            c.smooth_sigma) == (True, "mean", True, 20, 2.5)
    d = config_from_args(build_parser().parse_args([]))
    assert (d.deletion, d.randomization, d.smooth_sigma) == (False, False, 0.0)

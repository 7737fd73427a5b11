"""`xssab-bench --executor ray` and `xssab explain --dataset ... --executor ray`: the same
results as the local run, the executor recorded (one 2-CPU session Ray instance)."""

import io
import json

import numpy as np
import pytest
from rich.console import Console

from xssab.cli import bench, main as xmain
from xssab.report.mapstore import MapStore

from tests.graphs import model_and_folder


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return model_and_folder(tmp_path_factory.mktemp("ray_cli"), 6, model_seed=11, data_seed=8,
                            noise_seed=2)


def _run(fn, argv):
    con = Console(file=io.StringIO(), width=200)
    rc = fn(argv, console=con)
    return rc, con.file.getvalue()


def test_bench_and_export_with_executor_ray(assets, ray_local, tmp_path):
    model, data = assets
    common = ["--models", str(model), "--methods", "xssab,random", "--dataset", "folder",
              "--data", str(data), "--pairs", "0", "--batch-size", "2", "--no-cache"]
    rc, text = _run(bench.main, [*common, "--out", str(tmp_path / "local")])
    assert rc == 0, text
    rc, text = _run(bench.main, [*common, "--out", str(tmp_path / "ray"), "--executor", "ray",
                                 "--workers", "2"])
    assert rc == 0 and "executor ray (2 workers per model" in text, text
    loc, ray = (json.loads((tmp_path / d / "results.json").read_text())
                for d in ("local", "ray"))
    assert loc.pop("executor") == {"executor": "local", "workers": 1}
    ex = ray.pop("executor")
    assert ex["executor"] == "ray" and ex["workers"] == 2
    for res in (loc, ray):
        for m in res["models"].values():
            for x in m["methods"].values():
                x.pop("ms_per_pair")
    assert ray == loc

    exp = ["explain", "--dataset", "folder", "--data", str(data), "--model", str(model),
           "-t", "0.3", "--chunk-pairs", "2"]
    rc, _ = _run(xmain.main, [*exp, "--out", str(tmp_path / "m_local")])
    assert rc == 0
    rc, text = _run(xmain.main, [*exp, "--out", str(tmp_path / "m_ray"), "--executor", "ray"])
    assert rc == 0 and "executor ray, 2 worker(s)" in text, text
    a, b = MapStore.read(tmp_path / "m_local"), MapStore.read(tmp_path / "m_ray")
    for k in ("combined", "positive", "negative", "similarity", "match"):
        np.testing.assert_array_equal(a.array(k), b.array(k), err_msg=k)
    assert b.attrs["session_executor"] == "ray" and b.attrs["session_workers"] == 2
    assert ray_local.is_initialized()  # the session instance was used, not shut down

    rc, text = _run(bench.main, [*common, "--workers", "2"])
    assert rc == 2 and "need --executor ray" in text

"""Numbers unchanged: run_bench reproduces the results.json numbers recorded before the
evaluation layer was refactored (golden_synth10.json, made at commit de512d0 with the old
xssab-bench; see its "_note")."""

import json
from pathlib import Path

import numpy as np

from xssab.eval import BenchConfig, run_bench
from xssab.report.results import to_json

GOLDEN = json.loads((Path(__file__).parent / "golden_synth10.json").read_text())


def _without_timings(res: dict) -> dict:
    res = json.loads(to_json(res))  # the JSON round trip results.json goes through
    res.pop("executor", None)  # where the units ran (added after the golden file)
    for m in res["models"].values():
        for x in m["methods"].values():
            x.pop("ms_per_pair")
    return res


def _restrict(got, ref):
    """``got`` cut down to the keys of ``ref`` (fields added later - intervals, per-pair
    values, environment - are checked by their own tests)."""
    if isinstance(ref, dict) and isinstance(got, dict):
        return {k: _restrict(got[k], v) if k in got else "<missing>" for k, v in ref.items()}
    return got


def test_run_bench_reproduces_the_golden_numbers_exactly(entry_points_on, tmp_path):
    cfg = GOLDEN["config"]
    result = run_bench(BenchConfig(models=cfg["models"], methods=cfg["methods"],
                                   pairs=cfg["pairs"], cache=False))
    got = _without_timings(result.to_dict())
    # bit-exact: every float as written to results.json
    assert _restrict(got, GOLDEN["results"]) == GOLDEN["results"]
    # the per-pair arrays behind the numbers are reachable and consistent with them
    m = result.models["synth-arcface"]
    x = m.methods["xssab"]
    n = cfg["pairs"]
    assert x.best_worst.scores.shape == (n, 19) and x.random.scores.shape == (n, 19)
    assert m.verification.s_patched.shape == (n,) and len(result.data.pairs) == n
    assert x.localization.per_pair.shape == (n,)
    assert abs(float(np.nanmean(x.localization.per_pair)) - x.localization.auroc) < 1e-12

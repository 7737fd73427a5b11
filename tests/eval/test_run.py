"""run_bench on a tiny ONNX model and numbered-folder dataset: resume, executor seam,
typed result."""

import json

import numpy as np
import pytest

import xssab
from xssab.eval import BenchConfig, BenchResult, LocalExecutor, run_bench
from xssab.eval.scoring import cosine, embed
from xssab.metrics import dpr as dprm
from xssab.report.results import to_json

from tests.graphs import model_and_folder

N_PAIRS = 8


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return model_and_folder(tmp_path_factory.mktemp("eval_assets"), N_PAIRS)


def _run_facts_out(res: dict) -> dict:
    """results.json without what differs between a fresh and a resumed run by design:
    which stages came from the cache, and the flags marking cached timings."""
    res = json.loads(to_json(res))
    res.pop("stages", None)
    for m in res["models"].values():
        for x in m["methods"].values():
            x.pop("ms_per_pair_cached", None)
    return res


def _config(assets, **kw):
    model, data = assets
    base = dict(models=[str(model)], methods="xssab,random", dataset="folder", data=str(data),
                pairs=0, batch_size=4, cache=False)
    base.update(kw)
    return BenchConfig(**base)


class RecordingExecutor(LocalExecutor):
    """Records each stage's unit keys and hands results back in reverse order (as a
    distributed executor may): the stages key them, so the numbers do not change."""

    def __init__(self):
        super().__init__()
        self.units = []

    def run(self, spec, units, model=None):
        units = list(units)
        self.units.append([u[0] for u in units])
        return iter(list(super().run(spec, list(reversed(units)), model=model)))


def test_interrupted_explanations_resume_per_chunk(assets, tmp_path, monkeypatch):
    cfg = _config(assets, methods="xssab", cache=tmp_path / "cache")
    real = xssab.explain_pairs
    calls = []
    interrupt = [True]

    def explain(*a, **k):
        calls.append(len(a[1]))
        if interrupt[0] and len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(xssab, "explain_pairs", explain)
    with pytest.raises(KeyboardInterrupt):
        run_bench(cfg)
    calls.clear()
    interrupt[0] = False
    res = run_bench(cfg)
    # 8 pairs in chunks of 4: patched 0-3 was cached; patched 4-7, unpatched 0-3, 4-7 remain
    assert calls == [4, 4, 4]
    assert not list((tmp_path / "cache").glob("*/explain.parts"))
    assert "xssab" in next(iter(res.models.values())).methods
    calls.clear()
    again = run_bench(cfg)
    assert calls == [] and again.stages_computed == []
    assert _run_facts_out(again.to_dict()) == _run_facts_out(res.to_dict())


def test_executor_units_and_chunked_replacement_match_the_unchunked_protocol(assets):
    ex = RecordingExecutor()
    # batch 8: an embedding batch of 32 images = 1 pair's 19-image series per DPR unit
    res = run_bench(_config(assets, batch_size=8), executor=ex)
    assert isinstance(res, BenchResult)
    explain_units = [u for u in ex.units if isinstance(u[0], tuple)]
    dpr_units = [u for u in ex.units if isinstance(u[0], int)]
    assert [len(u) for u in explain_units] == [2, 2]  # (patched, unpatched) x 1 chunk of 8
    assert all(len(r) == 8 for u in explain_units for _, r in u)
    # one pair's 19-image series per DPR unit: random once per model + xssab + random
    assert len(dpr_units) == 3 and all(u == list(range(N_PAIRS)) for u in dpr_units)

    (mres,) = res.models.values()
    model = xssab.load_model(res.config.models[0])
    ver, ps = mres.verification, res.data.patched
    x = mres.methods["xssab"]
    mp = [x.maps[f"p{i}"] for i in range(N_PAIRS)]

    def score(images, idx):
        return cosine(embed(model, images, 32), ver.emb_b[np.asarray(idx)])

    whole = dprm.dpr_curve(score, ps.patched, ps.original, ps.same, ver.s_patched,
                           ver.threshold, "best_worst", maps=mp, batch_size=32)
    np.testing.assert_array_equal(whole["scores"], x.best_worst.scores)
    assert whole["fmr"] == x.best_worst.fmr and whole["fnmr"] == x.best_worst.fnmr
    rnd = dprm.dpr_curve(score, ps.patched, ps.original, ps.same, ver.s_patched,
                         ver.threshold, "random", seed=0, batch_size=32)
    np.testing.assert_array_equal(rnd["scores"], x.random.scores)
    # the random replacement is the model's, shared by every method
    assert mres.methods["random"].random is mres.random
    # per-pair values stay reachable for statistics over pairs
    assert x.localization.per_pair.shape == (N_PAIRS,)
    assert mres.verification.s_unpatched.shape == (N_PAIRS,)


@pytest.mark.parametrize("change, needle", [
    ({"pairs": -1}, "--pairs"), ({"batch_size": 0}, "--batch-size"),
    ({"models": ""}, "--models"), ({"methods": " , "}, "--methods"),
    ({"device": "gpu"}, "--device"), ({"ort_device": "tpu"}, "--ort-device"),
    ({"pairs": 2.5}, "pairs"),
])
def test_config_errors_are_one_line(assets, change, needle):
    with pytest.raises(xssab.XssabError) as exc:
        run_bench(_config(assets, **change))
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_config_normalises_names():
    cfg = BenchConfig(models="a, b,a", methods=["x", "x", " y "])
    assert cfg.models == ("a", "b") and cfg.methods == ("x", "y")
    assert cfg.emb_batch == 256 and cfg.to_dict()["models"] == ["a", "b"]
    assert BenchConfig(cache=False).cache_root() is None


def test_random_maps_do_not_repeat_every_batch(entry_points_on):
    """Before: every explanation chunk started the random method at index 0, so its maps
    repeated every --batch-size pairs. Now chunk k passes index_offset = its first pair,
    and the maps do not depend on the batch size."""
    import numpy as np

    from xssab.eval import BenchConfig, run_bench

    def maps(batch_size):
        res = run_bench(BenchConfig(models=["synth-arcface"], methods=["random"], pairs=4,
                                    batch_size=batch_size, cache=False))
        return res.models["synth-arcface"].methods["random"].maps

    small, big = maps(2), maps(64)
    assert not np.array_equal(small["p0"], small["p2"])
    for key in big:
        np.testing.assert_array_equal(small[key], big[key])


def test_unknown_method_names_reported_at_once():
    import pytest

    import xssab
    from xssab.eval import BenchConfig
    from xssab.eval.run import prepare

    with pytest.raises(xssab.UnknownNameError) as err:
        prepare(BenchConfig(models=["synth-arcface"], methods=["xsab", "random", "xfac"]))
    msg = str(err.value)
    assert "'xsab' (did you mean xssab?)" in msg and "'xfac' (did you mean xface?)" in msg

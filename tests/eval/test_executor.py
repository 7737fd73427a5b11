"""Executors: the Ray executor gives the local executor's results, survives a killed
worker, and a driver interrupted mid-run resumes from what was written."""

import json

import numpy as np
import pytest

import xssab
from xssab import registry
from xssab.errors import XssabError
from xssab.eval.executor import LocalExecutor, ModelSpec, make_executor
from xssab.eval.ray_executor import RayExecutor
from xssab.eval.export import export_maps
from xssab.report.mapstore import MapStore

from tests.graphs import model_and_folder

N = 10


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return model_and_folder(tmp_path_factory.mktemp("exec_assets"), N, model_seed=7,
                            data_seed=2, noise_seed=3)


def _export(assets, out, executor, **kw):
    model_path, data = assets
    ds = registry.get_dataset("folder", path=str(data))
    model = xssab.load_model(str(model_path))
    spec = ModelSpec.of(model)
    meth = registry.get_explainer(kw.pop("method", "xssab"))
    return export_maps(dataset=ds, pairs=list(ds.pairs()), settings={"model_sha256": "t"},
                       model=model, spec=spec, method=meth.name, options=meth.Options(),
                       threshold=0.3, out=out, executor=executor, chunk_pairs=2,
                       dtype="float32", **kw)


def _arrays(path):
    s = MapStore.read(path)
    return {k: s.array(k) for k in ("positive", "negative", "combined", "similarity",
                                    "match", "forward_passes")}


def _same(a, b):
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.fixture(scope="module")
def local_maps(assets, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "maps"
    _export(assets, out, LocalExecutor())
    return _arrays(out)


@pytest.fixture(scope="module")
def ray_ex(ray_local):
    """Two actors per model, shared by this module's tests (each actor start loads the
    model: seconds)."""
    ex = RayExecutor(workers=2)
    yield ex
    ex.close()
    assert ray_local.is_initialized()  # an instance the executor did not start stays up


def test_ray_equals_local_and_survives_a_killed_worker(assets, local_maps, ray_local,
                                                       ray_ex, tmp_path):
    ray, ex = ray_local, ray_ex
    s = _export(assets, tmp_path / "ray", ex)
    assert s["session_executor"] == "ray" and s["session_workers"] == 2
    _same(_arrays(tmp_path / "ray"), local_maps)

    # a worker killed while it holds units: restarted, its units retried, same maps
    spec = ModelSpec.of(xssab.load_model(str(assets[0])))
    before = ex.pids(spec)
    killed = []

    def kill_first_worker(done, total):
        if 0 < done < total and not killed:
            ray.kill(ex.actors(spec)[0], no_restart=False)
            killed.append(done)

    s = _export(assets, tmp_path / "killed", ex, on_progress=kill_first_worker)
    assert killed and killed[0] < N and s["complete"]
    after = ex.pids(spec)
    assert after[0] != before[0] and after[1] == before[1]
    _same(_arrays(tmp_path / "killed"), local_maps)


def test_ray_driver_interrupted_resumes(assets, local_maps, ray_ex, tmp_path):
    ex = ray_ex
    s = _export(assets, tmp_path / "m", ex, stop_after=2)
    assert s["session_pairs"] == 4 and not s["complete"]

    def interrupt(done, total):
        if done >= 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _export(assets, tmp_path / "m", ex, on_progress=interrupt)
    left = MapStore.read(tmp_path / "m").pending()
    assert 0 < len(left) < 3
    s = _export(assets, tmp_path / "m", ex)
    assert s["complete"] and s["session_pairs"] == 2 * len(left)
    _same(_arrays(tmp_path / "m"), local_maps)


def test_worker_errors_are_one_line(assets, ray_ex):
    ex = ray_ex
    units = [(0, "explain", ([np.zeros((8, 8, 3), np.uint8)], []),
              {"threshold": 0.3, "method": "xssab", "options": None})]
    with pytest.raises(XssabError, match=r"1 first images and 0 second images") as e:
        list(ex.run(ModelSpec.of(xssab.load_model(str(assets[0]))), units))
    assert "\n" not in str(e.value)
    with pytest.raises(XssabError, match="--address and --workers need --executor ray"):
        make_executor("local", address="auto")
    with pytest.raises(XssabError, match="--executor 'dask'"):
        make_executor("dask")
    with pytest.raises(XssabError, match="--workers 0"):
        RayExecutor(workers=0)


def test_local_instance_refuses_workers_it_cannot_place(assets, ray_ex):
    # ray_ex holds both CPUs of the session instance: a third actor would wait forever
    with pytest.raises(XssabError, match="need 1 CPU but the local Ray instance has 0 free"):
        RayExecutor(workers=1).actors(ModelSpec(str(assets[0]), overrides=(("name", "x"),)))


# ---------------------------------------------------------------- the benchmark on Ray
def _bench_config(assets, **kw):
    from xssab.eval import BenchConfig

    model, data = assets
    base = dict(models=[str(model)], methods="xssab,random", dataset="folder",
                data=str(data), pairs=0, batch_size=4, cache=False)
    base.update(kw)
    return BenchConfig(**base)


def _numbers(result):
    from xssab.report.results import to_json

    res = json.loads(to_json(result.to_dict()))
    res.pop("executor")
    res.pop("stages")  # which stages came from the cache: differs on a resumed run
    for m in res["models"].values():
        for x in m["methods"].values():
            x.pop("ms_per_pair")
            x.pop("ms_per_pair_cached")
    return res


@pytest.fixture(scope="module")
def local_bench(assets):
    from xssab.eval import run_bench

    return run_bench(_bench_config(assets))


class _Progress:
    """NullProgress that calls ``hook(description)`` on every advance."""

    def __init__(self, hook):
        self.hook, self.names = hook, {}

    def add_task(self, description, total=None):
        self.names[len(self.names)] = description
        return len(self.names) - 1

    def advance(self, task, advance=1):
        self.hook(self.names[task])

    def update(self, task, **kw):
        pass


def test_bench_on_ray_equals_local_and_survives_a_killed_worker(assets, local_bench, ray_local,
                                                               ray_ex):
    from xssab.eval import run_bench

    res = run_bench(_bench_config(assets), executor=ray_ex)
    assert res.executor["executor"] == "ray" and res.executor["workers"] == 2
    assert res.to_dict()["executor"]["workers"] == 2
    assert local_bench.to_dict()["executor"] == {"executor": "local", "workers": 1}
    assert _numbers(res) == _numbers(local_bench)  # curves, areas, localisation: identical
    for x in ("xssab", "random"):
        np.testing.assert_array_equal(
            res.models["tiny"].methods[x].best_worst.scores,
            local_bench.models["tiny"].methods[x].best_worst.scores)

    spec = ModelSpec.of(xssab.load_model(str(assets[0])))
    before = ray_ex.pids(spec)
    killed = []

    def kill(description):
        if description.endswith("xssab: explain") and not killed:
            ray_local.kill(ray_ex.actors(spec)[1], no_restart=False)
            killed.append(description)

    res = run_bench(_bench_config(assets), executor=ray_ex, progress=_Progress(kill))
    assert killed and ray_ex.pids(spec)[1] != before[1]
    assert _numbers(res) == _numbers(local_bench)


def test_bench_driver_interrupted_resumes_from_the_cache(assets, local_bench, ray_ex,
                                                          tmp_path):
    from xssab.eval import run_bench

    cfg = _bench_config(assets, cache=tmp_path / "cache")
    seen = []

    def interrupt(description):
        seen.append(description)
        if description.endswith("xssab: explain") and seen.count(description) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_bench(cfg, executor=ray_ex, progress=_Progress(interrupt))
    parts = list((tmp_path / "cache").glob("*/explain.parts/*.npz"))
    assert len(parts) >= 2  # the finished explanation chunks were kept
    res = run_bench(cfg, executor=ray_ex)
    assert "tiny/verify" not in res.stages_computed and "tiny/random" not in \
        res.stages_computed  # finished stages reused
    assert _numbers(res) == _numbers(local_bench)


@pytest.mark.parametrize("change, needle", [
    ({"executor": "dask"}, "--executor 'dask'"), ({"workers": 0}, "--workers 0"),
    ({"workers": 2}, "need --executor ray"), ({"address": "auto"}, "need --executor ray"),
])
def test_bench_config_executor_errors(change, needle):
    from xssab.eval import BenchConfig

    with pytest.raises(XssabError, match=needle):
        BenchConfig(**change).validate()

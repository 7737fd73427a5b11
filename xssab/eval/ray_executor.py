"""The Ray executor (``--executor ray``; extra ``[ray]``): units on Ray actors.

One actor per (model, worker) loads the model once (:class:`~xssab.eval.executor.Worker`);
the images of a unit go through Ray's object store (``ray.put``); an actor that dies is
restarted (``max_restarts``) and its unfinished units are retried (``max_task_retries``);
``num_gpus`` is requested per actor when the model runs on CUDA. Workers get the driver's
``XSSAB_*`` / thread settings so they compute exactly what the local executor computes.
"""

from __future__ import annotations

import os
import time
from typing import Any, Iterable, Iterator

import numpy as np

from ..errors import XssabError
from .executor import ModelSpec, Unit, Worker, call_unit

#: environment a worker needs to behave like the driver (cache, plugins, threads)
WORKER_ENV = ("XSSAB_HOME", "XSSAB_NO_ENTRYPOINTS", "XSSAB_ORT_THREADS", "OMP_NUM_THREADS")


class _RayWorker(Worker):
    def run_unit(self, fn, kwargs, *args):
        # images arrive as top-level arguments: Ray resolves their object refs
        return call_unit(self, fn, args, kwargs)


def _ray():
    try:
        import ray
    except ImportError:
        raise XssabError("--executor ray needs Ray: pip install 'xssab[ray]'") from None
    return ray


class RayExecutor:
    """Units on ``workers`` Ray actors per model.

    ``address``: ``None`` starts a local Ray instance (``num_cpus`` = workers x
    ``cpus_per_worker`` unless given), ``"auto"`` joins the cluster this machine belongs to
    (``ray start``), ``"ray://host:port"`` connects through Ray Client. An already
    initialised Ray (e.g. a test's session instance) is used as it is and left running.
    """

    name = "ray"

    def __init__(self, workers: int = 2, address: str | None = None, *,
                 cpus_per_worker: float = 1.0, gpus_per_worker: float = 1.0,
                 threads: int | None = None, max_restarts: int = 3,
                 max_task_retries: int = 3, in_flight: int = 2,
                 num_cpus: int | None = None, object_store_memory: int | None = None):
        if int(workers) < 1:
            raise XssabError(f"--workers {workers}: expected a positive number")
        self.workers = int(workers)
        self.address = address
        self.cpus_per_worker = float(cpus_per_worker)
        self.gpus_per_worker = float(gpus_per_worker)
        self.threads = int(threads) if threads else max(1, int(round(cpus_per_worker)))
        self.max_restarts = int(max_restarts)
        self.max_task_retries = int(max_task_retries)
        self.in_flight = max(1, int(in_flight))
        self._actors: dict[str, list] = {}
        self._started = False
        self.retried_units = 0
        ray = _ray()
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False}
            if address:
                kwargs["address"] = address
            else:
                kwargs["num_cpus"] = int(num_cpus or max(
                    1, round(self.workers * self.cpus_per_worker)))
                if object_store_memory:
                    kwargs["object_store_memory"] = int(object_store_memory)
            try:
                ray.init(**kwargs)
            except ConnectionError as exc:
                raise XssabError(f"--address {address}: cannot connect to Ray "
                                 f"({str(exc).splitlines()[0]})") from None
            self._started = True

    def _actor_class(self, spec: ModelSpec):
        ray = _ray()
        env = {k: os.environ[k] for k in WORKER_ENV if k in os.environ}
        opts: dict[str, Any] = {"num_cpus": self.cpus_per_worker,
                                "max_restarts": self.max_restarts,
                                "max_task_retries": self.max_task_retries,
                                "runtime_env": {"env_vars": env}}
        if spec.device.startswith("cuda"):
            opts["num_gpus"] = self.gpus_per_worker
        return ray.remote(_RayWorker).options(**opts)

    def actors(self, spec: ModelSpec) -> list:
        """The actors of ``spec`` (created, each loading the model once, on first use)."""
        if spec.key not in self._actors:
            self._check_room(spec)
            cls = self._actor_class(spec)
            self._actors[spec.key] = [cls.remote(spec, None, self.threads)
                                      for _ in range(self.workers)]
        return self._actors[spec.key]

    def _check_room(self, spec: ModelSpec) -> None:
        """On a local instance (nothing joins later), refuse actors that could never be
        scheduled: Ray would wait for the resources forever."""
        if self.address:
            return
        ray = _ray()
        free = ray.available_resources()
        need = {"CPU": self.workers * self.cpus_per_worker}
        if spec.device.startswith("cuda"):
            need["GPU"] = self.workers * self.gpus_per_worker
        for res, n in need.items():
            if free.get(res, 0.0) + 1e-9 < n:
                raise XssabError(f"{self.workers} Ray workers need {n:g} {res} but the local "
                                 f"Ray instance has {free.get(res, 0.0):g} free; use fewer "
                                 "--workers or a cluster (--address)")

    def warm(self, spec: ModelSpec, model=None) -> float:
        """Start the actors of ``spec`` and wait until each has loaded its model; returns
        the seconds this took (Ray start-up cost, kept out of throughput figures)."""
        t0 = time.perf_counter()
        fresh = spec.key not in self._actors
        actors = self.actors(spec)
        if fresh:
            self._get_all([a.pid.remote() for a in actors])
        return time.perf_counter() - t0

    def pids(self, spec: ModelSpec) -> list[int]:
        return self._get_all([a.pid.remote() for a in self.actors(spec)])

    def _get_all(self, refs) -> list:
        return [self._get(r) for r in refs]

    def run(self, spec: ModelSpec, units: Iterable[Unit], model=None) -> Iterator[tuple]:
        """Submit units (at most ``in_flight`` per actor at a time, each to the least busy
        actor) and yield ``(key, result)`` as they finish."""
        ray = _ray()
        actors = self.actors(spec)
        load = [0] * len(actors)
        pending: dict[Any, tuple] = {}  # ref -> (key, actor index, image refs kept alive)
        it = iter(units)
        exhausted = False
        while True:
            while not exhausted and len(pending) < self.in_flight * len(actors):
                try:
                    key, fn, args, kwargs = next(it)
                except StopIteration:
                    exhausted = True
                    break
                i = int(np.argmin(load))
                refs = tuple(ray.put(a) if isinstance(a, (list, np.ndarray)) else a
                             for a in args)
                ref = actors[i].run_unit.remote(fn, kwargs, *refs)
                pending[ref] = (key, i, refs)
                load[i] += 1
            if not pending:
                return
            done, _ = ray.wait(list(pending), num_returns=1)
            key, i, _refs = pending.pop(done[0])
            load[i] -= 1
            yield key, self._get(done[0])

    @staticmethod
    def _get(ref):
        ray = _ray()
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, XssabError):
                raise type(cause)(str(cause)) from None
            raise XssabError(f"a Ray worker failed: {str(cause or exc).splitlines()[0]}") \
                from None
        except ray.exceptions.RayActorError as exc:
            raise XssabError("a Ray worker died more often than max_restarts allows: "
                             f"{str(exc).splitlines()[0]}") from None

    def describe(self) -> dict:
        ray = _ray()
        out = {"executor": self.name, "workers": self.workers,
               "address": self.address or "local", "ray_version": ray.__version__}
        try:
            out["cluster_cpus"] = float(ray.cluster_resources().get("CPU", 0))
        except Exception:  # pragma: no cover - informational only
            pass
        return out

    def close(self) -> None:
        ray = _ray()
        for actors in self._actors.values():
            for a in actors:
                try:
                    ray.kill(a)
                except Exception:  # pragma: no cover - already gone
                    pass
        self._actors.clear()
        if self._started and ray.is_initialized():
            ray.shutdown()
            self._started = False

"""The executor seam: where the benchmark's and the map export's units of work run.

A unit of work is a chunk of pairs for one (model, method): one batch of explanations,
one batch of DPR re-embeddings, one chunk of a map export. Stages hand units to
``executor.run(spec, units, model=model)`` and get ``(key, result)`` back as units finish
(in any order: each result is stored under its key -- stage-cache part, map-store chunk --
so the merged result does not depend on the order or on which worker ran it). A unit is
``(key, fn, args, kwargs)``: ``fn`` a :class:`Worker` method name, or a module-level
function called as ``fn(model, *args, **kwargs)`` next to the worker's loaded model.

- :class:`LocalExecutor` runs every unit in this process, in order, on the model the
  caller loaded (the default; ``map(fn, items)`` stays for plain closures).
- :class:`xssab.eval.ray_executor.RayExecutor` (``--executor ray``, extra ``[ray]``) runs
  them on Ray actors, one per (model, worker), each loading the model once.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Protocol, TypeVar

from ..errors import XssabError

T = TypeVar("T")
R = TypeVar("R")
EXECUTORS = ("local", "ray")

#: one unit: (key, worker method name or fn(model, ...), positional args, keyword args)
Unit = tuple[Any, Any, tuple, dict]


class Executor(Protocol):
    name: str
    workers: int

    def run(self, spec: "ModelSpec", units: Iterable[Unit], model=None) -> Iterator[tuple]: ...

    def describe(self) -> dict: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ModelSpec:
    """How a worker loads the model: what :func:`xssab.load_model` gets (a zoo name, a
    path or a :class:`ModelCard`), on which devices, with which overrides."""

    source: Any
    device: str = "cpu"
    ort_device: str | None = None
    overrides: tuple = field(default_factory=tuple)  # ((key, value), ...)

    @classmethod
    def of(cls, model) -> "ModelSpec":
        """The spec that reloads a loaded :class:`FaceModel` (its card, devices)."""
        return cls(model.card, str(model.device), getattr(model, "ort_device", None))

    @property
    def key(self) -> str:
        return repr((self.source, self.device, self.ort_device, self.overrides))

    def load(self):
        from ..models.loader import load_model

        return load_model(self.source, device=self.device, ort_device=self.ort_device,
                          **dict(self.overrides))


class Worker:
    """The units of work, run next to one loaded model (in-process or in a Ray actor)."""

    def __init__(self, spec: ModelSpec, model=None, threads: int | None = None):
        if threads:
            import torch

            torch.set_num_threads(int(threads))
        self.spec = spec
        self.model = model if model is not None else spec.load()

    def call(self, fn: Callable, *args, **kwargs):
        """``fn(model, *args, **kwargs)``: a stage's unit function (module level)."""
        return fn(self.model, *args, **kwargs)

    def explain(self, images_a, images_b, threshold: float, method: str,
                options=None, sides: str = "both", align: bool = False) -> dict:
        """Explanations of one chunk of pairs: ``{"explanations": [...], "seconds": s}``.
        ``align=False``: the images as the dataset gives them (it aligns, if asked)."""
        from ..explain.api import explain_pairs

        t0 = time.perf_counter()
        res = explain_pairs(self.model, list(images_a), list(images_b), threshold=threshold,
                            method=method, options=options, device=self.spec.device,
                            sides=sides, align=align)
        return {"explanations": res, "seconds": time.perf_counter() - t0}

    def pid(self) -> int:
        return os.getpid()


def call_unit(worker: Worker, fn, args, kwargs):
    return getattr(worker, fn)(*args, **kwargs) if isinstance(fn, str) else \
        worker.call(fn, *args, **kwargs)


class LocalExecutor:
    """Runs every unit in order, in this process (the default)."""

    name = "local"
    workers = 1

    def __init__(self):
        self._workers: dict[str, Worker] = {}

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        return [fn(item) for item in items]

    def _worker(self, spec: ModelSpec, model=None) -> Worker:
        w = self._workers.get(spec.key)
        if w is None or (model is not None and w.model is not model):
            w = self._workers[spec.key] = Worker(spec, model=model)
        return w

    def warm(self, spec: ModelSpec, model=None) -> float:
        """Load the model now (if the caller did not pass it); returns the seconds taken."""
        t0 = time.perf_counter()
        self._worker(spec, model)
        return time.perf_counter() - t0

    def run(self, spec: ModelSpec, units: Iterable[Unit], model=None) -> Iterator[tuple]:
        worker = self._worker(spec, model)
        for key, fn, args, kwargs in units:
            yield key, call_unit(worker, fn, args, kwargs)

    def describe(self) -> dict:
        return {"executor": self.name, "workers": self.workers}

    def close(self) -> None:
        self._workers.clear()


def run_units(executor, model, units: Iterable[Unit]) -> Iterator[tuple]:
    """``executor.run(ModelSpec.of(model), units, model=model)``; an executor with only
    ``map(fn, items)`` runs the units in this process through it."""
    if hasattr(executor, "run"):
        return executor.run(ModelSpec.of(model), units, model=model)

    def one(unit):
        key, fn, args, kwargs = unit
        return key, call_unit(Worker(ModelSpec.of(model), model), fn, args, kwargs)

    return iter(executor.map(one, list(units)))


def make_executor(name: str = "local", *, workers: int | None = None,
                  address: str | None = None, **kwargs):
    """``local``, or ``ray`` (``workers`` actors per model, default 2; ``address`` None =
    start a local Ray instance, ``auto``, or ``ray://host:port``)."""
    if name == "local":
        if address or workers:
            raise XssabError("--address and --workers need --executor ray")
        return LocalExecutor()
    if name == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(workers=workers or 2, address=address, **kwargs)
    raise XssabError(f"--executor {name!r}: expected one of {', '.join(EXECUTORS)}")


def chunks(n: int, size: int) -> list[range]:
    """``range(0, n)`` cut into consecutive ranges of at most ``size`` items."""
    size = max(1, int(size))
    return [range(i, min(n, i + size)) for i in range(0, n, size)]

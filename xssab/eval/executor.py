"""The executor seam: where the benchmark's units of work run.

A unit of work is a chunk of pairs for one (model, method): one batch of explanations, or
one batch of DPR re-embeddings. The stages build the list of units and call
``executor.map(fn, units)``; ``fn`` is a plain function of its unit (a closure over the
stage's inputs) and returns that unit's result; ``map`` returns the results in the order
of ``units``. Results are combined by the stage, so any executor that runs the same
units gives the same numbers (as long as each unit is computed the same way).

``LocalExecutor`` runs them one after another in this process. A distributed executor
(e.g. Ray) implements the same ``map``; it must ship ``fn`` and the units to workers.
"""

from __future__ import annotations

from typing import Callable, Iterable, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]: ...


class LocalExecutor:
    """Runs every unit in order, in this process (the default)."""

    name = "local"

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        return [fn(item) for item in items]


def chunks(n: int, size: int) -> list[range]:
    """``range(0, n)`` cut into consecutive ranges of at most ``size`` items."""
    size = max(1, int(size))
    return [range(i, min(n, i + size)) for i in range(0, n, size)]

"""Plugin hook specifications.

Every hook receives a ``register`` callback. Built-in models, methods, comparators and
datasets go through exactly these hooks, like third-party plugins do.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("xssab")
hookimpl = pluggy.HookimplMarker("xssab")


@hookspec
def register_models(register):
    """Register face-recognition models.

    Call ``register(card)`` with an :class:`xssab.ModelCard` for each model.
    """


@hookspec
def register_explainers(register):
    """Register explanation methods.

    Call ``register(method)`` with an object following :class:`xssab.ExplanationMethod`
    (it has a ``name`` and an ``explain_pairs`` method).
    """


@hookspec
def register_comparators(register):
    """Register comparators (scores other than plain cosine, e.g. xCos).

    Call ``register(comparator)`` with an object that has a ``name`` and a
    ``compare(model, images_a, images_b)`` method.
    """


@hookspec
def register_datasets(register):
    """Register pair datasets.

    Call ``register(xssab.DatasetEntry(name, factory, description))``;
    ``factory(path=None, **options)`` returns an :class:`xssab.PairDataset`. (The old form
    ``register(name, factory, description=...)`` still works, with a DeprecationWarning.)
    """

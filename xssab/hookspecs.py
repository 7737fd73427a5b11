"""Plugin hook specifications.

The registration hooks receive a ``register`` callback taking ONE object with a ``name``.
Built-in models, methods, comparators, datasets and face detectors go through exactly these
hooks, like third-party plugins do. ``register_commands`` receives the command line's
argparse sub-parsers instead (like llm's ``register_commands`` receives its click group).
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


@hookspec
def register_commands(subparsers):
    """Add subcommands to the ``xssab`` command line.

    ``subparsers`` is the ``argparse`` sub-parser action of ``xssab``::

        p = subparsers.add_parser("my-command", help="one line for `xssab --help`")
        p.add_argument("--model", required=True)
        p.set_defaults(func=run)     # run(args, console) -> exit code

    ``console`` is a ``rich.console.Console``. Raise :class:`xssab.XssabError` for a user
    error: the command line prints it as one ``error:`` line and exits 2. A name that is
    already taken (or a hook that raises) is reported once as a plugin failure.
    """


@hookspec
def register_detectors(register):
    """Register face detectors (used to align raw photos).

    Call ``register(detector)`` with an object following :class:`xssab.align.FaceDetector`
    (a ``name``, a ``description`` and ``detect(images) -> list[list[Detection]]``).
    """

"""Errors shown to users as one line (the CLI prints ``str(err)`` and exits non-zero)."""

from __future__ import annotations


class XssabError(Exception):
    """Base class of every error the toolkit raises on purpose.

    The message is a single line meant for a person: what went wrong, which file or name,
    and what to do next. The command line prints it without a traceback.
    """


class ModelLoadError(XssabError):
    """A model file is missing, not ONNX, truncated, or uses an unsupported operator."""


class ParityError(ModelLoadError):
    """ONNX Runtime and the torch import of the same graph disagree."""


class WeightsMissingError(XssabError):
    """A model card's weights are not in the local cache (and were not fetched)."""


class UnknownNameError(XssabError):
    """A model, method, comparator or dataset name is not registered."""


class DatasetError(XssabError):
    """A dataset file is missing, truncated, undecodable or unsafe."""


class ThresholdError(XssabError):
    """No decision threshold is known for a model."""


class NoFaceError(XssabError):
    """Face detection found no face in an image that had to be aligned."""

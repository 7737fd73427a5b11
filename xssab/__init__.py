"""xssab: explain face-verification decisions.

Public API (everything else is private and may change)::

    model = xssab.load_model("synth-arcface")        # zoo name or path to an ONNX file
    res = xssab.explain(model, image_a, image_b)     # xSSAB by default
    res.a.combined                                   # float32 (H, W) map of image_a
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version as _version

from .data.base import Pair, PairDataset
from .errors import (
    DatasetError,
    ModelLoadError,
    ParityError,
    ThresholdError,
    UnknownNameError,
    WeightsMissingError,
    XssabError,
)
from .explain.base import Explanation, ExplanationMethod, ImageMaps, MethodOptions
from .hookspecs import hookimpl
from .models.card import ModelCard

try:
    __version__ = _version("xssab")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"


def load_model(name_or_path, **overrides):
    """Load a model by zoo name or ONNX path; see :func:`xssab.models.loader.load_model`."""
    from .models.loader import load_model as _load

    return _load(name_or_path, **overrides)


def explain(model, image_a, image_b, threshold=None, *, method="xssab", options=None,
            device=None):
    """Explain one pair; returns an :class:`Explanation` with maps for both images."""
    from .explain.api import explain as _explain

    return _explain(model, image_a, image_b, threshold=threshold, method=method,
                    options=options, device=device)


def explain_pairs(model, images_a, images_b, threshold=None, *, method="xssab",
                  options=None, device=None, sides="both"):
    """Explain many pairs at once; one :class:`Explanation` per pair."""
    from .explain.api import explain_pairs as _explain_pairs

    return _explain_pairs(model, images_a, images_b, threshold=threshold, method=method,
                          options=options, device=device, sides=sides)


def get_dataset(name, path=None, **options):
    """A registered pair dataset by name (``synth``, ``lfw``, ``bin``, ``folder``...)."""
    from .registry import get_dataset as _get

    return _get(name, path=path, **options)


def list_models():
    """Registered model cards by name."""
    from .registry import model_cards

    return model_cards()


def list_methods():
    """Registered explanation methods by name."""
    from .registry import explainers

    return explainers()


__all__ = [
    "DatasetError",
    "Explanation",
    "ExplanationMethod",
    "ImageMaps",
    "MethodOptions",
    "ModelCard",
    "ModelLoadError",
    "Pair",
    "PairDataset",
    "ParityError",
    "ThresholdError",
    "UnknownNameError",
    "WeightsMissingError",
    "XssabError",
    "__version__",
    "explain",
    "explain_pairs",
    "get_dataset",
    "hookimpl",
    "list_methods",
    "list_models",
    "load_model",
]

"""xssab: explain face-verification decisions.

Public API (everything else is private and may change)::

    model = xssab.load_model("synth-arcface")        # zoo name or path to an ONNX file
    res = xssab.explain(model, image_a, image_b)     # xSSAB by default
    res.a.combined                                   # float32 (H, W) map of image_a
"""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version as _version
from typing import TYPE_CHECKING, Any

from .data.base import Pair, PairDataset
from .errors import (
    DatasetError,
    ModelLoadError,
    NoFaceError,
    ParityError,
    ThresholdError,
    UnknownNameError,
    WeightsMissingError,
    XssabError,
)
from .explain.base import Explanation, ExplanationMethod, ImageMaps, MethodOptions
from .hookspecs import hookimpl
from .models.card import ModelCard
from .registry import DatasetEntry

if TYPE_CHECKING:  # imported lazily below: it pulls in torch
    from .models.model import FaceModel


def __getattr__(name: str):
    if name == "FaceModel":
        from .models.model import FaceModel

        return FaceModel
    raise AttributeError(f"module 'xssab' has no attribute {name!r}")


try:
    __version__ = _version("xssab")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"


def load_model(name_or_path: str | os.PathLike | ModelCard, *, device: str = "cpu",
               check_parity: bool = True, ort_device: str | None = None,
               **overrides: Any) -> FaceModel:
    """Load a model-zoo name, a :class:`ModelCard` or a local ONNX file.

    ``device``: where the torch import runs (``"cpu"``, ``"cuda"``, ``"cuda:N"``; ``"gpu"``
    means ``"cuda"``). ``ort_device``: where ONNX Runtime runs (default: ``device``).
    ``check_parity``: compare ONNX Runtime and torch on a probe batch (ParityError if they
    disagree). ``overrides`` correct or complete the card: ``channel_order``, ``mean``,
    ``std``, ``input_size``, ``threshold``, ``embedding_output``, ``feature_output``,
    ``name`` (an unknown key is an XssabError listing the allowed ones).
    """
    from .models.loader import load_model as _load

    return _load(name_or_path, device=device, check_parity=check_parity,
                 ort_device=ort_device, **overrides)


def explain(model: FaceModel, image_a, image_b, threshold: float | None = None, *,
            method: str | ExplanationMethod = "xssab",
            options: MethodOptions | dict | None = None,
            device: str | None = None, align: bool | str = "auto",
            face_index: int | None = None, detector: Any = None) -> Explanation:
    """Explain one pair; returns an :class:`Explanation` with maps for both images.

    ``align="auto"``: photos not of the model's input size are detected and aligned and
    their maps come back at the photo's size (docs/alignment.md); ``face_index`` picks a
    face (0 = largest), ``detector`` a registered face detector (default "mtcnn")."""
    from .explain.api import explain as _explain

    return _explain(model, image_a, image_b, threshold=threshold, method=method,
                    options=options, device=device, align=align, face_index=face_index,
                    detector=detector)


def explain_pairs(model: FaceModel, images_a, images_b, threshold: float | None = None, *,
                  method: str | ExplanationMethod = "xssab",
                  options: MethodOptions | dict | None = None, device: str | None = None,
                  sides: str = "both", align: bool | str = "auto",
                  face_index: int | None = None, detector: Any = None) -> list[Explanation]:
    """Explain many pairs at once; one :class:`Explanation` per pair."""
    from .explain.api import explain_pairs as _explain_pairs

    return _explain_pairs(model, images_a, images_b, threshold=threshold, method=method,
                          options=options, device=device, sides=sides, align=align,
                          face_index=face_index, detector=detector)


def get_dataset(name: str, path=None, **options: Any) -> PairDataset:
    """A registered pair dataset by name (``synth``, ``lfw``, ``bin``, ``folder``...)."""
    from .registry import get_dataset as _get

    return _get(name, path=path, **options)


def list_models() -> list[str]:
    """Names of the registered model cards, sorted (objects: :func:`get_card`)."""
    from .registry import model_cards

    return sorted(model_cards())


def list_methods() -> list[str]:
    """Names of the registered explanation methods, sorted (objects: :func:`get_method`)."""
    from .registry import explainers

    return sorted(explainers())


def list_datasets() -> list[str]:
    """Names of the registered pair datasets, sorted (load one: :func:`get_dataset`)."""
    from .registry import datasets

    return sorted(datasets())


def get_card(name: str) -> ModelCard:
    """A copy of the model card registered as ``name`` (UnknownNameError with hints)."""
    from .registry import get_card as _get

    return _get(name)


def get_method(name: str) -> ExplanationMethod:
    """The explanation method registered as ``name`` (UnknownNameError with hints)."""
    from .registry import get_explainer

    return get_explainer(name)


__all__ = [
    "DatasetEntry",
    "DatasetError",
    "Explanation",
    "ExplanationMethod",
    "FaceModel",
    "ImageMaps",
    "MethodOptions",
    "ModelCard",
    "ModelLoadError",
    "NoFaceError",
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
    "get_card",
    "get_dataset",
    "get_method",
    "hookimpl",
    "list_datasets",
    "list_methods",
    "list_models",
    "load_model",
]

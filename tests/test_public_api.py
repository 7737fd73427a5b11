"""The public surface (README, docs/architecture.md "Public API") keeps working."""

from __future__ import annotations

import inspect

import pluggy
import pytest

import xssab


def test_all_names_exist():
    for name in xssab.__all__:
        assert hasattr(xssab, name), name
    for name in ("load_model", "explain", "explain_pairs", "ModelCard", "hookimpl",
                 "list_models", "list_methods", "list_datasets", "get_card", "get_method",
                 "get_dataset", "FaceModel", "DatasetEntry", "XssabError",
                 "ModelLoadError", "ParityError", "WeightsMissingError"):
        assert name in xssab.__all__


def test_load_model_signature_is_real():
    """device, ort_device and check_parity are named parameters, not hidden in **kw."""
    sig = inspect.signature(xssab.load_model)
    assert sig.parameters["device"].default == "cpu"
    assert sig.parameters["ort_device"].default is None
    assert sig.parameters["check_parity"].default is True
    assert sig.parameters["device"].kind is inspect.Parameter.KEYWORD_ONLY
    assert sig.return_annotation in ("FaceModel", xssab.FaceModel)


def test_face_model_is_what_load_model_returns(small_iresnet_onnx):
    m = xssab.load_model(str(small_iresnet_onnx), threshold=0.3)
    assert isinstance(m, xssab.FaceModel)


def test_listings_return_names_and_get_returns_objects():
    models, methods, datasets = xssab.list_models(), xssab.list_methods(), xssab.list_datasets()
    assert all(isinstance(n, str) for n in models + methods + datasets)
    assert models == sorted(models) and "synth-arcface" in models
    assert {"xssab", "random"} <= set(methods) and {"synth", "lfw"} <= set(datasets)
    assert xssab.get_card("synth-arcface").name == "synth-arcface"
    assert xssab.get_method("xssab").name == "xssab"
    with pytest.raises(xssab.UnknownNameError, match="xssab"):
        xssab.get_method("xsab")


def test_kit_and_testing_are_public():
    import xssab.kit
    import xssab.testing

    for name in xssab.kit.__all__:
        assert hasattr(xssab.kit, name), name
    assert callable(xssab.testing.check_method)
    assert "check_pairs" in xssab.kit.__all__ and "signed_maps" in xssab.kit.__all__


def test_py_typed_is_package_data():
    import tomllib
    from pathlib import Path

    root = Path(xssab.__file__).resolve().parent
    assert (root / "py.typed").is_file()
    with open(root.parent / "pyproject.toml", "rb") as fh:
        data = tomllib.load(fh)["tool"]["setuptools"]["package-data"]
    assert "py.typed" in data["xssab"]


def test_error_hierarchy():
    assert issubclass(xssab.ParityError, xssab.ModelLoadError)
    for e in (xssab.ModelLoadError, xssab.WeightsMissingError, xssab.UnknownNameError,
              xssab.DatasetError, xssab.ThresholdError):
        assert issubclass(e, xssab.XssabError)


def test_hookimpl_is_pluggy_marker():
    assert isinstance(xssab.hookimpl, pluggy.HookimplMarker)
    assert xssab.hookimpl.project_name == "xssab"


def test_model_card_is_plain_data():
    card = xssab.ModelCard(name="m", path="/x.onnx", channel_order="BGR", mean=[1, 2, 3],
                           input_size=[96, 112], threshold=0.3)
    assert card.channel_order == "bgr" and card.mean == (1.0, 2.0, 3.0)
    assert card.input_size == (96, 112)
    assert card.to_dict()["threshold"] == 0.3
    assert card.replace(threshold=0.4).threshold == 0.4 and card.threshold == 0.3


def test_load_model_accepts_documented_overrides(small_iresnet_onnx):
    from xssab.models.loader import OVERRIDES, load_model

    assert {"channel_order", "mean", "std", "input_size", "threshold"} <= set(OVERRIDES)
    sig = inspect.signature(load_model)
    assert sig.parameters["device"].default == "cpu"
    m = xssab.load_model(str(small_iresnet_onnx), channel_order="bgr", mean=127.5, std=128,
                         input_size=(112, 112), threshold=0.3)
    assert m.card.channel_order == "bgr" and m.card.std == 128 and m.threshold == 0.3
    emb = m.embed(__import__("numpy").zeros((2, 112, 112, 3), "uint8"))
    assert emb.shape == (2, m.embedding_size) and emb.dtype.name == "float32"
    for attr in ("card", "name", "path", "device", "input_size", "embedding_size",
                 "threshold", "preprocess", "input_tensor", "embed", "embed_input",
                 "run_outputs", "torch_module", "torch_outputs", "output_names",
                 "embedding_output", "feature_output"):
        assert hasattr(m, attr), attr

"""The public surface in interface.md keeps working (names, types, signatures)."""

from __future__ import annotations

import inspect

import pluggy

import xssab


def test_all_names_exist():
    for name in xssab.__all__:
        assert hasattr(xssab, name), name
    for name in ("load_model", "explain", "explain_pairs", "ModelCard", "hookimpl",
                 "list_models", "list_methods", "get_dataset", "XssabError",
                 "ModelLoadError", "ParityError", "WeightsMissingError"):
        assert name in xssab.__all__


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

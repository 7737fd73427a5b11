"""Plugin manager: built-ins through the hooks, entry points, failure isolation, template."""

from __future__ import annotations

import importlib.metadata
import sys
import types

import numpy as np
import pytest

import xssab
from xssab import plugins, registry


def _module(name, **attrs):
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    return mod


def test_builtins_register_through_hooks():
    infos = {i["name"]: i for i in plugins.plugin_infos()}
    assert "register_models" in infos["xssab._builtin_models"]["hooks"]
    assert infos["xssab._builtin_models"]["builtin"]
    assert registry.plugin_of("models", "arcface") == "xssab._builtin_models"


def test_minimal_plugin_from_the_readme_works_as_written(fake_plugin):
    @xssab.hookimpl
    def register_models(register):
        register(xssab.ModelCard(name="my-model", path="/models/my.onnx",
                                 channel_order="bgr", threshold=0.3))

    fake_plugin(_module("my_plugin", register_models=register_models), "my_plugin")
    card = xssab.get_card("my-model")
    assert card.channel_order == "bgr" and card.threshold == 0.3
    assert card.plugin == "my_plugin"
    with pytest.raises(xssab.WeightsMissingError, match="/models/my.onnx"):
        xssab.load_model("my-model")


def test_raising_plugin_is_reported_once_and_rest_keep_working(fake_plugin, capsys):
    @xssab.hookimpl
    def register_models(register):
        register(xssab.ModelCard(name="half-registered"))
        raise RuntimeError("boom in plugin")

    fake_plugin(_module("bad_plugin", register_models=register_models), "bad_plugin")
    cards = xssab.list_models()
    assert "arcface" in cards and "half-registered" in cards
    registry._clear()
    xssab.list_models()
    fails = [f for f in plugins.failures() if f.name == "bad_plugin"]
    assert len(fails) == 1 and "boom in plugin" in fails[0].error
    assert fails[0].stage == "register_models"
    err = capsys.readouterr().err
    assert err.count("bad_plugin") == 1


def test_duplicate_names_keep_the_first_and_report(fake_plugin):
    @xssab.hookimpl
    def register_models(register):
        register(xssab.ModelCard(name="arcface", path="/elsewhere.onnx"))

    fake_plugin(_module("dup_plugin", register_models=register_models), "dup_plugin")
    assert xssab.get_card("arcface").path is None  # the built-in card stays
    assert any(f.name == "dup_plugin" and "already registered" in f.error
               for f in plugins.failures())


def _fake_eps(monkeypatch, eps):
    monkeypatch.setattr(plugins.importlib.metadata, "entry_points",
                        lambda group=None: [e for e in eps if e.group == group])


def test_entry_points_loaded_broken_ones_isolated(monkeypatch, entry_points_on, capsys):
    good = _module("xssab_test_good_plugin")

    @xssab.hookimpl
    def register_models(register):
        register(xssab.ModelCard(name="ep-model"))

    good.register_models = register_models
    monkeypatch.setitem(sys.modules, "xssab_test_good_plugin", good)
    EP = importlib.metadata.EntryPoint
    _fake_eps(monkeypatch, [EP("good", "xssab_test_good_plugin", "xssab"),
                            EP("broken", "xssab_no_such_module_42", "xssab")])
    plugins.reset()
    cards = xssab.list_models()
    assert "ep-model" in cards and "arcface" in cards
    assert registry.plugin_of("models", "ep-model") == "good"
    fails = plugins.failures()
    assert [(f.name, f.stage) for f in fails] == [("broken", "import")]
    assert "xssab_no_such_module_42" in fails[0].error
    plugins.failures()
    assert capsys.readouterr().err.count("'broken'") == 1


def test_env_var_turns_entry_points_off(monkeypatch):
    EP = importlib.metadata.EntryPoint
    _fake_eps(monkeypatch, [EP("broken", "xssab_no_such_module_42", "xssab")])
    plugins.reset()  # XSSAB_NO_ENTRYPOINTS=1 is set for every test by conftest
    assert plugins.entry_points_disabled()
    xssab.list_models()
    assert plugins.failures() == []
    assert all(i["builtin"] for i in plugins.plugin_infos())


# ------------------------------------------------------------------ the template plugin
def test_template_plugin_is_installed_as_entry_point(template_plugin):
    """pip-installed (throwaway folder, see conftest), the template is an entry point."""
    eps = {e.name: e for e in importlib.metadata.entry_points(group="xssab")}
    assert "template" in eps
    assert eps["template"].value == "xssab_plugin_template"
    assert importlib.metadata.version("xssab-plugin-template") == "0.1.0"


def test_template_plugin_registers_model_and_method(template_plugin):
    infos = {i["name"]: i for i in plugins.plugin_infos()}
    assert infos["template"]["version"] == "0.1.0" and not infos["template"]["builtin"]
    assert set(infos["template"]["hooks"]) == {"register_models", "register_explainers"}
    assert registry.plugin_of("models", "template-tiny") == "template"
    method = registry.get_explainer("template-gradient")
    model = xssab.load_model("template-tiny")
    assert model.card.plugin == "template" and model.embedding_size == 32
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (120, 100, 3), dtype=np.uint8)
    b = rng.integers(0, 255, (112, 112, 3), dtype=np.uint8)
    res = method.explain_pairs(model, [a, a], [b, a[:, ::-1].copy()], 0.5)
    assert len(res) == 2
    assert res[0].a.combined.shape == (120, 100) and res[0].b.combined.shape == (112, 112)
    assert np.isfinite(res[0].a.combined).all() and np.abs(res[0].a.combined).sum() > 0
    cos = model.embed([a, b], normalize=True, align=False)  # random images: no face
    assert abs(res[0].similarity - float(cos[0] @ cos[1])) < 1e-4
    only_a = method.explain_pairs(model, [a], [b], 0.5, sides="a")[0]
    assert only_a.b is None

"""The registry: one register(obj) shape for every hook, strict arguments, private copies."""

from __future__ import annotations

import pytest

import xssab
from xssab import plugins, registry


class _Datasets:
    @xssab.hookimpl
    def register_datasets(self, register):
        register(xssab.DatasetEntry("tiny-ds", lambda path=None, **kw: ("tiny", path, kw),
                                    "a test dataset"))


def test_datasets_register_one_object_like_every_hook(fake_plugin):
    fake_plugin(_Datasets(), "ds-plugin")
    assert "tiny-ds" in xssab.list_datasets()
    entry = registry.get_dataset_entry("tiny-ds")
    assert entry.plugin == "ds-plugin" and entry.description == "a test dataset"
    assert xssab.get_dataset("tiny-ds", path="p", min_pairs=4) == ("tiny", "p",
                                                                   {"min_pairs": 4})


class _LegacyDatasets:
    @xssab.hookimpl
    def register_datasets(self, register):
        register("old-ds", lambda path=None, **kw: "old", description="old form")


def test_old_dataset_form_still_works_with_a_deprecation_warning(fake_plugin):
    fake_plugin(_LegacyDatasets(), "legacy")
    with pytest.warns(DeprecationWarning, match="DatasetEntry"):
        assert xssab.get_dataset("old-ds") == "old"


class _Misspelled:
    @xssab.hookimpl
    def register_models(self, register):
        register(xssab.ModelCard(name="typo-model"), descripton="misspelled keyword")


def test_misspelled_register_argument_is_reported_not_swallowed(fake_plugin):
    """Before: register(**_ignored) accepted and dropped any keyword silently."""
    fake_plugin(_Misspelled(), "typo-plugin")
    assert "typo-model" not in xssab.list_models()
    fails = [f for f in plugins.failures() if f.name == "typo-plugin"]
    assert len(fails) == 1 and "descripton" in fails[0].error


def test_get_card_hands_out_a_copy():
    """Before: get_card returned the shared card; changing it changed every later lookup."""
    card = xssab.get_card("synth-arcface")
    threshold = card.threshold
    card.threshold = -5.0
    card.extra["poison"] = True
    again = xssab.get_card("synth-arcface")
    assert again.threshold == threshold and "poison" not in again.extra
    assert registry.model_cards()["synth-arcface"].threshold == threshold


def test_unknown_names_are_reported_all_at_once_with_suggestions():
    with pytest.raises(xssab.UnknownNameError) as err:
        registry.unknown_names("explainers", "explanation method", ["xsab", "random", "xfac"])
    msg = str(err.value)
    assert "'xsab' (did you mean xssab?)" in msg and "'xfac' (did you mean xface?)" in msg
    assert "'random'" not in msg.split("Registered")[0]


def test_plugins_module_does_not_import_the_registry():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(plugins))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                for a in n.names} | {n.module for n in ast.walk(tree)
                                     if isinstance(n, ast.ImportFrom) and n.module}
    assert "registry" not in imported

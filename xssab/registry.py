"""Name -> card / method / comparator / dataset lookups, built from the plugin hooks."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Callable

from .errors import UnknownNameError
from .plugins import call_hook, current_plugin, record_failure

_cache: dict[str, dict[str, Any]] = {}
#: kind -> name -> plugin that registered it
_origins: dict[str, dict[str, str | None]] = {}


def _clear() -> None:
    _cache.clear()
    _origins.clear()


def plugin_of(kind: str, name: str) -> str | None:
    """Which plugin registered ``name`` (kind: models, explainers, comparators, datasets)."""
    _collect(kind)
    return _origins.get(kind, {}).get(name)


@dataclass
class DatasetEntry:
    name: str
    factory: Callable[..., Any]
    description: str = ""
    plugin: str | None = None


def _collect(kind: str) -> dict[str, Any]:
    if kind in _cache:
        return _cache[kind]
    found: dict[str, Any] = {}
    hook = {"models": "register_models", "explainers": "register_explainers",
            "comparators": "register_comparators", "datasets": "register_datasets"}[kind]

    origins = _origins.setdefault(kind, {})

    def register(obj, factory=None, description: str = "", **_ignored):
        plugin = current_plugin()
        if kind == "datasets":
            entry = obj if isinstance(obj, DatasetEntry) else DatasetEntry(
                str(obj), factory, description)
            if entry.plugin is None:
                entry.plugin = plugin
            obj, name = entry, entry.name
        else:
            name = getattr(obj, "name", None)
            if not name:
                raise TypeError(f"cannot register {obj!r}: it has no name")
            if kind == "models" and getattr(obj, "plugin", "") is None:
                obj.plugin = plugin
        if name in found:
            # first registration wins (built-ins load first); report the clash once
            record_failure(plugin or "<unknown>", hook, ValueError(
                f"{kind[:-1]} {name!r} is already registered by {origins.get(name)}; "
                "ignored"))
            return found[name]
        found[name] = obj
        origins[name] = plugin
        return obj

    call_hook(hook, register)
    _cache[kind] = found
    return found


def _lookup(kind: str, label: str, name: str):
    items = _collect(kind)
    if name in items:
        return items[name]
    close = difflib.get_close_matches(name, list(items), n=3)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    known = ", ".join(sorted(items)) or "none"
    raise UnknownNameError(f"unknown {label} {name!r}.{hint} Registered: {known}")


def model_cards() -> dict[str, Any]:
    return dict(_collect("models"))


def get_card(name: str):
    return _lookup("models", "model", name)


def explainers() -> dict[str, Any]:
    return dict(_collect("explainers"))


def get_explainer(name: str):
    return _lookup("explainers", "explanation method", name)


def comparators() -> dict[str, Any]:
    return dict(_collect("comparators"))


def get_comparator(name: str):
    return _lookup("comparators", "comparator", name)


def datasets() -> dict[str, DatasetEntry]:
    return dict(_collect("datasets"))


def get_dataset(name: str, path=None, **options):
    entry = _lookup("datasets", "dataset", name)
    return entry.factory(path=path, **options)

"""Name -> card / method / comparator / dataset lookups, built from the plugin hooks."""

from __future__ import annotations

import copy
import difflib
import warnings
from dataclasses import dataclass
from typing import Any, Callable

from .errors import UnknownNameError
from .plugins import call_hook, current_plugin, on_reset, record_failure

_cache: dict[str, dict[str, Any]] = {}
#: kind -> name -> plugin that registered it
_origins: dict[str, dict[str, str | None]] = {}


def _clear() -> None:
    _cache.clear()
    _origins.clear()


on_reset(_clear)


def plugin_of(kind: str, name: str) -> str | None:
    """Which plugin registered ``name`` (kind: models, explainers, comparators, datasets,
    detectors)."""
    _collect(kind)
    return _origins.get(kind, {}).get(name)


@dataclass
class DatasetEntry:
    """What a plugin registers with ``register_datasets``: ``register(DatasetEntry(...))``.

    ``factory(path=None, **options)`` returns an :class:`xssab.PairDataset`; it may take a
    ``min_pairs=N`` option to size itself (see the dataset docs).
    """

    name: str
    factory: Callable[..., Any]
    description: str = ""
    plugin: str | None = None

    def __call__(self, path=None, **options):
        return self.factory(path=path, **options)


_HOOKS = {"models": "register_models", "explainers": "register_explainers",
          "comparators": "register_comparators", "datasets": "register_datasets",
          "detectors": "register_detectors"}


def _collect(kind: str) -> dict[str, Any]:
    if kind in _cache:
        return _cache[kind]
    found: dict[str, Any] = {}
    hook = _HOOKS[kind]
    origins = _origins.setdefault(kind, {})

    def register(obj, *legacy, **legacy_kw):
        """``register(obj)``: one object with a ``name`` (a card, a method, a comparator, a
        :class:`DatasetEntry`). The old dataset form ``register(name, factory,
        description=...)`` still works, with a DeprecationWarning."""
        plugin = current_plugin()
        if kind == "datasets" and not isinstance(obj, DatasetEntry) and (legacy or legacy_kw):
            unknown = set(legacy_kw) - {"factory", "description"}
            if unknown or len(legacy) > 2:
                raise TypeError(f"register() got unexpected arguments "
                                f"{sorted(unknown) or legacy[2:]}")
            warnings.warn("register(name, factory, description=...) is deprecated; use "
                          "register(xssab.DatasetEntry(name, factory, description))",
                          DeprecationWarning, stacklevel=2)
            args = dict(zip(("factory", "description"), legacy), **legacy_kw)
            obj = DatasetEntry(str(obj), args.get("factory"), args.get("description", ""))
        elif legacy or legacy_kw:
            extra = [*map(repr, legacy), *legacy_kw]
            raise TypeError(f"register() takes one object; unexpected {', '.join(extra)}")
        if kind == "datasets":
            if not isinstance(obj, DatasetEntry) or not callable(obj.factory):
                raise TypeError(f"register_datasets: register(xssab.DatasetEntry(name, "
                                f"factory, description)), got {obj!r}")
            if obj.plugin is None:
                obj.plugin = plugin
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
    """Name -> a private copy of each registered card (changing it changes nothing here)."""
    return {k: copy.deepcopy(v) for k, v in _collect("models").items()}


def get_card(name: str):
    """A private copy of the card registered as ``name`` (UnknownNameError with hints)."""
    return copy.deepcopy(_lookup("models", "model", name))


def explainers() -> dict[str, Any]:
    return dict(_collect("explainers"))


def get_explainer(name: str):
    return _lookup("explainers", "explanation method", name)


def comparators() -> dict[str, Any]:
    return dict(_collect("comparators"))


def get_comparator(name: str):
    return _lookup("comparators", "comparator", name)


def detectors() -> dict[str, Any]:
    return dict(_collect("detectors"))


def get_detector(name: str):
    return _lookup("detectors", "face detector", name)


def datasets() -> dict[str, DatasetEntry]:
    return dict(_collect("datasets"))


def get_dataset_entry(name: str) -> DatasetEntry:
    return _lookup("datasets", "dataset", name)


def get_dataset(name: str, path=None, **options):
    return get_dataset_entry(name)(path=path, **options)


def unknown_names(kind: str, label: str, names) -> None:
    """Raise one UnknownNameError listing every unknown name of ``names`` (with hints)."""
    items = _collect(kind)
    bad = [n for n in names if n not in items]
    if not bad:
        return
    parts = []
    for n in bad:
        close = difflib.get_close_matches(n, list(items), n=1)
        parts.append(f"{n!r} (did you mean {close[0]}?)" if close else repr(n))
    known = ", ".join(sorted(items)) or "none"
    raise UnknownNameError(f"unknown {label}{'s' if len(bad) > 1 else ''} "
                           f"{', '.join(parts)}. Registered: {known}")

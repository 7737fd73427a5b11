"""The plugin manager: built-in plugins, entry points, failure isolation, listing."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from dataclasses import dataclass, field

import pluggy

from . import hookspecs

ENTRY_POINT_GROUP = "xssab"
#: Set to ``1`` to skip loading third-party plugins from entry points.
DISABLE_ENV = "XSSAB_NO_ENTRYPOINTS"

#: First-party plugins, loaded through the same hooks as third-party ones.
DEFAULT_PLUGINS = (
    "xssab._builtin_models",
    "xssab._builtin_methods",
    "xssab._builtin_datasets",
    "xssab._builtin_detectors",
    "xssab_xface",
    "xssab_xcos",
    "xssab_fggb",
    "xssab_corrrise",
    "xssab_gradcam",
)


@dataclass
class PluginFailure:
    name: str
    stage: str  # "import" or the hook name
    error: str


@dataclass
class _State:
    pm: pluggy.PluginManager | None = None
    failures: list[PluginFailure] = field(default_factory=list)
    reported: set[tuple[str, str]] = field(default_factory=set)
    versions: dict[str, str] = field(default_factory=dict)
    #: name of the plugin whose hook is running (the registry records it as the origin)
    current: str | None = None


_state = _State()


def _new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("xssab")
    pm.add_hookspecs(hookspecs)
    for modname in DEFAULT_PLUGINS:
        try:
            mod = importlib.import_module(modname)
        except Exception as exc:  # a broken first-party plugin must not break the rest
            _record_failure(modname, "import", exc)
            continue
        pm.register(mod, name=modname)
    if not entry_points_disabled():
        _load_entry_points(pm)
    return pm


def entry_points_disabled() -> bool:
    return os.environ.get(DISABLE_ENV, "").strip().lower() in ("1", "true", "yes")


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    try:
        eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception as exc:  # pragma: no cover - broken metadata
        _record_failure("<entry points>", "import", exc)
        return
    seen = set()
    for ep in eps:
        if ep.name in seen or ep.value in DEFAULT_PLUGINS:
            continue
        seen.add(ep.name)
        try:
            mod = ep.load()
        except Exception as exc:
            _record_failure(ep.name, "import", exc)
            continue
        if pm.is_registered(mod):
            continue
        try:
            pm.register(mod, name=ep.name)
        except Exception as exc:
            _record_failure(ep.name, "register", exc)
            continue
        dist = getattr(ep, "dist", None)
        if dist is not None:
            _state.versions[ep.name] = dist.version


def record_failure(name: str, stage: str, exc: BaseException) -> None:
    """Report a plugin problem once (by plugin name and stage) and keep going."""
    _record_failure(name, stage, exc)


def _record_failure(name: str, stage: str, exc: BaseException) -> None:
    msg = f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
    key = (name, stage)
    if key in _state.reported:
        return
    _state.reported.add(key)
    _state.failures.append(PluginFailure(name, stage, msg))
    print(f"xssab: plugin {name!r} failed ({stage}): {msg}", file=sys.stderr)


def get_plugin_manager() -> pluggy.PluginManager:
    if _state.pm is None:
        _state.pm = _new_manager()
    return _state.pm


#: called by :func:`reset` (the registry adds its cache clearing here: no import back)
_reset_callbacks: list = []


def on_reset(fn) -> None:
    """Call ``fn()`` whenever :func:`reset` runs."""
    _reset_callbacks.append(fn)


def reset() -> None:
    """Forget the plugin manager and the registries built from it (tests, reloading)."""
    _state.pm = None
    _state.failures.clear()
    _state.reported.clear()
    _state.versions.clear()
    for fn in _reset_callbacks:
        fn()


def failures() -> list[PluginFailure]:
    get_plugin_manager()
    return list(_state.failures)


def call_hook(hook_name: str, register=None, **kwargs) -> None:
    """Call ``hook_name`` on every plugin, one at a time, isolating failures.

    Registration hooks get ``register``; other hooks get ``kwargs`` (their arguments)."""
    if register is not None:
        kwargs["register"] = register
    pm = get_plugin_manager()
    hook = getattr(pm.hook, hook_name)
    for impl in hook.get_hookimpls():
        name = pm.get_name(impl.plugin) or repr(impl.plugin)
        _state.current = name
        try:
            impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})
        except Exception as exc:
            _record_failure(name, hook_name, exc)
        finally:
            _state.current = None


def current_plugin() -> str | None:
    """The plugin whose hook is being called right now (None outside hook calls)."""
    return _state.current


def plugin_infos() -> list[dict]:
    """One record per plugin: name, hooks it implements, version of its distribution."""
    pm = get_plugin_manager()
    out = []
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin)
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        version = _state.versions.get(name) or _version_of(name)
        out.append({"name": name, "hooks": hooks, "version": version,
                    "builtin": name in DEFAULT_PLUGINS})
    out.sort(key=lambda r: (not r["builtin"], r["name"]))
    return out


def _version_of(modname: str) -> str | None:
    if modname.startswith("xssab"):
        try:
            return importlib.metadata.version("xssab")
        except importlib.metadata.PackageNotFoundError:
            return None
    return None

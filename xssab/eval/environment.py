"""Library versions and the machine a benchmark ran on (``environment`` in results.json)."""

from __future__ import annotations

import os
import platform
from functools import lru_cache

PACKAGES = ("xssab", "torch", "onnxruntime", "onnx", "numpy", "scipy", "onnx2torch",
            "opencv-python-headless", "opencv-python")


def _version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def cpu_name() -> str:
    """CPU model name (/proc/cpuinfo on Linux, else ``platform.processor()``)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: str = "cpu") -> dict:
    """A fresh copy of :func:`_environment`."""
    import copy

    return copy.deepcopy(_environment(device))


@lru_cache(maxsize=4)
def _environment(device: str = "cpu") -> dict:
    """``{"packages": {name: version}, "python", "platform", "cpu", "cpus", "gpu",
    "threads"}``; ``gpu`` is the CUDA device name when ``device`` is cuda."""
    pk = {n: _version(n) for n in PACKAGES}
    pk = {n: v for n, v in pk.items() if v is not None}
    gpu = None
    if device == "cuda":
        try:
            import torch

            if torch.cuda.is_available():
                gpu = torch.cuda.get_device_name(0)
        except Exception:  # pragma: no cover - a broken CUDA stack: report no name
            gpu = None
    return {"packages": pk, "python": platform.python_version(),
            "platform": platform.platform(), "cpu": cpu_name(), "cpus": os.cpu_count(),
            "gpu": gpu,
            "threads": {k: os.environ.get(k) for k in ("XSSAB_ORT_THREADS",
                                                       "OMP_NUM_THREADS")
                        if os.environ.get(k)}}

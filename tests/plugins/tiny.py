"""Tiny real ONNX face models for the baseline-method tests (built at test time).

``tiny_model_path(folder)`` exports a narrow IResNet (tests/graphs.py layout, 112x112
input, 16-D embedding, outputs ``embedding`` and the 7x7 ``features`` map) and
``load_tiny(folder)`` loads it through the real :func:`xssab.load_model`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.graphs import export_onnx, random_faces, small_iresnet

THRESHOLD = 0.3


def tiny_model_path(folder, seed: int = 0, input_size: int = 112) -> Path:
    path = Path(folder) / f"tiny_iresnet_{seed}_{input_size}.onnx"
    if not path.exists():
        net = small_iresnet(seed=seed, widths=(4, 8, 8, 8), embedding_size=16,
                            input_size=input_size)
        export_onnx(net, path, style="multi_output")
    return path


def load_tiny(folder, seed: int = 0, feature_output: str | None = "features", **kw):
    import xssab

    return xssab.load_model(str(tiny_model_path(folder, seed)), threshold=THRESHOLD,
                            feature_output=feature_output, **kw)


def faces(n: int, size=(112, 112), seed: int = 0) -> np.ndarray:
    return random_faces(n, size=size, seed=seed)

"""FaceModel: one ONNX graph used two ways -- ONNX Runtime (fast, batched) and torch
(onnx2torch import of the same fixed graph, for gradients). See docs/architecture.md."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from .._util import l2_normalize
from ..errors import ModelLoadError, XssabError
from .card import ModelCard
from .preprocess import as_image_list, preprocess as _preprocess
from .torch_import import build_torch_graph, first_line as _first_line  # noqa: F401


def cpu_threads() -> int:
    """ORT intra-op threads: ``$XSSAB_ORT_THREADS`` if set, else the usable CPU cores."""
    env = os.environ.get("XSSAB_ORT_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


class FaceModel:
    """A loaded face-recognition model. Build it with :func:`xssab.load_model`."""

    def __init__(self, card: ModelCard, path: Path, session, proto, *, device: str,
                 input_name: str, output_names: list[str], embedding_output: str,
                 feature_output: str | None, threshold: float | None,
                 threshold_source: str | None, fixes: list[str], batch1: bool = False,
                 ort_device: str | None = None):
        self.card = card
        self.name = card.name
        self.path = Path(path)
        self.device = device
        #: where ONNX Runtime runs (``load_model(ort_device=...)``; default: ``device``)
        self.ort_device = ort_device or device
        self.input_size: tuple[int, int] = tuple(card.input_size)  # type: ignore[assignment]
        self.embedding_size = int(card.embedding_size)
        self.threshold = threshold
        #: where ``threshold`` came from: "override", "calibrated", "card" or None
        self.threshold_source = threshold_source
        self.input_name = input_name
        self.output_names = list(output_names)
        self.embedding_output = embedding_output
        self.feature_output = feature_output
        #: graph fixes applied on load (see xssab.models.onnx_fix)
        self.fixes = list(fixes)
        #: the graph could not be made batch-safe: ORT and torch run one image at a time
        self.batch1 = batch1
        #: measured max |ORT - torch| of normalised probe embeddings (None: not checked)
        self.parity_diff: float | None = None
        self._session = session
        self._proto = proto
        self._torch_graph = None
        self._torch_module = None

    def __repr__(self) -> str:
        h, w = self.input_size
        return (f"FaceModel({self.name!r}, path={str(self.path)!r}, device={self.device!r}, "
                f"input={w}x{h} {self.card.channel_order}, D={self.embedding_size})")

    # ------------------------------------------------------------------ preprocessing
    def preprocess(self, images) -> np.ndarray:
        """float32 (N, 3, H, W) model input from uint8 RGB images (any sizes, gray, RGBA)."""
        c = self.card
        return _preprocess(images, self.input_size, c.channel_order, c.mean, c.std)

    def input_tensor(self, images, device: str | None = None) -> torch.Tensor:
        return torch.from_numpy(self.preprocess(images)).to(device or self.device)

    # ------------------------------------------------------------------ ONNX Runtime
    @property
    def session(self):
        return self._session

    def embed(self, images, batch_size: int = 64, normalize: bool = False, *,
              align="auto", face_index: int | None = None, detector=None) -> np.ndarray:
        """float32 (N, D) embeddings through ONNX Runtime (not normalised by default).

        ``align="auto"``: images not already of the input size are detected and aligned
        (:mod:`xssab.align`); ``True`` always, ``False`` never (plain resize)."""
        ims = as_image_list(images)
        if align == "auto":
            from ..align.faces import auto_is_as_given

            if auto_is_as_given():  # inside an explanation method: images are crops
                align = False
        if align is not False and ims:
            from ..align.faces import align_images

            ims, _ = align_images(ims, self.input_size, align=align, face_index=face_index,
                                  detector=detector, template=self.card.align_template)
        out = [self.embed_input(self.preprocess(ims[i:i + batch_size]), batch_size)
               for i in range(0, len(ims), max(1, batch_size))]
        emb = (np.concatenate(out) if out
               else np.zeros((0, self.embedding_size), np.float32))
        check_embeddings(emb, self.name)
        if normalize:
            emb = l2_normalize(np.asarray(emb, np.float32))
        return emb

    def embed_input(self, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Embeddings of an already preprocessed float32 (N, 3, H, W) batch (ORT)."""
        res = self._run(np.asarray(x, np.float32), [self.embedding_output], batch_size)
        return res[self.embedding_output]

    def run_outputs(self, images, names: Iterable[str] | None = None,
                    batch_size: int = 64) -> dict[str, np.ndarray]:
        """Any graph outputs by name (all by default) for images, through ORT."""
        names = list(names) if names is not None else list(self.output_names)
        unknown = [n for n in names if n not in self.output_names]
        if unknown:
            raise ModelLoadError(f"model {self.name!r} has no output {unknown[0]!r}; outputs: "
                                 f"{', '.join(self.output_names)}")
        return self._run(self.preprocess(images), names, batch_size)

    def _run(self, x: np.ndarray, names: list[str], batch_size: int) -> dict[str, np.ndarray]:
        step = 1 if self.batch1 else max(1, int(batch_size))
        parts: dict[str, list[np.ndarray]] = {n: [] for n in names}
        for i in range(0, x.shape[0], step):
            try:
                res = self._session.run(names, {self.input_name: x[i:i + step]})
            except Exception as exc:
                raise ModelLoadError(f"{self.path}: ONNX Runtime failed: "
                                     f"{_first_line(exc)}") from None
            for n, r in zip(names, res):
                parts[n].append(np.asarray(r, dtype=np.float32))
        out = {}
        for n in names:
            if parts[n]:
                out[n] = np.concatenate(parts[n])
            else:
                out[n] = np.zeros((0, self.embedding_size) if n == self.embedding_output
                                  else (0,), np.float32)
        return out

    # ------------------------------------------------------------------ torch
    @property
    def torch_graph(self):
        """The onnx2torch import: input (N,3,H,W) -> tuple of every output (graph order)."""
        if self._torch_graph is None:
            self._torch_graph = build_torch_graph(self._proto, self.path, self.device,
                                                  len(self.output_names), self.batch1)
            self._proto = None  # the torch copy and the ORT session hold the weights now
        return self._torch_graph

    def use_graph(self, proto, *, note: str | None = None) -> None:
        """Build the torch import from ``proto`` (an equivalent, e.g. opset-upgraded, copy of
        the graph) instead; drops any import built so far. ``note`` is added to ``fixes``."""
        self._proto = proto
        self._torch_graph = None
        self._torch_module = None
        if note:
            self.fixes.append(note)

    @property
    def torch_module(self):
        """input tensor (N,3,H,W) -> embedding (N, D), NOT normalised; eval, frozen."""
        if self._torch_module is None:
            self._torch_module = _Select(self.torch_graph,
                                         self.output_names.index(self.embedding_output)).eval()
        return self._torch_module

    def torch_outputs(self, x) -> dict:
        """Every graph output by name, computed in torch (keeps gradients)."""
        outs = self.torch_graph(x)
        return dict(zip(self.output_names, outs))


def check_embeddings(emb, model_name: str = "model") -> None:
    """XssabError when a row is NaN/Inf or all zero: its cosine similarity is undefined
    (a model can give this on a black or blank image); says which image, instead of NaN
    scores and maps that read as a "NO MATCH"."""
    e = np.asarray(emb, np.float64)
    if e.size == 0:
        return
    norms = np.linalg.norm(e.reshape(len(e), -1), axis=1)
    bad = np.flatnonzero(~np.isfinite(norms) | (norms == 0))
    if bad.size:
        i = int(bad[0])
        kind = "a zero" if np.isfinite(norms[i]) else "a non-finite (NaN/Inf)"
        raise XssabError(f"model {model_name!r} produced {kind} embedding for image {i} of "
                         f"the batch ({bad.size} such image(s); e.g. a black or blank image); "
                         "cosine similarity is undefined there, so nothing is compared")


class _Select(torch.nn.Module):
    def __init__(self, graph, index: int):
        super().__init__()
        self.graph = graph
        self.index = index

    def forward(self, x):
        return self.graph(x)[self.index]

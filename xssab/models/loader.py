"""``xssab.load_model``: card or file -> fixed graph -> ORT session + torch import -> parity."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
import onnx
import torch

from ..errors import ModelLoadError, ParityError, XssabError
from . import cache
from .card import ModelCard
from .._util import l2_normalize
from ..kit import normalize_device
from .model import FaceModel, cpu_threads
from .torch_import import first_line as _first_line, onnx_opset
from .onnx_fix import dims, fix_graph, graph_inputs, load_onnx
from .preprocess import probe_images

#: max |ORT - torch| of L2-normalised probe embeddings accepted on load
PARITY_TOL = 1e-4
OVERRIDES = ("channel_order", "mean", "std", "input_size", "threshold", "embedding_output",
             "feature_output", "name")
_PROBE = 3
#: in-process memo of parity checks already passed: (path, size, mtime, device, prep)
_parity_ok: dict[tuple, float] = {}


def load_model(name_or_path, *, device: str = "cpu", check_parity: bool = True,
               ort_device: str | None = None, **overrides) -> FaceModel:
    """Load a model-zoo name, a :class:`ModelCard` or a local ONNX file.

    ``overrides`` (for files without a card, or to correct one): ``channel_order``,
    ``mean``, ``std``, ``input_size``, ``threshold``, ``embedding_output``,
    ``feature_output``, ``name``. The graph is fixed (onnx_fix), run in ONNX Runtime on
    ``device`` and imported into torch; ``check_parity`` compares both on a probe batch
    and raises :class:`ParityError` with the measured difference if they disagree.
    ``ort_device`` runs ONNX Runtime somewhere else than the torch import (default: the
    same ``device``), e.g. ``device="cuda", ort_device="cpu"`` where torch has CUDA but the
    installed onnxruntime has no CUDA provider: gradients on the GPU, embeddings on the CPU.
    """
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise XssabError(f"unknown load_model option {unknown[0]!r}; allowed: "
                         f"{', '.join(OVERRIDES)}")
    device = normalize_device(device)
    ort_device = normalize_device(ort_device) if ort_device is not None else device
    card, path = resolve(name_or_path)
    threshold = overrides.pop("threshold", None)
    changes = {k: v for k, v in overrides.items() if v is not None}
    if "input_size" in changes:
        v = changes["input_size"]
        changes["input_size"] = (int(v), int(v)) if np.isscalar(v) else tuple(int(s) for s in v)
    try:
        card = card.replace(**changes)
    except ValueError as exc:
        raise XssabError(str(exc)) from None

    proto = load_onnx(path)
    fixed, fixes = fix_graph(proto, path)
    del proto
    inputs = graph_inputs(fixed)
    if len(inputs) != 1:
        raise ModelLoadError(f"{path}: expected one image input, the graph has "
                             f"{len(inputs)} ({', '.join(i.name for i in inputs)})")
    input_name = inputs[0].name
    in_dims = dims(inputs[0])
    if len(in_dims) == 4 and in_dims[1] not in (3, None) and isinstance(in_dims[1], int):
        raise ModelLoadError(f"{path}: input {input_name!r} has {in_dims[1]} channels; "
                             "expected 3 (N, 3, H, W)")
    if len(in_dims) == 4 and all(isinstance(d, int) for d in in_dims[2:]):
        graph_hw = (in_dims[2], in_dims[3])
        if "input_size" in changes and tuple(changes["input_size"]) != graph_hw:
            raise ModelLoadError(f"{path}: the graph takes {graph_hw[1]}x{graph_hw[0]} input "
                                 f"but input_size={tuple(changes['input_size'])} was given")
        card = card.replace(input_size=graph_hw)
    _check_input_size(card.input_size, path)
    output_names = [o.name for o in fixed.graph.output]
    emb_name = _pick_output(card.embedding_output, output_names, path, "embedding_output")
    feat_name = (_pick_output(card.feature_output, output_names, path, "feature_output")
                 if card.feature_output is not None else None)

    session = make_session(fixed, path, ort_device)
    x = _probe_input(card)
    batch1 = False
    emb_batch = None
    try:
        emb_batch = _ort(session, input_name, emb_name, x)
    except ModelLoadError:
        batch1 = True
    singles = [_ort(session, input_name, emb_name, x[i:i + 1], path) for i in range(len(x))]
    if singles[0].ndim != 2 or singles[0].shape[0] != 1:
        raise ModelLoadError(f"{path}: output {emb_name!r} has shape "
                             f"{list(singles[0].shape)} for one image; an embedding must be "
                             "(N, D) -- name the embedding output with embedding_output=")
    emb_single = np.concatenate(singles)
    if not np.all(np.isfinite(emb_single)):
        raise ModelLoadError(f"{path}: the model produced non-finite embeddings on the probe")
    if emb_batch is not None and (emb_batch.shape != emb_single.shape or np.abs(
            l2_normalize(emb_batch) - l2_normalize(emb_single)).max() > PARITY_TOL):
        batch1 = True
    if batch1:
        fixes.append("batch1: the graph is not batch-safe; images run one at a time")
    emb_dim = int(np.prod(emb_single.shape[1:]))
    if emb_single.ndim != 2:
        raise ModelLoadError(f"{path}: output {emb_name!r} has shape "
                             f"{list(emb_single.shape)}; an embedding must be (N, D) -- name "
                             "the embedding output with embedding_output=")
    card = card.replace(embedding_size=emb_dim)

    if threshold is not None:
        thr, src = float(threshold), "override"
    else:
        cal = cache.calibrated_threshold(card.name)
        if cal is not None:
            thr, src = cal, "calibrated"
        elif card.threshold is not None:
            thr, src = float(card.threshold), "card"
        else:
            thr, src = None, None
    model = FaceModel(card, path, session, fixed, device=device, input_name=input_name,
                      output_names=output_names, embedding_output=emb_name,
                      feature_output=feat_name, threshold=thr, threshold_source=src,
                      fixes=fixes, batch1=batch1, ort_device=ort_device)
    if check_parity:
        key = _parity_key(path, f"{device}/{ort_device}", card, batch1)
        if key in _parity_ok:
            model.parity_diff, upgraded_note = _parity_ok[key]
            if upgraded_note:  # the lazy torch import must use the upgraded graph too
                from onnx import version_converter

                model.use_graph(version_converter.convert_version(fixed, 13),
                                note=upgraded_note)
            return model
        diff = _torch_diff(model, x, emb_single, device)
        upgraded_note = None
        opset = onnx_opset(fixed)
        if not diff <= PARITY_TOL and opset and opset < 13:
            # some onnx2torch converters of old operator versions are wrong (e.g. Pad-2
            # drops its constant value): retry the torch import on the graph upgraded to
            # opset 13 and keep it if it agrees with ONNX Runtime
            try:
                from onnx import version_converter

                model.use_graph(version_converter.convert_version(fixed, 13))
                diff2 = _torch_diff(model, x, emb_single, device)
            except Exception:
                diff2 = float("nan")
            if diff2 <= PARITY_TOL:
                diff = diff2
                upgraded_note = (f"opset: the torch import uses the graph upgraded from "
                                 f"opset {opset} to 13 (the direct import disagreed)")
                model.fixes.append(upgraded_note)
        if not np.isfinite(diff) or diff > PARITY_TOL:
            raise ParityError(f"{path}: ONNX Runtime and the torch import disagree: max abs "
                              f"difference of normalised embeddings {diff:.3g} > "
                              f"{PARITY_TOL:g} on the probe batch")
        model.parity_diff = diff
        _parity_ok[key] = (diff, upgraded_note)
    return model


def _torch_diff(model: FaceModel, x: np.ndarray, ref: np.ndarray, device: str) -> float:
    """max |torch - ORT| of normalised probe embeddings (ParityError on a shape mismatch)."""
    with torch.no_grad(), exact_fp32():
        emb_t = model.torch_module(torch.from_numpy(x).to(device)).float().cpu().numpy()
    if emb_t.shape != ref.shape:
        raise ParityError(f"{model.path}: the torch import returns shape "
                          f"{list(emb_t.shape)}, ONNX Runtime {list(ref.shape)}")
    return float(np.abs(l2_normalize(emb_t) - l2_normalize(ref)).max())


@contextlib.contextmanager
def exact_fp32():
    """Turn TF32 off in torch (cuDNN conv + matmul) for the duration: on Ampere+ GPUs TF32
    alone moves IResNet-50 embeddings by ~1.5e-4 (measured), more than the parity bound."""
    conv = torch.backends.cudnn.allow_tf32
    mm = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = conv
        torch.backends.cuda.matmul.allow_tf32 = mm


# ------------------------------------------------------------------------ resolution
def resolve(name_or_path) -> tuple[ModelCard, Path]:
    """(card, weights path) for a zoo name, a ModelCard or a path to an ONNX file."""
    from ..registry import get_card, model_cards

    if isinstance(name_or_path, ModelCard):
        card = name_or_path
        return card, cache.weights_or_raise(card)
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise XssabError(f"load_model expects a model name or a path, got "
                         f"{type(name_or_path).__name__}")
    text = os.fspath(name_or_path)
    if isinstance(name_or_path, str) and text in model_cards():
        card = get_card(text)
        return card, cache.weights_or_raise(card)
    p = Path(text).expanduser()
    if p.is_file():
        p = p.resolve()
        return ModelCard(name=p.stem, path=str(p), file_name=p.name,
                         description=f"local file {p}"), p
    if p.suffix.lower() == ".onnx" or os.sep in text or "/" in text:
        raise ModelLoadError(f"model file {p} does not exist")
    return get_card(text), Path()  # raises UnknownNameError with suggestions


#: largest model input accepted (pixels per image): the load probe and every batch
#: allocate H x W x 3 floats per image, and face models take 112..512 px
MAX_INPUT_PIXELS = 2048 * 2048


def _check_input_size(size, path) -> None:
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ModelLoadError(f"{path}: input size {size!r} is not (height, width)") from None
    if h < 1 or w < 1 or h * w > MAX_INPUT_PIXELS:
        raise ModelLoadError(f"{path}: input size {w}x{h} is outside 1x1 .. "
                             f"{MAX_INPUT_PIXELS} pixels (face models take 112..512 px); "
                             "refused")


def _pick_output(spec, names: list[str], path, what: str) -> str:
    if spec is None:
        return names[0]
    if isinstance(spec, str) and spec not in names and spec.lstrip("-").isdigit():
        spec = int(spec)  # "0" from a command line means the first output
    if isinstance(spec, int) and not isinstance(spec, bool):
        if -len(names) <= spec < len(names):
            return names[spec]
    elif str(spec) in names:
        return str(spec)
    raise ModelLoadError(f"{path}: {what}={spec!r} is not an output of the graph; outputs: "
                         f"{', '.join(names)}")


def _probe_input(card: ModelCard) -> np.ndarray:
    from .preprocess import preprocess

    ims = probe_images(_PROBE, tuple(card.input_size))
    return preprocess(ims, tuple(card.input_size), card.channel_order, card.mean, card.std)


def _ort(session, input_name: str, output: str, x: np.ndarray, path=None) -> np.ndarray:
    try:
        return np.asarray(session.run([output], {input_name: x})[0], np.float32)
    except Exception as exc:
        raise ModelLoadError(f"{path or 'model'}: ONNX Runtime cannot run the graph: "
                             f"{_first_line(exc)}") from None


def _parity_key(path: Path, device: str, card: ModelCard, batch1: bool) -> tuple:
    st = path.stat()
    return (str(path), st.st_size, st.st_mtime_ns, device, tuple(card.input_size),
            card.channel_order, str(card.mean), str(card.std), card.embedding_output, batch1)


# ------------------------------------------------------------------------ runtimes
def make_session(model: onnx.ModelProto, path, device: str):
    """One ORT session (all CPU cores); CUDA passed explicitly and verified."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = cpu_threads()
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    if device.startswith("cuda"):
        avail = ort.get_available_providers()
        if "CUDAExecutionProvider" not in avail:
            raise ModelLoadError(
                "device 'cuda' requested but this onnxruntime has no CUDAExecutionProvider "
                f"(available: {', '.join(avail)}); install xssab[gpu] (onnxruntime-gpu, "
                "without onnxruntime) or use --device cpu")
        if not torch.cuda.is_available():
            raise ModelLoadError("device 'cuda' requested but torch sees no CUDA device; "
                                 "install a CUDA build of torch or use --device cpu")
        dev_id = int(device.split(":")[1]) if ":" in device else 0
        # use_tf32=0: full fp32 like the CPU and the torch import (parity at 1e-4)
        providers = [("CUDAExecutionProvider", {"device_id": dev_id, "use_tf32": 0}),
                     "CPUExecutionProvider"]
    else:
        providers = ["CPUExecutionProvider"]
    data = _serialize(model, path)
    try:
        try:
            sess = ort.InferenceSession(data, sess_options=so, providers=providers)
        except Exception:
            if not device.startswith("cuda"):
                raise
            providers[0] = ("CUDAExecutionProvider", {"device_id": dev_id})  # old ORT
            sess = ort.InferenceSession(data, sess_options=so, providers=providers)
    except Exception as exc:
        raise ModelLoadError(f"{path}: ONNX Runtime cannot load the model: "
                             f"{_first_line(exc)}") from None
    if device.startswith("cuda") and sess.get_providers()[0] != "CUDAExecutionProvider":
        raise ModelLoadError(f"{path}: ONNX Runtime fell back to {sess.get_providers()[0]} "
                             "instead of CUDA (missing CUDA/cuDNN libraries?); use "
                             "--device cpu or fix the CUDA install")
    return sess


def _serialize(model: onnx.ModelProto, path) -> bytes:
    try:
        return model.SerializeToString()
    except ValueError as exc:  # > 2 GB
        raise ModelLoadError(f"{path}: model too large to load in memory ({exc})") from None

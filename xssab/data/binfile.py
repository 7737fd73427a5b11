"""InsightFace ``.bin`` verification files, read without executing anything.

The file is a pickle of ``(list of encoded image bytes, list of bool issame)``; images
``2i`` and ``2i+1`` form pair ``i``; images are decoded with OpenCV and returned as RGB.

A ``.bin`` file comes from strangers, and pickle can run arbitrary code (``os.system`` &
co. through its global lookups) or, through numpy's reconstructors, build arrays whose
dtype lies about its layout (an object field hidden in a plain dtype, field offsets
outside the buffer) or that declare gigabytes in a few bytes. The reader therefore
accepts exactly what a ``.bin`` needs and nothing else:

* the pure-Python unpickler (its memo is a dict: no huge allocation from a memo index),
  run over the file's bytes in memory, so every declared length is bounded by the file;
* globals resolve to *stand-ins*, never to the real callables: ``_codecs.encode`` (only
  ``str -> latin-1 bytes``, how Python 3 writes ``bytes`` in protocols 0-2) and numpy's
  array/scalar/dtype reconstructors (``numpy[._]core.multiarray._reconstruct``/``scalar``,
  ``numpy[._]core.numeric._frombuffer``, ``numpy.ndarray``, ``numpy.dtype``), which build
  plain values only: dtypes bool/int/uint/float of a builtin kind, no fields, no subarray,
  no object dtype, and ``BUILD`` state that must be the standard one for such a dtype;
  arrays are 1-D ``uint8`` (an encoded image) or bool/int (labels) whose raw data has
  exactly ``prod(shape) * itemsize`` bytes;
* the result must be ``(images, issame)``: a list/tuple of ``bytes`` (or 1-D ``uint8``
  arrays) and a list/tuple of bool/0/1 (or a 1-D bool/int array).

Anything else is refused with a one-line ``DatasetError`` and nothing is run. Python 2
pickles are read with ``encoding="bytes"``. The file may be at most ``MAX_BIN_BYTES``
(4 GiB; ``XSSAB_MAX_BIN_BYTES`` overrides) and is held in memory while it is parsed.

Folds: 10 consecutive chunks of the pairs. Identities are unknown: images of a genuine
pair share one identity, every other image is its own (donor fallback, see folder.py).
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from .base import Pair
from .folder import consecutive_folds, decode_image, pairs_identities
from .safe_io import read_regular_bytes

MAX_BIN_BYTES = 4 << 30

#: plain dtypes a .bin may use (numpy "kind" + item size)
_PLAIN_DTYPES = {"b1", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8"}


class _Refused(Exception):
    """The pickle asks for something a .bin never needs (message: what)."""


class _Marker:
    """Stand-in for ``numpy.ndarray`` (only usable as ``_reconstruct``'s first argument)."""

    __slots__ = ()

    def __reduce__(self):  # pragma: no cover - never pickled
        raise TypeError("not picklable")


_NDARRAY = _Marker()


class _DtypeStub:
    """A validated plain dtype; ``BUILD`` may only restate the standard state."""

    __slots__ = ("dtype", "built")

    def __init__(self, spec, align=False, copy=False):
        if isinstance(spec, bytes):
            spec = spec.decode("latin-1")
        if not isinstance(spec, str) or spec.lstrip("<>|=") not in _PLAIN_DTYPES:
            raise _Refused(f"dtype {spec!r} (only plain bool/int/float dtypes are accepted)")
        self.dtype = np.dtype(spec)
        self.built = False

    def __setstate__(self, state):
        if self.built or not isinstance(state, tuple) or len(state) not in (8, 9):
            raise _Refused("a dtype state that is not the standard one")
        version, order, sub, names, fields, elsize, align, flags = state[:8]
        if isinstance(order, bytes):
            order = order.decode("latin-1")
        extra = state[8] if len(state) == 9 else None
        if (version not in (3, 4) or order not in ("<", ">", "|", "=") or sub is not None
                or names is not None or fields is not None or extra is not None
                or elsize not in (-1, self.dtype.itemsize)
                or align not in (-1, self.dtype.alignment) or flags != 0):
            raise _Refused("a dtype with fields, sub-arrays, flags or a custom layout")
        if order in "<>" and self.dtype.itemsize > 1:
            self.dtype = self.dtype.newbyteorder(order)
        self.built = True


def _dtype_of(d) -> np.dtype:
    if not isinstance(d, _DtypeStub):
        raise _Refused(f"an array dtype given as {type(d).__name__}")
    return d.dtype


def _array_from(raw, dtype: np.dtype, shape) -> np.ndarray:
    if isinstance(raw, (bytearray, memoryview, pickle.PickleBuffer)):
        raw = bytes(raw)
    if not isinstance(raw, bytes):
        raise _Refused(f"array data given as {type(raw).__name__} (object arrays are "
                       "not accepted)")
    if (not isinstance(shape, tuple) or len(shape) != 1
            or not isinstance(shape[0], int) or shape[0] < 0):
        raise _Refused(f"an array of shape {shape!r} (only 1-D arrays are accepted)")
    if shape[0] * dtype.itemsize != len(raw):
        raise _Refused(f"an array of {shape[0]} x {dtype.itemsize} bytes stored in "
                       f"{len(raw)} bytes")
    return np.frombuffer(raw, dtype=dtype).copy()


class _ArrayStub:
    """``_reconstruct(ndarray, (0,), b'b')`` placeholder; ``BUILD`` gives it its data."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = None

    def __setstate__(self, state):
        if self.value is not None or not isinstance(state, tuple) or len(state) != 5:
            raise _Refused("an array state that is not (version, shape, dtype, order, data)")
        _version, shape, dtype, fortran, raw = state
        if not isinstance(fortran, (bool, int)):
            raise _Refused("an array order flag that is not a bool")
        self.value = _array_from(raw, _dtype_of(dtype), shape)


def _reconstruct(cls, shape, typecode):
    if cls is not _NDARRAY:
        raise _Refused("an array subclass")
    return _ArrayStub()


def _scalar(dtype, data=None):
    dt = _dtype_of(dtype)
    if isinstance(data, str):
        data = data.encode("latin-1")
    if not isinstance(data, bytes) or len(data) != dt.itemsize:
        raise _Refused("a numpy scalar without its plain bytes")
    return np.frombuffer(data, dtype=dt)[0]


def _frombuffer(buf, dtype, shape, order="C"):
    return _array_from(buf, _dtype_of(dtype), shape)


def _encode(obj, encoding="utf-8", errors="strict"):
    if (isinstance(obj, str) and encoding in ("latin1", "latin-1", "iso-8859-1")
            and errors == "strict"):
        return obj.encode("latin-1")
    raise _Refused(f"_codecs.encode with {encoding!r}")


_GLOBALS = {
    ("_codecs", "encode"): _encode,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _scalar,
    ("numpy._core.multiarray", "scalar"): _scalar,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _DtypeStub,
}


class SafeUnpickler(pickle._Unpickler):  # type: ignore[name-defined]
    """Pure-Python unpickler whose globals are the stand-ins above (nothing else)."""

    def find_class(self, module, name):
        if isinstance(module, bytes):
            module = module.decode("latin-1")
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        try:
            return _GLOBALS[(module, name)]
        except (KeyError, TypeError):
            raise _Refused(f"{module}.{name}") from None

    def persistent_load(self, pid):
        raise _Refused("a persistent id")


def _plain(v, what: str):
    """Replace stand-ins by their values; refuse anything a .bin never holds."""
    if isinstance(v, _ArrayStub):
        if v.value is None:
            raise _Refused(f"an array without data ({what})")
        return v.value
    if isinstance(v, (_DtypeStub, _Marker)):
        raise _Refused(f"a bare {type(v).__name__.strip('_')} ({what})")
    return v


def max_bin_bytes() -> int:
    env = os.environ.get("XSSAB_MAX_BIN_BYTES", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise DatasetError(f"XSSAB_MAX_BIN_BYTES={env!r} is not a number of bytes") \
                from None
    return MAX_BIN_BYTES


def safe_load(path: Path):
    """Parse the .bin at ``path``: ``(images, issame)`` as plain lists (see module doc)."""
    data = read_regular_bytes(path, "dataset file", max_bin_bytes())
    try:
        obj = SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
        if not (isinstance(obj, (tuple, list)) and len(obj) == 2):
            raise DatasetError(f"{path}: expected a pickle of (images, issame), got "
                               f"{type(obj).__name__}")
        bins, issame = (_plain(v, w) for v, w in zip(obj, ("images", "issame")))
        if not isinstance(bins, (list, tuple)):
            raise DatasetError(f"{path}: the images must be a list, got {type(bins).__name__}")
        bins = [_plain(b, f"image {i}") for i, b in enumerate(bins)]
        if isinstance(issame, np.ndarray):
            if issame.dtype.kind not in "biu":
                raise DatasetError(f"{path}: issame has dtype {issame.dtype}, expected bool")
            issame = list(issame)
        elif isinstance(issame, (list, tuple)):
            issame = [_plain(v, f"issame {i}") for i, v in enumerate(issame)]
        else:
            raise DatasetError(f"{path}: issame must be a list of booleans, got "
                               f"{type(issame).__name__}")
    except _Refused as exc:
        what = str(exc) if len(str(exc)) <= 160 else str(exc)[:160] + "..."
        raise DatasetError(f"{path}: refused to load: the pickle asks for {what} (not an "
                           "InsightFace .bin file, or an unsafe one); nothing was run") from None
    except RecursionError:
        raise DatasetError(f"{path}: not a readable .bin pickle (nested too deeply)") from None
    except DatasetError:
        raise
    except Exception as exc:  # anything the pickle machine raises on malformed input
        raise DatasetError(f"{path}: not a readable .bin pickle (truncated or corrupt: "
                           f"{type(exc).__name__})") from None
    return bins, issame


def _as_bool(v) -> bool:
    if isinstance(v, (bool, np.bool_)) or (isinstance(v, (int, np.integer)) and v in (0, 1)):
        return bool(v)
    raise TypeError(type(v).__name__)


class BinDataset:
    name = "bin"

    def __init__(self, path=None, **_options):
        if path is None:
            raise DatasetError("the 'bin' dataset needs a file: pass --data FILE.bin "
                               "(e.g. lfw.bin from InsightFace)")
        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise DatasetError(f"dataset file {self.path} does not exist; pass --data FILE.bin")
        bins, issame = safe_load(self.path)
        try:
            issame = [_as_bool(v) for v in issame]
        except TypeError as exc:
            raise DatasetError(f"{self.path}: issame holds a {exc}, expected booleans") \
                from None
        for i, b in enumerate(bins):
            if isinstance(b, bytearray):
                bins[i] = b = bytes(b)
            ok = isinstance(b, bytes) or (isinstance(b, np.ndarray) and b.dtype == np.uint8
                                          and b.ndim == 1)
            if not ok:
                raise DatasetError(f"{self.path}: image {i} is a {type(b).__name__}, "
                                   "expected encoded image bytes")
        if len(bins) != 2 * len(issame):
            raise DatasetError(f"{self.path}: {len(bins)} images for {len(issame)} pairs "
                               "(expected two images per pair; truncated?)")
        self._bins = bins
        folds = consecutive_folds(len(issame))
        self._pairs = [Pair(str(2 * i), str(2 * i + 1), s, f)
                       for i, (s, f) in enumerate(zip(issame, folds))]
        self._identities = pairs_identities(self._pairs)

    def pairs(self) -> list[Pair]:
        return list(self._pairs)

    def keys(self) -> list[str]:
        return [str(i) for i in range(len(self._bins))]

    def identity(self, key: str) -> str:
        return self._identities.get(key, f"id:{key}")

    def load(self, key: str) -> np.ndarray:
        try:
            i = int(key)
            data = self._bins[i]
        except (ValueError, IndexError):
            raise DatasetError(f"{self.path}: no image {key!r} (0..{len(self._bins) - 1})") \
                from None
        return decode_image(data, f"{self.path} image {i}")

"""InsightFace ``.bin`` verification files, read without executing anything.

The file is a pickle of ``(list of encoded image bytes, list of bool issame)``; images
``2i`` and ``2i+1`` form pair ``i``; images are decoded with OpenCV and returned as RGB.

Pickle can run arbitrary code through its global lookups (``os.system`` & co.). The file
is read with a restricted unpickler whose ``find_class`` refuses every global except a
fixed allow-list of pure constructors that real files need:

* ``_codecs.encode`` - how Python 3 writes ``bytes`` in pickle protocols 0-2;
* numpy's array/scalar reconstruction (``numpy[._]core.multiarray._reconstruct``,
  ``numpy[._]core.multiarray.scalar``, ``numpy[._]core.numeric._frombuffer`` (protocol 5),
  ``numpy.ndarray``, ``numpy.dtype``) - some files
  store images as uint8 arrays or the labels as a bool array / ``numpy.bool_`` values.

Anything else (a pickle that tries to call a function) is refused with a one-line
``DatasetError`` before it runs. Python 2 pickles are read with ``encoding="bytes"``.

Folds: 10 consecutive chunks of the pairs. Identities are unknown: images of a genuine
pair share one identity, every other image is its own (donor fallback, see folder.py).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from .base import Pair
from .folder import consecutive_folds, decode_image, pairs_identities

_ALLOWED = {
    ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _RefusedGlobal(Exception):
    pass


class SafeUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the allow-listed globals above."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise _RefusedGlobal(f"{module}.{name}")


def safe_load(path: Path):
    try:
        with open(path, "rb") as fh:
            return SafeUnpickler(fh, encoding="bytes").load()
    except _RefusedGlobal as exc:
        raise DatasetError(f"{path}: refused to load: the pickle asks for {exc} (not an "
                           "InsightFace .bin file, or an unsafe one); nothing was run") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError,
            AttributeError, KeyError, MemoryError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not a readable .bin pickle (truncated or corrupt: "
                           f"{type(exc).__name__})") from None


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
        if not self.path.is_file():
            raise DatasetError(f"dataset file {self.path} does not exist; pass --data FILE.bin")
        obj = safe_load(self.path)
        if not (isinstance(obj, (tuple, list)) and len(obj) == 2):
            raise DatasetError(f"{self.path}: expected a pickle of (images, issame), got "
                               f"{type(obj).__name__}")
        bins, issame = obj
        try:
            bins = list(bins)
            issame = [_as_bool(v) for v in list(issame)]
        except TypeError as exc:
            raise DatasetError(f"{self.path}: unexpected content ({exc})") from None
        for i, b in enumerate(bins):
            if not isinstance(b, (bytes, bytearray, np.ndarray)):
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

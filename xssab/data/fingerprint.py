"""Content fingerprints of what a dataset serves: the identity a result cache keys on.

A cache keyed on the ``--data`` string and the pair list reuses old results when the
images change in place or the same relative path names another folder. The fingerprint
is the sha256 of the bytes behind every image key used, read again on every run:

* the image file's raw bytes when the dataset says where the file is (``file(key)``, as
  the LFW layout and synth do, or ``root / key`` for the folder layout), which is cheap
  (no decoding);
* the whole ``.bin`` file for an InsightFace ``.bin`` (every image is inside it);
* otherwise the decoded image (``dataset.load(key)``: shape, dtype and pixels), which
  works for any dataset plugin.
"""

from __future__ import annotations

import hashlib
from typing import Iterable

import numpy as np

from .safe_io import MAX_IMAGE_BYTES, read_regular_bytes


def _file_of(dataset, key: str):
    f = getattr(dataset, "file", None)
    if callable(f):
        return f(key)
    from .folder import FolderDataset
    from .safe_io import confined

    if isinstance(dataset, FolderDataset):
        return confined(dataset.root, key, "image", dataset.pairs_path.name)
    return None


def dataset_fingerprint(dataset, keys: Iterable[str]) -> str:
    """sha256 (hex) over the content behind ``keys`` (in the given order)."""
    from .binfile import BinDataset

    h = hashlib.sha256()
    keys = list(keys)
    if isinstance(dataset, BinDataset):
        from .._util import sha256_file

        h.update(b"bin|" + sha256_file(dataset.path).encode())
        h.update("|".join(keys).encode())
        return h.hexdigest()
    for key in keys:
        h.update(f"{len(key)}:{key}|".encode())
        path = _file_of(dataset, key)
        if path is not None:
            data = read_regular_bytes(path, "image", MAX_IMAGE_BYTES)
            h.update(b"f%d|" % len(data))
            h.update(data)
        else:
            img = np.ascontiguousarray(dataset.load(key))
            h.update(f"a{img.shape}{img.dtype}|".encode())
            h.update(img.tobytes())
    return h.hexdigest()

"""Reading files named by untrusted data: confined to a root, regular files only, bounded.

Dataset files (pair lists, ``.bin`` pickles, image folders) come from strangers. Every
path that a data file names (a pair-list line, an LFW identity name) is resolved against
the dataset root with symlinks followed and must stay under that root; every file read
must be a regular file (``/dev/zero``, a FIFO, a directory or a socket is refused before
it is read: a FIFO is opened non-blocking, then checked with ``fstat``) and at most
``max_bytes`` long. Messages about a path outside the root never say whether it exists.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import DatasetError

#: largest pair list / text file read (bytes)
MAX_TEXT_BYTES = 64 << 20
#: largest single image file read (bytes); the pixel limit is checked separately
MAX_IMAGE_BYTES = 256 << 20


def confined(root: str | os.PathLike, rel: str, what: str, listed_in=None) -> Path:
    """``root / rel`` with symlinks resolved; DatasetError unless it stays under ``root``.

    ``rel`` comes from a data file: absolute paths, ``..`` and symlinks leading out of
    ``root`` are refused without looking at the target (no existence oracle).
    """
    src = f" (named in {listed_in})" if listed_in else ""
    shown = repr(rel[:80] + "..." if isinstance(rel, str) and len(rel) > 80 else rel)
    if (not isinstance(rel, str) or not rel or "\x00" in rel or len(rel) > 4096
            or any(len(part.encode("utf-8", "surrogateescape")) > 255
                   for part in rel.replace("\\", "/").split("/"))):
        raise DatasetError(f"{what} {shown}{src}: not a valid file name")
    base = Path(root).resolve()
    if os.path.isabs(rel) or rel.startswith("~"):
        raise DatasetError(f"{what} {shown}{src}: refused: absolute paths are not allowed "
                           f"in dataset files; name files relative to {base}")
    target = Path(os.path.realpath(base / rel))
    if target != base and base not in target.parents:
        raise DatasetError(f"{what} {shown}{src}: refused: the path leads outside the "
                           f"dataset folder {base}")
    return target


def read_regular_bytes(path: str | os.PathLike, what: str, max_bytes: int) -> bytes:
    """Bytes of a regular file of at most ``max_bytes``; one-line DatasetError otherwise."""
    p = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(p, flags)
    except FileNotFoundError:
        raise DatasetError(f"{what} {p} does not exist") from None
    except IsADirectoryError:
        raise DatasetError(f"{what} {p} is a directory, not a file") from None
    except OSError as exc:
        raise DatasetError(f"cannot read {what} {p}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise DatasetError(f"{what} {p} is a directory, not a file")
        if not stat.S_ISREG(st.st_mode):
            raise DatasetError(f"{what} {p} is not a regular file (a device, pipe or "
                               "socket); refused")
        if st.st_size > max_bytes:
            raise DatasetError(f"{what} {p} is {st.st_size} bytes, more than the limit of "
                               f"{max_bytes}; refused")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(st.st_size)  # never a buffer of max_bytes up front
            grew = fh.read(1)
    except OSError as exc:
        raise DatasetError(f"cannot read {what} {p}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if grew:
        raise DatasetError(f"{what} {p} changed while being read; try again")
    return data


def read_text(path: str | os.PathLike, what: str, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """UTF-8 text of a regular file (a BOM is dropped); one-line DatasetError otherwise."""
    data = read_regular_bytes(path, what, max_bytes)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{what} {path} is not UTF-8 text (byte {exc.start}); save it as "
                           "UTF-8") from None

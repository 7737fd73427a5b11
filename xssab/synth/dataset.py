"""The ``synth`` dataset: the SynthFace benchmark rendered into the cache in LFW layout.

``SynthDataset(path=None, pairs_per_fold=300, seed=0, min_pairs=None, **difficulty)``
renders (once) into
``xssab_home()/synth/<settings-key>/`` (or ``path``):

* ``<name>/<name>_0001.png`` ... lossless PNG, 112x112 RGB, 4 images per test identity;
* ``pairs.txt``: LFW format, 10 folds of ``pairs_per_fold`` genuine then ``pairs_per_fold``
  impostor pairs; the identities of different folds are disjoint (as in LFW);
* ``masks/<name>/<name>_0001.png``: uint8 part-label maps (values in
  :data:`xssab.synth.render.PART_LABELS`);
* ``settings.json``: the settings (written last; its presence marks a complete render).

Rendering goes to a temporary folder that is renamed into place, so an interrupted run
leaves nothing half-written and concurrent runs do not clash. The dataset is then read
through :class:`xssab.data.lfw.LfwDataset`.

The test identities (split ``test``) are disjoint from the training (``train``) and
validation (``val``) identities used by :mod:`xssab.synth.train`: each split draws its
identities from its own seeded stream and names them with its own prefix (R/V/T).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import fields
from pathlib import Path

import cv2
import numpy as np

from .._util import atomic_dir, atomic_path, write_png
from ..data.lfw import LfwDataset
from ..data.pairs import PairEntry, write_pairs
from ..errors import DatasetError
from .identities import Difficulty, identity_name
from .render import render_identity_images

RENDER_VERSION = "synthface-2"
FOLDS = 10
IMAGES_PER_TEST_ID = 4


def _xssab_home() -> Path:
    from ..models.cache import xssab_home

    return xssab_home()


def difficulty_from_options(options: dict) -> Difficulty:
    names = {f.name for f in fields(Difficulty)}
    unknown = set(options) - names
    if unknown:
        raise DatasetError(f"dataset 'synth': unknown option(s) {sorted(unknown)}; known: "
                           f"pairs_per_fold, seed, {', '.join(sorted(names))}")
    return Difficulty(**{k: float(v) for k, v in options.items()})


def settings_dict(seed: int, pairs_per_fold: int, difficulty: Difficulty) -> dict:
    return {"version": RENDER_VERSION, "seed": int(seed), "pairs_per_fold": int(pairs_per_fold),
            "folds": FOLDS, "images_per_identity": IMAGES_PER_TEST_ID,
            "difficulty": difficulty.to_dict()}


def settings_key(settings: dict) -> str:
    blob = json.dumps(settings, sort_keys=True).encode()
    return f"p{settings['pairs_per_fold']}-s{settings['seed']}-" + \
        hashlib.sha256(blob).hexdigest()[:10]


def ids_per_fold(pairs_per_fold: int) -> int:
    # 4 images give 6 genuine combinations per identity; use at most half of them
    return max(4, math.ceil(pairs_per_fold / 3))


def make_pairs(seed: int, pairs_per_fold: int, n_per_fold: int, n_images: int,
               split: str = "test") -> list[PairEntry]:
    """LFW-style folds over identities ``fold*n_per_fold ...``; deterministic."""
    entries: list[PairEntry] = []
    combos = [(i, j) for i in range(1, n_images + 1) for j in range(i + 1, n_images + 1)]
    for fold in range(FOLDS):
        rng = np.random.RandomState([int(seed) & 0xFFFFFFFF, 77, fold])
        ids = [identity_name(split, fold * n_per_fold + k) for k in range(n_per_fold)]
        gen = [(name, a, b) for name in ids for a, b in combos]
        if len(gen) < pairs_per_fold:
            raise ValueError("not enough genuine combinations")
        order = rng.permutation(len(gen))[:pairs_per_fold]
        for k in order:
            name, a, b = gen[k]
            entries.append(PairEntry(name, a, name, b, True, fold))
        seen = set()
        imp = []
        while len(imp) < pairs_per_fold:
            i, j = rng.randint(n_per_fold, size=2)
            if i == j:
                continue
            a, b = rng.randint(1, n_images + 1, size=2)
            key = (min((i, a), (j, b)), max((i, a), (j, b)))
            if key in seen:
                continue
            seen.add(key)
            imp.append(PairEntry(ids[i], int(a), ids[j], int(b), False, fold))
        entries.extend(imp)
    return entries


def render_split(seed: int, split: str, n_ids: int, n_images: int,
                 difficulty: Difficulty = Difficulty(), start: int = 0, workers: int = 1):
    """Images and labels of identities ``start .. start+n_ids-1`` of ``split``.

    Returns (uint8 (n_ids*n_images,112,112,3), uint8 labels (same, 112,112), int labels).
    """
    imgs = np.empty((n_ids * n_images, 112, 112, 3), np.uint8)
    labs = np.empty((n_ids * n_images, 112, 112), np.uint8)
    ids = np.repeat(np.arange(n_ids), n_images)
    jobs = [(seed, split, start + k, n_images, difficulty) for k in range(n_ids)]
    if workers > 1 and n_ids > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            results = pool.starmap(render_identity_images, jobs, chunksize=8)
    else:
        results = (render_identity_images(*job) for job in jobs)
    for k, (im, lb) in enumerate(results):  # each identity is rendered independently
        imgs[k * n_images:(k + 1) * n_images] = im
        labs[k * n_images:(k + 1) * n_images] = lb
    return imgs, labs, ids


def render_benchmark(root: Path, seed: int, pairs_per_fold: int,
                     difficulty: Difficulty) -> Path:
    """Render the benchmark into ``root`` (atomic; no-op if complete)."""
    settings = settings_dict(seed, pairs_per_fold, difficulty)
    if (root / "settings.json").exists():
        return root
    with atomic_dir(root, "settings.json") as tmp:
        n_per_fold = ids_per_fold(pairs_per_fold)
        n_ids = FOLDS * n_per_fold
        (tmp / "masks").mkdir()
        for k in range(n_ids):
            name = identity_name("test", k)
            imgs, labs = render_identity_images(seed, "test", k, IMAGES_PER_TEST_ID, difficulty)
            (tmp / name).mkdir()
            (tmp / "masks" / name).mkdir()
            for j in range(IMAGES_PER_TEST_ID):
                stem = f"{name}_{j + 1:04d}.png"
                write_png(tmp / name / stem, imgs[j], error=DatasetError)
                write_png(tmp / "masks" / name / stem, labs[j], error=DatasetError)
        write_pairs(tmp / "pairs.txt", make_pairs(seed, pairs_per_fold, n_per_fold,
                                                  IMAGES_PER_TEST_ID))
        (tmp / "settings.json").write_text(json.dumps(settings, indent=2, sort_keys=True))
    return root


#: genuine (and impostor) pairs per fold of the full benchmark
DEFAULT_PAIRS_PER_FOLD = 300
#: a benchmark rendered for ``min_pairs`` keeps at least this many genuine (and impostor)
#: pairs per fold, so an EER threshold comes from at least 200 pairs
MIN_PAIRS_PER_FOLD = 10


def pairs_per_fold_for(min_pairs: int | None) -> int:
    """Pairs per fold of the smallest render holding ``min_pairs`` pairs (10 folds of
    genuine + impostor pairs, at least ``MIN_PAIRS_PER_FOLD`` of each); the full
    benchmark for ``None``/0."""
    if not min_pairs or min_pairs <= 0:
        return DEFAULT_PAIRS_PER_FOLD
    return max(MIN_PAIRS_PER_FOLD, -(-int(min_pairs) // 20))


class SynthDataset(LfwDataset):
    """The embedded SynthFace benchmark (see module docstring)."""

    name = "synth"

    def __init__(self, path=None, pairs_per_fold: int | None = None, seed: int = 0,
                 min_pairs: int | None = None, **options):
        if pairs_per_fold is None:
            pairs_per_fold = pairs_per_fold_for(min_pairs if path is None else None)
        pairs_per_fold = int(pairs_per_fold)
        if pairs_per_fold < 1:
            raise DatasetError(f"dataset 'synth': pairs_per_fold must be >= 1, got "
                               f"{pairs_per_fold}")
        self.difficulty = difficulty_from_options(options)
        self.seed = int(seed)
        self.settings = settings_dict(self.seed, pairs_per_fold, self.difficulty)
        if path is None:
            path = _xssab_home() / "synth" / settings_key(self.settings)
        root = Path(path)
        if root.exists() and not (root / "settings.json").exists() and any(root.iterdir()):
            raise DatasetError(f"{root} exists but is not a complete SynthFace render; "
                               "remove it or pass another path")
        if root.exists() and not any(root.iterdir()):
            root.rmdir()
        if (root / "settings.json").exists():
            try:
                stored = json.loads((root / "settings.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                stored = None
            if stored != self.settings:
                raise DatasetError(f"{root} holds a SynthFace render with other settings; "
                                   "remove it or pass another path")
        render_benchmark(root, self.seed, pairs_per_fold, self.difficulty)
        super().__init__(root, ext=".png")

    def labels(self, key: str) -> np.ndarray:
        """uint8 part-label map (H, W) of image ``key`` (see ``render.PART_LABELS``)."""
        f = self.root / "masks" / (key + ".png")
        from .._util import read_image

        try:
            return read_image(f, error=DatasetError, unchanged=True)
        except DatasetError as exc:
            raise DatasetError(f"part mask missing or undecodable ({exc}); delete "
                               f"{self.root} to re-render") from None

    def part_masks(self, key: str) -> dict[str, np.ndarray]:
        """Boolean masks of eyes, brows, nose, mouth, hair, marks for image ``key``."""
        from .render import part_masks

        return part_masks(self.labels(key))


def cached_split(cache_dir, seed: int, split: str, n_ids: int, n_images: int,
                 difficulty: Difficulty = Difficulty(), workers: int = 1):
    """``render_split`` cached as an uncompressed uint8 npz in ``cache_dir`` (training data)."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    f = cache_dir / (f"{split}-s{seed}-{n_ids}x{n_images}-{difficulty.key()}-"
                     f"{RENDER_VERSION}.npz")
    if f.exists():
        try:  # a damaged cache file is rendered again, never trusted
            with np.load(f, allow_pickle=False) as z:
                got = z["images"], z["labels"], z["ids"]
            if (got[0].dtype == np.uint8 and got[0].ndim == 4 and len(got[0]) == n_ids * n_images
                    and len(got[1]) == len(got[0]) == len(got[2])):
                return got
        except Exception:
            pass
    imgs, labs, ids = render_split(seed, split, n_ids, n_images, difficulty, workers=workers)
    with atomic_path(f, suffix=".npz") as tmp:
        np.savez(tmp, images=imgs, labels=labs, ids=ids)
    return imgs, labs, ids

"""Threshold calibration: EER threshold + k-fold accuracy, stored as a local override."""

from __future__ import annotations

import numpy as np
import pytest

import xssab
from tests.graphs import export_onnx, random_faces, small_iresnet
from xssab.data.base import Pair
from xssab.metrics.verification import eer, kfold_accuracy
from xssab.models import cache
from xssab.models.calibrate import balanced_subset, calibrate


class TinyPairs:
    """20 pairs in 10 folds: genuine = noisy copy of the same face, impostor = other face."""

    name = "tiny"

    def __init__(self, n=20, seed=0, folds=True):
        rng = np.random.default_rng(seed)
        faces = random_faces(n + 1, seed=seed)
        self.images = {}
        self._pairs = []
        for i in range(n):
            a = f"{i}a"
            self.images[a] = faces[i]
            same = i % 2 == 0
            if same:
                noisy = faces[i].astype(int) + rng.integers(-25, 25, faces[i].shape)
                self.images[f"{i}b"] = np.clip(noisy, 0, 255).astype(np.uint8)
            else:
                self.images[f"{i}b"] = faces[i + 1]
            self._pairs.append(Pair(a, f"{i}b", same, i // 2 if folds else 0))
        self.loads = 0

    def pairs(self):
        return list(self._pairs)

    def load(self, key):
        self.loads += 1
        return self.images[key]

    def identity(self, key):
        return key[:-1]

    def keys(self):
        return list(self.images)


@pytest.fixture(scope="module")
def onnx_path(tmp_path_factory):
    return export_onnx(small_iresnet(seed=8), tmp_path_factory.mktemp("cal") / "calme.onnx")


def test_calibrate_matches_direct_metrics_and_is_stored(onnx_path, tmp_path, monkeypatch):
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path))
    model = xssab.load_model(str(onnx_path))
    ds = TinyPairs()
    seen = []
    rec = calibrate(model, ds, batch_size=7, progress=lambda d, t: seen.append((d, t)))
    # independent computation from per-pair ORT embeddings
    pairs = ds.pairs()
    ea = model.embed([ds.images[p.a] for p in pairs], normalize=True)
    eb = model.embed([ds.images[p.b] for p in pairs], normalize=True)
    scores = np.sum(ea * eb, axis=1)
    labels = np.array([p.same for p in pairs])
    e, t = eer(scores, labels)
    acc = kfold_accuracy(scores, labels, folds=np.array([p.fold for p in pairs]))
    assert rec["threshold"] == pytest.approx(t, abs=1e-5)
    assert rec["eer"] == pytest.approx(e)
    assert rec["accuracy"] == pytest.approx(acc.mean)
    assert rec["accuracy_std"] == pytest.approx(acc.std)
    assert rec["pairs"] == 20 and rec["genuine"] == 10 and rec["folds"] == 10
    assert ds.loads == 40  # every distinct image loaded once
    assert seen[-1] == (40, 40) and len(seen) == 6  # ceil(40 / 7) batches
    # stored as the override; the in-memory model and a fresh load both use it
    assert model.threshold == pytest.approx(rec["threshold"])
    assert cache.read_calibration()["calme"]["threshold"] == pytest.approx(rec["threshold"])
    again = xssab.load_model(str(onnx_path))
    assert again.threshold == pytest.approx(rec["threshold"])
    assert again.threshold_source == "calibrated"


def test_calibrate_single_fold_subset_and_errors(onnx_path, tmp_path, monkeypatch):
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path))
    model = xssab.load_model(str(onnx_path))
    rec = calibrate(model, TinyPairs(folds=False), pairs=10, save=False)
    assert rec["pairs"] == 10 and rec["genuine"] == 5
    assert "interleaved" in rec["fold_source"]
    assert model.threshold is None and cache.read_calibration() == {}
    only_genuine = TinyPairs()
    only_genuine._pairs = [p for p in only_genuine._pairs if p.same]
    with pytest.raises(xssab.DatasetError, match="genuine and impostor"):
        calibrate(model, only_genuine)


def test_balanced_subset_spreads_over_folds():
    pairs = [Pair(str(i), str(i + 1), i % 4 < 2, i // 10) for i in range(100)]
    sub = balanced_subset(pairs, 20)
    assert len(sub) == 20 and sum(p.same for p in sub) == 10
    assert len({p.fold for p in sub}) == 10
    assert sub == sorted(sub, key=lambda p: int(p.a))  # dataset order kept
    assert balanced_subset(pairs, 0) == pairs and balanced_subset(pairs, 500) == pairs

"""The shipped MTCNN detector on real photographs (ORL, fetched on demand)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from tests.photos import place
from xssab.align.mtcnn import MtcnnDetector, zoo_detectors_dir


@pytest.fixture(scope="module")
def detector():
    return MtcnnDetector()


def _check_face(det, shape):
    lm = np.asarray(det.landmarks)
    x1, y1, x2, y2 = det.box
    assert det.score > 0.9
    # left eye left of right eye, eyes above the nose, nose above the mouth corners
    assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]
    assert max(lm[0, 1], lm[1, 1]) < lm[2, 1] < min(lm[3, 1], lm[4, 1])
    assert (lm[:, 0] > x1).all() and (lm[:, 0] < x2).all()
    assert (lm[:, 1] > y1).all() and (lm[:, 1] < y2).all()
    assert 0.25 * shape[1] < x2 - x1 < 1.2 * shape[1]


def test_shipped_weights_match_their_provenance():
    folder = zoo_detectors_dir()
    prov = json.loads((folder / "mtcnn.json").read_text())
    assert prov["source_package"] == "facenet-pytorch" and "MIT" in prov["licence"]
    for name, rec in prov["files"].items():
        data = (folder / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == rec["sha256"] and len(data) == rec["size"]


def test_finds_the_face_in_real_photos(detector, orl_faces):
    photos = [orl_faces.photo(p, k) for p, k in ((1, 1), (7, 3), (13, 5), (22, 8), (38, 10))]
    found = detector.detect(photos)
    for photo, dets in zip(photos, found):
        assert len(dets) == 1
        _check_face(dets[0], photo.shape)


def test_batched_equals_one_by_one_and_moves_with_the_face(detector, orl_faces):
    a = place(orl_faces.photo(5, 1), 20, 30)
    b = place(orl_faces.photo(5, 1), 150, 90)
    both = detector.detect([a, b])
    one = [detector.detect([a])[0], detector.detect([b])[0]]
    for x, y in zip(both, one):
        assert len(x) == len(y) == 1
        np.testing.assert_allclose(x[0].landmarks, y[0].landmarks, atol=1e-4)
    # the same photo pasted 130 px right and 60 px down: landmarks move with it
    shift = both[1][0].landmarks - both[0][0].landmarks
    np.testing.assert_allclose(shift, np.tile([130.0, 60.0], (5, 1)), atol=1.5)


def test_no_face_in_noise_or_flat_images(detector):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (200, 240, 3), dtype=np.uint8)
    flat = np.full((150, 150), 128, np.uint8)
    assert detector.detect([noise, flat]) == [[], []]


def test_two_faces_side_by_side(detector, orl_faces):
    canvas = place(orl_faces.photo(3, 2), 10, 40, canvas=(260, 360))
    big = place(orl_faces.photo(9, 4), 0, 0, canvas=(150, 130), scale=1.3)
    canvas[60:210, 200:330] = big[:150, :130]
    dets = detector.detect([canvas])[0]
    assert len(dets) == 2
    centres = sorted(float(d.landmarks[:, 0].mean()) for d in dets)
    assert centres[0] < 110 < 200 < centres[1]

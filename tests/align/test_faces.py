"""align= on explain / explain_pairs / FaceModel.embed: raw photos are detected, aligned and
explained, and the maps come back on each photo (ORL photos, fetched on demand)."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from rich.console import Console

import xssab
from tests.photos import place
from xssab.align import Detection, align_images
from xssab.align.transform import apply
from xssab.cli.main import main


@pytest.fixture(scope="module")
def model():
    return xssab.load_model("synth-arcface")


@pytest.fixture(scope="module")
def photos(orl_faces):
    """Two photos of person 5 and one of person 12, off-centre on larger canvases."""
    a = place(orl_faces.photo(5, 1), 20, 30)
    b = place(orl_faces.photo(5, 4), 200, 100, scale=1.15)
    c = place(orl_faces.photo(12, 2), 120, 60, canvas=(260, 300))
    return a, b, c


def test_explain_raw_photos_returns_maps_on_each_photo(model, photos):
    a, b, _ = photos
    res = xssab.explain(model, a, b)
    for side, img in (("a", a), ("b", b)):
        maps = getattr(res, side)
        info = res.extras[f"alignment_{side}"]
        face = res.extras[f"face_{side}"]
        assert maps.combined.shape == img.shape[:2] == maps.positive.shape
        inside = np.isfinite(maps.combined)
        # NaN outside the aligned crop, finite (and not all zero) inside it
        assert 0.02 < inside.mean() < 0.6 and np.abs(maps.combined[inside]).sum() > 0
        assert info.crop.shape == (112, 112, 3) and info.crop_maps.combined.shape == (112, 112)
        x1, y1, x2, y2 = face["box"]
        ys, xs = np.nonzero(inside)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        assert xs.min() < cx < xs.max() and ys.min() < cy < ys.max()
        assert len(face["landmarks"]) == 5 and face["faces"] == 1 and face["score"] > 0.9
    # the similarity is the model's cosine of the two aligned crops
    crops = [res.extras["alignment_a"].crop, res.extras["alignment_b"].crop]
    e = model.embed(crops, normalize=True)
    assert res.similarity == pytest.approx(float(e[0] @ e[1]), abs=1e-4)


def test_a_landmark_comes_back_within_a_pixel(model, photos):
    a, b, _ = photos
    res = xssab.explain(model, a, b)
    info = res.extras["alignment_a"]
    for lm in info.detection.landmarks:
        cx, cy = apply(info.matrix, [lm])[0]
        ys, xs = np.mgrid[0:112, 0:112]
        peak = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / 2.0).astype(np.float32)
        back = info.to_photo(peak)
        y, x = np.unravel_index(np.nanargmax(back), back.shape)
        assert abs(x - lm[0]) <= 1.0 and abs(y - lm[1]) <= 1.0


def test_auto_takes_input_sized_images_as_aligned(model, photos):
    a, b, _ = photos
    crops, infos = align_images([a, b], model.input_size)
    res = xssab.explain(model, crops[0], crops[1])
    plain = xssab.explain(model, crops[0], crops[1], align=False)
    assert "face_a" not in res.extras and res.a.combined.shape == (112, 112)
    np.testing.assert_array_equal(res.a.combined, plain.a.combined)
    forced = xssab.explain(model, crops[0], crops[1], align=True)
    assert forced.extras["face_a"]["faces"] == 1  # a crop still holds a face
    np.testing.assert_allclose(model.embed([a]), model.embed([crops[0]]), atol=1e-5)
    assert not np.allclose(model.embed([a], align=False), model.embed([crops[0]]), atol=1e-3)
    with pytest.raises(xssab.XssabError, match="align must be"):
        model.embed([a], align="sometimes")


def test_aligned_crops_of_one_person_agree_better_than_plain_resizes(orl_faces):
    """Model-free check (no real recognition model ships): photos of one person placed at
    different positions and scales; after alignment their crops correlate pixel by pixel
    far better than the plain resizes of the same photos."""
    def corr(x, y):
        x, y = x.astype(np.float64).ravel(), y.astype(np.float64).ravel()
        return float(np.corrcoef(x, y)[0, 1])

    gains = []
    for person in (2, 8, 17, 31):
        p = [place(orl_faces.photo(person, 1), 15, 20, scale=1.2),
             place(orl_faces.photo(person, 2), 190, 90, scale=0.9)]
        crops, _ = align_images(p, (112, 112), align=True)
        resized = [cv2.resize(x, (112, 112), interpolation=cv2.INTER_AREA) for x in p]
        gray = [cv2.cvtColor(c, cv2.COLOR_RGB2GRAY) for c in crops]
        gains.append(corr(*gray) - corr(*resized))
    assert min(gains) > 0.2, gains


def test_no_face_is_a_one_line_error(model, photos):
    flat = np.full((200, 200, 3), 128, np.uint8)
    with pytest.raises(xssab.NoFaceError, match="image_a: no face found") as exc:
        xssab.explain(model, flat, photos[1])
    assert "\n" not in str(exc.value) and isinstance(exc.value, xssab.XssabError)
    noise = np.random.default_rng(0).integers(0, 256, (150, 170, 3), dtype=np.uint8)
    with pytest.raises(xssab.NoFaceError, match=r"images_b\[1\]"):
        xssab.explain_pairs(model, [photos[0]] * 2, [photos[1], noise])
    with pytest.raises(xssab.NoFaceError):
        model.embed([noise])


def test_several_faces_largest_first_and_face_index(model, orl_faces):
    canvas = place(orl_faces.photo(3, 2), 10, 40, canvas=(260, 360))
    big = place(orl_faces.photo(9, 4), 0, 0, canvas=(150, 130), scale=1.3)
    canvas[60:210, 200:330] = big[:150, :130]
    first = xssab.explain(model, canvas, canvas, threshold=0.3)
    second = xssab.explain(model, canvas, canvas, threshold=0.3, face_index=1)
    fa, fb = first.extras["face_a"], second.extras["face_a"]
    assert fa["faces"] == fb["faces"] == 2
    assert fa["box"][0] > 180 > fb["box"][2]          # index 0 = the larger, right face
    area = lambda f: (f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1])  # noqa: E731
    assert area(fa) > area(fb)
    with pytest.raises(xssab.NoFaceError, match="face_index 2 .* only 2"):
        xssab.explain(model, canvas, canvas, threshold=0.3, face_index=2)


def test_detectors_are_plugins(model, photos, fake_plugin):
    class Fixed:
        name = "fixed"
        description = "returns one fixed face"

        def detect(self, images):
            lm = np.array([[60, 80], [100, 80], [80, 100], [64, 120], [96, 120]], np.float32)
            return [[Detection(np.array([40, 50, 120, 140], np.float32), lm, 0.5)]
                    for _ in images]

    class Plugin:
        @xssab.hookimpl
        def register_detectors(self, register):
            register(Fixed())

    fake_plugin(Plugin(), "fixed-detector")
    res = xssab.explain(model, photos[0], photos[1], detector="fixed")
    assert res.extras["face_a"]["detector"] == "fixed"
    assert res.extras["face_b"]["box"] == [40.0, 50.0, 120.0, 140.0]
    with pytest.raises(xssab.UnknownNameError, match="face detector 'nope'"):
        xssab.explain(model, photos[0], photos[1], detector="nope")


def _run(argv):
    buf = io.StringIO()
    code = main(argv, console=Console(file=buf, width=200))
    return code, buf.getvalue()


def test_cli_explains_raw_photos_and_draws_them(photos, tmp_path):
    a, b, c = photos
    pa, pb, pc = tmp_path / "a.png", tmp_path / "b.jpg", tmp_path / "flat.png"
    cv2.imwrite(str(pa), a)
    cv2.imwrite(str(pb), b)
    cv2.imwrite(str(pc), np.full((120, 120), 100, np.uint8))
    out = tmp_path / "fig.png"
    code, text = _run(["explain", str(pa), str(pb), "--model", "synth-arcface",
                       "--out", str(out)])
    assert code == 0, text
    assert "face a     a.png: face 0 of 1 (mtcnn" in text and "face b     b.jpg" in text
    fig = cv2.imread(str(out))
    assert fig is not None and fig.shape[1] > 1000 and fig.std() > 10
    code, text = _run(["explain", str(pa), str(pc), "--model", "synth-arcface"])
    assert code == 2 and text.startswith("error: ") and "flat.png: no face found" in text
    assert text.count("\n") == 1 and "Traceback" not in text
    code, text = _run(["explain", str(pa), str(pc), "--model", "synth-arcface",
                       "--align", "off"])
    assert code == 0 and "face a" not in text
    code, text = _run(["explain", str(pa), str(pb), "--model", "synth-arcface",
                       "--face", "1"])
    assert code == 2 and "face_index 1" in text


def test_card_align_template_is_used(model, photos):
    tpl = [[34.0, 46.0], [78.0, 46.0], [56.0, 68.0], [38.0, 90.0], [74.0, 90.0]]
    own = xssab.load_model(model.card.replace(align_template=tpl))
    res = xssab.explain(own, photos[0], photos[1])
    info = res.extras["alignment_a"]
    np.testing.assert_allclose(info.template, tpl)
    mapped = info.points_to_crop(info.detection.landmarks)
    assert np.abs(mapped - np.asarray(tpl)).max() < 6.0  # least squares, five points
    default = xssab.explain(model, photos[0], photos[1]).extras["alignment_a"]
    assert not np.allclose(info.matrix, default.matrix)


def test_methods_run_with_images_as_given(model):
    """A method that calls model.embed(images) gets no second detection (the API already
    aligned its images); outside a method the same call detects."""
    from xssab.align.faces import images_as_given

    noise = np.random.default_rng(3).integers(0, 256, (97, 83, 3), dtype=np.uint8)
    with pytest.raises(xssab.NoFaceError):
        model.embed([noise])
    with images_as_given():
        assert model.embed([noise]).shape == (1, model.embedding_size)
        with pytest.raises(xssab.NoFaceError):
            model.embed([noise], align=True)
    with pytest.raises(xssab.NoFaceError):
        model.embed([noise])

    class EmbedsItself:
        name = "embeds-itself"
        description = "calls model.embed on its inputs"
        Options = xssab.MethodOptions

        def supports(self, model):
            return None

        def explain_pairs(self, model, images_a, images_b, threshold, options=None, *,
                          sides="both", device=None):
            e = model.embed(list(images_a) + list(images_b), normalize=True)
            n = len(images_a)
            out = []
            for i, (a, b) in enumerate(zip(images_a, images_b)):
                z = [np.zeros(im.shape[:2], np.float32) for im in (a, b)]
                s = float(e[i] @ e[n + i])
                out.append(xssab.Explanation(self.name, s, threshold, s >= threshold,
                                             xssab.ImageMaps(z[0], z[0], z[0]),
                                             xssab.ImageMaps(z[1], z[1], z[1])))
            return out

    res = xssab.explain(model, noise, noise, threshold=0.3, method=EmbedsItself(),
                        align=False)
    assert res.a.combined.shape == (97, 83)

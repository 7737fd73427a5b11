"""Photos -> aligned crops for a model, and maps back onto the photos.

``align="auto"`` (the default everywhere): an image whose (H, W) equals the model's input
size is taken as an aligned crop and passed through unchanged; any other image is detected
and aligned. ``True``: always detect and align. ``False``: never (the old behaviour: the
model's preprocessing resizes the whole image).
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from ..errors import NoFaceError, XssabError
from .._util import to_rgb
from .detection import Detection, order_faces
from .transform import (apply, crop_coverage, invert, map_to_photo, similarity_transform,
                        template_for, warp)

DEFAULT_DETECTOR = "mtcnn"

#: set while an explanation method runs on images the API already aligned (or that a
#: caller hands it as given): ``FaceModel.embed``'s ``align="auto"`` then means "as given"
_AS_GIVEN: contextvars.ContextVar[bool] = contextvars.ContextVar("xssab_as_given",
                                                                 default=False)


@contextlib.contextmanager
def images_as_given() -> Iterator[None]:
    """Within this block ``align="auto"`` in ``FaceModel.embed`` leaves images as they are.

    ``xssab.explain_pairs`` runs every method inside it: a method's images are the crops the
    API made (or images the caller passed as given), so a method that calls
    ``model.embed(images)`` must not detect faces again. ``align=True`` still aligns."""
    token = _AS_GIVEN.set(True)
    try:
        yield
    finally:
        _AS_GIVEN.reset(token)


def auto_is_as_given() -> bool:
    return _AS_GIVEN.get()


@dataclass
class Alignment:
    """How one photo became the model's input crop."""

    #: the chosen face, in photo pixels
    detection: Detection
    #: 2x3 similarity, photo -> crop
    matrix: np.ndarray
    photo_size: tuple[int, int]
    crop_size: tuple[int, int]
    #: the five template points the landmarks were mapped onto (crop pixels)
    template: np.ndarray
    #: which face (0 = largest) and how many were found
    face_index: int = 0
    faces: int = 1
    detector: str = DEFAULT_DETECTOR
    #: the aligned crop (uint8 RGB, crop_size) — what the model saw
    crop: np.ndarray | None = field(default=None, repr=False)
    #: the method's maps at crop size (an ImageMaps; filled in by xssab.explain_pairs)
    crop_maps: Any = field(default=None, repr=False)

    def to_photo(self, crop_map: np.ndarray, fill: float = float("nan")) -> np.ndarray:
        """A crop-sized map at the photo's size (NaN outside the crop by default)."""
        if getattr(self, "_coverage", None) is None:
            self._coverage = crop_coverage(self.matrix, self.crop_size, self.photo_size)
        return map_to_photo(crop_map, self.matrix, self.photo_size, fill, self._coverage)

    def points_to_photo(self, points) -> np.ndarray:
        return apply(invert(self.matrix), points)

    def points_to_crop(self, points) -> np.ndarray:
        return apply(self.matrix, points)

    def summary(self) -> dict[str, Any]:
        """Plain (JSON-able) facts: box, landmarks, score, face index, transform."""
        out = self.detection.to_dict()
        out.update(face_index=self.face_index, faces=self.faces, detector=self.detector,
                   matrix=[[round(float(v), 6) for v in row] for row in self.matrix],
                   photo_size=list(self.photo_size), crop_size=list(self.crop_size))
        return out


def resolve_detector(detector: Any = None):
    if detector is None:
        detector = DEFAULT_DETECTOR
    if isinstance(detector, str):
        from ..registry import get_detector

        return get_detector(detector)
    if hasattr(detector, "detect"):
        return detector
    raise XssabError(f"detector must be a registered detector name or an object with "
                     f"detect(images), got {detector!r}")


def _check_align(align: Any) -> str:
    if align is True or align == "on":
        return "on"
    if align is False or align == "off":
        return "off"
    if align == "auto":
        return "auto"
    raise XssabError(f"align must be 'auto', True or False, got {align!r}")


def needs_alignment(image: np.ndarray, input_size: tuple[int, int], align: Any) -> bool:
    mode = _check_align(align)
    if mode == "auto":
        return tuple(np.asarray(image).shape[:2]) != tuple(int(v) for v in input_size)
    return mode == "on"


def align_crop(image: np.ndarray, det: Detection, input_size: tuple[int, int],
               template=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(crop, matrix, template points) for one detection."""
    tpl = template_for(input_size, template)
    lm = np.asarray(det.landmarks, np.float64)
    if lm.shape != (5, 2) or not np.all(np.isfinite(lm)):
        raise XssabError("the detector returned no five landmarks for this face; choose a "
                         "detector with landmarks (e.g. mtcnn)")
    m = similarity_transform(lm, tpl)
    return warp(to_rgb(image), m, input_size), m, tpl


def detect_faces(images: Sequence[np.ndarray], detector: Any = None) -> list[list[Detection]]:
    """Faces per image, largest first (the order ``face_index`` counts in); batched."""
    det = resolve_detector(detector)
    return [order_faces(list(d)) for d in det.detect(list(images))]


def align_images(images: Sequence[np.ndarray], input_size: tuple[int, int], *,
                 align: Any = "auto", face_index: int | None = None, detector: Any = None,
                 template=None, labels: Sequence[str] | None = None
                 ) -> tuple[list[np.ndarray], list[Alignment | None]]:
    """Crops for the model (or the images unchanged) and one :class:`Alignment` per image
    (``None`` where the image was used as given). Raises :class:`NoFaceError` (naming the
    image) when an image to align has no face, or fewer faces than ``face_index + 1``."""
    _check_align(align)
    images = list(images)
    todo = [i for i, im in enumerate(images) if needs_alignment(im, input_size, align)]
    out: list[np.ndarray] = list(images)
    infos: list[Alignment | None] = [None] * len(images)
    if not todo:
        return out, infos
    k = 0 if face_index is None else int(face_index)
    if k < 0:
        raise XssabError(f"face_index must be >= 0, got {face_index}")
    det_obj = resolve_detector(detector)
    found = detect_faces([images[i] for i in todo], det_obj)
    for i, faces in zip(todo, found):
        label = labels[i] if labels is not None else f"image {i}"
        h, w = np.asarray(images[i]).shape[:2]
        if not faces:
            raise NoFaceError(f"{label}: no face found ({w}x{h} image, detector "
                              f"{det_obj.name}); pass an aligned {input_size[1]}x"
                              f"{input_size[0]} crop or use align=False to resize it as is")
        if k >= len(faces):
            raise NoFaceError(f"{label}: face_index {k} asked for, but only {len(faces)} "
                              f"face(s) found")
        crop, m, tpl = align_crop(images[i], faces[k], input_size, template)
        out[i] = crop
        infos[i] = Alignment(detection=faces[k], matrix=m, photo_size=(h, w),
                             crop_size=tuple(int(v) for v in input_size), template=tpl,
                             face_index=k, faces=len(faces), detector=det_obj.name, crop=crop)
    return out, infos


def model_template(model) -> Any:
    """The card's ``align_template`` (five (x, y) points in input pixels) or None."""
    card = getattr(model, "card", None)
    return getattr(card, "align_template", None) if card is not None else None

"""Face detection and five-point alignment for raw photos (docs/alignment.md).

``align_images`` turns photos into the model's aligned crops (``Alignment`` records how),
``Alignment.to_photo`` brings a crop-sized map back onto the photo (NaN outside the crop).
Detectors are plugins (hook ``register_detectors``); ``mtcnn`` is the shipped default.
"""

from __future__ import annotations

from ..errors import NoFaceError
from .detection import Detection, FaceDetector, nms, order_faces
from .faces import (DEFAULT_DETECTOR, Alignment, align_crop, align_images, detect_faces,
                    needs_alignment, resolve_detector)
from .transform import (ARCFACE_TEMPLATE_112, map_to_photo, similarity_transform,
                        template_for, warp)


def list_detectors() -> list[str]:
    from ..registry import detectors

    return sorted(detectors())


def fetch_detector(name: str, force: bool = False):
    """Download a detector card's weights into the model cache (sha256 checked when the
    card has one); returns the local path."""
    from ..models.cache import fetch
    from ..registry import get_detector

    det = get_detector(name)
    card = getattr(det, "card", None)
    if card is None:
        from ..errors import XssabError

        raise XssabError(f"detector {name!r} ships its weights; nothing to fetch")
    return fetch(card, force=force)


__all__ = ["ARCFACE_TEMPLATE_112", "Alignment", "DEFAULT_DETECTOR", "Detection",
           "FaceDetector", "NoFaceError", "align_crop", "align_images", "detect_faces",
           "fetch_detector", "list_detectors", "map_to_photo", "needs_alignment", "nms",
           "order_faces", "resolve_detector", "similarity_transform", "template_for",
           "warp"]

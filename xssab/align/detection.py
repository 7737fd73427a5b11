"""Face detections (box, five landmarks, score), the detector interface and shared helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Sequence, runtime_checkable

import numpy as np


@dataclass
class Detection:
    """One face in one photo, in the photo's pixel coordinates.

    ``box``: (x1, y1, x2, y2); ``landmarks``: (5, 2) float (x, y) for left eye, right eye,
    nose tip, left and right mouth corner (left = the image's left); ``score`` in [0, 1].
    """

    box: np.ndarray
    landmarks: np.ndarray
    score: float

    @property
    def area(self) -> float:
        x1, y1, x2, y2 = (float(v) for v in self.box)
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)

    def to_dict(self) -> dict[str, Any]:
        return {"box": [round(float(v), 3) for v in self.box],
                "landmarks": [[round(float(x), 3), round(float(y), 3)]
                              for x, y in np.asarray(self.landmarks)],
                "score": float(self.score)}


@runtime_checkable
class FaceDetector(Protocol):
    """What ``register_detectors`` plugins register: a ``name``, a ``description`` and
    ``detect(images) -> list[list[Detection]]`` (one list per uint8 RGB image, any sizes,
    best first). Detectors load their weights lazily and keep no per-call state."""

    name: ClassVar[str] | str
    description: ClassVar[str] | str

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]: ...


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float,
        mode: str = "union") -> np.ndarray:
    """Greedy non-maximum suppression; indices kept, best score first.

    ``mode="union"``: overlap = intersection / union; ``"min"``: intersection / smaller
    area (MTCNN's last stage). Boxes are (x1, y1, x2, y2) in continuous coordinates."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if boxes.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    x1, y1, x2, y2 = boxes.T
    areas = np.maximum(0.0, x2 - x1) * np.maximum(0.0, y2 - y1)
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = iw * ih
        if mode == "min":
            denom = np.minimum(areas[i], areas[rest])
        else:
            denom = areas[i] + areas[rest] - inter
        overlap = np.where(denom > 0, inter / np.maximum(denom, 1e-12), 0.0)
        order = rest[overlap <= threshold]
    return np.asarray(keep, dtype=np.int64)


def order_faces(dets: list[Detection]) -> list[Detection]:
    """Largest box first (ties: higher score), the order ``face_index`` counts in."""
    return sorted(dets, key=lambda d: (-d.area, -float(d.score)))

"""InsightFace SCRFD detectors (``det_10g.onnx`` of buffalo_l, ``det_500m.onnx`` of
buffalo_s): preprocessing and output decoding, run through ONNX Runtime.

Graph contract (the InsightFace model-zoo layout): input (N|1, 3, H, W) RGB,
(x - 127.5) / 128, the photo resized keeping its aspect ratio into the top-left corner of an
``input_size`` canvas (zeros elsewhere). Nine outputs, grouped by kind then stride
(strides 8, 16, 32): three score tensors (rows, 1), three distance tensors (rows, 4), three
keypoint tensors (rows, 10); rows = (H/s) * (W/s) * 2 anchors, row-major over (y, x) with
the two anchors of one cell adjacent; a leading batch dimension is allowed. Anchor centres
are (x*s, y*s); boxes are ``distance2bbox`` (centre -/+ distances * s), keypoints
``distance2kps`` (centre + offsets * s). Score threshold 0.5, NMS IoU 0.4 (InsightFace's
defaults).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .._util import to_rgb
from .detection import Detection, nms

STRIDES = (8, 16, 32)
NUM_ANCHORS = 2


def anchor_centres(height: int, width: int, stride: int,
                   num_anchors: int = NUM_ANCHORS) -> np.ndarray:
    """(rows, 2) anchor centres (x, y) for one stride, in the input's pixels."""
    fh, fw = height // stride, width // stride
    ys, xs = np.mgrid[0:fh, 0:fw]
    c = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
    return np.repeat(c, num_anchors, axis=0)


def distance2bbox(centres: np.ndarray, dist: np.ndarray) -> np.ndarray:
    return np.column_stack([centres[:, 0] - dist[:, 0], centres[:, 1] - dist[:, 1],
                            centres[:, 0] + dist[:, 2], centres[:, 1] + dist[:, 3]])


def distance2kps(centres: np.ndarray, dist: np.ndarray) -> np.ndarray:
    d = dist.reshape(len(dist), dist.shape[-1] // 2, 2)
    return centres[:, None, :] + d


def decode(outputs: Sequence[np.ndarray], input_hw: tuple[int, int],
           threshold: float = 0.5, strides: Sequence[int] = STRIDES,
           num_anchors: int = NUM_ANCHORS):
    """Decode one image's outputs (scores, boxes, kps per stride, batch dim removed) to
    (boxes (n, 4), scores (n,), keypoints (n, 5, 2)) in input pixels, before NMS."""
    fmc = len(strides)
    if len(outputs) < 2 * fmc:
        raise ValueError(f"SCRFD graph must have at least {2 * fmc} outputs, got "
                         f"{len(outputs)}")
    has_kps = len(outputs) >= 3 * fmc
    boxes, scores, kps = [], [], []
    h, w = int(input_hw[0]), int(input_hw[1])
    for k, s in enumerate(strides):
        sc = np.asarray(outputs[k], np.float32).reshape(-1)
        bb = np.asarray(outputs[fmc + k], np.float32).reshape(-1, 4) * s
        centres = anchor_centres(h, w, s, num_anchors)
        if len(centres) != len(sc):
            raise ValueError(f"stride {s}: {len(sc)} scores for {len(centres)} anchors "
                             f"({h}x{w} input, {num_anchors} anchors)")
        sel = np.nonzero(sc >= threshold)[0]
        boxes.append(distance2bbox(centres[sel], bb[sel]))
        scores.append(sc[sel])
        if has_kps:
            kp = np.asarray(outputs[2 * fmc + k], np.float32).reshape(len(sc), 10) * s
            kps.append(distance2kps(centres[sel], kp[sel]))
        else:
            kps.append(np.full((len(sel), 5, 2), np.nan, np.float32))
    return (np.concatenate(boxes).reshape(-1, 4), np.concatenate(scores),
            np.concatenate(kps).reshape(-1, 5, 2))


def letterbox(image: np.ndarray, input_hw: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Resize keeping the aspect ratio into the top-left of an ``input_hw`` canvas; returns
    (canvas uint8 (H, W, 3), scale = canvas pixels per photo pixel)."""
    import cv2

    ih, iw = int(input_hw[0]), int(input_hw[1])
    h, w = image.shape[:2]
    scale = min(ih / h, iw / w)
    nh, nw = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
    canvas = np.zeros((ih, iw, 3), np.uint8)
    canvas[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, nh / h


class ScrfdDetector:
    """A detector for one SCRFD card (weights fetched like model weights)."""

    def __init__(self, card, threshold: float = 0.5, nms_threshold: float = 0.4):
        self.card = card
        self.name = card.name
        self.description = card.description
        self.threshold = float(threshold)
        self.nms_threshold = float(nms_threshold)
        self.input_size = tuple(int(v) for v in card.input_size)
        self._sess = None
        self._path = None

    def _load(self):
        if self._sess is None:
            from ..models.cache import weights_or_raise
            from .mtcnn import _session

            self._path = weights_or_raise(self.card)
            self._sess = _session(self._path)
        return self._sess

    def _blob(self, canvases: np.ndarray) -> np.ndarray:
        x = np.asarray(canvases, np.float32)
        if self.card.channel_order == "bgr":
            x = x[..., ::-1]
        return np.ascontiguousarray(((x - 127.5) / 128.0).transpose(0, 3, 1, 2))

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        sess = self._load()
        name = sess.get_inputs()[0].name
        batch_dim = sess.get_inputs()[0].shape[0]
        step = 32 if not isinstance(batch_dim, int) else 1
        results: list[list[Detection]] = []
        imgs = [to_rgb(np.asarray(im)) for im in images]
        for s in range(0, len(imgs), step):
            chunk = [letterbox(im, self.input_size) for im in imgs[s:s + step]]
            outs = sess.run(None, {name: self._blob(np.stack([c for c, _ in chunk]))})
            n = len(chunk)
            # graphs without a batch dimension on the outputs stack the images' rows
            outs = [o.reshape(n, -1, o.shape[-1]) for o in outs]
            for k, (_, scale) in enumerate(chunk):
                per = [o[k] for o in outs]
                boxes, scores, kps = decode(per, self.input_size, self.threshold)
                keep = nms(boxes, scores, self.nms_threshold)
                results.append([Detection(box=(boxes[i] / scale).astype(np.float32),
                                          landmarks=(kps[i] / scale).astype(np.float32),
                                          score=float(scores[i])) for i in keep])
        return results

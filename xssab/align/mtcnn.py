"""MTCNN face detector (Zhang et al. 2016) run through ONNX Runtime: the default, offline
detector. Weights: the three ONNX nets shipped in ``xssab_zoo/detectors`` (converted once
from the facenet-pytorch 2.6.0 wheel, MIT; provenance in ``mtcnn.json`` beside them).

The cascade: an image pyramid (scale factor 0.709 from ``12 / min_size``) through the fully
convolutional P-Net (stride 2, 12x12 cells) -> candidate boxes, NMS per scale (0.5) and over
scales (0.7), box regression, squaring; R-Net on 24x24 crops -> threshold, NMS 0.7,
regression, squaring; O-Net on 48x48 crops -> threshold, five landmarks, regression,
NMS 0.7 ("min" overlap). Thresholds 0.6 / 0.7 / 0.7 as published. Crops outside the photo
are zero-padded. Batching: P-Net runs each pyramid level once for all photos of the same
size; R-Net and O-Net run all candidates of all photos in batches.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from .._util import resize_image, to_rgb
from .detection import Detection, nms


def zoo_detectors_dir() -> Path:
    try:
        import xssab_zoo
    except ModuleNotFoundError:  # source tree that is not installed
        return Path(__file__).resolve().parents[2] / "model_zoo" / "detectors"
    return Path(xssab_zoo.__file__).resolve().parent / "detectors"


def _session(path: Path):
    import onnxruntime as ort

    from ..models.model import cpu_threads

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = cpu_threads()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _normalise(x: np.ndarray) -> np.ndarray:
    """uint8/float (N, H, W, 3) RGB -> float32 (N, 3, H, W), (x - 127.5) / 128."""
    x = (np.asarray(x, np.float32) - 127.5) * 0.0078125
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def _square(boxes: np.ndarray) -> np.ndarray:
    b = boxes.copy()
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    side = np.maximum(w, h)
    b[:, 0] = b[:, 0] + 0.5 * w - 0.5 * side
    b[:, 1] = b[:, 1] + 0.5 * h - 0.5 * side
    b[:, 2] = b[:, 0] + side
    b[:, 3] = b[:, 1] + side
    return b


def _regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out = boxes.copy()
    out[:, 0] += reg[:, 0] * w
    out[:, 1] += reg[:, 1] * h
    out[:, 2] += reg[:, 2] * w
    out[:, 3] += reg[:, 3] * h
    return out


def _crops(img: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """(n, size, size, 3) float32 crops of integer boxes (inclusive corners), zero-padded
    where a box leaves the photo."""
    h, w = img.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), np.float32)
    for k, (x1, y1, x2, y2) in enumerate(boxes.astype(np.int64)):
        bw, bh = int(x2 - x1 + 1), int(y2 - y1 + 1)
        if bw < 2 or bh < 2:
            continue
        tmp = np.zeros((bh, bw, 3), np.uint8)
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, w - 1), min(y2, h - 1)
        if sx2 < sx1 or sy2 < sy1:
            continue
        tmp[sy1 - y1:sy2 - y1 + 1, sx1 - x1:sx2 - x1 + 1] = img[sy1:sy2 + 1, sx1:sx2 + 1]
        out[k] = resize_image(tmp, (size, size))
    return out


class MtcnnDetector:
    """The default detector (``name = "mtcnn"``). ``detect(images)`` returns, per image,
    detections with score >= the O-Net threshold, best first."""

    name = "mtcnn"
    description = ("MTCNN (Zhang et al. 2016; P/R/O-Net, five landmarks), ONNX converted from "
                   "the facenet-pytorch 2.6.0 wheel (MIT); offline, shipped")

    def __init__(self, min_size: int = 20, thresholds=(0.6, 0.7, 0.7), factor: float = 0.709,
                 model_dir: str | Path | None = None, batch_size: int = 256,
                 pnet_batch: int = 8):
        self.min_size = int(min_size)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.factor = float(factor)
        self.batch_size = int(batch_size)
        self.pnet_batch = max(1, int(pnet_batch))
        self.model_dir = Path(model_dir) if model_dir else zoo_detectors_dir()
        self._nets = None

    @property
    def provenance(self) -> dict:
        return json.loads((self.model_dir / "mtcnn.json").read_text())

    def _load(self):
        if self._nets is None:
            from ..errors import ModelLoadError

            nets = {}
            for n in ("pnet", "rnet", "onet"):
                p = self.model_dir / f"mtcnn_{n}.onnx"
                if not p.is_file():
                    raise ModelLoadError(f"MTCNN weights missing: {p} (reinstall xssab)")
                nets[n] = _session(p)
            self._nets = nets
        return self._nets

    def _scales(self, h: int, w: int) -> list[float]:
        m = 12.0 / self.min_size
        side = min(h, w) * m
        scales = []
        while side >= 12:
            scales.append(m * self.factor ** len(scales))
            side *= self.factor
        return scales

    def _stage1(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Per image (n, 9) candidates: x1 y1 x2 y2 score + 4 regression values."""
        pnet = self._load()["pnet"]
        t0 = self.thresholds[0]
        found: list[list[np.ndarray]] = [[] for _ in images]
        groups: dict[tuple[int, int], list[int]] = {}
        for i, img in enumerate(images):
            groups.setdefault(img.shape[:2], []).append(i)
        for (h, w), idx in groups.items():
            for scale in self._scales(h, w):
                hs, ws = int(np.ceil(h * scale)), int(np.ceil(w * scale))
                batch = [resize_image(images[i], (hs, ws)) for i in idx]
                for s in range(0, len(idx), self.pnet_batch):
                    part = np.stack(batch[s:s + self.pnet_batch])
                    prob, reg = pnet.run(None, {"input": _normalise(part)})
                    for k, i in enumerate(idx[s:s + self.pnet_batch]):
                        p = prob[k, 1]
                        ys, xs = np.nonzero(p >= t0)
                        if ys.size == 0:
                            continue
                        q1x = np.floor((2 * xs + 1) / scale)
                        q1y = np.floor((2 * ys + 1) / scale)
                        q2x = np.floor((2 * xs + 12) / scale)
                        q2y = np.floor((2 * ys + 12) / scale)
                        cand = np.column_stack([q1x, q1y, q2x, q2y, p[ys, xs],
                                                reg[k, :, ys, xs].reshape(-1, 4)])
                        keep = nms(cand[:, :4], cand[:, 4], 0.5)
                        found[i].append(cand[keep])
        out = []
        for parts in found:
            if not parts:
                out.append(np.zeros((0, 5)))
                continue
            cand = np.concatenate(parts)
            cand = cand[nms(cand[:, :4], cand[:, 4], 0.7)]
            w = cand[:, 2] - cand[:, 0]
            h = cand[:, 3] - cand[:, 1]
            boxes = np.column_stack([cand[:, 0] + cand[:, 5] * w, cand[:, 1] + cand[:, 6] * h,
                                     cand[:, 2] + cand[:, 7] * w, cand[:, 3] + cand[:, 8] * h])
            boxes = np.floor(_square(boxes))
            out.append(np.column_stack([boxes, cand[:, 4]]))
        return out

    def _run_batched(self, sess, crops: np.ndarray) -> list[np.ndarray]:
        parts = []
        for s in range(0, len(crops), self.batch_size):
            parts.append(sess.run(None, {"input": _normalise(crops[s:s + self.batch_size])}))
        return [np.concatenate([p[j] for p in parts]) for j in range(len(parts[0]))]

    def _refine(self, images, cands, net: str, size: int):
        """Run R-Net or O-Net on every candidate of every image in batches; returns the
        net's outputs and, per row, the index of the image it came from."""
        owners = np.concatenate([np.full(len(c), i) for i, c in enumerate(cands)])
        if owners.size == 0:
            return None, owners
        crops = np.concatenate([_crops(img, c[:, :4], size) for img, c in zip(images, cands)
                                if len(c)])
        return self._run_batched(self._load()[net], crops), owners

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        imgs = [to_rgb(np.asarray(im)) for im in images]
        if not imgs:
            return []
        cands = self._stage1(imgs)
        # R-Net
        outs, owners = self._refine(imgs, cands, "rnet", 24)
        allc = np.concatenate(cands) if owners.size else np.zeros((0, 5))
        stage2 = [np.zeros((0, 5)) for _ in imgs]
        if owners.size:
            prob, reg = outs
            ok = prob[:, 1] >= self.thresholds[1]
            for i in range(len(imgs)):
                sel = ok & (owners == i)
                if not sel.any():
                    continue
                c = np.column_stack([allc[sel, :4], prob[sel, 1]])
                keep = nms(c[:, :4], c[:, 4], 0.7)
                boxes = np.floor(_square(_regress(c[keep, :4], reg[sel][keep])))
                stage2[i] = np.column_stack([boxes, c[keep, 4]])
        # O-Net
        outs, owners = self._refine(imgs, stage2, "onet", 48)
        result: list[list[Detection]] = [[] for _ in imgs]
        if not owners.size:
            return result
        allc = np.concatenate(stage2)
        prob, reg, lms = outs
        ok = prob[:, 1] >= self.thresholds[2]
        for i in range(len(imgs)):
            sel = ok & (owners == i)
            if not sel.any():
                continue
            b = allc[sel, :4]
            w = b[:, 2] - b[:, 0] + 1
            h = b[:, 3] - b[:, 1] + 1
            lm = lms[sel]
            px = w[:, None] * lm[:, :5] + b[:, 0:1] - 1
            py = h[:, None] * lm[:, 5:] + b[:, 1:2] - 1
            boxes = _regress(b, reg[sel])
            scores = prob[sel, 1]
            keep = nms(boxes, scores, 0.7, mode="min")
            result[i] = [Detection(box=boxes[k].astype(np.float32),
                                   landmarks=np.column_stack([px[k], py[k]]).astype(np.float32),
                                   score=float(scores[k])) for k in keep]
        return result

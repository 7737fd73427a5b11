"""NMS and face ordering."""

from __future__ import annotations

import numpy as np

from xssab.align.detection import Detection, nms, order_faces


def test_nms_union_and_min():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [2, 2, 6, 6]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    # IoU(0,1) = 81/119 = 0.68; box 3 lies inside box 0 (IoU 0.16, min-overlap 1.0)
    assert nms(boxes, scores, 0.5).tolist() == [3, 0, 2]
    assert nms(boxes, scores, 0.5, mode="min").tolist() == [3, 2]  # 3 lies in 0 and 1
    assert nms(boxes, scores, 0.7).tolist() == [3, 0, 1, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).size == 0


def test_order_faces_largest_first():
    lm = np.zeros((5, 2))
    small = Detection(np.array([0, 0, 10, 10.]), lm, 0.99)
    big = Detection(np.array([0, 0, 30, 20.]), lm, 0.8)
    assert order_faces([small, big]) == [big, small]
    assert big.to_dict()["box"] == [0.0, 0.0, 30.0, 20.0] and big.area == 600

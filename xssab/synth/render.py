"""SynthFace renderer: deterministic 112x112 RGB face crops with per-pixel part labels.

Faces are drawn with OpenCV's integer rasteriser (filled ellipses, polygons and lines with
4 fractional bits) in the ArcFace alignment template (eyes at (38.3, 51.7) and (73.5, 51.5),
nose tip (56.0, 71.7), mouth corners at y 92.3). Per-image pose (rotation, scale, shift) is
applied to the drawing coordinates, never by resampling pixels. Photometric nuisance
(lighting gradient, colour cast, blur, noise, JPEG-like block quantisation) is computed with
element-wise float64 numpy operations in a fixed order (no BLAS, no reductions whose order
depends on the CPU), so the same seed gives the same bytes on any machine.

``render_image`` returns ``(image uint8 RGB (112,112,3), labels uint8 (112,112))``; the label
map holds, per pixel, the topmost visible part (:data:`PART_LABELS`).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .identities import (
    HAIR_STYLES, IRIS_COLOURS, TRAIT_INDEX, Difficulty, ImageIdentity,
)

SIZE = 112
SHIFT = 4  # fractional bits of the rasteriser
_F = 1 << SHIFT

PART_LABELS = {
    "background": 0, "skin": 1, "eyes": 2, "brows": 3, "nose": 4, "mouth": 5,
    "hair": 6, "marks": 7, "ears": 8, "clothing": 9, "occluder": 10,
}
#: parts that carry identity and are exported as ground-truth masks
MASK_PARTS = ("eyes", "brows", "nose", "mouth", "hair", "marks")

# ArcFace 5-point template (112x112)
LEFT_EYE = (38.2946, 51.6963)
RIGHT_EYE = (73.5318, 51.5014)
NOSE = (56.0252, 71.7366)
MOUTH_L = (41.5493, 92.3655)
MOUTH_R = (70.7299, 92.2041)
CENTRE = (56.0, 62.0)


class _Painter:
    """Draws template-space primitives, transformed by a similarity, into image + labels."""

    def __init__(self, bg, angle_deg: float, scale: float, shift: tuple[float, float],
                 skip=frozenset()):
        self.img = np.empty((SIZE, SIZE, 3), np.uint8)
        self.img[:] = bg
        self.lab = np.zeros((SIZE, SIZE), np.uint8)
        self.angle = angle_deg
        self.scale = scale
        a = math.radians(angle_deg)
        self.c, self.s = math.cos(a) * scale, math.sin(a) * scale
        self.tx = CENTRE[0] + shift[0]
        self.ty = CENTRE[1] + shift[1]
        self.skip = skip

    def pt(self, x: float, y: float) -> tuple[int, int]:
        dx, dy = x - CENTRE[0], y - CENTRE[1]
        u = self.c * dx - self.s * dy + self.tx
        v = self.s * dx + self.c * dy + self.ty
        return int(round(u * _F)), int(round(v * _F))

    def _len(self, v: float) -> int:
        return max(1, int(round(v * self.scale * _F)))

    def _draw(self, part: str, fn_img, fn_lab):
        if part in self.skip:
            return
        fn_img(self.img)
        fn_lab(self.lab, PART_LABELS[part])

    def ellipse(self, part, centre, axes, angle, colour, start=0.0, end=360.0):
        c = self.pt(*centre)
        ax = (self._len(axes[0]), self._len(axes[1]))
        ang = angle + self.angle
        col = tuple(int(v) for v in colour)
        self._draw(part,
                   lambda im: cv2.ellipse(im, c, ax, ang, start, end, col, -1, cv2.LINE_AA, SHIFT),
                   lambda lb, k: cv2.ellipse(lb, c, ax, ang, start, end, k, -1, cv2.LINE_8, SHIFT))

    def circle(self, part, centre, r, colour):
        self.ellipse(part, centre, (r, r), 0.0, colour)

    def poly(self, part, pts, colour):
        p = np.array([self.pt(x, y) for x, y in pts], np.int32).reshape(1, -1, 2)
        col = tuple(int(v) for v in colour)
        self._draw(part,
                   lambda im: cv2.fillPoly(im, p, col, cv2.LINE_AA, SHIFT),
                   lambda lb, k: cv2.fillPoly(lb, p, k, cv2.LINE_8, SHIFT))

    def line(self, part, pts, colour, thickness: float):
        p = np.array([self.pt(x, y) for x, y in pts], np.int32).reshape(1, -1, 2)
        col = tuple(int(v) for v in colour)
        th = max(1, int(round(thickness * self.scale)))
        self._draw(part,
                   lambda im: cv2.polylines(im, p, False, col, th, cv2.LINE_AA, SHIFT),
                   lambda lb, k: cv2.polylines(lb, p, False, k, th, cv2.LINE_8, SHIFT))


def _t(z: np.ndarray, name: str) -> float:
    """Trait z-score squashed to [-1, 1] (clipped at 2.5 sigma)."""
    return float(min(1.0, max(-1.0, z[TRAIT_INDEX[name]] / 2.5)))


def _lerp(lo: float, hi: float, t: float) -> float:
    """Map t in [-1, 1] to [lo, hi]."""
    return lo + (hi - lo) * (t + 1.0) * 0.5


def _mix(c1, c2, w: float):
    return tuple(a * (1 - w) + b * w for a, b in zip(c1, c2))


def _shade(col, f: float):
    return tuple(min(255.0, max(0.0, v * f)) for v in col)


def skin_colour(z):
    light = _lerp(0.0, 1.0, _t(z, "skin_l"))
    base = _mix((95, 60, 40), (245, 210, 185), light)
    return (min(255, base[0] + 18 * _t(z, "skin_r")), base[1],
            max(0, base[2] + 16 * _t(z, "skin_b")))


def hair_colour(z):
    light = _lerp(0.0, 1.0, _t(z, "hair_l"))
    base = _mix((22, 16, 12), (215, 180, 110), light)
    red = _lerp(0.0, 0.6, _t(z, "hair_r"))
    base = _mix(base, (170, 70, 30), red * (0.3 + 0.7 * light))
    grey = max(0.0, _t(z, "hair_g")) * 0.7
    return _mix(base, (170, 170, 170), grey)


def _draw_face(p: _Painter, ii: ImageIdentity, rng: np.random.RandomState, nz: float):
    z = ii.z
    skin = skin_colour(z)
    hair = hair_colour(z)
    style = HAIR_STYLES[ii.hair_style]
    face_w = _lerp(29.0, 36.0, _t(z, "face_w"))
    face_h = _lerp(38.0, 46.0, _t(z, "face_h"))
    jaw_w = _lerp(0.55, 0.9, _t(z, "jaw")) * face_w
    hair_h = _lerp(14.0, 26.0, _t(z, "hair_h"))
    hairline = _lerp(30.0, 40.0, _t(z, "hairline"))
    fy = 58.0 + _lerp(-2.0, 2.0, _t(z, "forehead"))
    # expression (per image)
    smile = (rng.rand() * 2 - 1) * 0.8 * nz
    eye_open = 1.0 - 0.35 * rng.rand() * nz
    brow_raise = (rng.rand() * 3 - 1) * nz
    mouth_open = rng.rand() < 0.2 * nz
    mp = ii.mark_params

    # long hair behind the head
    if style == "long":
        p.poly("hair", [(56 - face_w - 6, 40), (56 + face_w + 6, 40), (56 + face_w + 9, 104),
                        (56 - face_w - 9, 104)], hair)
    # neck
    p.poly("skin", [(56 - 11, 80), (56 + 11, 80), (56 + 13, 112), (56 - 13, 112)],
           _shade(skin, 0.85))
    # ears
    ear_s = _lerp(0.75, 1.25, _t(z, "ear_size"))
    ear_y = 60 + _lerp(-3.0, 3.0, _t(z, "ear_y"))
    for side in (-1, 1):
        p.ellipse("ears", (56 + side * (face_w - 1), ear_y), (5.0 * ear_s, 9.0 * ear_s), 0,
                  _shade(skin, 0.93))
    # head
    p.ellipse("skin", (56, fy), (face_w, face_h), 0, skin)
    p.ellipse("skin", (56, fy + face_h * 0.45), (jaw_w, face_h * 0.55), 0, skin)
    ck = _t(z, "cheek")
    if abs(ck) > 0.2:
        tone = _mix(skin, (200, 90, 90) if ck > 0 else (120, 90, 70), 0.25 * abs(ck))
        for side in (-1, 1):
            p.ellipse("skin", (56 + side * 21, 74), (7, 5), 0, tone)

    # hair cap and hairline (before the features so it never hides eyes/brows)
    top = fy - face_h
    if style != "bald":
        cap_w = face_w + 3
        p.ellipse("hair", (56, fy - 4), (cap_w, face_h + 2), 0, hair, 180, 360)
        # cut the cap back to the hairline with skin coloured forehead
        p.ellipse("skin", (56, fy - 2), (face_w - 3.0, face_h - (hairline - top) * 0.9 + 2), 0,
                  skin, 180, 360)
        p.ellipse("hair", (56, top + 1), (cap_w - 2, hair_h * 0.5), 0, hair, 180, 360)
    # beard first so the mouth stays visible on top of it
    if "beard" in ii.marks:
        bcol = _shade(hair, 0.9)
        if mp[6] < 0.5:  # full beard along the jaw
            pts = [(56 - jaw_w - 2, 74), (56 - jaw_w + 4, 96), (56, fy + face_h + 1),
                   (56 + jaw_w - 4, 96), (56 + jaw_w + 2, 74), (56 + 14, 86), (56, 99),
                   (56 - 14, 86)]
        else:  # goatee
            pts = [(56 - 12, 96), (56 - 8, fy + face_h - 1), (56 + 8, fy + face_h - 1),
                   (56 + 12, 96), (56, 99)]
        p.poly("marks", pts, bcol)
        p.poly("marks", [(56 - 15, 86.5), (56 + 15, 86.5), (56 + 12, 89.5), (56 - 12, 89.5)],
               bcol)

    # nose
    nw = _lerp(4.0, 8.0, _t(z, "nose_w"))
    nl = _lerp(12.0, 22.0, _t(z, "nose_len"))
    nshade = _shade(skin, _lerp(0.72, 0.9, _t(z, "nose_shade")))
    tip_y = NOSE[1]
    p.poly("nose", [(56 - 1.5, tip_y - nl), (56 + 1.0, tip_y - nl), (56 + nw * 0.6, tip_y),
                    (56 - nw, tip_y + 1.5)], nshade)
    nos = _lerp(1.0, 2.2, _t(z, "nostril"))
    for side in (-1, 1):
        p.ellipse("nose", (56 + side * nw * 0.55, tip_y + 1.5), (nos + 0.6, nos), 0,
                  _shade(skin, 0.45))
    p.ellipse("nose", (56, tip_y - 1), (nw * 0.45, 2.6), 0, _shade(skin, 1.06))

    # mouth
    mw = _lerp(0.8, 1.15, _t(z, "mouth_w")) * (MOUTH_R[0] - MOUTH_L[0]) / 2
    lt = _lerp(1.5, 4.0, _t(z, "lip_thick"))
    my = 92.3 + _lerp(-2.5, 2.5, _t(z, "mouth_y"))
    lip = _mix(skin, (190, 70, 80), _lerp(0.2, 0.75, _t(z, "lip_r")))
    lip = _shade(lip, _lerp(0.7, 1.0, _t(z, "lip_dark")))
    corner_y = my - 3.0 * smile
    gap = 2.5 if mouth_open else 0.0
    p.poly("mouth", [(56 - mw, corner_y), (56 - mw * 0.4, my - lt - 0.5), (56, my - lt * 0.7),
                     (56 + mw * 0.4, my - lt - 0.5), (56 + mw, corner_y), (56, my + 0.5)],
           _shade(lip, 0.9))
    p.poly("mouth", [(56 - mw, corner_y), (56, my + gap), (56 + mw, corner_y),
                     (56 + mw * 0.5, my + gap + lt * 1.1), (56 - mw * 0.5, my + gap + lt * 1.1)],
           lip)
    if mouth_open:
        p.ellipse("mouth", (56, my + 1.2), (mw * 0.6, 1.6), 0, (235, 235, 225))

    # eyes
    ew = _lerp(5.5, 9.0, _t(z, "eye_w"))
    eh = _lerp(2.6, 4.6, _t(z, "eye_h")) * eye_open
    edx = _lerp(-2.0, 2.0, _t(z, "eye_dx"))
    etilt = _lerp(-10.0, 10.0, _t(z, "eye_tilt"))
    iris_col = _shade(IRIS_COLOURS[ii.iris], _lerp(0.7, 1.3, _t(z, "iris_r")))
    look = (rng.rand() * 2 - 1) * 1.5 * nz
    for side, (ex, ey) in ((-1, LEFT_EYE), (1, RIGHT_EYE)):
        cx = ex - side * edx
        tilt = side * etilt
        p.ellipse("eyes", (cx, ey), (ew, eh), tilt, (240, 238, 232))
        if "eyes" not in p.skip:
            eye_lab = np.zeros_like(p.lab)
            cv2.ellipse(eye_lab, p.pt(cx, ey), (p._len(ew), p._len(eh)), tilt + p.angle, 0, 360,
                        1, -1, cv2.LINE_8, SHIFT)
            before = p.img.copy()
            ir = min(eh * 1.05, ew * 0.55) + 0.3
            cv2.ellipse(p.img, p.pt(cx + look, ey), (p._len(ir), p._len(ir)), 0, 0, 360,
                        tuple(int(v) for v in iris_col), -1, cv2.LINE_AA, SHIFT)
            cv2.ellipse(p.img, p.pt(cx + look, ey), (p._len(ir * 0.45), p._len(ir * 0.45)), 0,
                        0, 360, (15, 12, 10), -1, cv2.LINE_AA, SHIFT)
            inside = cv2.dilate(eye_lab, np.ones((2, 2), np.uint8)).astype(bool)
            p.img[~inside] = before[~inside]
        p.ellipse("eyes", (cx, ey), (ew + 0.5, eh + 0.6), tilt, _shade(skin, 0.35), 190, 350)
    # brows
    bh = _lerp(7.5, 12.5, _t(z, "brow_h")) + brow_raise
    bth = _lerp(1.5, 4.0, _t(z, "brow_thick"))
    btilt = _lerp(-3.5, 3.5, _t(z, "brow_tilt"))
    blen = _lerp(8.0, 13.0, _t(z, "brow_len"))
    bcurve = _lerp(-0.5, 3.0, _t(z, "brow_curve"))
    bcol = _shade(hair, 0.7)
    for side, (ex, ey) in ((-1, LEFT_EYE), (1, RIGHT_EYE)):
        cx = ex - side * edx
        y0 = ey - bh
        inner = (cx + side * (-blen * 0.8), y0 + btilt)
        mid = (cx, y0 - bcurve)
        outer = (cx + side * blen, y0 - btilt * 0.5 + 1.0)
        pts = [inner, mid, outer, (outer[0], outer[1] + bth * 0.6),
               (mid[0], mid[1] + bth), (inner[0], inner[1] + bth)]
        p.poly("brows", pts, bcol)

    # distinctive marks
    if "mole" in ii.marks:
        mx = 56 + (mp[0] * 2 - 1) * (face_w - 8)
        my_ = 62 + mp[1] * 22
        if abs(my_ - 92) < 5 and abs(mx - 56) < 16:
            my_ -= 8
        p.circle("marks", (mx, my_), 1.4 + 1.2 * mp[2], (50, 30, 25))
    if "scar" in ii.marks:
        sx = 56 + (mp[3] * 2 - 1) * (face_w - 10)
        sy = 40 + mp[4] * 40
        ang = math.radians(mp[5] * 180)
        L = 6 + 5 * mp[2]
        p.line("marks", [(sx - L * math.cos(ang), sy - L * math.sin(ang)),
                         (sx + L * math.cos(ang), sy + L * math.sin(ang))],
               _mix(_shade(skin, 0.7), (160, 60, 70), 0.4), 1.6)
    if "freckles" in ii.marks:
        fcol = _mix(skin, (120, 60, 30), 0.45)
        for k in range(12):
            u = (k * 0.618034 + mp[2]) % 1.0
            v = (k * 0.381966 + mp[3]) % 1.0
            side = -1 if k % 2 else 1
            p.circle("marks", (56 + side * (9 + 16 * u), 62 + 14 * v), 0.9, fcol)
    if "birthmark" in ii.marks:
        bx = 56 + (mp[4] * 2 - 1) * (face_w - 9)
        by = 35 + mp[0] * 50
        if abs(by - 92) < 6 and abs(bx - 56) < 18:
            by -= 12
        p.ellipse("marks", (bx, by), (3.0 + 3 * mp[1], 2.0 + 2 * mp[5]), mp[6] * 180,
                  _mix(skin, (150, 50, 60), 0.55))

    # hair in front
    if style == "fringe":
        p.poly("hair", [(56 - face_w + 2, hairline - 4), (56 + face_w - 2, hairline - 4),
                        (56 + face_w - 6, hairline + 6), (56, hairline + 8),
                        (56 - face_w + 6, hairline + 6)], hair)
    elif style == "side_part":
        p.poly("hair", [(56 - face_w, hairline - 3), (56 + 6, hairline - 6),
                        (56 + face_w - 2, hairline), (56 + face_w + 1, hairline + 10),
                        (56 + 10, hairline + 1), (56 - face_w + 2, hairline + 4)], hair)
    elif style == "curly":
        for k in range(9):
            a = math.pi * (1.0 + k / 8.0)
            p.circle("hair", (56 + (face_w + 1) * math.cos(a), fy - 6 + (face_h - 2) * math.sin(a)),
                     6.5, _shade(hair, 0.92 + 0.03 * (k % 3)))
    elif style == "bun":
        p.circle("hair", (56, top - 3), 9, hair)
    elif style == "bald":
        for side in (-1, 1):
            p.ellipse("hair", (56 + side * (face_w - 2), 56), (3.5, 9), side * 10, hair)
    elif style == "long":
        for side in (-1, 1):
            p.poly("hair", [(56 + side * (face_w + 3), fy - 10), (56 + side * (face_w - 3), fy - 10),
                            (56 + side * (face_w - 1), 98), (56 + side * (face_w + 8), 100)],
                   hair)
    top = fy - face_h
    if style in ("short", "long") and _t(z, "hairline") > 0.3:
        p.ellipse("hair", (56, hairline - 2), (face_w * 0.6, 3), 0, hair)

    if "glasses" in ii.marks:
        gcol = _mix((20, 20, 20), (150, 110, 60), mp[5])
        th = 1.0 + 1.0 * (mp[7] > 0.5)
        for side, (ex, ey) in ((-1, LEFT_EYE), (1, RIGHT_EYE)):
            cx = ex - side * edx
            if mp[4] < 0.5:
                pts = [(cx - 10, ey - 6), (cx + 10, ey - 6), (cx + 9, ey + 6), (cx - 9, ey + 6),
                       (cx - 10, ey - 6)]
                p.line("marks", pts, gcol, th)
            else:
                if "marks" not in p.skip:
                    cv2.ellipse(p.img, p.pt(cx, ey), (p._len(10), p._len(7.5)), p.angle, 0, 360,
                                tuple(int(v) for v in gcol), max(1, int(round(th))),
                                cv2.LINE_AA, SHIFT)
                    cv2.ellipse(p.lab, p.pt(cx, ey), (p._len(10), p._len(7.5)), p.angle, 0, 360,
                                PART_LABELS["marks"], max(1, int(round(th))), cv2.LINE_8, SHIFT)
            p.line("marks", [(cx + side * 10, ey - 3), (56 + side * (face_w + 1), ey - 2)], gcol, th)
        p.line("marks", [(LEFT_EYE[0] + edx + 9, 50), (56, 48.5), (RIGHT_EYE[0] - edx - 9, 50)],
               gcol, th)


def _sequential_blur(x: np.ndarray, kernel: tuple[float, ...]) -> np.ndarray:
    """Separable blur with edge padding, accumulated in a fixed order (portable bytes)."""
    r = len(kernel) // 2
    for axis in (0, 1):
        pad = [(0, 0)] * x.ndim
        pad[axis] = (r, r)
        xp = np.pad(x, pad, mode="edge")
        acc = None
        n = x.shape[axis]
        for k, w in enumerate(kernel):
            sl = [slice(None)] * x.ndim
            sl[axis] = slice(k, k + n)
            term = xp[tuple(sl)] * w
            acc = term if acc is None else acc + term
        x = acc
    return x


def _dct_matrix() -> np.ndarray:
    m = np.zeros((8, 8))
    for k in range(8):
        for n in range(8):
            a = math.sqrt(1 / 8) if k == 0 else math.sqrt(2 / 8)
            m[k, n] = a * math.cos(math.pi * (2 * n + 1) * k / 16)
    return m


_DCT = _dct_matrix()
_QY = np.array([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56], [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], float)


def _blockwise(blocks: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Apply ``m @ B @ m.T`` to every 8x8 block (..., 8, 8) with sequential sums."""
    # rows: out[..., k, j] = sum_n m[k, n] * B[..., n, j]
    tmp = None
    for n in range(8):
        term = m[:, n][:, None] * blocks[..., n:n + 1, :]
        tmp = term if tmp is None else tmp + term
    out = None
    for n in range(8):
        term = tmp[..., :, n:n + 1] * m[:, n][None, :]
        out = term if out is None else out + term
    return out


def _jpeg_like(img: np.ndarray, quality: int) -> np.ndarray:
    """Baseline-JPEG-style 8x8 DCT quantisation of Y, Cb, Cr (no chroma subsampling)."""
    q = quality
    scale = 5000 / q if q < 50 else 200 - 2 * q
    qt = np.maximum(1.0, np.floor((_QY * scale + 50) / 100))
    qc = np.maximum(1.0, np.floor((_QY * scale * 1.6 + 50) / 100))
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b
    out = []
    for ch, table in ((y - 128.0, qt), (cb, qc), (cr, qc)):
        blocks = ch.reshape(SIZE // 8, 8, SIZE // 8, 8).transpose(0, 2, 1, 3)
        coef = _blockwise(blocks, _DCT)
        coef = np.rint(coef / table) * table
        rec = _blockwise(coef, _DCT.T)
        out.append(rec.transpose(0, 2, 1, 3).reshape(SIZE, SIZE))
    y, cb, cr = out
    y = y + 128.0
    r = y + 1.402 * cr
    g = y - 0.344136 * cb - 0.714136 * cr
    b = y + 1.772 * cb
    return np.stack([r, g, b], axis=-1)


def render_image(ii: ImageIdentity, rng: np.random.RandomState,
                 difficulty: Difficulty = Difficulty(), *, skip=frozenset()):
    """Render one image of ``ii`` with nuisance drawn from ``rng``.

    ``skip``: part names (see :data:`PART_LABELS`) not to draw (used by tests to check that
    the label map lines up with what is drawn). Returns (uint8 RGB (112,112,3), uint8 labels).
    """
    nz = difficulty.nuisance
    # --- scene and pose (all draws happen in a fixed order) ---
    bg = rng.randint(30, 226, size=3)
    angle = (rng.rand() * 2 - 1) * 8.0 * nz
    scale = 1.0 + (rng.rand() * 2 - 1) * 0.06 * nz
    shift = ((rng.rand() * 2 - 1) * 3.0 * nz, (rng.rand() * 2 - 1) * 3.0 * nz)
    p = _Painter(bg, angle, scale, shift, skip=skip)
    # background clutter (not transformed with the face)
    n_shapes = rng.randint(1, 5)
    for _ in range(n_shapes):
        col = tuple(int(v) for v in rng.randint(0, 256, size=3))
        x0, y0 = rng.randint(0, SIZE, size=2)
        w, h = rng.randint(8, 50, size=2)
        if rng.rand() < 0.5:
            cv2.rectangle(p.img, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)), col, -1)
        else:
            cv2.ellipse(p.img, (int(x0), int(y0)), (int(w // 2), int(h // 2)), 0, 0, 360, col, -1)
    # clothing
    cloth = rng.randint(0, 256, size=3)
    neck_open = rng.rand() * 6
    p.poly("clothing", [(-10, 122), (-4, 104), (30, 97), (56 - 10, 98 + neck_open),
                        (56, 104 + neck_open), (56 + 10, 98 + neck_open), (82, 97), (116, 104),
                        (122, 122)], cloth)
    _draw_face(p, ii, rng, nz)
    # re-draw the collar over the neck
    p.poly("clothing", [(-10, 122), (-4, 106), (30, 100), (56 - 12, 104 + neck_open),
                        (56, 110 + neck_open), (56 + 12, 104 + neck_open), (82, 100), (116, 106),
                        (122, 122)], cloth)
    # occluder
    if rng.rand() < difficulty.occluder:
        col = rng.randint(0, 256, size=3)
        cx, cy = 20 + rng.rand() * 72, 30 + rng.rand() * 70
        w, h = 8 + rng.rand() * 14, 6 + rng.rand() * 12
        if rng.rand() < 0.5:
            p.poly("occluder", [(cx - w, cy - h), (cx + w, cy - h), (cx + w, cy + h),
                                (cx - w, cy + h)], col)
        else:
            p.ellipse("occluder", (cx, cy), (w, h), rng.rand() * 180, col)

    # --- photometric nuisance (float64, element-wise, fixed order) ---
    x = p.img.astype(np.float64)
    gx, gy = (rng.rand() * 2 - 1) * 0.3 * nz, (rng.rand() * 2 - 1) * 0.3 * nz
    bright = 1.0 + (rng.rand() * 2 - 1) * 0.2 * nz
    cast = 1.0 + (rng.rand(3) * 2 - 1) * 0.08 * nz
    coords = (np.arange(SIZE, dtype=np.float64) - 55.5) / 56.0
    gain = bright + gx * coords[None, :] + gy * coords[:, None]
    x = x * gain[:, :, None]
    x = x * cast[None, None, :]
    blur = rng.randint(0, 3) if nz > 0 else 0
    if blur == 1:
        x = _sequential_blur(x, (0.25, 0.5, 0.25))
    elif blur == 2:
        x = _sequential_blur(x, (1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16))
    sigma = rng.rand() * 5.0 * nz
    x = x + rng.standard_normal((SIZE, SIZE, 3)) * sigma
    x = np.clip(x, 0.0, 255.0)
    if rng.rand() < difficulty.jpeg:
        quality = int(rng.randint(35, 95))
        x = np.clip(_jpeg_like(np.rint(x), quality), 0.0, 255.0)
    img = np.rint(x).astype(np.uint8)
    return img, p.lab


def part_masks(labels: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean (H, W) masks of the identity parts from a label map."""
    return {name: labels == PART_LABELS[name] for name in MASK_PARTS}


def render_identity_images(seed: int, split: str, index: int, n_images: int,
                           difficulty: Difficulty = Difficulty()):
    """All images of one identity: (uint8 (n,112,112,3), uint8 labels (n,112,112))."""
    from .identities import drift_identity, image_rng, make_identity

    ident = make_identity(seed, split, index, difficulty)
    imgs = np.empty((n_images, SIZE, SIZE, 3), np.uint8)
    labs = np.empty((n_images, SIZE, SIZE), np.uint8)
    for j in range(n_images):
        rng = image_rng(seed, split, index, j)
        ii = drift_identity(ident, rng, difficulty)
        imgs[j], labs[j] = render_image(ii, rng, difficulty)
    return imgs, labs

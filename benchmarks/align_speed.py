"""Detection + alignment time per image (MTCNN, shipped), side by side with the model's
embedding time for the same crops.

    XSSAB_ORT_THREADS=1 python benchmarks/align_speed.py [--n 40] [--model synth-arcface]

Photos: ORL photos (fetched on demand, see tests/photos.py) pasted at random positions and
scales on canvases of 250x250 (LFW's raw size) and 640x480. Reported: ms per image for
detection alone, alignment (similarity fit + warp) alone, and embedding of the aligned crops,
with detection run one image at a time and as one batch. Single-threaded ORT unless
XSSAB_ORT_THREADS says otherwise. Numbers depend on the machine's load: record it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def canvases(n: int, size: tuple[int, int], seed: int = 0) -> list[np.ndarray]:
    import cv2

    from tests.photos import orl_faces

    orl = orl_faces()
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        photo = orl.photo(1 + i % 40, 1 + (i // 40) % 10)
        scale = rng.uniform(0.8, min(1.6, 0.9 * size[0] / 112))
        img = cv2.resize(photo, None, fx=scale, fy=scale)
        h, w = img.shape
        canvas = np.full(size, int(rng.integers(40, 200)), np.uint8)
        y, x = rng.integers(0, size[0] - h + 1), rng.integers(0, size[1] - w + 1)
        canvas[y:y + h, x:x + w] = img
        out.append(np.repeat(canvas[:, :, None], 3, axis=2))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--model", default="synth-arcface")
    args = ap.parse_args()
    import xssab
    from xssab.align import align_crop, detect_faces, resolve_detector

    det = resolve_detector("mtcnn")
    model = xssab.load_model(args.model)
    detect_faces(canvases(2, (250, 250)), det)  # load the sessions
    print(f"ORT threads: {os.environ.get('XSSAB_ORT_THREADS', 'all cores')}; "
          f"load average at start: {os.getloadavg()[0]:.1f}")
    print("| canvas | detect, one at a time | detect, one batch | align (fit + warp) | "
          "embed aligned crop |")
    print("|---|---|---|---|---|")
    for size in ((250, 250), (480, 640)):
        imgs = canvases(args.n, size)
        t0 = time.perf_counter()
        single = [detect_faces([im], det)[0] for im in imgs]
        t1 = time.perf_counter()
        batch = detect_faces(imgs, det)
        t2 = time.perf_counter()
        found = sum(bool(f) for f in batch)
        crops = [align_crop(im, f[0], model.input_size)[0] for im, f in zip(imgs, batch) if f]
        t3 = time.perf_counter()
        model.embed(crops, align=False)
        t4 = time.perf_counter()
        assert all(bool(a) == bool(b) for a, b in zip(single, batch))
        ms = lambda dt, k=len(imgs): 1000 * dt / max(k, 1)  # noqa: E731
        print(f"| {size[1]}x{size[0]} ({found}/{len(imgs)} found) | {ms(t1 - t0):.1f} ms | "
              f"{ms(t2 - t1):.1f} ms | {ms(t3 - t2, len(crops)):.2f} ms | "
              f"{ms(t4 - t3, len(crops)):.1f} ms |")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

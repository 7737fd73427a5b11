"""Smoke run of the training script: one short epoch on a few identities, then xCos."""

import json
import math

import numpy as np
import onnxruntime as ort

from xssab.models.card import ModelCard
from xssab.synth import train

TINY = ["--epochs", "1", "--train-ids", "6", "--images-per-id", "4", "--val-ids", "4",
        "--ids-per-batch", "3", "--threads", "1"]


def test_train_arcface_then_xcos(tmp_path):
    cache = tmp_path / "cache"
    common = TINY + ["--cache", str(cache), "--card-dir", str(tmp_path / "cards"),
                     "--zoo-dir", str(tmp_path / "zoo")]
    assert train.main(["--loss", "arcface", "--out", str(tmp_path / "arc")] + common) == 0
    card = ModelCard.from_toml(tmp_path / "cards" / "synth-arcface.toml")
    onnx_file = (tmp_path / "cards" / card.path).resolve()
    assert onnx_file == (tmp_path / "zoo" / "synth-arcface.onnx").resolve()
    assert onnx_file.stat().st_size <= 5_000_000
    assert card.feature_output == "features" and card.embedding_output == "embedding"
    assert card.licence == "MIT" and math.isfinite(card.threshold)
    assert card.extra["provenance"]["command"].startswith("python -m xssab.synth.train")
    assert card.extra["provenance"]["difficulty"]["spread"] > 0
    prov = json.loads((tmp_path / "zoo" / "synth-arcface.json").read_text())
    assert prov["data"]["train_identities"] == 6 and prov["onnx_torch_max_abs_diff"] < 1e-3
    sess = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    x = np.zeros((3, 3, 112, 112), np.float32)  # dynamic batch
    emb, feat = sess.run(["embedding", "features"], {"input": x})
    assert emb.shape == (3, 128) and feat.shape[0] == 3 and feat.shape[2:] == (7, 7)

    assert train.main(["--loss", "xcos", "--out", str(tmp_path / "xcos"),
                       "--reference", str(onnx_file),
                       "--init", str(tmp_path / "arc" / "checkpoint.pt")] + common) == 0
    xcard = ModelCard.from_toml(tmp_path / "cards" / "synth-xcos.toml")
    assert xcard.feature_output == "grid"
    att_file = (tmp_path / "cards" / xcard.extra["xcos_attention"]).resolve()
    sess = ort.InferenceSession(str((tmp_path / "cards" / xcard.path).resolve()),
                                providers=["CPUExecutionProvider"])
    emb, grid = sess.run(["embedding", "grid"], {"input": x})
    assert grid.shape == (3, 32, 7, 7) and emb.shape == (3, 32 * 49)
    att = ort.InferenceSession(str(att_file), providers=["CPUExecutionProvider"])
    (w,) = att.run(["weights"], {"grid_a": grid, "grid_b": grid[::-1].copy()})
    assert w.shape == (3, 7, 7) and np.allclose(w.sum((1, 2)), 1, atol=1e-5)
    assert (w >= 0).all()

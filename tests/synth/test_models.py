"""The shipped SynthFace models: cards, files, and a reduced accuracy check (200 pairs)."""

import math
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from xssab.metrics.verification import error_rates
from xssab.models.card import ModelCard
from xssab.synth.dataset import SynthDataset

ZOO = Path(__file__).resolve().parents[2] / "model_zoo"
NAMES = ("synth-arcface", "synth-elasticface", "synth-cosface", "synth-xcos")
# measured 10-fold accuracy on the full test set is recorded in docs/synth.md; on this
# 200-pair CI sample at the card's (validation) threshold every model must stay above:
MIN_ACCURACY = 0.85


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    ds = SynthDataset(tmp_path_factory.mktemp("synth") / "p10", pairs_per_fold=10)
    pairs = ds.pairs()
    a = np.stack([ds.load(p.a) for p in pairs])
    b = np.stack([ds.load(p.b) for p in pairs])
    return a, b, np.array([p.same for p in pairs])


def _prep(x):
    return np.ascontiguousarray(((x.astype(np.float32) - 127.5) / 127.5).transpose(0, 3, 1, 2))


def _session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _cos(u, v):
    u = u.reshape(len(u), -1)
    v = v.reshape(len(v), -1)
    return (u * v).sum(1) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1))


@pytest.mark.parametrize("name", NAMES)
def test_card_file_and_accuracy(name, sample):
    card = ModelCard.from_toml(ZOO / "cards" / f"{name}.toml")
    assert card.name == name and card.licence == "MIT"
    assert card.source.startswith("trained by xssab on SynthFace")
    assert card.channel_order == "rgb" and card.input_size == (112, 112)
    prov = card.extra["provenance"]
    assert prov["command"].startswith("python -m xssab.synth.train") and prov["commit"]
    onnx_file = (ZOO / "cards" / card.path).resolve()
    assert onnx_file.parent == (ZOO / "synth").resolve()
    assert onnx_file.exists() and onnx_file.stat().st_size <= 5_000_000
    assert math.isfinite(card.threshold)

    a, b, same = sample
    sess = _session(onnx_file)
    outs = [o.name for o in sess.get_outputs()]
    assert card.embedding_output in outs and card.feature_output in outs
    ea, fa = sess.run([card.embedding_output, card.feature_output], {"input": _prep(a)})
    eb, fb = sess.run([card.embedding_output, card.feature_output], {"input": _prep(b)})
    assert fa.shape[2:] == (7, 7)
    s = _cos(ea, eb)
    fmr, fnmr = error_rates(s, same, card.threshold)
    acc = 1 - (fmr * (~same).sum() + fnmr * same.sum()) / len(same)
    assert acc >= MIN_ACCURACY, (name, acc)
    if name == "synth-xcos":
        assert fa.shape[1] == 32
        att = _session((ZOO / "cards" / card.extra["xcos_attention"]).resolve())
        (w,) = att.run(["weights"], {"grid_a": fa, "grid_b": fb})
        assert np.allclose(w.sum((1, 2)), 1, atol=1e-4)
        na = fa / np.linalg.norm(fa, axis=1, keepdims=True)
        nb = fb / np.linalg.norm(fb, axis=1, keepdims=True)
        xs = (w * (na * nb).sum(1)).sum((1, 2))
        fmr, fnmr = error_rates(xs, same, card.extra["xcos_threshold"])
        assert 1 - (fmr * (~same).sum() + fnmr * same.sum()) / len(same) >= MIN_ACCURACY


@pytest.mark.parametrize("name", NAMES[:1])
def test_loads_through_xssab(name):
    import xssab

    model = xssab.load_model(name)
    assert model.name == name and model.feature_output == "features"
    assert model.threshold is not None

"""Train the embedded SynthFace models (CPU, reproducible).

    python -m xssab.synth.train --loss arcface --out /tmp/synth-arcface --epochs 8 --seed 0 \
        --card-dir model_zoo/cards --zoo-dir model_zoo/synth

Losses (``--loss``):

* ``arcface``: additive angular margin, logits ``s*cos(theta_y + m)`` (default s=32, m=0.5);
* ``elasticface``: ElasticFace-Arc, ``s*cos(theta_y + m_i)`` with ``m_i ~ N(m, sigma)`` drawn
  per sample and step (m=0.5, sigma=0.05);
* ``cosface``: large-margin cosine, ``s*(cos(theta_y) - m)`` (m=0.35);
* ``xcos``: xCos (Lin et al.): ArcFace loss on the flattened 32x7x7 grid features plus
  ``--xcos-weight`` x MSE between the xCos score and the cosine of a frozen reference model
  (``--reference``, the trained synth-arcface ONNX file) on genuine and impostor pairs
  formed inside each batch. ``--init`` may start the backbone from a trained checkpoint.

Data: ``--train-ids`` identities x ``--images-per-id`` images of the SynthFace ``train``
split (rendered once and cached as uint8 npz under ``--cache``), batches of
``--ids-per-batch`` identities x 4 images. The decision threshold is the EER threshold on
pairs of the ``val`` split (identities disjoint from train and from the benchmark's test
identities). Output: ``OUT/<name>.onnx`` (opset 17, dynamic batch, legacy exporter),
``OUT/<name>.json`` (provenance), ``OUT/checkpoint.pt``, and with ``--card-dir``/``--zoo-dir``
the card and model files copied into the model zoo.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._util import atomic_write_text, sha256_file
from ..models.cache import xssab_home
from .dataset import RENDER_VERSION, cached_split
from .identities import Difficulty
from .nets import EMBEDDING, SynthIResNet, XCosAttention, XCosNet, count_parameters, xcos_score

LOSS_DEFAULTS = {
    "arcface": {"scale": 32.0, "margin": 0.5},
    "elasticface": {"scale": 32.0, "margin": 0.5},
    "cosface": {"scale": 32.0, "margin": 0.35},
    "xcos": {"scale": 32.0, "margin": 0.5},
}
K_PER_ID = 4


class MarginHead(nn.Module):
    """Normalised class weights + margin logits (ArcFace / ElasticFace-Arc / CosFace)."""

    def __init__(self, dim: int, classes: int, loss: str, scale: float, margin: float,
                 sigma: float = 0.05):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(classes, dim))
        nn.init.normal_(self.weight, std=0.01)
        self.loss, self.s, self.m, self.sigma = loss, scale, margin, sigma

    def forward(self, emb, labels, generator=None, ramp: float = 1.0):
        """Loss; ``ramp`` in [0, 1] scales the margin (linear margin warm-up)."""
        cos = F.linear(F.normalize(emb), F.normalize(self.weight)).clamp(-1 + 1e-7, 1 - 1e-7)
        onehot = F.one_hot(labels, cos.shape[1]).bool()
        if self.loss == "cosface":
            logits = torch.where(onehot, cos - ramp * self.m, cos)
        else:
            if self.loss == "elasticface":
                m = self.m + self.sigma * torch.randn(cos.shape[0], 1, generator=generator).to(cos.device)
            else:
                m = torch.full((cos.shape[0], 1), self.m, device=cos.device)
            m = ramp * m
            theta = torch.acos(cos)
            target = torch.cos(theta + m)
            # keep the logit monotonic where theta + m would pass pi (as in InsightFace)
            target = torch.where(theta + m < math.pi, target, cos - m * math.sin(self.m))
            logits = torch.where(onehot, target, cos)
        return F.cross_entropy(self.s * logits, labels)


def to_input(batch_u8: np.ndarray) -> torch.Tensor:
    """uint8 RGB (N,H,W,3) -> float32 (N,3,H,W), (x-127.5)/127.5 (the cards' preprocessing)."""
    x = torch.from_numpy(batch_u8).permute(0, 3, 1, 2).float()
    return ((x - 127.5) / 127.5).contiguous(memory_format=torch.channels_last)


def pk_batches(ids: np.ndarray, rng: np.random.RandomState, ids_per_batch: int):
    """Epoch of batches: chunks of K images of one identity, shuffled, grouped."""
    chunks = []
    for c in np.unique(ids):
        idx = np.nonzero(ids == c)[0]
        idx = idx[rng.permutation(len(idx))]
        for k in range(0, len(idx) - K_PER_ID + 1, K_PER_ID):
            chunks.append(idx[k:k + K_PER_ID])
    order = rng.permutation(len(chunks))
    batches = []
    for b in range(0, len(order) - ids_per_batch + 1, ids_per_batch):
        batches.append(np.concatenate([chunks[i] for i in order[b:b + ids_per_batch]]))
    return batches


def val_pairs(ids: np.ndarray, seed: int):
    """All genuine combinations of the val split plus as many random impostor pairs."""
    rng = np.random.RandomState([seed & 0xFFFFFFFF, 991])
    gen = []
    for c in np.unique(ids):
        idx = np.nonzero(ids == c)[0]
        gen += [(a, b) for i, a in enumerate(idx) for b in idx[i + 1:]]
    imp = set()
    while len(imp) < len(gen):
        a, b = rng.randint(len(ids), size=2)
        if ids[a] != ids[b]:
            imp.add((min(a, b), max(a, b)))
    pairs = np.array(gen + sorted(imp))
    labels = np.r_[np.ones(len(gen), bool), np.zeros(len(imp), bool)]
    return pairs, labels


@torch.no_grad()
def embed_all(model: nn.Module, images: np.ndarray, batch: int = 256, device="cpu"):
    model.eval()
    embs, feats = [], []
    for k in range(0, len(images), batch):
        e, f = model(to_input(images[k:k + batch]).to(device))
        embs.append(e.cpu())
        feats.append(f.cpu())
    return torch.cat(embs), torch.cat(feats)


def git_commit() -> str:
    if os.environ.get("XSSAB_TRAIN_COMMIT"):
        return os.environ["XSSAB_TRAIN_COMMIT"]
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except Exception:  # pragma: no cover
        return "unknown"


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v)} to TOML")


def write_card(path: Path, top: dict, tables: dict[str, dict]) -> None:
    lines = [f"{k} = {_toml_value(v)}" for k, v in top.items() if v is not None]
    for name, table in tables.items():
        lines.append("")
        lines.append(f"[{name}]")
        for k, v in table.items():
            if isinstance(v, dict):
                continue
            lines.append(f"{k} = {_toml_value(v)}")
        for k, v in table.items():
            if isinstance(v, dict):
                lines.append("")
                lines.append(f"[{name}.{k}]")
                lines += [f"{kk} = {_toml_value(vv)}" for kk, vv in v.items()]
    atomic_write_text(path, "\n".join(lines) + "\n")


class _ExportBackbone(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)


def export_onnx(module: nn.Module, path: Path, input_names, output_names, example,
                dynamic_axes) -> None:
    module.eval()
    torch.onnx.export(module, example, str(path), input_names=input_names,
                      output_names=output_names, opset_version=17, dynamo=False,
                      dynamic_axes=dynamic_axes, do_constant_folding=True)


def _ort_outputs(path: Path, feeds: dict) -> list[np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m xssab.synth.train",
                                description="Train a SynthFace model (CPU).")
    p.add_argument("--loss", required=True, choices=sorted(LOSS_DEFAULTS))
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--name", default=None, help="model name (default synth-<loss>)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--data-seed", type=int, default=0, help="SynthFace seed")
    p.add_argument("--train-ids", type=int, default=400)
    p.add_argument("--images-per-id", type=int, default=12)
    p.add_argument("--val-ids", type=int, default=150)
    p.add_argument("--val-images", type=int, default=4)
    p.add_argument("--ids-per-batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--margin-warmup", type=float, default=0.3,
                   help="share of the steps over which the margin ramps up from 0")
    p.add_argument("--scale", type=float, default=None)
    p.add_argument("--margin", type=float, default=None)
    p.add_argument("--sigma", type=float, default=0.05, help="ElasticFace margin std")
    p.add_argument("--xcos-weight", type=float, default=10.0)
    p.add_argument("--reference", default=None, help="xcos: reference ONNX (synth-arcface)")
    p.add_argument("--init", default=None, help="checkpoint.pt to start the backbone from")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--cache", default=None, help="rendered-data cache folder")
    p.add_argument("--card-dir", default=None, help="write the model card here")
    p.add_argument("--zoo-dir", default=None, help="copy ONNX + provenance here")
    for f in fields(Difficulty):
        p.add_argument("--" + f.name.replace("_", "-"), type=float, default=f.default,
                       dest="d_" + f.name)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    t_start = time.time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    rng = np.random.RandomState(args.seed)
    name = args.name or f"synth-{args.loss}"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    difficulty = Difficulty(**{f.name: getattr(args, "d_" + f.name) for f in fields(Difficulty)})
    cache = Path(args.cache) if args.cache else xssab_home() / "synth-train"

    tr_imgs, _, tr_ids = cached_split(cache, args.data_seed, "train", args.train_ids,
                                      args.images_per_id, difficulty, workers=args.threads)
    va_imgs, _, va_ids = cached_split(cache, args.data_seed, "val", args.val_ids,
                                      args.val_images, difficulty, workers=args.threads)
    print(f"data: {len(tr_imgs)} train images ({args.train_ids} ids), {len(va_imgs)} val "
          f"images ({time.time() - t_start:.0f}s)", flush=True)

    hp = dict(LOSS_DEFAULTS[args.loss])
    if args.scale is not None:
        hp["scale"] = args.scale
    if args.margin is not None:
        hp["margin"] = args.margin
    is_xcos = args.loss == "xcos"
    if is_xcos:
        backbone = SynthIResNet()
        model: nn.Module = XCosNet(backbone)
        attention = XCosAttention()
        emb_dim = 32 * 49
        if args.reference is None:
            raise SystemExit("error: --loss xcos needs --reference (the synth-arcface ONNX)")
        ref = []
        for k in range(0, len(tr_imgs), 256):
            ref.append(_ort_outputs(Path(args.reference),
                                    {"input": to_input(tr_imgs[k:k + 256]).contiguous().numpy()})[0])
        ref_emb = torch.from_numpy(np.concatenate(ref))
        ref_emb = F.normalize(ref_emb.float())
    else:
        model = SynthIResNet()
        attention = None
        emb_dim = EMBEDDING
    if args.init:
        state = torch.load(args.init, map_location="cpu")
        target = model.backbone if is_xcos else model
        target.load_state_dict(state["model"] if "model" in state else state, strict=False)
    dev = torch.device(args.device)
    model = model.to(dev, memory_format=torch.channels_last)
    head = MarginHead(emb_dim, args.train_ids, "arcface" if is_xcos else args.loss,
                      hp["scale"], hp["margin"], args.sigma).to(dev)
    if attention is not None:
        attention = attention.to(dev)
        ref_emb = ref_emb.to(dev)
    params = list(model.parameters()) + list(head.parameters())
    if attention is not None:
        params += list(attention.parameters())
    # AdamW: with only a few hundred steps on CPU, SGD with a full margin from the start
    # stalls (measured: val EER 46% after 185 steps); AdamW + margin warm-up trains
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = len(pk_batches(tr_ids, np.random.RandomState(0), args.ids_per_batch))
    total = max(1, steps_per_epoch * args.epochs)
    warm = min(total // 10, steps_per_epoch)

    def lr_at(step):
        if step < warm:
            return args.lr * (step + 1) / warm
        return 0.5 * args.lr * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    log = []
    step = 0
    for epoch in range(args.epochs):
        model.train()
        if attention is not None:
            attention.train()
        t0 = time.time()
        losses, mses = [], []
        for idx in pk_batches(tr_ids, rng, args.ids_per_batch):
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            x = to_input(tr_imgs[idx]).to(dev, non_blocking=True)
            y = torch.from_numpy(tr_ids[idx]).long().to(dev)
            emb, feat = model(x)
            loss = head(emb, y, gen, ramp=min(1.0, step / max(1, args.margin_warmup * total)))
            if attention is not None:
                n = len(idx)
                ar = torch.arange(n, device=dev)
                partner_gen = ar ^ 1  # same chunk of K=4: same identity
                partner_imp = (ar + K_PER_ID) % n  # next chunk: other identity
                ia = torch.cat([ar, ar])
                ib = torch.cat([partner_gen, partner_imp])
                score, _ = xcos_score(attention, feat[ia], feat[ib])
                ridx = torch.from_numpy(idx).to(dev)
                target = (ref_emb[ridx[ia]] * ref_emb[ridx[ib]]).sum(1)
                mse = F.mse_loss(score, target)
                loss = loss + args.xcos_weight * mse
                mses.append(mse.item())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
            if step % 50 == 0:
                print(f"  step {step}/{total} loss {np.mean(losses[-10:]):.3f}", flush=True)
        entry = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "seconds": time.time() - t0}
        if mses:
            entry["mse"] = float(np.mean(mses))
        log.append(entry)
        print(json.dumps(entry), flush=True)

    train_seconds = time.time() - t_start
    # ---- validation: EER threshold on val pairs ----
    from ..metrics.verification import eer, error_rates

    emb, feat = embed_all(model, va_imgs, device=dev)
    embn = F.normalize(emb)
    vp, vl = val_pairs(va_ids, args.data_seed)
    scores = (embn[vp[:, 0]] * embn[vp[:, 1]]).sum(1).numpy()
    val_eer, thr = eer(scores, vl)
    fmr, fnmr = error_rates(scores, vl, thr)
    val = {"eer": val_eer, "threshold": thr, "accuracy": 1 - (fmr * (~vl).sum() + fnmr * vl.sum())
           / len(vl), "pairs": int(len(vl))}
    if attention is not None:
        attention = attention.cpu().eval()
        with torch.no_grad():
            xs, _ = xcos_score(attention, feat[vp[:, 0]], feat[vp[:, 1]])
            ref_v = F.normalize(torch.from_numpy(np.concatenate([
                _ort_outputs(Path(args.reference),
                             {"input": to_input(va_imgs[k:k + 256]).contiguous().numpy()})[0]
                for k in range(0, len(va_imgs), 256)])).float())
            rs = (ref_v[vp[:, 0]] * ref_v[vp[:, 1]]).sum(1)
        xs = xs.numpy()
        x_eer, x_thr = eer(xs, vl)
        val.update({"xcos_eer": x_eer, "xcos_threshold": x_thr,
                    "xcos_ref_correlation": float(np.corrcoef(xs, rs.numpy())[0, 1])})
    print("val:", json.dumps(val), flush=True)

    # ---- export ----
    model = model.cpu().to(memory_format=torch.contiguous_format).eval()
    head = head.cpu()
    onnx_path = out / f"{name}.onnx"
    example = torch.zeros(2, 3, 112, 112)
    feat_name = "grid" if is_xcos else "features"
    export_onnx(_ExportBackbone(model), onnx_path, ["input"], ["embedding", feat_name], example,
                {"input": {0: "batch"}, "embedding": {0: "batch"}, feat_name: {0: "batch"}})
    check = to_input(va_imgs[:8]).contiguous()
    with torch.no_grad():
        t_emb, t_feat = model(check)
    o_emb, o_feat = _ort_outputs(onnx_path, {"input": check.numpy()})
    diff = float(max(np.abs(o_emb - t_emb.numpy()).max(), np.abs(o_feat - t_feat.numpy()).max()))
    files = [onnx_path]
    att_path = None
    if attention is not None:
        att_path = out / f"{name}-attention.onnx"
        ga = torch.zeros(2, 32, 7, 7)
        export_onnx(attention.eval(), att_path, ["grid_a", "grid_b"], ["weights"], (ga, ga),
                    {"grid_a": {0: "batch"}, "grid_b": {0: "batch"}, "weights": {0: "batch"}})
        (w,) = _ort_outputs(att_path, {"grid_a": o_feat[:4], "grid_b": o_feat[4:8]})
        with torch.no_grad():
            tw = attention(torch.from_numpy(o_feat[:4]), torch.from_numpy(o_feat[4:8])).numpy()
        diff = max(diff, float(np.abs(w - tw).max()))
        files.append(att_path)
    torch.save({"model": (model.backbone if is_xcos else model).state_dict(),
                "full": model.state_dict(),
                "attention": attention.state_dict() if attention is not None else None},
               out / "checkpoint.pt")

    command = "python -m xssab.synth.train " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    provenance = {
        "name": name, "loss": args.loss, "hyperparameters": {**hp, "sigma": args.sigma,
                                                            "lr": args.lr, "epochs": args.epochs,
                                                            "seed": args.seed},
        "command": command, "commit": git_commit(), "torch": torch.__version__,
        "device": (torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu"),
        "data": {"generator": RENDER_VERSION, "seed": args.data_seed,
                 "difficulty": difficulty.to_dict(), "difficulty_key": difficulty.key(),
                 "train_identities": args.train_ids, "images_per_identity": args.images_per_id,
                 "val_identities": args.val_ids, "val_images_per_identity": args.val_images},
        "parameters": count_parameters(model), "validation": val,
        "train_wall_seconds": round(train_seconds, 1), "epochs": log,
        "onnx_torch_max_abs_diff": diff,
        "files": {f.name: {"sha256": sha256_file(f),
                           "bytes": f.stat().st_size} for f in files},
    }
    (out / f"{name}.json").write_text(json.dumps(provenance, indent=2))
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size / 1e6:.2f} MB, ORT/torch max diff "
          f"{diff:.2e}); train {train_seconds:.0f}s", flush=True)

    if args.zoo_dir:
        zoo = Path(args.zoo_dir)
        zoo.mkdir(parents=True, exist_ok=True)
        for f in files + [out / f"{name}.json"]:
            shutil.copyfile(f, zoo / f.name)
    if args.card_dir:
        card_dir = Path(args.card_dir)
        card_dir.mkdir(parents=True, exist_ok=True)
        zoo = Path(args.zoo_dir) if args.zoo_dir else out
        rel = Path(os.path.relpath(zoo.resolve(), card_dir.resolve()))
        top = {
            "name": name,
            "path": (rel / onnx_path.name).as_posix(),
            "input_size": [112, 112], "channel_order": "rgb", "mean": 127.5, "std": 127.5,
            "embedding_size": emb_dim, "embedding_output": "embedding",
            "feature_output": feat_name,
            "threshold": round(float(thr), 6),
            "threshold_dataset": f"SynthFace val (seed {args.data_seed}, {len(vl)} pairs)",
            "licence": "MIT",
            "source": "trained by xssab on SynthFace (see docs/synth.md)",
            "description": (f"small IResNet-style model ({count_parameters(model) / 1e6:.2f}M "
                            f"params) trained with {args.loss} on synthetic faces; NOT the "
                            "published weights"),
        }
        if is_xcos:
            top["xcos_attention"] = (rel / att_path.name).as_posix()
            top["xcos_threshold"] = round(float(val["xcos_threshold"]), 6)
        prov = {k: provenance[k] for k in ("loss", "command", "commit", "torch", "device",
                                           "parameters", "train_wall_seconds")}
        prov["data_seed"] = args.data_seed
        prov["data_generator"] = RENDER_VERSION
        prov["difficulty"] = difficulty.to_dict()
        prov["val_eer"] = round(val_eer, 6)
        write_card(card_dir / f"{name}.toml", top, {"provenance": prov})
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

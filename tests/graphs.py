"""Realistic face-recognition graphs for import tests (shared by every area).

Builders return torch modules in eval mode with random weights and NON-trivial BatchNorm
statistics (random running mean/var, affine weights), so a converter that uses batch
statistics or drops a BatchNorm is caught. :func:`export_onnx` writes them in the styles
real model files come in (see ``STYLES``).

- :func:`iresnet` / :func:`iresnet50` / :func:`iresnet100` / :func:`small_iresnet`:
  InsightFace IResNet layout: stem Conv-BN-PReLU; blocks BN-Conv-BN-PReLU-Conv-BN (+ 1x1
  Conv-BN downsample); head BN-Dropout-Flatten-FC-BN(features).
- :func:`mobilefacenet`: depthwise-separable bottlenecks, GDC head (depthwise 7x7), FC, BN.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

STYLES = (
    "opset9", "opset11", "opset13", "opset17",  # dynamic batch at that opset
    "dynamic",            # dynamic batch, opset 13
    "static_reshape",     # fixed batch 1, flatten exported as Reshape(x, [1, -1])
    "symbolic_out1",      # symbolic batch but declared output [1, D]
    "norm_inside",        # Sub/Mul at the start: feed raw 0..255 (card mean 0, std 1)
    "prelu_c",            # PRelu slopes stored as [C] (not [C, 1, 1])
    "prelu_c11",          # PRelu slopes stored as [C, 1, 1]
    "bn_folded",          # every Conv->BN pair folded into the Conv (others keep BN apart)
    "multi_output",       # outputs: embedding + last feature map (7x7 for 112 input)
    "input_data",         # input named "data"
    "input_input1",       # input named "input.1"
)


# --------------------------------------------------------------------------- networks
class _Flatten(nn.Module):
    """Flatten that can be exported as ``Reshape(x, [1, -1])`` (hard-coded batch 1)."""

    def __init__(self):
        super().__init__()
        self.hard_batch1 = False

    def forward(self, x):
        if self.hard_batch1:
            return x.reshape(1, -1)
        return torch.flatten(x, 1)


class IBasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin, eps=1e-5)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, eps=1e-5)
        self.prelu = nn.PReLU(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout, eps=1e-5)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout, eps=1e-5))

    def forward(self, x):
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        idt = x if self.downsample is None else self.downsample(x)
        return out + idt


class IResNet(nn.Module):
    """InsightFace IResNet. ``layers`` e.g. (3, 4, 14, 3) = IResNet-50."""

    def __init__(self, layers, widths=(64, 128, 256, 512), embedding_size=512,
                 input_size=112, multi_output=False):
        super().__init__()
        self.multi_output = multi_output
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0], eps=1e-5)
        self.prelu = nn.PReLU(widths[0])
        blocks = []
        cin = widths[0]
        for n, w in zip(layers, widths):
            for i in range(n):
                blocks.append(IBasicBlock(cin, w, 2 if i == 0 else 1))
                cin = w
        self.blocks = nn.Sequential(*blocks)
        self.bn2 = nn.BatchNorm2d(cin, eps=1e-5)
        self.dropout = nn.Dropout(p=0.0)
        self.flatten = _Flatten()
        side = input_size // 2 ** len(layers)
        self.fc = nn.Linear(cin * side * side, embedding_size)
        self.features = nn.BatchNorm1d(embedding_size, eps=1e-5)

    def forward(self, x):
        x = self.prelu(self.bn1(self.conv1(x)))
        fmap = self.bn2(self.blocks(x))
        x = self.features(self.fc(self.flatten(self.dropout(fmap))))
        if self.multi_output:
            return x, fmap
        return x


class _DWBlock(nn.Module):
    def __init__(self, cin, cout, stride, expand, residual):
        super().__init__()
        hid = cin * expand
        self.residual = residual
        self.body = nn.Sequential(
            nn.Conv2d(cin, hid, 1, bias=False), nn.BatchNorm2d(hid), nn.PReLU(hid),
            nn.Conv2d(hid, hid, 3, stride, 1, groups=hid, bias=False), nn.BatchNorm2d(hid),
            nn.PReLU(hid),
            nn.Conv2d(hid, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class MobileFaceNet(nn.Module):
    def __init__(self, embedding_size=128, width=64, input_size=112, multi_output=False):
        super().__init__()
        self.multi_output = multi_output
        w = width
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, 2, 1, bias=False), nn.BatchNorm2d(w),
                                  nn.PReLU(w),
                                  nn.Conv2d(w, w, 3, 1, 1, groups=w, bias=False),
                                  nn.BatchNorm2d(w), nn.PReLU(w))
        cfg = [(w, 2, 2, 1), (w, 1, 2, 1), (2 * w, 2, 4, 1), (2 * w, 1, 2, 1),
               (2 * w, 2, 4, 1), (2 * w, 1, 2, 1)]
        blocks, cin = [], w
        for cout, stride, expand, _ in cfg:
            blocks.append(_DWBlock(cin, cout, stride, expand, stride == 1 and cin == cout))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        last = 4 * w
        self.conv_sep = nn.Sequential(nn.Conv2d(cin, last, 1, bias=False),
                                      nn.BatchNorm2d(last), nn.PReLU(last))
        side = input_size // 16
        self.gdc = nn.Sequential(nn.Conv2d(last, last, side, groups=last, bias=False),
                                 nn.BatchNorm2d(last))
        self.flatten = _Flatten()
        self.fc = nn.Linear(last, embedding_size, bias=False)
        self.features = nn.BatchNorm1d(embedding_size)

    def forward(self, x):
        fmap = self.conv_sep(self.blocks(self.stem(x)))
        x = self.features(self.fc(self.flatten(self.gdc(fmap))))
        if self.multi_output:
            return x, fmap
        return x


def randomize(net: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights, non-trivial BN statistics and PReLU slopes; eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) / math.sqrt(fan_in))
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                c = m.num_features
                m.running_mean.copy_(0.2 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
                m.weight.copy_(0.6 + 0.4 * torch.rand(c, generator=g))
                m.bias.copy_(0.1 * torch.randn(c, generator=g))
            elif isinstance(m, nn.PReLU):
                m.weight.copy_(0.05 + 0.3 * torch.rand(m.weight.shape, generator=g))
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


def iresnet(layers, seed=0, **kw) -> IResNet:
    return randomize(IResNet(layers, **kw), seed)


def iresnet50(seed=0, **kw) -> IResNet:
    return iresnet((3, 4, 14, 3), seed, **kw)


def iresnet100(seed=0, **kw) -> IResNet:
    return iresnet((3, 13, 30, 3), seed, **kw)


def small_iresnet(seed=0, **kw) -> IResNet:
    """A fast IResNet (1 block per stage, narrow) with the same layout."""
    kw.setdefault("widths", (8, 16, 24, 32))
    kw.setdefault("embedding_size", 64)
    return iresnet((1, 1, 1, 1), seed, **kw)


def mobilefacenet(seed=0, **kw) -> MobileFaceNet:
    return randomize(MobileFaceNet(**kw), seed)


# --------------------------------------------------------------------------- export
class _NormInside(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net((x - 127.5) * (1.0 / 127.5))


def _fold_bn(net: nn.Module) -> nn.Module:
    """Fold every Conv2d directly followed by BatchNorm2d (in Sequentials and blocks)."""
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval

    net = copy.deepcopy(net)
    for m in net.modules():
        if isinstance(m, nn.Sequential):
            kids = list(m._modules.items())
            for (n1, a), (n2, b) in zip(kids, kids[1:]):
                if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                    m._modules[n1] = fuse_conv_bn_eval(a, b)
                    m._modules[n2] = nn.Identity()
        if isinstance(m, IBasicBlock):
            # conv1 -> bn2 and conv2 -> bn3 are Conv->BN pairs
            m.conv1, m.bn2 = fuse_conv_bn_eval(m.conv1, m.bn2), nn.Identity()
            m.conv2, m.bn3 = fuse_conv_bn_eval(m.conv2, m.bn3), nn.Identity()
        if isinstance(m, IResNet):
            m.conv1, m.bn1 = fuse_conv_bn_eval(m.conv1, m.bn1), nn.Identity()
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


def export_onnx(net: nn.Module, path, style: str = "dynamic", input_size=None) -> Path:
    """Export ``net`` (eval mode) to ``path`` in one of :data:`STYLES`; returns the path.

    Output names: ``embedding`` (and ``features`` for ``multi_output``). Input name
    ``input`` unless the style says otherwise.
    """
    import warnings

    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; one of {STYLES}")
    path = Path(path)
    opset = {"opset9": 9, "opset11": 11, "opset13": 13, "opset17": 17}.get(style, 13)
    input_name = {"input_data": "data", "input_input1": "input.1"}.get(style, "input")
    if input_size is None:
        input_size = _guess_input_size(net)
    h, w = input_size
    flat = [m for m in net.modules() if isinstance(m, _Flatten)]
    multi = style == "multi_output"
    if multi:
        net.multi_output = True
    if style == "bn_folded":
        net = _fold_bn(net)
    if style == "norm_inside":
        net = _NormInside(net).eval()
    for f in flat:
        f.hard_batch1 = style == "static_reshape"
    dynamic = style != "static_reshape"
    out_names = ["embedding", "features"] if multi else ["embedding"]
    dyn = None
    if dynamic:
        dyn = {input_name: {0: "batch"}}
        dyn.update({o: {0: "batch"} for o in out_names})
    x = torch.zeros(1, 3, h, w)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (x,), str(path), input_names=[input_name],
                              output_names=out_names, opset_version=opset,
                              dynamic_axes=dyn, dynamo=False,
                              # without folding the exporter keeps Conv->BN pairs apart
                              do_constant_folding=style == "bn_folded")
    finally:
        for f in flat:
            f.hard_batch1 = False
        if multi:
            getattr(net, "net", net).multi_output = False
    if style in ("symbolic_out1", "prelu_c", "prelu_c11"):
        model = onnx.load(str(path))
        if style == "symbolic_out1":
            for out in model.graph.output:
                out.type.tensor_type.shape.dim[0].Clear()
                out.type.tensor_type.shape.dim[0].dim_value = 1
        else:
            _set_prelu_slope_shapes(model, channel_only=style == "prelu_c")
        onnx.save(model, str(path))
    return path


def _set_prelu_slope_shapes(model: onnx.ModelProto, channel_only: bool) -> None:
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    consts = {n.output[0]: n for n in model.graph.node if n.op_type == "Constant"}
    producers = {o: n for n in model.graph.node for o in n.output}
    done = 0
    for node in model.graph.node:
        if node.op_type != "PRelu":
            continue
        name = node.input[1]
        prod = producers.get(name)
        if prod is not None and prod.op_type == "Unsqueeze" and prod.input[0] in inits:
            name = prod.input[0]  # slope [C] unsqueezed at run time: feed the initializer
            node.input[1] = name
        if name in inits:
            arr = numpy_helper.to_array(inits[name])
            tgt = inits[name]
        elif name in consts:
            arr = numpy_helper.to_array(consts[name].attribute[0].t)
            tgt = consts[name].attribute[0].t
        else:
            continue
        c = arr.size
        shape = (c,) if channel_only else (c, 1, 1)
        tgt.CopyFrom(numpy_helper.from_array(arr.reshape(shape).astype(arr.dtype), tgt.name))
        done += 1
    if not done:
        raise RuntimeError("no PRelu slopes found to reshape")
    used = {i for n in model.graph.node for i in n.input} | {o.name for o in model.graph.output}
    dead = [n for n in model.graph.node if n.op_type == "Unsqueeze" and n.output[0] not in used]
    for n in dead:
        model.graph.node.remove(n)


def _guess_input_size(net) -> tuple[int, int]:
    inner = getattr(net, "net", net)
    fc = getattr(inner, "fc", None)
    if isinstance(inner, IResNet) and fc is not None:
        c = inner.bn2.num_features
        side = int(round(math.sqrt(fc.in_features / c)))
        return (side * 16, side * 16)
    if isinstance(inner, MobileFaceNet):
        k = inner.gdc[0].kernel_size[0]
        return (k * 16, k * 16)
    return (112, 112)


def random_faces(n: int, size=(112, 112), seed: int = 0) -> np.ndarray:
    """Smooth random uint8 RGB images (N, H, W, 3) — more image-like than white noise."""
    from xssab.models.preprocess import probe_images

    return probe_images(n, tuple(size), seed=seed, noise=12.0)


def folder_dataset(root, n_pairs: int, seed: int, jitter: int, noise_seed: int):
    """A numbered-folder dataset (``folder`` layout) of ``n_pairs`` pairs under ``root``.

    Even pairs are genuine (B = A plus uniform noise in [-jitter, jitter) drawn with
    ``noise_seed``), odd pairs impostors (two unrelated random faces from ``seed``).
    Returns the folder.
    """
    import cv2

    data = Path(root)
    data.mkdir(parents=True, exist_ok=True)
    faces = random_faces(2 * n_pairs, seed=seed)
    rng = np.random.default_rng(noise_seed)
    lines = []
    for i in range(n_pairs):
        a, b = faces[2 * i], faces[2 * i + 1]
        same = i % 2 == 0
        if same:
            b = np.clip(a.astype(int) + rng.integers(-jitter, jitter, a.shape), 0, 255
                        ).astype(np.uint8)
        for k, img in ((2 * i + 1, a), (2 * i + 2, b)):
            cv2.imwrite(str(data / f"{k:05d}.png"), img[..., ::-1])
        lines.append(f"{2 * i + 1:05d}.png {2 * i + 2:05d}.png {1 if same else -1}")
    (data / "pairs.txt").write_text("\n".join(lines) + "\n")
    return data


def model_and_folder(root, n_pairs: int, *, model_seed: int = 3, data_seed: int = 5,
                     jitter: int = 20, noise_seed: int = 0, model_name: str = "tiny.onnx",
                     style: str = "dynamic"):
    """A tiny IResNet ONNX (``small_iresnet(seed=model_seed)`` exported as
    ``root/model_name``) and a ``folder_dataset`` of ``n_pairs`` pairs under ``root/data``:
    the usual assets of the end-to-end bench/export/calibrate tests. Returns
    ``(model_path, data_folder)``."""
    root = Path(root)
    model = export_onnx(small_iresnet(seed=model_seed), root / model_name, style)
    data = folder_dataset(root / "data", n_pairs, seed=data_seed, jitter=jitter,
                          noise_seed=noise_seed)
    return model, data

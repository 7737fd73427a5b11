"""Build-time conversion of the MTCNN face detector (P-, R-, O-Net) to ONNX.

Run once by a maintainer; the outputs (mtcnn_pnet.onnx, mtcnn_rnet.onnx, mtcnn_onet.onnx and
mtcnn.json with sha256 + provenance) are shipped in this folder. Nothing here runs at import
or at test time.

Source: the PyTorch state dicts ``facenet_pytorch/data/{pnet,rnet,onet}.pt`` inside the
``facenet-pytorch`` 2.6.0 wheel on PyPI (MIT licence, Copyright (c) 2019 Timothy Esler);
those weights were ported from David Sandberg's TensorFlow ``facenet`` (MIT), which ported
them from the original Caffe MTCNN of Zhang et al. (2016, MIT).

Usage (the wheel is fetched with pip's ordinary client):
    pip download --no-deps facenet-pytorch==2.6.0 -d /tmp/fp
    python model_zoo/detectors/convert_mtcnn.py /tmp/fp/facenet_pytorch-2.6.0-py3-none-any.whl

The layer layout below follows the published MTCNN architecture (Zhang et al. 2016, Fig. 2);
the dense layers of R-Net and O-Net read their input flattened in (W, H, C) order, the
order the ported weights were trained with. Outputs: P-Net (fully convolutional, any size)
-> ``prob`` (N, 2, h, w) softmax, ``reg`` (N, 4, h, w); R-Net (N,3,24,24) -> ``prob`` (N, 2),
``reg`` (N, 4); O-Net (N,3,48,48) -> ``prob`` (N, 2), ``reg`` (N, 4), ``landmarks`` (N, 10:
five x then five y, relative to the box). Input: RGB, (x - 127.5) / 128, NCHW.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent


def _conv_prelu(cin, cout, k):
    return [nn.Conv2d(cin, cout, k), nn.PReLU(cout)]


class PNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = _conv_prelu(3, 10, 3)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv_prelu(10, 16, 3)
        self.conv3, self.prelu3 = _conv_prelu(16, 32, 3)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return torch.softmax(self.conv4_1(x), dim=1), self.conv4_2(x)


def _flatten_whc(x):
    return x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)


class RNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = _conv_prelu(3, 28, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv_prelu(28, 48, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _conv_prelu(48, 64, 2)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = self.prelu4(self.dense4(_flatten_whc(x)))
        return torch.softmax(self.dense5_1(x), dim=1), self.dense5_2(x)


class ONet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = _conv_prelu(3, 32, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv_prelu(32, 64, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _conv_prelu(64, 64, 3)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = _conv_prelu(64, 128, 2)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.dense5(_flatten_whc(x)))
        return torch.softmax(self.dense6_1(x), dim=1), self.dense6_2(x), self.dense6_3(x)


NETS = {"pnet": (PNet, None, ["prob", "reg"]),
        "rnet": (RNet, 24, ["prob", "reg"]),
        "onet": (ONet, 48, ["prob", "reg", "landmarks"])}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def convert(wheel: Path, out_dir: Path = HERE) -> dict:
    record = {"source_package": "facenet-pytorch", "source_version": "2.6.0",
              "source_file": wheel.name, "source_sha256": _sha256(wheel.read_bytes()),
              "licence": "MIT (facenet-pytorch, Copyright (c) 2019 Timothy Esler; weights "
              "ported from davidsandberg/facenet, MIT, from the Caffe MTCNN of Zhang et al. "
              "2016, MIT)",
              "conversion": "python model_zoo/detectors/convert_mtcnn.py " + wheel.name
              + f" (torch {torch.__version__}, torch.onnx.export dynamo=False, opset 13)",
              "input": "RGB NCHW float32, (x - 127.5) / 128", "files": {},
              "licence_file": "MTCNN-LICENSE.md"}
    with zipfile.ZipFile(wheel) as zf:
        for name, (cls, size, outputs) in NETS.items():
            member = f"facenet_pytorch/data/{name}.pt"
            raw = zf.read(member)
            state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
            net = cls().eval()
            net.load_state_dict(state, strict=True)
            h = w = size or 48
            dummy = torch.zeros(1, 3, h, w)
            axes = {"input": {0: "batch"}}
            if size is None:
                axes = {"input": {0: "batch", 2: "height", 3: "width"}}
            for o in outputs:
                axes[o] = {0: "batch"} if size else {0: "batch", 2: "h", 3: "w"}
            path = out_dir / f"mtcnn_{name}.onnx"
            torch.onnx.export(net, dummy, str(path), input_names=["input"],
                              output_names=outputs, dynamic_axes=axes, opset_version=13,
                              dynamo=False)
            record["files"][path.name] = {"sha256": _sha256(path.read_bytes()),
                                          "size": path.stat().st_size,
                                          "from": member, "from_sha256": _sha256(raw)}
    (out_dir / "mtcnn.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(json.dumps(convert(Path(sys.argv[1])), indent=2))

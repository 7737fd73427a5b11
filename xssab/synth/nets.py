"""Small IResNet-style backbones for SynthFace and the xCos grid/attention heads.

``SynthIResNet``: stride-2 stem (3x3 conv 3->16, BN, PReLU; 112 -> 56), three stages of
IResNet basic blocks (BN-conv3x3(stride)-BN-PReLU-conv3x3-BN + shortcut) with widths
32/48/96 and 1/1/2 blocks, each stage halving the map (56 -> 28 -> 14 -> 7), then the
IResNet output block: BN2d -> flatten -> Linear(96*49 -> 128) -> BN1d. About 0.95 M
parameters. ``forward`` returns ``(embedding (N,128), features (N,96,7,7))``; ``features`` is
the final 7x7 map (after the output BN2d).

``XCosNet`` adds the xCos grid head (1x1 conv 96->32, BN, PReLU: grid features (N,32,7,7));
its embedding is the flattened grid (N, 1568). ``XCosAttention`` is the attention CNN of
plugins/README.md (shared 3x3 conv 32->16+BN+PReLU on each grid, concatenation, 3x3 conv
32->16+BN+PReLU, 3x3 conv 16->1+BN+PReLU, softmax over the 49 cells).
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

WIDTHS = (16, 32, 48, 96)
BLOCKS = (1, 1, 2)
EMBEDDING = 128
GRID_CHANNELS = 32


def _conv3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


class IBasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin, eps=1e-5)
        # deviation from IResNet (stride on conv2): the stride sits on conv1, so no
        # full-resolution 3x3 conv runs; it keeps CPU training cheap
        self.conv1 = _conv3(cin, cout, stride)
        self.bn2 = nn.BatchNorm2d(cout, eps=1e-5)
        self.prelu = nn.PReLU(cout)
        self.conv2 = _conv3(cout, cout)
        self.bn3 = nn.BatchNorm2d(cout, eps=1e-5)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                      nn.BatchNorm2d(cout, eps=1e-5))

    def forward(self, x):
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (x if self.down is None else self.down(x))


class SynthIResNet(nn.Module):
    def __init__(self, widths=WIDTHS, blocks=BLOCKS, embedding=EMBEDDING, dropout=0.0):
        super().__init__()
        self.stem = nn.Sequential(_conv3(3, widths[0], 2), nn.BatchNorm2d(widths[0]),
                                  nn.PReLU(widths[0]))
        layers = []
        cin = widths[0]
        for cout, n in zip(widths[1:], blocks):
            for k in range(n):
                layers.append(IBasicBlock(cin, cout, 2 if k == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.bn_out = nn.BatchNorm2d(cin, eps=1e-5)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin * 7 * 7, embedding)
        self.features_bn = nn.BatchNorm1d(embedding, eps=1e-5)
        self.channels = cin

    def forward(self, x):
        f = self.bn_out(self.layers(self.stem(x)))
        emb = self.features_bn(self.fc(self.dropout(torch.flatten(f, 1))))
        return emb, f


class XCosNet(nn.Module):
    """Backbone + xCos grid head; ``forward`` -> (embedding = flattened grid, grid)."""

    def __init__(self, backbone: SynthIResNet | None = None):
        super().__init__()
        self.backbone = backbone or SynthIResNet()
        c = self.backbone.channels
        self.grid = nn.Sequential(nn.Conv2d(c, GRID_CHANNELS, 1, bias=False),
                                  nn.BatchNorm2d(GRID_CHANNELS), nn.PReLU(GRID_CHANNELS))

    def forward(self, x):
        f = self.backbone.bn_out(self.backbone.layers(self.backbone.stem(x)))
        g = self.grid(f)
        return torch.flatten(g, 1), g


def _cbp(cin, cout):
    return nn.Sequential(_conv3(cin, cout), nn.BatchNorm2d(cout), nn.PReLU(cout))


class XCosAttention(nn.Module):
    """(grid_a, grid_b) (N,32,7,7) -> attention weights (N,7,7), softmax over 49 cells."""

    def __init__(self, channels: int = GRID_CHANNELS):
        super().__init__()
        self.shared = _cbp(channels, 16)
        self.fuse = _cbp(32, 16)
        self.out = _cbp(16, 1)

    def forward(self, grid_a, grid_b):
        h = torch.cat([self.shared(grid_a), self.shared(grid_b)], dim=1)
        logits = self.out(self.fuse(h)).flatten(1)  # (N, 49)
        w = torch.softmax(logits, dim=1)
        return w.reshape(-1, grid_a.shape[2], grid_a.shape[3])


def patch_cosine(grid_a, grid_b):
    """Cosine of the grid features cell by cell: (N,C,H,W) x2 -> (N,H,W)."""
    return F.cosine_similarity(grid_a, grid_b, dim=1, eps=1e-8)


def xcos_score(attention: XCosAttention, grid_a, grid_b):
    w = attention(grid_a, grid_b)
    return (w * patch_cosine(grid_a, grid_b)).sum(dim=(1, 2)), w


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())

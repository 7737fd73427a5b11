"""Grad-CAM and Grad-CAM++ of the cosine similarity at a spatial feature layer.

Both explain image A of a pair (A, B) through the cosine similarity
``s = <f(A)/|f(A)|, f(B)/|f(B)|>`` with B held constant (no gradient through B), at a
spatial layer F of the model (N, C, h, w):

* the layer: ``options.layer`` when given, else the card's ``feature_output`` (the same
  spatial output xCos uses). A name is either a graph output (``model.output_names``) or
  a sub-module of the torch import (``dict(model.torch_graph.named_modules())``, the ONNX
  node names as onnx2torch names them), whose output is captured with a forward hook;
* ``g = ds/dF`` (one backward pass per explained image).

**Grad-CAM** (Selvaraju et al., ICCV 2017): channel weights ``alpha_c = mean_ij g_cij``;
``L = sum_c alpha_c F_c`` (h, w). The class-score convention ReLU(L) is the "similar"
map; the same construction on ``-s`` gives ReLU(-L), the "dissimilar" map. So
``positive = ReLU(L)``, ``negative = ReLU(-L)``, ``combined = L`` (high = similar).

**Grad-CAM++** (Chattopadhay et al., WACV 2018), in the closed form common
implementations use for an arbitrary score (the exponential-score derivation's
higher derivatives replaced by powers of the first): per cell
``a_cij = g^2 / (2 g^2 + sum_kl F_ckl g^3)`` (0 where the denominator is 0), channel
weights ``w_c = sum_ij a_cij ReLU(g_cij)``, map ``ReLU(sum_c w_c F_c)``. ``positive`` is
that map for ``s`` (gradient g), ``negative`` the same for ``-s`` (gradient -g);
``combined = positive - negative``.

Maps are computed on the h x w grid (7x7 for 112x112 IResNets) and upsampled to each
image with :func:`xssab.kit.resize_map` (bilinear). ``extras``: ``layer``,
``grid`` (h, w). Deterministic; ``forward_passes = 2`` per pair; ``backward_passes = 0``
(passes count image gradients, and Grad-CAM's gradient stops at the layer: one partial
backward per explained image, from the score down to F).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from xssab import Explanation, ImageMaps, MethodOptions, XssabError
from xssab.kit import check_pairs, l2_normalize, resize_map


@dataclass
class GradCamOptions(MethodOptions):
    #: spatial layer: a graph output or a torch sub-module name; None = card's feature_output
    layer: str | None = None
    #: pairs per forward/backward graph
    batch_size: int = 16


def layer_name(model, options: GradCamOptions) -> str | None:
    name = options.layer
    if name is None:
        name = getattr(model, "feature_output", None) or getattr(
            getattr(model, "card", None), "feature_output", None)
    return name


def layer_forward(model, name: str):
    """``x -> (embedding, feature map)`` in torch for the layer ``name`` (see module doc)."""
    import torch

    outputs = list(getattr(model, "output_names", []) or [])
    emb_name = getattr(model, "embedding_output", None)
    graph = model.torch_graph
    if name in outputs:
        # through model.torch_module (so the pass counters see the forward), catching the
        # full output tuple of the graph it wraps
        idx = outputs.index(name)

        def run(x):
            store = {}

            def hook(_m, _inp, out):
                store["out"] = out

            h = graph.register_forward_hook(hook)
            try:
                emb = model.torch_module(x)
            finally:
                h.remove()
            return emb, store["out"][idx]
        return run
    modules = dict(graph.named_modules())
    if name not in modules or name == "":
        spatial = [o for o in outputs if o != emb_name]
        raise XssabError(
            f"layer {name!r} is neither an output of model {getattr(model, 'name', '?')!r} "
            f"({', '.join(outputs) or 'none'}) nor a module of its torch import; name a "
            f"spatial output (card feature_output) or a module (e.g. one of "
            f"{', '.join(list(modules)[-4:-1])})" + ("" if spatial else ""))
    target = modules[name]

    def run(x):
        store = {}

        def hook(_m, _inp, out):
            store["f"] = out[0] if isinstance(out, (tuple, list)) else out

        h = target.register_forward_hook(hook)
        try:
            emb = model.torch_module(x)
        finally:
            h.remove()
        if "f" not in store or not torch.is_tensor(store["f"]):
            raise XssabError(f"layer {name!r} produced no tensor in the forward pass")
        return emb, store["f"]
    return run


def cam_maps(feat, grad, plus: bool):
    """(positive, negative, combined) grids (N, h, w) from features and ds/dF (torch)."""
    import torch

    if plus:
        def pp(g):
            g2, g3 = g * g, g * g * g
            den = 2.0 * g2 + feat.sum(dim=(2, 3), keepdim=True) * g3
            a = torch.where(den != 0, g2 / torch.where(den != 0, den, 1.0), 0.0)
            w = (a * torch.relu(g)).sum(dim=(2, 3), keepdim=True)
            return torch.relu((w * feat).sum(dim=1))
        pos, neg = pp(grad), pp(-grad)
        return pos, neg, pos - neg
    alpha = grad.mean(dim=(2, 3), keepdim=True)
    lin = (alpha * feat).sum(dim=1)
    return torch.relu(lin), torch.relu(-lin), lin


class GradCam:
    """Grad-CAM of the cosine similarity at the card's (or the named) spatial layer."""

    name = "gradcam"
    plus = False
    description = ("Grad-CAM of the cosine similarity at a spatial layer (card "
                   "feature_output or options.layer); combined = sum_c mean(ds/dF_c) F_c")
    Options = GradCamOptions

    def supports(self, model) -> str | None:
        if layer_name(model, GradCamOptions()) is None:
            return (f"{self.name} needs a spatial layer: set feature_output in the card of "
                    f"{getattr(model, 'name', '?')!r} or pass options layer=NAME")
        return None

    def explain_pairs(self, model, images_a: Sequence[np.ndarray],
                      images_b: Sequence[np.ndarray], threshold: float, options=None, *,
                      sides: str = "both", device=None) -> list[Explanation]:
        import torch

        opt = options if options is not None else GradCamOptions()
        images_a, images_b = check_pairs(images_a, images_b, sides)
        if not images_a:
            return []
        name = layer_name(model, opt)
        if name is None:
            raise XssabError(self.supports(model))
        dev = str(device or getattr(model, "device", "cpu"))
        if dev != str(getattr(model, "device", dev)):
            raise XssabError(f"model {getattr(model, 'name', '?')!r} is loaded on "
                             f"{model.device}; load it with device={dev!r}")
        run = layer_forward(model, name)
        t = float(threshold)
        out: list[Explanation] = []
        bs = max(1, int(opt.batch_size))
        for s in range(0, len(images_a), bs):
            ia, ib = images_a[s:s + bs], images_b[s:s + bs]
            k = len(ia)
            # the parameters are frozen: the input carries requires_grad so that the
            # layer's output is part of an autograd graph
            x = model.input_tensor(list(ia) + list(ib), device=dev).requires_grad_(True)
            grids = []
            with torch.enable_grad():
                emb, feat = run(x)
                if feat.dim() != 4:
                    raise XssabError(f"layer {name!r} is not spatial (shape "
                                     f"{tuple(feat.shape)}); Grad-CAM needs (N, C, h, w)")
                e = l2_normalize(emb)
                ea, eb = e[:k], e[k:]
                sim = (ea * eb.detach()).sum(dim=1)
                targets = [(sim, eb, slice(0, k))]
                if sides == "both":
                    targets.append(((ea.detach() * eb).sum(dim=1), ea, slice(k, 2 * k)))
                n_t = len(targets)
                for j, (score, _, rows) in enumerate(targets):
                    (g,) = torch.autograd.grad(score.sum(), feat, retain_graph=j < n_t - 1)
                    f, g = feat[rows].detach().double(), g[rows].double()
                    grids.append([m.cpu().float().numpy() for m in cam_maps(f, g, self.plus)])
            sims = sim.detach().cpu().double().numpy()
            for i in range(k):
                a_maps = _maps(grids[0], i, ia[i].shape[:2])
                b_maps = _maps(grids[1], i, ib[i].shape[:2]) if sides == "both" else None
                out.append(Explanation(
                    method=self.name, similarity=float(sims[i]), threshold=t,
                    match=bool(sims[i] >= t), a=a_maps, b=b_maps, forward_passes=2,
                    # the gradient stops at the layer: no image gradient is computed
                    backward_passes=0,
                    extras={"layer": name, "grid": list(grids[0][2].shape[1:])}))
        return out


class GradCamPlusPlus(GradCam):
    """Grad-CAM++ of the cosine similarity (positive: for s, negative: for -s)."""

    name = "gradcampp"
    plus = True
    description = ("Grad-CAM++ of the cosine similarity at a spatial layer; positive for s, "
                   "negative for -s, combined = positive - negative")


def _maps(grids, i: int, hw) -> ImageMaps:
    size = (int(hw[0]), int(hw[1]))
    pos, neg, comb = (resize_map(np.asarray(g[i], np.float32), size) for g in grids)
    return ImageMaps(positive=pos.astype(np.float32), negative=neg.astype(np.float32),
                     combined=comb.astype(np.float32))

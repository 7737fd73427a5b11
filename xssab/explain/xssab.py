"""The xSSAB engine: similarity-score argument backpropagation, batched.

Definition (Huber et al., WACV 2024, restated here in full): for a pair
(A, B) with normalised embeddings ``a = f(A)/|f(A)|`` and ``b = f(B)/|f(B)|`` and threshold
``t``, the embedding dimensions are split once, on the unperturbed pair, into positive
arguments ``P = {i : a_i b_i >= t/d}`` and negative arguments ``N`` (the rest), ``d`` the
embedding size. With the partner held constant (no gradient through it)

    s_pos(A) = sum_{i in P} a_i(A) b_i        s_neg(A) = sum_{i in N} a_i(A) b_i

the positive / negative maps of A are ``mean_c |d s_pos / dA|`` and ``mean_c |d s_neg / dA|``
(gradients w.r.t. the model's normalised input tensor, gradient flowing through the L2
normalisation of ``a``), and ``combined = positive - negative``. B's maps swap the roles.

How it is computed (same numbers, fewer passes than the released per-pair code):

* the images of a chunk of pairs -- all A and all B -- go through the network in ONE
  forward pass (``sides="a"``: A with a graph, B in a second, gradient-free pass);
* every row of the normalised embedding batch gets a cotangent: A-rows ``b * 1_P`` (positive
  sign) or ``b * 1_N`` (negative sign), B-rows the same with ``a``; rows of a network in eval
  mode do not interact, so one vector-Jacobian product yields d s_pos/dA and d s_pos/dB for
  every pair at once, and the two signs are two cotangents on the same graph
  (``torch.autograd.grad(..., is_grads_batched=True)``, or two backward calls over the
  retained graph: ``Options.vjp``);
* chunks of ``Options.chunk_size`` pairs bound the memory; there is no per-pair loop in
  the hot path (only packaging results and resizing maps to each image's own size).

Differences from the released code, on purpose: none in the numbers (the exactness test in
``tests/explain/test_xssab.py`` compares with a per-pair implementation in the released
structure: relative difference <= 1e-4). The similarity is the one of the torch import of
the graph (it matches ONNX Runtime to ~1e-6). Maps for an image whose size differs from the
model input are resampled from the input-size map (see :mod:`xssab.explain.maps`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .._util import l2_normalize
from ..errors import XssabError
from ..kit import check_pairs, explain_device, resize_map, resolve_threshold
from .base import Explanation, ImageMaps, MethodOptions
from .maps import channel_abs_mean

VJP_MODES = ("auto", "batched", "sequential")
COMBINES = ("difference", "decision")


@dataclass
class Options(MethodOptions):
    """Options of the xSSAB engine.

    ``chunk_size``: pairs per forward/backward batch (memory bound: one chunk holds the
    activations of ``2 * chunk_size`` images). ``vjp``: how the two signs share the graph:
    ``"batched"`` (one batched VJP, ``is_grads_batched``), ``"sequential"`` (two backward
    calls over the retained graph), ``"auto"`` (``"sequential"`` on CPU: as fast, half the
    gradient memory; ``"batched"`` on CUDA: 2.8x faster on IResNet-50 there; both measured
    in ``benchmarks/RESULTS.md``).
    Memory: about 150 MB per pair of an IResNet-50 on CPU (16-pair chunks: ~5 GB peak);
    lower ``chunk_size`` for bigger models. ``deterministic``: on CUDA, run cuDNN in its
    deterministic mode (CPU results are deterministic anyway). ``seed`` is unused (the
    method is not random).
    """

    chunk_size: int = 16
    vjp: str = "auto"
    deterministic: bool = True
    #: attribution step (:mod:`xssab.explain.xssab_variants`): "faithful" (the paper's,
    #: default), "smoothgrad", "gradxinput", "intgrad"
    variant: str = "faithful"
    #: smoothgrad: noisy copies; intgrad: interpolation steps
    samples: int = 16
    #: smoothgrad noise sigma as a fraction of each input tensor's value range
    noise: float = 0.15
    #: intgrad baseline image: "black" (raw 0) or "gray" (raw 128)
    baseline: str = "black"
    #: how ``combined`` is formed: "difference" (the paper's |G+| - |G-|, default) or
    #: "decision" (the sign map of the pair's decision: |G+| for a match, -|G-| for a
    #: non-match; docs/investigation.md explains why)
    combine: str = "difference"


@dataclass
class RawMaps:
    """Engine output for n pairs at model input size (torch or numpy arrays).

    ``similarity`` (n,); ``pos_a``/``neg_a`` (n, h, w); ``pos_b``/``neg_b`` (n, h, w) or
    ``None`` for ``sides="a"``; ``n_pos`` (n,) size of the positive argument set.
    """

    similarity: Any
    pos_a: Any
    neg_a: Any
    pos_b: Any
    neg_b: Any
    n_pos: Any
    d: int = 0


def _embedding_of(out):
    """The embedding tensor of a module output (tensor, or tuple/list/dict: first item)."""
    if isinstance(out, dict):
        out = next(iter(out.values()))
    if isinstance(out, (tuple, list)):
        out = out[0]
    if out.ndim > 2:
        out = out.flatten(1)
    return out


def _checked(e):
    """``e`` unchanged; XssabError when a row is zero or non-finite (its cosine similarity
    is undefined: NaN maps and a "NO MATCH" otherwise)."""
    import torch

    n = e.detach().norm(dim=1)
    bad = ~torch.isfinite(n) | (n == 0)
    if bool(bad.any()):
        i = int(torch.nonzero(bad)[0])
        kind = "a zero" if bool(torch.isfinite(n[i])) else "a non-finite (NaN/Inf)"
        raise XssabError(f"the model produced {kind} embedding for image {i} of the batch "
                         "(e.g. a black or blank image); cosine similarity is undefined "
                         "there, so no explanation is given")
    return e


def _resolve_vjp(mode: str, device_type: str) -> str:
    if mode not in VJP_MODES:
        raise XssabError(f"xssab option vjp={mode!r} is not one of {', '.join(VJP_MODES)}")
    if mode != "auto":
        return mode
    # measured by benchmarks/bench_engine.py (RESULTS.md): on CPU the batched VJP (vmap
    # over the backward) is no faster than two backward calls over the retained graph and
    # needs twice the gradient memory, so CPU uses "sequential"; on CUDA (H200) one batched
    # VJP ran 2.8x faster on IResNet-50 at 16 pairs (242 vs 87 pairs/s), so CUDA uses it.
    return "batched" if device_type == "cuda" else "sequential"


def _vjp_two(outputs, inputs, v_pos, v_neg, mode: str):
    import torch

    if mode == "batched":
        g = torch.autograd.grad(outputs, inputs, grad_outputs=torch.stack([v_pos, v_neg]),
                                is_grads_batched=True)[0]
        return g[0], g[1]
    # a scalar per sign: autograd seeds the embedding's gradient with exactly v
    # (d sum(e * v) / d e = 1 * v), the same VJP as grad_outputs=v, bit for bit, without
    # autograd's symbolic-shape check of a grad_outputs tensor (it imports sympy: ~0.3 s,
    # once per process)
    g_pos = torch.autograd.grad((outputs * v_pos).sum(), inputs, retain_graph=True)[0]
    g_neg = torch.autograd.grad((outputs * v_neg).sum(), inputs)[0]
    return g_pos, g_neg


def xssab_chunk(module, xa, xb, threshold: float, *, sides: str = "both",
                vjp: str = "sequential") -> RawMaps:
    """xSSAB maps for one chunk of pairs, at model input size, as torch tensors.

    ``module``: input tensor (n, 3, h, w) -> embedding (n, d), not necessarily normalised;
    ``xa``/``xb``: the preprocessed input tensors of the A and B images (same device).
    """
    import torch

    if sides not in ("both", "a"):
        raise XssabError(f"sides must be 'both' or 'a', got {sides!r}")
    n = xa.shape[0]
    with torch.enable_grad():
        if sides == "both":
            x = torch.cat([xa, xb]).detach().requires_grad_(True)
            en = l2_normalize(_checked(_embedding_of(module(x))))
            a_d, b_d = en[:n].detach(), en[n:].detach()
        else:
            with torch.no_grad():
                b_d = l2_normalize(_checked(_embedding_of(module(xb.detach()))))
            x = xa.detach().requires_grad_(True)
            en = l2_normalize(_checked(_embedding_of(module(x))))
            a_d = en.detach()
        if en.shape[0] != x.shape[0]:
            raise XssabError(
                f"the model returned {en.shape[0]} embeddings for a batch of {x.shape[0]} "
                "images (a batch dimension fixed in the graph?); reload it so the loader "
                "can fix the graph")
        prod = a_d * b_d
        similarity = prod.sum(dim=1)
        d = prod.shape[1]
        positive = (prod >= (threshold / d)).to(prod.dtype)
        if sides == "both":
            partner = torch.cat([b_d, a_d])
            mask = torch.cat([positive, positive])
        else:
            partner, mask = b_d, positive
        v_pos = partner * mask
        v_neg = partner - v_pos  # == partner * 1_N exactly (mask is 0/1)
        g_pos, g_neg = _vjp_two(en, x, v_pos, v_neg, vjp)
    pos = channel_abs_mean(g_pos.detach())
    neg = channel_abs_mean(g_neg.detach())
    n_pos = positive.sum(dim=1)
    if sides == "both":
        return RawMaps(similarity, pos[:n], neg[:n], pos[n:], neg[n:], n_pos, d)
    return RawMaps(similarity, pos, neg, None, None, n_pos, d)


def _variant_chunk(model, module, xa, xb, imgs_a, imgs_b, threshold, sides, opts, dev,
                   start) -> RawMaps:
    """A chunk with a non-faithful attribution step (xssab_variants), as RawMaps."""
    import torch

    from .xssab_variants import baseline_images, noise_seeds, side_attributions

    with torch.no_grad():
        a_d = l2_normalize(_embedding_of(module(xa)))
        b_d = l2_normalize(_embedding_of(module(xb)))

    def side(x, partner, imgs, salt):
        x0 = None
        if opts.variant == "intgrad":
            x0 = model.input_tensor(baseline_images(imgs, opts.baseline), device=dev)
        tp, tn, sim, n_pos = side_attributions(
            module, x, partner, threshold, opts.variant, samples=opts.samples,
            noise=opts.noise, x0=x0, seed=int(opts.seed) * 2 + salt,
            seeds=noise_seeds(imgs, int(opts.seed)))
        return channel_abs_mean(tp), channel_abs_mean(tn), sim, n_pos

    pa, na, sim, n_pos = side(xa, b_d, imgs_a, 0)
    pb = nb = None
    if sides == "both":
        pb, nb, _, _ = side(xb, a_d, imgs_b, 1)
    return RawMaps(sim, pa, na, pb, nb, n_pos, int(a_d.shape[1]))


def _image_hw(img) -> tuple[int, int]:
    return int(img.shape[0]), int(img.shape[1])


def _module_for(model, device: str | None):
    dev = explain_device(model, device)
    return model, model.torch_module, dev


def _device_context(dev: str, deterministic: bool):
    import torch

    if dev.startswith("cuda"):
        # full fp32 convolutions (no TF32), like the CPU path and the exactness test
        return torch.backends.cudnn.flags(enabled=True, benchmark=False,
                                          deterministic=bool(deterministic), allow_tf32=False)
    return contextlib.nullcontext()


class XssabMethod:
    """xSSAB (Huber et al., WACV 2024), exact and batched. Registered as ``xssab``."""

    name = "xssab"
    description = ("xSSAB: similarity-score argument backpropagation (positive/negative "
                   "argument gradients; one forward pass per image, batched VJPs)")
    Options = Options

    def supports(self, model) -> str | None:
        if getattr(model, "torch_module", None) is None:
            return "needs a differentiable torch import of the model"
        return None

    def compute(self, model, images_a: Sequence[np.ndarray], images_b: Sequence[np.ndarray],
                threshold: float, options: Options | None = None, *, sides: str = "both",
                device: str | None = None) -> tuple[RawMaps, dict[str, int]]:
        """Maps at model input size as numpy arrays for every pair (no resizing)."""
        import torch

        opts = options or self.Options()
        if int(opts.chunk_size) < 1:
            raise XssabError(f"xssab option chunk_size must be >= 1, got {opts.chunk_size}")
        model, module, dev = _module_for(model, device)
        mode = _resolve_vjp(opts.vjp, torch.device(dev).type)
        n = len(images_a)
        parts: list[RawMaps] = []
        calls = {"forward_calls": 0, "backward_calls": 0}
        with _device_context(dev, opts.deterministic):
            for start in range(0, n, int(opts.chunk_size)):
                stop = min(n, start + int(opts.chunk_size))
                xa = model.input_tensor(list(images_a[start:stop]), device=dev)
                xb = model.input_tensor(list(images_b[start:stop]), device=dev)
                if opts.variant != "faithful":
                    raw = _variant_chunk(model, module, xa, xb, images_a[start:stop],
                                         images_b[start:stop], float(threshold), sides,
                                         opts, dev, start)
                else:
                    raw = xssab_chunk(module, xa, xb, float(threshold), sides=sides,
                                      vjp=mode)
                parts.append(RawMaps(*[None if t is None else t.float().cpu().numpy()
                                       for t in (raw.similarity, raw.pos_a, raw.neg_a,
                                                 raw.pos_b, raw.neg_b, raw.n_pos)], raw.d))
                calls["forward_calls"] += 1 if sides == "both" else 2
                calls["backward_calls"] += 1 if mode == "batched" else 2
                calls["embedding_size"] = int(raw.d)

        def cat(field):
            vals = [getattr(p, field) for p in parts]
            return None if vals[0] is None else np.concatenate(vals)

        raw = RawMaps(*[cat(f) for f in ("similarity", "pos_a", "neg_a", "pos_b", "neg_b",
                                         "n_pos")], parts[0].d if parts else 0)
        calls["vjp"] = mode
        return raw, calls

    def explain_pairs(self, model, images_a: Sequence[np.ndarray],
                      images_b: Sequence[np.ndarray], threshold: float,
                      options: Options | None = None, *, sides: str = "both",
                      device: str | None = None) -> list[Explanation]:
        images_a, images_b = check_pairs(images_a, images_b, sides)
        threshold = resolve_threshold(model, threshold)
        if len(images_a) == 0:
            return []
        raw, calls = self.compute(model, images_a, images_b, threshold, options,
                                  sides=sides, device=device)
        results = []
        both = sides == "both"
        opts = options or self.Options()
        fwd, bwd = 2, (4 if both else 2)  # one forward per image; a gradient per (image, sign)
        if opts.variant != "faithful":  # each gradient evaluation has its own forward
            k = int(opts.samples) if opts.variant in ("smoothgrad", "intgrad") else 1
            # clean A and B, then per explained side one clean forward + k gradient forwards
            fwd, bwd = 2 + (1 + k) * (2 if both else 1), 2 * k * (2 if both else 1)
        if opts.combine not in COMBINES:
            raise XssabError(f"xssab option combine={opts.combine!r} is not one of "
                             f"{', '.join(COMBINES)}")
        for i in range(len(images_a)):
            sim = float(raw.similarity[i])
            is_match = sim >= float(threshold)

            def comb(p, n):
                if opts.combine == "decision":
                    return p.copy() if is_match else -n
                return p - n

            ha = _image_hw(images_a[i])
            pa, na = resize_map(raw.pos_a[i], ha), resize_map(raw.neg_a[i], ha)
            maps_a = ImageMaps(pa, na, comb(pa, na))
            maps_b = None
            if both:
                hb = _image_hw(images_b[i])
                pb, nb = resize_map(raw.pos_b[i], hb), resize_map(raw.neg_b[i], hb)
                maps_b = ImageMaps(pb, nb, comb(pb, nb))
            results.append(Explanation(
                method=self.name, similarity=sim, threshold=float(threshold),
                match=bool(sim >= float(threshold)), a=maps_a, b=maps_b,
                # one forward pass per image; one gradient per (image, sign)
                forward_passes=fwd, backward_passes=bwd,
                extras={"positive_arguments": int(raw.n_pos[i]),
                        "variant": opts.variant, "combine": opts.combine,
                        "embedding_size": calls["embedding_size"],
                        "input_size": tuple(int(v) for v in raw.pos_a.shape[1:]),
                        "vjp": calls["vjp"],
                        "batched_forward_calls": calls["forward_calls"],
                        "batched_backward_calls": calls["backward_calls"]},
            ))
        return results



@dataclass
class SmoothGradOptions(Options):
    variant: str = "smoothgrad"


@dataclass
class GradInputOptions(Options):
    variant: str = "gradxinput"


@dataclass
class IntGradOptions(Options):
    variant: str = "intgrad"


class XssabSmoothGrad(XssabMethod):
    """xSSAB with SmoothGrad by default (own name, so one benchmark run compares it)."""

    name = "xssab-sg"
    description = "xSSAB with SmoothGrad on the argument scores (options samples, noise)"
    Options = SmoothGradOptions


class XssabGradInput(XssabMethod):
    name = "xssab-gxi"
    description = "xSSAB with gradient x input on the argument scores"
    Options = GradInputOptions


class XssabIntGrad(XssabMethod):
    name = "xssab-ig"
    description = ("xSSAB with integrated gradients of the argument scores (options "
                   "baseline black|gray, samples)")
    Options = IntGradOptions


@dataclass
class DecisionMapOptions(Options):
    combine: str = "decision"


class XssabDecisionMap(XssabMethod):
    name = "xssab-dm"
    description = ("xSSAB, combined = the sign map of the decision (|G+| for a match, "
                   "-|G-| for a non-match) instead of |G+| - |G-|")
    Options = DecisionMapOptions

"""Variants of xSSAB's attribution step (the faithful method stays the default).

Every variant keeps xSSAB's argument split: the sets P (``a_i b_i >= t/d``) and N are
decided ONCE on the unperturbed pair, the partner embedding is the unperturbed one and
carries no gradient, so the two scores are always

    s_pos(x) = sum_{i in P} a_i(x) b_i        s_neg(x) = sum_{i in N} a_i(x) b_i

with ``a(x)`` the normalised embedding of the (perturbed) input tensor ``x``. Each variant
produces an attribution tensor T (3, H, W) per sign and reduces it as the faithful method
does (mean over channels of ``|T|``), then ``combined = positive - negative``:

* ``faithful``  T = d s/dx at x (the paper's method; :mod:`xssab.explain.xssab`).
* ``smoothgrad`` (Smilkov et al. 2017) T = mean over ``samples`` noisy copies
  ``x + eps``, ``eps ~ N(0, (noise * (max x - min x))^2)`` per image, of d s/dx at the copy
  (the noise of an image is drawn from ``numpy.random.default_rng([seed, crc32 of the
  image's bytes])``, so a pair's map does not depend on its batch; the same noise for
  both signs; P, N and the partner stay those of the clean pair).
* ``gradxinput`` T = x * d s/dx (the model-input tensor, i.e. after the model's own
  normalisation; first-order Taylor contribution of each input value around 0).
* ``intgrad`` (Sundararajan et al. 2017) T = (x - x0) * mean_{k=1..samples}
  d s/dx (x0 + k/samples (x - x0)) (right Riemann sum; sum of T ~ s(x) - s(x0)), from the
  baseline x0 = the model-input tensor of a constant image: ``baseline="black"`` (raw 0,
  the default) or ``"gray"`` (raw 127.5, which is 0 after a (x-127.5)/127.5 model).

Costs per explained image and sign: faithful 1 gradient, gradxinput 1, smoothgrad and
intgrad ``samples`` gradients (each a batched forward/backward over the chunk).
"""

from __future__ import annotations

import numpy as np

from .._util import l2_normalize
from ..errors import XssabError

VARIANTS = ("faithful", "smoothgrad", "gradxinput", "intgrad")
BASELINES = ("black", "gray")


def _emb(module, x):
    out = module(x)
    if isinstance(out, dict):
        out = next(iter(out.values()))
    if isinstance(out, (tuple, list)):
        out = out[0]
    return out.flatten(1) if out.ndim > 2 else out


def _grads(module, x, v_pos, v_neg):
    """(d s_pos/dx, d s_neg/dx) at x for cotangents v_pos, v_neg on the normalised output."""
    import torch

    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        en = l2_normalize(_emb(module, xg))
        gp = torch.autograd.grad(en, xg, grad_outputs=v_pos, retain_graph=True)[0]
        gn = torch.autograd.grad(en, xg, grad_outputs=v_neg)[0]
    return gp.detach(), gn.detach()


def noise_seeds(images, seed: int) -> list[int]:
    """One noise seed per image from the run seed and the image's bytes, so that a pair's
    SmoothGrad map does not depend on which other pairs share its batch."""
    import zlib

    return [zlib.crc32(np.ascontiguousarray(img).tobytes()) ^ (int(seed) & 0xFFFFFFFF)
            for img in images]


def side_attributions(module, x, partner, threshold: float, variant: str, *,
                      samples: int = 16, noise: float = 0.15, x0=None, seed: int = 0,
                      seeds=None):
    """Attribution tensors (T_pos, T_neg) (n, 3, H, W) of the images ``x`` against the
    fixed normalised ``partner`` embeddings (n, d), plus (similarity, n_pos).

    SmoothGrad's noise for row i comes from ``numpy.random.default_rng([seed,
    seeds[i]])`` (``seeds`` default: the row index)."""
    import torch

    if variant not in VARIANTS:
        raise XssabError(f"xssab option variant={variant!r} is not one of "
                         f"{', '.join(VARIANTS)}")
    if variant in ("smoothgrad", "intgrad") and int(samples) < 1:
        raise XssabError(f"xssab option samples must be >= 1, got {samples}")
    with torch.no_grad():
        a = l2_normalize(_emb(module, x))
    prod = a * partner
    d = prod.shape[1]
    mask = (prod >= threshold / d).to(prod.dtype)
    v_pos = partner * mask
    v_neg = partner - v_pos
    sim, n_pos = prod.sum(dim=1), mask.sum(dim=1)
    if variant in ("faithful", "gradxinput"):
        gp, gn = _grads(module, x, v_pos, v_neg)
        if variant == "gradxinput":
            gp, gn = gp * x, gn * x
        return gp, gn, sim, n_pos
    tp, tn = torch.zeros_like(x), torch.zeros_like(x)
    n = int(samples)
    if variant == "smoothgrad":
        rows = list(seeds) if seeds is not None else list(range(x.shape[0]))
        draws = np.stack([np.random.default_rng([int(seed) & 0xFFFFFFFF, int(r)])
                          .standard_normal((n,) + tuple(x.shape[1:])) for r in rows], 1)
        span = (x.flatten(1).amax(dim=1) - x.flatten(1).amin(dim=1)).view(-1, 1, 1, 1)
        for k in range(n):
            eps = torch.as_tensor(draws[k], dtype=x.dtype, device=x.device)
            gp, gn = _grads(module, x + eps * (float(noise) * span), v_pos, v_neg)
            tp += gp
            tn += gn
        return tp / n, tn / n, sim, n_pos
    # integrated gradients
    if x0 is None:
        x0 = torch.zeros_like(x)
    delta = x - x0
    for k in range(1, n + 1):
        gp, gn = _grads(module, x0 + (k / n) * delta, v_pos, v_neg)
        tp += gp
        tn += gn
    return delta * tp / n, delta * tn / n, sim, n_pos


def baseline_images(images, baseline: str) -> list[np.ndarray]:
    """Constant images (raw uint8) of the same sizes as ``images`` for the IG baseline."""
    if baseline not in BASELINES:
        raise XssabError(f"xssab option baseline={baseline!r} is not one of "
                         f"{', '.join(BASELINES)}")
    value = 0 if baseline == "black" else 128
    out = []
    for img in images:
        arr = np.asarray(img)
        out.append(np.full(arr.shape, value, np.uint8))
    return out

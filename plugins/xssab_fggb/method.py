"""FGGB: feature-guided gradient backpropagation (Lu, Xu, Ebrahimi, FG 2024).

For a pair (A, B) with L2-normalised embeddings a, b (d dimensions) and threshold t:

* ``g_k = d a_k / dA`` for every dimension k — the gradient of the k-th component of the
  NORMALISED embedding w.r.t. the model-input tensor (3, H, W);
* channel reduction as in xSSAB: ``s_k = mean_c |g_k|`` (H, W);
* per-dimension normalisation: ``n_k = s_k / max(s_k)`` (divide by the map's maximum, so
  every dimension's map lies in [0, 1]; an all-zero map stays zero);
* weights ``w_k = a_k * b_k - t / d`` (the xSSAB argument split);
* similarity map ``S = sum_{w_k > 0} w_k n_k``, dissimilarity map
  ``D = sum_{w_k < 0} |w_k| n_k``; both Gaussian-blurred (kernel 25, sigma 5, as the
  public port); ``combined = S - D`` (high = similar), ``positive = S``, ``negative = D``.
* B's maps: the same with the roles swapped (same weights, gradients w.r.t. B).

The d backward passes per image are batched vector-Jacobian products with one-hot
cotangents, in chunks (``options.chunk``) to bound memory. ``vjp="replicate"`` (default):
one forward + one backward over K replicas of the batch, replica j carrying cotangent
``e_k`` (keeps the convolutions batched; 3-4x faster than vmap on our 2-core CPU);
``vjp="vmap"``: ``torch.autograd.grad(..., is_grads_batched=True)`` on one forward graph
(falls back to a loop if the graph cannot be vmapped). Same maps either way. Reported:
``backward_passes`` = d per explained image; ``forward_passes`` = 2 (+ d per explained image
with ``replicate``, which recomputes the forward per replica).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from xssab import Explanation, ImageMaps, MethodOptions
from xssab.kit import check_pairs, explain_device, gaussian_blur, l2_normalize, resize_map


@dataclass
class FGGBOptions(MethodOptions):
    #: rows per batched vector-Jacobian product ("replicate": images x dimensions per
    #: backward call; "vmap": dimensions per call) — bounds memory
    chunk: int = 32
    #: "replicate" (default): one forward+backward over replicas of the batch, one one-hot
    #: cotangent per replica; "vmap": torch.autograd.grad(..., is_grads_batched=True) on
    #: one forward graph (slower on CPU here, see plugins/README.md)
    vjp: str = "replicate"
    #: Gaussian blur of the public port
    blur_kernel: int = 25
    blur_sigma: float = 5.0
    #: images per forward graph
    batch_size: int = 8


def fggb_raw_maps(module, x, partner=None, threshold: float = 0.0, chunk: int = 32,
                  mode: str = "replicate"):
    """Unblurred similarity / dissimilarity maps at model-input size.

    ``x``: torch input (N, 3, H, W). ``partner``: the normalised partner embeddings
    (N, d) (numpy or torch); ``None`` pairs the first half of ``x`` with the second half
    (x = [A; B]). Returns ``S, D`` (N, H, W) float32 numpy and the normalised
    embeddings (N, d) float64. The d backward passes are batched over chunks of one-hot
    cotangents: ``mode="replicate"`` (replicas of the batch, one backward call per chunk)
    or ``mode="vmap"`` (``is_grads_batched`` on one forward graph).
    """
    import torch

    if mode not in ("replicate", "vmap"):
        raise ValueError(f"FGGB vjp mode must be 'replicate' or 'vmap', got {mode!r}")
    x = x.detach().clone().requires_grad_(mode == "vmap")
    with torch.enable_grad():
        emb = module(x)
        a = l2_normalize(emb)
        n, d = a.shape
        ad = a.detach()
        if partner is None:
            half = n // 2
            pb = torch.cat([ad[half:], ad[:half]])
        else:
            pb = torch.as_tensor(np.asarray(partner), dtype=ad.dtype, device=ad.device)
        w = ad * pb - float(threshold) / d  # (N, d)
        wpos = torch.clamp(w, min=0.0)
        wneg = torch.clamp(-w, min=0.0)
        S = torch.zeros((n,) + tuple(x.shape[2:]), dtype=torch.float64, device=ad.device)
        D = torch.zeros_like(S)
        per = max(1, int(chunk) // n) if mode == "replicate" else max(1, int(chunk))
        for s in range(0, d, per):
            ks = torch.arange(s, min(d, s + per), device=ad.device)
            K = len(ks)
            if mode == "replicate":
                # one backward over K replicas of the batch, replica j carrying cotangent
                # e_{ks[j]}: a batched VJP that keeps convolutions batched on CPU
                xr = x.detach().repeat(K, 1, 1, 1).requires_grad_(True)
                er = module(xr)
                ar = l2_normalize(er)
                cot = torch.zeros((K, n, d), dtype=ar.dtype, device=ar.device)
                cot[torch.arange(K, device=ks.device), :, ks] = 1.0
                (g,) = torch.autograd.grad(ar, xr, grad_outputs=cot.reshape(K * n, d))
                g = g.reshape((K, n) + tuple(x.shape[1:]))
            else:
                cot = torch.zeros((K, n, d), dtype=a.dtype, device=a.device)
                cot[torch.arange(K, device=ks.device), :, ks] = 1.0
                try:
                    (g,) = torch.autograd.grad(a, x, grad_outputs=cot, retain_graph=True,
                                               is_grads_batched=True)
                except RuntimeError:  # graph without vmap support: plain loop
                    g = torch.stack([torch.autograd.grad(a, x, grad_outputs=c,
                                                         retain_graph=True)[0]
                                     for c in cot])
            sal = g.abs().mean(dim=2)  # (K, N, H, W): channel reduction
            top = sal.flatten(2).amax(dim=2)[:, :, None, None]
            sal = torch.where(top > 0, sal / torch.where(top > 0, top, 1.0), 0.0).double()
            S += torch.einsum("nk,knhw->nhw", wpos[:, ks].double(), sal)
            D += torch.einsum("nk,knhw->nhw", wneg[:, ks].double(), sal)
    return (S.cpu().float().numpy(), D.cpu().float().numpy(),
            ad.cpu().double().numpy())


class FGGB:
    """FGGB: per-dimension gradients of the normalised embedding, weighted by a_k b_k - t/d."""

    name = "fggb"
    description = ("FGGB (Lu et al. 2024): per-dimension input gradients of the normalised "
                   "embedding weighted by a_k*b_k - t/d; d backward passes as one batched "
                   "VJP per image")
    Options = FGGBOptions

    def supports(self, model) -> str | None:
        try:
            model.torch_module
        except Exception as exc:  # pragma: no cover - depends on the converter
            return f"FGGB needs the torch import of the model: {exc}".splitlines()[0]
        return None

    def explain_pairs(self, model, images_a: Sequence[np.ndarray],
                      images_b: Sequence[np.ndarray], threshold: float, options=None, *,
                      sides: str = "both", device=None) -> list[Explanation]:
        opt = options if options is not None else FGGBOptions()
        images_a, images_b = check_pairs(images_a, images_b, sides)
        n = len(images_a)
        if n == 0:
            return []
        dev = explain_device(model, device)
        module = model.torch_module
        t = float(threshold)
        out = []
        for s in range(0, n, max(1, opt.batch_size)):
            ia, ib = images_a[s:s + opt.batch_size], images_b[s:s + opt.batch_size]
            k = len(ia)
            x = model.input_tensor(list(ia) + list(ib), device=dev)
            if sides == "a":
                # B only needs its embedding (no gradient): the VJPs run on A alone.
                import torch

                with torch.no_grad():
                    eb = module(x[k:])
                    eb = l2_normalize(eb).cpu().double().numpy()
                Sa, Da, ea = fggb_raw_maps(module, x[:k], eb, t, opt.chunk, opt.vjp)
                Sb = Db = None
            else:
                S, D, e = fggb_raw_maps(module, x, None, t, opt.chunk, opt.vjp)
                Sa, Da, ea, Sb, Db, eb = S[:k], D[:k], e[:k], S[k:], D[k:], e[k:]
            d = ea.shape[1]
            for i in range(k):
                w = ea[i] * eb[i] - t / d
                sim = float(np.sum(ea[i] * eb[i]))
                a_maps = _maps(Sa[i], Da[i], opt, ia[i].shape[:2])
                b_maps = (_maps(Sb[i], Db[i], opt, ib[i].shape[:2])
                          if Sb is not None else None)
                sides_n = 1 if sides == "a" else 2
                out.append(Explanation(
                    method=self.name, similarity=sim, threshold=t, match=bool(sim >= t),
                    a=a_maps, b=b_maps,
                    forward_passes=2 + (d * sides_n if opt.vjp == "replicate" else 0),
                    backward_passes=d * sides_n,
                    extras={"vjp": opt.vjp, "positive_dims": int(np.sum(w > 0)),
                            "negative_dims": int(np.sum(w < 0))}))
        return out


def _maps(S: np.ndarray, D: np.ndarray, opt: FGGBOptions, hw) -> ImageMaps:
    S = gaussian_blur(np.asarray(S, np.float32), opt.blur_kernel, opt.blur_sigma)
    D = gaussian_blur(np.asarray(D, np.float32), opt.blur_kernel, opt.blur_sigma)
    size = (int(hw[0]), int(hw[1]))
    S, D = resize_map(S, size), resize_map(D, size)
    return ImageMaps(positive=S.astype(np.float32), negative=D.astype(np.float32),
                     combined=(S - D).astype(np.float32))

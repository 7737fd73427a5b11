"""``template-gradient``: gradient x input of the cosine similarity (a minimal method)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

import xssab


@dataclass
class TemplateGradientOptions(xssab.MethodOptions):
    """No options beyond ``seed`` (the method is deterministic)."""


def _maps(signed: np.ndarray, size: tuple[int, int]) -> xssab.ImageMaps:
    h, w = size
    combined = cv2.resize(signed.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return xssab.ImageMaps(positive=np.maximum(combined, 0).astype(np.float32),
                           negative=np.maximum(-combined, 0).astype(np.float32),
                           combined=combined.astype(np.float32))


class TemplateGradient:
    """Signed gradient x input of cos(emb_a, emb_b), summed over colour channels.

    High ``combined`` = pixels whose intensity raises the similarity (similar regions).
    """

    name = "template-gradient"
    description = "template plugin: gradient x input of the cosine similarity"
    Options = TemplateGradientOptions

    def supports(self, model):
        return None

    def explain_pairs(self, model, images_a, images_b, threshold, options=None, *,
                      sides="both", device=None):
        if len(images_a) != len(images_b):
            raise xssab.XssabError("images_a and images_b must have the same length")
        device = device or model.device
        with torch.enable_grad():
            xa = model.input_tensor(list(images_a), device).requires_grad_(True)
            xb = model.input_tensor(list(images_b), device).requires_grad_(sides == "both")
            ea, eb = model.torch_module(xa), model.torch_module(xb)
            sim = torch.nn.functional.cosine_similarity(ea, eb, dim=1)
            sim.sum().backward()
        ga = (xa.grad * xa).sum(1).detach().cpu().numpy()
        gb = (xb.grad * xb).sum(1).detach().cpu().numpy() if sides == "both" else None
        out = []
        for i, s in enumerate(sim.detach().cpu().numpy().tolist()):
            a = _maps(ga[i], np.asarray(images_a[i]).shape[:2])
            b = _maps(gb[i], np.asarray(images_b[i]).shape[:2]) if gb is not None else None
            out.append(xssab.Explanation(method=self.name, similarity=float(s),
                                         threshold=float(threshold),
                                         match=bool(s >= threshold), a=a, b=b,
                                         forward_passes=2, backward_passes=1))
        return out

"""``template-gradient``: gradient x input of the cosine similarity (a minimal method)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

import xssab
from xssab.kit import check_pairs, explain_device, signed_maps


@dataclass
class TemplateGradientOptions(xssab.MethodOptions):
    """No options beyond ``seed`` (the method is deterministic)."""


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
        images_a, images_b = check_pairs(images_a, images_b, sides)
        if not images_a:
            return []
        device = explain_device(model, device)
        with torch.enable_grad():
            xa = model.input_tensor(images_a, device).requires_grad_(True)
            xb = model.input_tensor(images_b, device).requires_grad_(sides == "both")
            ea, eb = model.torch_module(xa), model.torch_module(xb)
            sim = torch.nn.functional.cosine_similarity(ea, eb, dim=1)
            sim.sum().backward()
        ga = (xa.grad * xa).sum(1).detach().cpu().numpy()
        gb = (xb.grad * xb).sum(1).detach().cpu().numpy() if sides == "both" else None
        out = []
        for i, s in enumerate(sim.detach().cpu().numpy().tolist()):
            a = signed_maps(ga[i], images_a[i].shape[:2])
            b = signed_maps(gb[i], images_b[i].shape[:2]) if gb is not None else None
            out.append(xssab.Explanation(method=self.name, similarity=float(s),
                                         threshold=float(threshold),
                                         match=bool(s >= threshold), a=a, b=b,
                                         # one image through the network = one
                                         # pass: both images forward; the single
                                         # backward call reaches each explained image
                                         forward_passes=2,
                                         backward_passes=2 if sides == "both" else 1))
        return out

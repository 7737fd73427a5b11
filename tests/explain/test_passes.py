"""The pass counter (xssab.explain.passes) counts what runs: it is the oracle of the
reported-pass tests."""

from __future__ import annotations

import numpy as np
import torch

from xssab.explain.passes import count_passes
from tests.plugins.tiny import faces, load_tiny


def test_counts_torch_and_ort_rows(tmp_path):
    model = load_tiny(tmp_path)
    imgs = faces(5, seed=3)
    with count_passes(model) as c:
        model.embed(imgs, batch_size=2)  # ORT: batches of 2, 2, 1
        x = model.input_tensor(list(imgs[:3])).requires_grad_(True)
        e = model.torch_module(x)
        torch.autograd.grad(e, x, grad_outputs=torch.ones_like(e), retain_graph=True)
        # a batched VJP with 4 cotangents: 4 x 3 image gradients in one call
        torch.autograd.grad(e, x, grad_outputs=torch.ones((4,) + tuple(e.shape)),
                            is_grads_batched=True)
        with torch.no_grad():
            model.torch_module(x[:1])
    assert (c.ort_forward, c.ort_calls) == (5, 3)
    assert (c.torch_forward, c.torch_forward_calls) == (4, 2)
    assert c.torch_backward == 3 + 4 * 3 and c.torch_backward_calls == 2
    assert c.forward == 9 and c.backward == 15
    # everything is restored afterwards
    with count_passes(model) as c2:
        pass
    model.embed(imgs[:1])
    model.torch_module(model.input_tensor(list(imgs[:1])))
    assert c2.forward == 0 and c.forward == 9
    assert np.isfinite(model.embed(imgs[:1])).all()

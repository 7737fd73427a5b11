"""Count the model evaluations an explanation method really makes (test tooling).

Used by the tests and by :func:`xssab.testing.check_method` to check that a method's
``Explanation.forward_passes`` / ``backward_passes`` are what ran, not a restated constant.
``count_passes(model)`` is a context manager returning a :class:`PassCount` that counts,
while it is active,

* ``torch_forward``: images (batch rows) through ``model.torch_module`` (forward hook);
* ``torch_backward``: image gradients through it: rows of the gradient arriving at the
  module's output (full backward hook). A batched vector-Jacobian product
  (``torch.autograd.grad(..., is_grads_batched=True)``, i.e. vmap over the backward) runs
  the hook once with the unbatched shape, so each such call multiplies the rows by the
  number of cotangents it carries;
* ``ort_forward``: images through the model's ONNX Runtime session (a wrapper around
  ``session.run``: rows of the input fed);
* the number of calls of each kind (``*_calls``).

A "pass" is one image through the network, the unit ``Explanation.forward_passes`` /
``backward_passes`` report per pair: a batch of 2n images is 2n passes. Only the model's own
graph is counted (an extra head such as xCos's attention network is not the FR model).
While active it replaces ``torch.autograd.grad`` (to see batched VJPs) and the model's
ORT session by counting wrappers: not thread-safe, meant for tests.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch


@dataclass
class PassCount:
    torch_forward: int = 0
    torch_backward: int = 0
    ort_forward: int = 0
    torch_forward_calls: int = 0
    torch_backward_calls: int = 0
    ort_calls: int = 0
    _vmap_factor: int = 1

    @property
    def forward(self) -> int:
        """Forward passes through either engine (torch import or ONNX Runtime)."""
        return self.torch_forward + self.ort_forward

    @property
    def backward(self) -> int:
        return self.torch_backward


class _CountingSession:
    """Wraps an ``onnxruntime.InferenceSession``: counts the rows fed to ``run``."""

    def __init__(self, session, count: PassCount):
        self._inner = session
        self._count = count

    def run(self, output_names, input_feed, *args, **kwargs):
        first = next(iter(input_feed.values()))
        self._count.ort_forward += int(first.shape[0])
        self._count.ort_calls += 1
        return self._inner.run(output_names, input_feed, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _rows(out) -> int:
    if isinstance(out, dict):
        out = next(iter(out.values()))
    if isinstance(out, (tuple, list)):
        out = out[0]
    return int(out.shape[0])


@contextlib.contextmanager
def count_passes(model):
    """Count the real forward/backward passes of ``model`` (a loaded FaceModel)."""
    count = PassCount()
    try:
        module = model.torch_module
    except Exception:  # no torch import of this graph: only ONNX Runtime can run
        module = None
    real_grad = torch.autograd.grad

    def forward_hook(_mod, inputs, _out):
        count.torch_forward += int(inputs[0].shape[0])
        count.torch_forward_calls += 1

    def backward_hook(_mod, _grad_in, grad_out):
        count.torch_backward += _rows(grad_out) * count._vmap_factor
        count.torch_backward_calls += 1

    def counting_grad(outputs, inputs, grad_outputs=None, *args, **kwargs):
        factor = 1
        if kwargs.get("is_grads_batched") and grad_outputs is not None:
            first = grad_outputs
            while isinstance(first, (tuple, list)):
                first = first[0]
            factor = int(first.shape[0])
        count._vmap_factor = factor
        try:
            return real_grad(outputs, inputs, grad_outputs, *args, **kwargs)
        finally:
            count._vmap_factor = 1

    handles = [] if module is None else [module.register_forward_hook(forward_hook),
                                         module.register_full_backward_hook(backward_hook)]
    session = model._session
    model._session = _CountingSession(session, count)
    torch.autograd.grad = counting_grad
    try:
        yield count
    finally:
        torch.autograd.grad = real_grad
        model._session = session
        for h in handles:
            h.remove()

"""Conformance suite for explanation methods: :func:`check_method`.

A plugin author's test is one line::

    from xssab.testing import check_method
    check_method(MyMethod(), xssab.load_model("my-model"))

It raises :class:`AssertionError` whose message starts with the name of the broken rule
(``[shape] ...``). The rules, in the order they are checked:

``interface``        ``name`` and ``description`` are non-empty strings, ``Options`` is a
                     dataclass deriving from :class:`xssab.MethodOptions`, ``supports(model)``
                     returns ``None`` (or a one-line reason: then nothing else is checked
                     and the reason is raised as ``[supports]``).
``input-check``      unequal list lengths and an unknown ``sides`` raise :class:`XssabError`;
                     no pairs give ``[]``.
``result``           one :class:`xssab.Explanation` per pair, ``method`` = the method's name,
                     a finite similarity in [-1, 1], ``threshold`` = the one given,
                     ``match == (similarity >= threshold)``, pass counts >= 0.
``shape``            three maps per explained image, each at that image's own (H, W),
                     also for odd sizes (e.g. 97 x 83) and a gray image.
``dtype``            every map is a finite float32 numpy array.
``passes``           the reported ``forward_passes`` / ``backward_passes``, summed over the
                     pairs of a call, equal the passes that ran (``sides="both"`` and
                     ``"a"``): images through the model's ONNX Runtime session and its
                     torch import, and image gradients through the torch import, counted
                     by :func:`count_passes`. Only the model's own network counts (an
                     extra head such as an attention network does not). Checked when
                     ``model`` is a model loaded by :func:`xssab.load_model`.
``determinism``      the same call twice gives the same result.
``batched``          explaining the pairs in one call equals explaining them one by one
                     (a method whose maps depend on the pair's index takes an
                     ``index_offset`` option; the one-by-one calls set it).
``no-state``         a call on other pairs in between changes nothing.
``sides``            ``sides="a"``: ``b`` is ``None`` and ``a`` equals the ``"both"`` maps.

Maps are compared with a tolerance of ``1e-3 * max|map|`` (batch sizes change the order
of floating-point sums in the model); similarities with ``1e-4``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .errors import XssabError
from .explain.base import Explanation, MethodOptions
from .explain.passes import PassCount, count_passes

MAP_FIELDS = ("positive", "negative", "combined")
RULES = ("interface", "supports", "input-check", "result", "shape", "dtype", "passes",
         "determinism", "batched", "no-state", "sides")


def _fail(rule: str, msg: str) -> AssertionError:
    return AssertionError(f"[{rule}] {msg}")


def _probe_images(seed: int, sizes) -> list[np.ndarray]:
    """Smooth random uint8 RGB images of the given (H, W) sizes (face-like statistics are
    not needed: the rules are about shapes, numbers and state)."""
    from .models.preprocess import probe_images

    out = []
    for i, (h, w) in enumerate(sizes):
        out.append(probe_images(1, (h, w), seed=seed + i)[0])
    return out


def _options(method, options: Any, **changes) -> Any:
    opts_cls = method.Options
    if options is None:
        opts = opts_cls()
    elif isinstance(options, dict):
        opts = opts_cls(**options)
    else:
        opts = options
    fields = {f.name for f in dataclasses.fields(opts)}
    return dataclasses.replace(opts, **{k: v for k, v in changes.items() if k in fields})


def _call(method, model, a, b, threshold, opts, sides="both") -> list:
    from .align.faces import images_as_given

    with images_as_given():  # as xssab.explain_pairs runs methods: images are crops
        return method.explain_pairs(model, a, b, threshold, opts, sides=sides)


def _counted_call(method, model, a, b, threshold, opts, sides="both"):
    """``(results, PassCount or None)``: None when the model is not a loaded FaceModel."""
    from .models.model import FaceModel

    if not isinstance(model, FaceModel):
        return _call(method, model, a, b, threshold, opts, sides=sides), None
    with count_passes(model) as count:
        res = _call(method, model, a, b, threshold, opts, sides=sides)
    return res, count


def _check_passes(name: str, results: list, count: PassCount | None, sides: str) -> None:
    if count is None:
        return
    fwd = sum(int(r.forward_passes) for r in results)
    bwd = sum(int(r.backward_passes) for r in results)
    if (fwd, bwd) != (count.forward, count.backward):
        raise _fail("passes", f"{name} (sides={sides!r}, {len(results)} pairs): reported "
                    f"{fwd} forward / {bwd} backward passes, counted {count.forward} forward "
                    f"({count.torch_forward} torch, {count.ort_forward} ONNX Runtime) / "
                    f"{count.backward} backward")


def _check_maps(maps, hw, what: str) -> None:
    if maps is None:
        raise _fail("shape", f"{what}: no maps (None)")
    for field in MAP_FIELDS:
        m = getattr(maps, field, None)
        if not isinstance(m, np.ndarray):
            raise _fail("dtype", f"{what}.{field} is {type(m).__name__}, not a numpy array")
        if m.shape != tuple(hw):
            raise _fail("shape", f"{what}.{field} has shape {m.shape}, expected the image's "
                        f"size {tuple(hw)}")
        if m.dtype != np.float32:
            raise _fail("dtype", f"{what}.{field} has dtype {m.dtype}, expected float32")
        if not np.all(np.isfinite(m)):
            raise _fail("dtype", f"{what}.{field} has non-finite values")


def _close_maps(rule: str, r1: Explanation, r2: Explanation, what: str,
                sides=("a", "b")) -> None:
    if abs(float(r1.similarity) - float(r2.similarity)) > 1e-4:
        raise _fail(rule, f"{what}: similarity {r1.similarity!r} != {r2.similarity!r}")
    for side in sides:
        m1, m2 = getattr(r1, side), getattr(r2, side)
        if (m1 is None) != (m2 is None):
            raise _fail(rule, f"{what}: maps of side {side} present in one result only")
        if m1 is None:
            continue
        for field in MAP_FIELDS:
            x, y = np.asarray(getattr(m1, field)), np.asarray(getattr(m2, field))
            if x.shape != y.shape:
                raise _fail(rule, f"{what}: {side}.{field} shapes {x.shape} != {y.shape}")
            scale = float(np.max(np.abs(x))) if x.size else 0.0
            diff = float(np.max(np.abs(x - y))) if x.size else 0.0
            if diff > 1e-3 * scale + 1e-7:
                raise _fail(rule, f"{what}: {side}.{field} differs by {diff:.3g} "
                            f"(max |map| {scale:.3g})")


def check_method(method: Any, model: Any, *, options: Any = None,
                 threshold: float = 0.3, seed: int = 0) -> None:
    """Run the conformance rules on ``method`` with ``model``; ``AssertionError`` naming the
    first broken rule (see the module docstring), ``None`` when all hold.

    ``options``: a ``method.Options`` instance or a dict of its fields (small values keep
    the check fast); ``threshold``: the decision threshold passed to every call.
    """
    # -- interface
    name = getattr(method, "name", None)
    if not isinstance(name, str) or not name:
        raise _fail("interface", f"method.name must be a non-empty string, got {name!r}")
    desc = getattr(method, "description", None)
    if not isinstance(desc, str) or not desc.strip():
        raise _fail("interface", f"{name}: description must be a non-empty string")
    opts_cls = getattr(method, "Options", None)
    if not (isinstance(opts_cls, type) and dataclasses.is_dataclass(opts_cls)
            and issubclass(opts_cls, MethodOptions)):
        raise _fail("interface", f"{name}: Options must be a dataclass deriving from "
                    "xssab.MethodOptions")
    for attr in ("explain_pairs", "supports"):
        if not callable(getattr(method, attr, None)):
            raise _fail("interface", f"{name}: has no {attr}() method")
    try:
        opts = _options(method, options, seed=seed)
    except TypeError as exc:
        raise _fail("interface", f"{name}: options {options!r} rejected: {exc}") from None
    reason = method.supports(model)
    if reason is not None:
        if not isinstance(reason, str):
            raise _fail("interface", f"{name}: supports() must return None or a str, got "
                        f"{reason!r}")
        raise _fail("supports", f"{name} does not support this model: {reason}")

    t = float(threshold)
    imgs = _probe_images(1000 + seed, [(112, 112), (97, 83), (130, 121), (112, 112)])
    imgs_b = _probe_images(2000 + seed, [(112, 112), (120, 101), (89, 111), (112, 112)])
    imgs_b[2] = np.ascontiguousarray(imgs_b[2].mean(axis=2).astype(np.uint8))  # gray
    a3, b3 = imgs[:3], imgs_b[:3]

    # -- input-check
    for bad, why in (((a3[:2], b3[:1], "both"), "lists of different lengths"),
                     ((a3[:1], b3[:1], "bogus"), "sides='bogus'")):
        try:
            _call(method, model, bad[0], bad[1], t, opts, sides=bad[2])
        except XssabError:
            pass
        except Exception as exc:  # noqa: BLE001 - the rule is about the error type
            raise _fail("input-check", f"{name}: {why} raised {type(exc).__name__} "
                        f"({exc}), expected a one-line xssab.XssabError") from None
        else:
            raise _fail("input-check", f"{name}: {why} was accepted; expected XssabError")
    empty = _call(method, model, [], [], t, opts)
    if not isinstance(empty, list) or empty:
        raise _fail("input-check", f"{name}: no pairs must give [], got {empty!r}")

    # -- result, shape, dtype on a batch with odd sizes and a gray image
    batch, counted = _counted_call(method, model, a3, b3, t, opts)
    if not isinstance(batch, list) or len(batch) != len(a3):
        raise _fail("result", f"{name}: expected a list of {len(a3)} Explanations, got "
                    f"{type(batch).__name__} of length {len(batch) if hasattr(batch, '__len__') else '?'}")
    for i, r in enumerate(batch):
        what = f"{name} pair {i}"
        if not isinstance(r, Explanation):
            raise _fail("result", f"{what}: {type(r).__name__} is not an xssab.Explanation")
        if r.method != name:
            raise _fail("result", f"{what}: method {r.method!r}, expected {name!r}")
        s = float(r.similarity)
        if not np.isfinite(s) or not -1.0 - 1e-5 <= s <= 1.0 + 1e-5:
            raise _fail("result", f"{what}: similarity {s!r} is not a cosine in [-1, 1]")
        if abs(float(r.threshold) - t) > 1e-9:
            raise _fail("result", f"{what}: threshold {r.threshold!r}, expected {t!r}")
        if bool(r.match) != (s >= float(r.threshold)):
            raise _fail("result", f"{what}: match={r.match} but similarity {s:.4f} vs "
                        f"threshold {r.threshold:.4f}")
        if r.forward_passes < 0 or r.backward_passes < 0:
            raise _fail("result", f"{what}: negative pass counts")
        _check_maps(r.a, a3[i].shape[:2], f"{what} a")
        _check_maps(r.b, b3[i].shape[:2], f"{what} b")
    _check_passes(name, batch, counted, "both")

    # -- determinism
    again = _call(method, model, a3, b3, t, opts)
    for i in range(len(a3)):
        _close_maps("determinism", batch[i], again[i], f"{name} pair {i}, same call twice")
    # -- batched == one by one
    for i in range(len(a3)):
        (one,) = _call(method, model, a3[i:i + 1], b3[i:i + 1], t,
                       _options(method, opts, index_offset=i))
        _close_maps("batched", batch[i], one, f"{name} pair {i} alone vs in a batch of "
                    f"{len(a3)}")

    # -- no state
    _call(method, model, imgs[3:], imgs_b[3:], t, _options(method, opts, seed=seed + 1))
    after = _call(method, model, a3, b3, t, opts)
    for i in range(len(a3)):
        _close_maps("no-state", batch[i], after[i], f"{name} pair {i}, after a call on "
                    "other pairs with another seed")

    # -- sides="a"
    only_a, counted_a = _counted_call(method, model, a3, b3, t, opts, sides="a")
    if not isinstance(only_a, list) or len(only_a) != len(a3):
        raise _fail("sides", f"{name}: sides='a' must give one Explanation per pair")
    for i, r in enumerate(only_a):
        if r.b is not None:
            raise _fail("sides", f"{name} pair {i}: sides='a' returned maps for b")
        _check_maps(r.a, a3[i].shape[:2], f"{name} pair {i} a (sides='a')")
        _close_maps("sides", batch[i], r, f"{name} pair {i}, sides='a' vs 'both'",
                    sides=("a",))
    _check_passes(name, only_a, counted_a, "a")


__all__ = ["RULES", "PassCount", "check_method", "count_passes"]

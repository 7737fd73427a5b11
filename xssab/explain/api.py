"""``xssab.explain`` / ``xssab.explain_pairs``: validate, resolve the threshold, dispatch.

Every registered explanation method is reachable by name (``method=``); xSSAB is the
default. Images are uint8 arrays: RGB (H, W, 3), or gray (H, W) / (H, W, 1), or RGBA
(H, W, 4); sizes may differ between images, and each image's maps come back at its size.

Raw photos: with ``align="auto"`` (default) an image whose size differs from the model's
input is detected and aligned (:mod:`xssab.align`) before the method runs; its maps are
then warped back onto the photo (NaN outside the aligned crop), the crop-sized maps and the
:class:`~xssab.align.Alignment` are kept in ``extras["alignment_a"|"alignment_b"]`` and the
chosen face's box / landmarks / score in ``extras["face_a"|"face_b"]`` (plain dicts).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from typing import Any, Sequence

import numpy as np

from ..errors import XssabError
from ..kit import (check_image, check_pairs, model_name as _model_name,  # noqa: F401
                   normalize_device, resolve_threshold)


def _get_method(method: Any):
    if isinstance(method, str):
        from ..registry import get_explainer

        return get_explainer(method)
    if hasattr(method, "explain_pairs"):
        return method
    raise XssabError(f"method must be a registered method name, got {method!r}")


def build_options(impl: Any, options: Any) -> Any:
    """``options`` as the method's ``Options`` instance (a dict is converted; an unknown key
    is a one-line XssabError listing the valid keys, with a suggestion)."""
    opts_cls = getattr(impl, "Options", None)
    if isinstance(options, dict):
        if opts_cls is None:
            raise XssabError(f"method {impl.name!r} takes no options")
        valid = [f.name for f in dataclasses.fields(opts_cls)] \
            if dataclasses.is_dataclass(opts_cls) else []
        unknown = [k for k in options if valid and k not in valid]
        if unknown:
            hints = []
            for k in unknown:
                close = difflib.get_close_matches(k, valid, n=1)
                hints.append(f"{k!r}" + (f" (did you mean {close[0]}?)" if close else ""))
            raise XssabError(f"unknown option{'s' if len(unknown) > 1 else ''} "
                             f"{', '.join(hints)} for method {impl.name!r}; valid keys: "
                             f"{', '.join(valid)}")
        try:
            return opts_cls(**options)
        except TypeError as exc:
            raise XssabError(f"bad options for method {impl.name!r}: {exc}") from None
    if options is not None and opts_cls is not None and not isinstance(options, opts_cls):
        raise XssabError(f"options for method {impl.name!r} must be {opts_cls.__name__} or a "
                         f"dict, got {type(options).__name__}")
    return options
def _attach_alignment(res, side: str, info) -> None:
    """Keep the crop maps, put photo-sized maps in their place, record the face."""
    from .base import ImageMaps

    if info is None:
        return
    crop_maps = getattr(res, side)
    if crop_maps is None:
        return
    info.crop_maps = crop_maps
    setattr(res, side, ImageMaps(*(info.to_photo(m) for m in (
        crop_maps.positive, crop_maps.negative, crop_maps.combined))))
    res.extras[f"alignment_{side}"] = info
    res.extras[f"face_{side}"] = info.summary()


def explain_pairs(model, images_a: Sequence[np.ndarray], images_b: Sequence[np.ndarray],
                  threshold: float | None = None, *, method: Any = "xssab",
                  options: Any = None, device: str | None = None,
                  sides: str = "both", align: Any = "auto", face_index: int | None = None,
                  detector: Any = None, labels_a: Sequence[str] | None = None,
                  labels_b: Sequence[str] | None = None) -> list:
    """Explain every pair ``(images_a[i], images_b[i])``; one Explanation per pair.

    ``align``: "auto" (photos not of the model's input size are detected and aligned),
    True (always) or False (resize as given); ``face_index``: which face (0 = largest);
    ``detector``: a registered detector name (default "mtcnn") or object."""
    list_a, list_b = check_pairs(images_a, images_b, sides)
    if device is not None:
        device = normalize_device(device)
    impl = _get_method(method)
    reason = impl.supports(model)
    if reason:
        raise XssabError(f"method {impl.name!r} cannot explain model {_model_name(model)!r}: "
                         f"{reason}")
    options = build_options(impl, options)
    seed = getattr(options, "seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise XssabError(f"seed must be a non-negative integer, got {seed!r}")
    t = resolve_threshold(model, threshold)
    if not list_a:
        return []
    infos_a = infos_b = [None] * len(list_a)
    input_size = getattr(model, "input_size", None)
    if input_size is not None:
        from ..align.faces import align_images, model_template

        kw = dict(align=align, face_index=face_index, detector=detector,
                  template=model_template(model))  # one batched detection for A and B
        n = len(list_a)
        labels = list(labels_a or [f"images_a[{i}]" for i in range(n)]) + list(
            labels_b or [f"images_b[{i}]" for i in range(n)])
        crops, infos = align_images(list_a + list_b, input_size, labels=labels, **kw)
        list_a, list_b, infos_a, infos_b = crops[:n], crops[n:], infos[:n], infos[n:]
    from ..align.faces import images_as_given

    with images_as_given():  # the method's model.embed(...) must not detect again
        results = impl.explain_pairs(model, list_a, list_b, t, options, sides=sides,
                                     device=device)
    for res, ia, ib in zip(results, infos_a, infos_b):
        _attach_alignment(res, "a", ia)
        _attach_alignment(res, "b", ib)
    for i, res in enumerate(results):
        sim = getattr(res, "similarity", 0.0)
        if isinstance(sim, (int, float, np.floating)) and not math.isfinite(float(sim)):
            raise XssabError(f"pair {i}: method {impl.name!r} got a non-finite similarity "
                             f"({sim}) from model {_model_name(model)!r} (NaN/Inf embedding, "
                             "e.g. on a black image); no decision is possible")
    return results


def explain(model, image_a: np.ndarray, image_b: np.ndarray, threshold: float | None = None,
            *, method: Any = "xssab", options: Any = None, device: str | None = None,
            align: Any = "auto", face_index: int | None = None, detector: Any = None,
            labels: tuple[str, str] = ("image_a", "image_b")):
    """Explain one pair; maps for both images at their own sizes (see
    :func:`explain_pairs`; ``labels`` name the images in a no-face error)."""
    a = check_image(image_a, "image_a")
    b = check_image(image_b, "image_b")
    return explain_pairs(model, [a], [b], threshold, method=method, options=options,
                         device=device, sides="both", align=align, face_index=face_index,
                         detector=detector, labels_a=[labels[0]], labels_b=[labels[1]])[0]

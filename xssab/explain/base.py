"""The one interface every explanation method follows (xSSAB and the baselines alike)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, Sequence, runtime_checkable

import numpy as np


@dataclass
class ImageMaps:
    """Maps for one image, float32 (H, W) at the size of the image the user passed.

    ``positive``: regions arguing for a match (similar), ``negative``: regions arguing
    against (dissimilar), ``combined``: one signed map, high = similar, low = dissimilar.
    The decision-based replacement protocol ranks pixels by ``combined``.
    """

    positive: np.ndarray
    negative: np.ndarray
    combined: np.ndarray


@dataclass(repr=False)
class Explanation:
    """Result of explaining one pair with one method."""

    method: str
    similarity: float
    threshold: float
    match: bool
    a: ImageMaps
    #: maps of the second image; ``None`` when only the first image was explained
    b: ImageMaps | None
    #: model evaluations used for this pair: forward and backward passes
    forward_passes: int = 0
    backward_passes: int = 0
    #: method-specific extras (e.g. xCos patch cosine / attention grids, x-face confidence);
    #: for photos that were detected and aligned, ``xssab.explain_pairs`` adds ``face_a`` /
    #: ``face_b`` (box, landmarks, score: plain dicts) and ``alignment_a`` / ``alignment_b``
    #: (:class:`xssab.align.Alignment`, with the crop and the crop-sized maps)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def evaluations(self) -> int:
        return int(self.forward_passes + self.backward_passes)

    def __repr__(self) -> str:
        """One line, no arrays: method, similarity, threshold, decision, map sizes."""
        def size(m: ImageMaps | None) -> str:
            if m is None:
                return "None"
            h, w = np.shape(m.combined)[:2]
            return f"{h}x{w}"

        return (f"Explanation(method={self.method!r}, similarity={float(self.similarity):.4f},"
                f" threshold={float(self.threshold):.4f}, match={bool(self.match)}, "
                f"a={size(self.a)}, b={size(self.b)}, passes={self.forward_passes}f+"
                f"{self.backward_passes}b)")


@dataclass
class MethodOptions:
    """Base of every method's typed options. ``seed`` makes random methods reproducible."""

    seed: int = 0


@runtime_checkable
class ExplanationMethod(Protocol):
    """What a plugin registers with ``register_explainers``.

    ``explain_pairs`` gets uint8 RGB images (each (H, W, 3), sizes may differ), one
    threshold per call, and returns one :class:`Explanation` per pair, with maps at each
    image's own size. ``sides="a"`` explains only the first image of each pair (the
    patched-benchmark protocol); ``sides="both"`` explains both.
    Methods keep no state between calls.
    """

    name: ClassVar[str] | str
    Options: ClassVar[type[MethodOptions]]
    description: ClassVar[str] | str

    def explain_pairs(
        self,
        model: Any,
        images_a: Sequence[np.ndarray],
        images_b: Sequence[np.ndarray],
        threshold: float,
        options: MethodOptions | None = None,
        *,
        sides: str = "both",
        device: str | None = None,
    ) -> list[Explanation]: ...

    def supports(self, model: Any) -> str | None:
        """``None`` if the method works with ``model``, else a one-line reason."""
        ...

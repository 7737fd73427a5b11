"""First-party plugin: xCos (Lin et al., arXiv 2003.05383), see plugins/README.md.

Registers the comparator ``xcos`` (the xCos score) and the explanation method ``xcos``
(the patch-cosine map and the attention map, upsampled to the image).
"""

from __future__ import annotations

import xssab

from .method import XCos, XCosComparator, XCosOptions, xcos_grids

__all__ = ["XCos", "XCosComparator", "XCosOptions", "xcos_grids"]


@xssab.hookimpl
def register_explainers(register):
    register(XCos())


@xssab.hookimpl
def register_comparators(register):
    register(XCosComparator())

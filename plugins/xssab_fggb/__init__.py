"""First-party plugin: FGGB (Lu, Xu, Ebrahimi, FG 2024), see plugins/README.md."""

from __future__ import annotations

import xssab

from .method import FGGB, FGGBOptions

__all__ = ["FGGB", "FGGBOptions"]


@xssab.hookimpl
def register_explainers(register):
    register(FGGB())

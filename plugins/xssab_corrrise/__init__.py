"""First-party plugin: CorrRISE (Lu, Xu, Ebrahimi, WACV 2024), see plugins/README.md."""

from __future__ import annotations

import xssab

from .method import CorrRISE, CorrRISEOptions, make_masks, rank_correlation_maps

__all__ = ["CorrRISE", "CorrRISEOptions", "make_masks", "rank_correlation_maps"]


@xssab.hookimpl
def register_explainers(register):
    register(CorrRISE())

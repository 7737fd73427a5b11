"""First-party plugin: Grad-CAM and Grad-CAM++ on the similarity score (see method.py)."""

from __future__ import annotations

import xssab

from .method import GradCam, GradCamOptions, GradCamPlusPlus

__all__ = ["GradCam", "GradCamPlusPlus", "GradCamOptions"]


@xssab.hookimpl
def register_explainers(register):
    register(GradCam())
    register(GradCamPlusPlus())

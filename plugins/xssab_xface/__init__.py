"""First-party plugin: x-face (Knoche et al., WACV-W 2023), see plugins/README.md.

Registers the explanation method ``xface`` (systematic occlusion of both images, faithful
to the public code by default) and offers the x-face confidence score
(:func:`calibrate_confidence`, :class:`ConfidenceModel`; on the command line
``xssab xface-calibrate``, added through the ``register_commands`` hook).
"""

from __future__ import annotations

import xssab

from .confidence import ConfidenceModel, calibrate_confidence, load_confidence
from .method import XFace, XFaceOptions

__all__ = ["ConfidenceModel", "XFace", "XFaceOptions", "calibrate_confidence",
           "load_confidence"]


@xssab.hookimpl
def register_explainers(register):
    register(XFace())


@xssab.hookimpl
def register_commands(subparsers):
    from .command import add_command

    add_command(subparsers)

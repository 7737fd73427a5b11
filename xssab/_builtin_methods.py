"""Built-in explanation methods, registered through the same hook as third-party ones."""

from __future__ import annotations

from .hookspecs import hookimpl


@hookimpl
def register_explainers(register):
    from .explain.random_baseline import RandomMethod
    from .explain.xssab import (XssabDecisionMap, XssabGradInput, XssabIntGrad, XssabMethod,
                                XssabSmoothGrad)

    register(XssabMethod())
    for variant in (XssabSmoothGrad, XssabGradInput, XssabIntGrad, XssabDecisionMap):
        register(variant())
    register(RandomMethod())

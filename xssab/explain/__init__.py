"""Explanation methods: the shared interface (base), the xSSAB engine, map helpers."""

from .base import Explanation, ExplanationMethod, ImageMaps, MethodOptions

__all__ = ["Explanation", "ExplanationMethod", "ImageMaps", "MethodOptions"]

"""The ``align=`` option shared by the folder-based datasets (lfw, folder)."""

from __future__ import annotations

from ..errors import DatasetError


def aligned_cache(dataset_id: str, align, crop, detector, align_size, source=None):
    """The dataset's :class:`~xssab.align.cache.AlignedCache` when ``align`` is on;
    ``source(key)``: the raw image file whose bytes key the cached crop."""
    if align in (False, None, "off", "0", 0, "false"):
        return None
    if align not in (True, "on", "1", 1, "true"):
        raise DatasetError(f"align must be true or false, got {align!r}")
    if crop is not None:
        raise DatasetError("pass either crop= (centre crop) or align=true (detect and "
                           "align), not both")
    from ..align.cache import AlignedCache

    try:
        size = int(align_size)
    except (TypeError, ValueError):
        raise DatasetError(f"align_size must be a number, got {align_size!r}") from None
    if size < 16:
        raise DatasetError(f"align_size must be at least 16, got {size}")
    return AlignedCache(dataset_id, size, detector, source=source)

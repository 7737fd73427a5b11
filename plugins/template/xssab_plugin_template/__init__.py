"""A template xssab plugin: registers the model card ``template-tiny`` and the explanation
method ``template-gradient`` through the same hooks as xssab's built-ins.

Copy this package, rename it, and replace the card and method with your own.
"""

from __future__ import annotations

from pathlib import Path

import xssab

from .method import TemplateGradient

__version__ = "0.1.0"
HERE = Path(__file__).resolve().parent
MODEL_FILE = "tiny.onnx"


@xssab.hookimpl
def register_models(register):
    register(xssab.ModelCard(
        name="template-tiny",
        path=MODEL_FILE,            # relative paths resolve against base_dir
        base_dir=str(HERE),
        file_name=MODEL_FILE,
        input_size=(112, 112),
        channel_order="rgb",
        mean=127.5,
        std=127.5,
        embedding_size=32,
        threshold=0.5,              # placeholder: random weights, not calibrated
        threshold_dataset="none (placeholder)",
        licence="MIT",
        source="built by make_model.py in this package (random weights)",
        how_to_obtain="shipped inside the xssab-plugin-template package; rebuild with "
                      "`python -m xssab_plugin_template.make_model`",
        description="tiny random conv net (template plugin demo, not a face model)",
    ))


@xssab.hookimpl
def register_explainers(register):
    register(TemplateGradient())

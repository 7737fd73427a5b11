"""Built-in face detectors: MTCNN (shipped, offline, the default) and the InsightFace SCRFD
cards in ``xssab_zoo/detectors/*.toml`` (weights fetched on demand), registered through the
same ``register_detectors`` hook as third-party plugins."""

from __future__ import annotations

from .hookspecs import hookimpl


def load_detector_cards():
    from .align.mtcnn import zoo_detectors_dir
    from .models.card import ModelCard

    return [ModelCard.from_toml(p) for p in sorted(zoo_detectors_dir().glob("*.toml"))]


@hookimpl
def register_detectors(register):
    from .align.mtcnn import MtcnnDetector
    from .align.scrfd import ScrfdDetector

    register(MtcnnDetector())
    for card in load_detector_cards():
        if card.extra.get("kind") == "scrfd":
            register(ScrfdDetector(card))

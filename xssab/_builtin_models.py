"""Built-in model cards (model_zoo/cards/*.toml, installed as ``xssab_zoo``), registered
through the same hook as third-party plugins."""

from __future__ import annotations

from pathlib import Path

from .hookspecs import hookimpl


def zoo_cards_dir() -> Path:
    try:
        import xssab_zoo
    except ModuleNotFoundError:  # running from a source tree that is not installed
        return Path(__file__).resolve().parent.parent / "model_zoo" / "cards"
    return Path(xssab_zoo.__file__).resolve().parent / "cards"


def load_zoo_cards():
    from .models.card import ModelCard

    return [ModelCard.from_toml(p) for p in sorted(zoo_cards_dir().glob("*.toml"))]


@hookimpl
def register_models(register):
    for card in load_zoo_cards():
        register(card)

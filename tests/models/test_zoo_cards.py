"""The published-model cards: complete, honest (no invented checksums), loadable data."""

from __future__ import annotations

import re

import xssab
from xssab._builtin_models import load_zoo_cards

PUBLISHED = {"arcface": "rgb", "arcface-r100": "rgb", "arcface-mbf": "rgb",
             "elasticface-arc": "rgb", "elasticface-cos": "rgb", "curricularface": "rgb",
             "adaface": "bgr", "mobilefacenet": "rgb"}


def test_published_cards_registered_with_facts():
    cards = {n: xssab.get_card(n) for n in xssab.list_models()}
    for name, order in PUBLISHED.items():
        c = cards[name]
        assert c.channel_order == order, name
        assert c.plugin == "xssab._builtin_models"
        assert c.file_name and c.file_name.endswith(".onnx")
        assert c.source and c.licence and c.how_to_obtain
        assert c.input_size == (112, 112)
        assert c.sha256 == "" or re.fullmatch(r"[0-9a-f]{64}", c.sha256)
        assert c.path is None  # published weights are never shipped or substituted
    assert cards["curricularface"].feature_output == 1
    assert cards["adaface"].embedding_output == 0


def test_zoo_cards_parse_from_package_data():
    names = {c.name for c in load_zoo_cards()}
    assert set(PUBLISHED) <= names
    for c in load_zoo_cards():
        if c.path:  # synth-* cards ship their ONNX file next to the card folder
            from xssab.models.cache import card_local_path

            assert card_local_path(c).is_file(), c.name

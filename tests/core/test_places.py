"""INSEE place codes by name, from the table core/data/places/build.py generates."""

from __future__ import annotations

import unicodedata

import pytest
from django.utils import translation

from core.places import TABLE, place_name
from providers.demodata.population import BIRTHPLACES


def _plain(name: str) -> str:
    # Spellings move between COG years (Viêt Nam, now Vietnam): accents and spaces aside.
    return "".join(c for c in unicodedata.normalize("NFD", name) if not unicodedata.combining(c) and c != " ").lower()


def test_every_birthplace_of_the_demo_population_has_its_name() -> None:
    # The demo's own list, typed from the COG, is an independent witness of the table.
    with translation.override("fr"):
        for code, label, _weight in BIRTHPLACES:
            name = _plain(str(place_name(code)))
            assert name == _plain(label) or name.startswith(_plain(label) + "("), code


@pytest.mark.parametrize(
    ("code", "french", "english"),
    [
        ("75056", "Paris", "Paris"),
        ("13201", "Marseille 1er Arrondissement", "Marseille 1er Arrondissement"),
        ("99100", "France", "France"),
        ("99109", "Allemagne", "Germany"),
        ("99350", "Maroc", "Morocco"),
    ],
)
def test_a_code_reads_in_the_page_s_language(code: str, french: str, english: str) -> None:
    with translation.override("fr"):
        assert place_name(code) == french
    with translation.override("en"):
        assert place_name(code) == english


def test_codes_are_read_whatever_the_case_and_spaces() -> None:
    assert place_name(" 2a004 ") == "Ajaccio"


def test_an_unknown_code_has_no_name() -> None:
    assert place_name("00000") is None and place_name("99999") is None


def test_the_table_says_where_it_comes_from() -> None:
    header = [line for line in TABLE.read_text(encoding="utf-8").splitlines()[:5] if line.startswith("#")]
    assert any("@etalab/decoupage-administratif" in line for line in header)
    assert any("build.py" in line for line in header)

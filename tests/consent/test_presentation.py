"""Attestation values as people read them, from the catalogue's field metadata."""

from __future__ import annotations

import pytest
from django.utils import translation

from consent.presentation import Shown, sentence, value_shown
from providers.demodata.catalogue import (
    ETUDIANT_BOURSIER,
    QUOTIENT_FAMILIAL,
    STATUT_DEMANDEUR_EMPLOI,
    STATUT_ETUDIANT,
)


def schema(spec_field: str, spec=QUOTIENT_FAMILIAL) -> dict:
    return spec.field(spec_field).json_schema()


@pytest.fixture(params=["fr", "en"])
def language(request: pytest.FixtureRequest):
    with translation.override(request.param):
        yield request.param


class TestValues:
    def test_it_writes_amounts_in_euros_with_grouping(self, language: str):
        text = value_shown(1234, schema("quotient_familial")).text
        assert text == {"fr": "1\xa0234\xa0€", "en": "€1,234"}[language]

    def test_it_names_months(self, language: str):
        assert value_shown(3, schema("mois")).text == {"fr": "Mars", "en": "March"}[language]

    def test_it_writes_dates_in_words(self, language: str):
        shown = value_shown("2015-03-07", schema("enfants")["items"]["properties"]["date_naissance"])
        assert shown.text == {"fr": "7 mars 2015", "en": "7 March 2015"}[language]

    def test_it_says_what_a_jobseeker_category_means(self, language: str):
        shown = value_shown(3, schema("code_categorie_inscription", STATUT_DEMANDEUR_EMPLOI)).text
        assert (
            shown
            == {
                "fr": "3 : sans emploi, disponible, cherchant un emploi temporaire ou saisonnier",
                "en": "3: unemployed, available, seeking temporary or seasonal work",
            }[language]
        )

    def test_it_turns_codes_into_names(self, language: str):
        assert (
            value_shown("CNAF", schema("fournisseur")).text
            == {
                "fr": "Caisse d'allocations familiales (CAF)",
                "en": "Family allowance fund (CAF)",
            }[language]
        )

    @pytest.mark.parametrize(
        ("code", "names"),
        [
            ("69123", {"fr": "Lyon", "en": "Lyon"}),
            ("2A004", {"fr": "Ajaccio", "en": "Ajaccio"}),
            # Communes sharing a name are told apart by their département.
            ("97411", {"fr": "Saint-Denis (La Réunion)", "en": "Saint-Denis (La Réunion)"}),
            ("99134", {"fr": "Espagne", "en": "Spain"}),
            ("99132", {"fr": "Royaume-Uni", "en": "United Kingdom"}),
        ],
    )
    def test_it_turns_insee_place_codes_into_names(self, language: str, code: str, names: dict[str, str]):
        assert value_shown(code, schema("code_cog_insee_commune", STATUT_ETUDIANT)).text == names[language]

    @pytest.mark.parametrize("code", ["00000", "99999", "2C001", ""])
    def test_an_unknown_place_code_reads_as_a_sentence_never_as_the_code(self, language: str, code: str):
        text = value_shown(code, schema("code_cog_insee_commune", STATUT_ETUDIANT)).text
        assert (
            text
            == {
                "fr": "Un lieu dont la passerelle ne connaît pas le nom",
                "en": "A place whose name the gateway does not know",
            }[language]
        )

    def test_it_shows_a_list_of_people_as_cards(self, language: str):
        children = [
            {"prenoms": "Léa Marie", "date_naissance": "2015-03-07", "sexe": "F"},
            {"prenoms": "Hugo", "date_naissance": "2018-11-30", "sexe": "M"},
        ]
        shown = value_shown(children, schema("enfants"))
        assert shown.text == ""
        first = dict(shown.cards[0])
        assert (
            first
            == {
                "fr": {"Prénoms": "Léa Marie", "Date de naissance": "7 mars 2015", "Sexe": "Féminin"},
                "en": {"Given names": "Léa Marie", "Date of birth": "7 March 2015", "Sex": "Female"},
            }[language]
        )
        assert len(shown.cards) == 2

    def test_an_object_with_a_code_beside_its_label_shows_the_label(self):
        with translation.override("fr"):
            shown = value_shown(
                {"code": "RF1", "libelle": "formation initiale"}, schema("regime_formation", STATUT_ETUDIANT)
            )
        assert shown == Shown(text="formation initiale")

    def test_an_object_becomes_one_card(self):
        with translation.override("en"):
            shown = value_shown(
                {"date_rentree": "2025-09-01", "duree": 10}, schema("periode_versement_bourse", ETUDIANT_BOURSIER)
            )
        assert shown.cards == ((("Start date", "1 September 2025"), ("Duration (months)", "10")),)

    def test_booleans_and_missing_values_read_as_words(self):
        with translation.override("en"):
            assert value_shown(True, {"type": "boolean"}).text == "Yes"
            assert value_shown(None, {"type": ["string", "null"]}).text == "Not provided"

    def test_a_schema_without_labels_still_reads_as_words(self):
        with translation.override("en"):
            shown = value_shown([{"nom_commune": "Lyon", "code_postal": "69001"}], {"type": "array"})
        assert shown.cards == ((("Nom commune", "Lyon"), ("Code postal", "69001")),)

    def test_lists_of_words_read_as_a_sentence(self):
        with translation.override("en"):
            assert sentence(["a", "b", "c"]) == "a, b and c"
        with translation.override("fr"):
            assert sentence(["a", "b"]) == "a et b"

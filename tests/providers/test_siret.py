from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.demodata.catalogue import ORGANISATIONS
from providers.siret import luhn_is_valid, siret_is_valid

# Luhn-valid SIRETs, and the sandbox organisations' fictional ones.
VALID = ["73282932000074", "13002526500013", *[org.siret for org in ORGANISATIONS]]


class TestSiret:
    @pytest.mark.parametrize("siret", VALID)
    def test_it_accepts_a_luhn_valid_siret(self, siret: str) -> None:
        assert siret_is_valid(siret)

    @pytest.mark.parametrize(
        "value",
        [
            "73282932000075",  # check digit off by one
            "7328293200007",  # 13 digits
            "732829320000740",  # 15 digits
            "7328293200007A",
            " 3282932000074",
            "",
            "٧٣٢٨٢٩٣٢٠٠٠٠٧٤",  # Arabic-Indic digits pass str.isdigit(), not the SIRET rule
        ],
    )
    def test_it_refuses_a_malformed_or_unchecked_siret(self, value: str) -> None:
        assert not siret_is_valid(value)

    def test_it_refuses_what_is_not_a_string(self) -> None:
        assert not siret_is_valid(73282932000074)  # type: ignore[arg-type]

    def test_it_applies_la_postes_sum_of_digits_rule_instead_of_luhn(self) -> None:
        la_poste = "35600000000015"  # digits sum to 20, not Luhn-valid
        assert not luhn_is_valid(la_poste)
        assert siret_is_valid(la_poste)
        assert not siret_is_valid("35600000000016")

    def test_it_holds_la_poste_to_its_rule_even_when_luhn_passes(self) -> None:
        luhn_only = "35600000000022"  # Luhn-valid, digits sum to 18
        assert luhn_is_valid(luhn_only)
        assert not siret_is_valid(luhn_only)

    def test_it_accepts_la_postes_head_office_which_predates_the_rule(self) -> None:
        head_office = "35600000000048"  # Luhn-valid, digits sum to 26
        assert siret_is_valid(head_office)

    @settings(max_examples=60, deadline=None)
    @given(position=st.integers(min_value=0, max_value=13), delta=st.integers(min_value=1, max_value=9))
    def test_it_detects_any_single_digit_error(self, position: int, delta: int) -> None:
        original = "73282932000074"
        digit = (int(original[position]) + delta) % 10
        altered = original[:position] + str(digit) + original[position + 1 :]
        assert not siret_is_valid(altered)

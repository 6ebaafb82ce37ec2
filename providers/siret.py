"""SIRET validation (14-digit French establishment identifier).

A SIRET is the 9-digit SIREN of the legal unit followed by a 5-digit establishment number (NIC);
the whole number carries a Luhn check digit. La Poste is the one documented exception: its
establishments outnumber what a Luhn-valid NIC range allows, so INSEE numbers them so that the sum
of the 14 digits is a multiple of 5 instead.
"""

from __future__ import annotations

LA_POSTE_SIREN = "356000000"
# La Poste's head office predates the rule: its SIRET passes Luhn, not the digit-sum check.
LA_POSTE_HEAD_OFFICE_SIRET = "35600000000048"


def luhn_is_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def luhn_complete(prefix: str) -> str:
    """`prefix` followed by the one digit that makes it Luhn-valid (synthetic SIREN and SIRET)."""
    return next(prefix + digit for digit in "0123456789" if luhn_is_valid(prefix + digit))


def siren_is_valid(value: str) -> bool:
    return isinstance(value, str) and len(value) == 9 and value.isascii() and value.isdigit() and luhn_is_valid(value)


def siret_is_valid(value: str) -> bool:
    # str.isdigit() accepts non-ASCII digits such as "٣"; a SIRET is ASCII only.
    if not isinstance(value, str) or len(value) != 14 or not value.isascii() or not value.isdigit():
        return False
    if value == LA_POSTE_HEAD_OFFICE_SIRET:
        return True
    if value.startswith(LA_POSTE_SIREN):
        return sum(ord(char) - 48 for char in value) % 5 == 0
    return luhn_is_valid(value)

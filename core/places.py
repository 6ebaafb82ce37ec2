"""Names of the INSEE codes of the Code officiel géographique (a commune, or a country as 99xxx),
for pages that must never show people a code. The table, core/data/places.tsv, is generated from
maintained sources by core/data/places/build.py (its README says which and how to refresh it)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.utils.translation import get_language

TABLE = Path(__file__).resolve().parent / "data" / "places.tsv"


@cache
def _names() -> dict[str, tuple[str, str]]:
    # About 37,000 codes, read on first use only (a few MB in the process that needs them).
    names: dict[str, tuple[str, str]] = {}
    with TABLE.open(encoding="utf-8") as table:
        for line in table:
            if line.startswith("#"):
                continue
            code, french, english = line.rstrip("\n").split("\t")
            names[code] = (french, english)
    return names


def place_name(code: str) -> str | None:
    """The commune's or the country's name in the active language (communes keep their French
    name), or None for a code the table does not know (a commune merged before the COG's year,
    a mistyped code)."""
    found = _names().get(code.strip().upper())
    if found is None:
        return None
    french, english = found
    return english if english and (get_language() or "").startswith("en") else french

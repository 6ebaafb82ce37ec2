"""Dates read in words, one way in each language, whichever named format a page asks for: no
07/12 a reader could take for 12 July, no month/day on English pages (core/formats)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.template import Context, Template
from django.utils import translation
from django.utils.formats import date_format

MOMENT = dt.datetime(2026, 12, 7, 20, 6, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))


@pytest.mark.parametrize(
    ("language", "day", "moment"),
    [("fr", "7 décembre 2026", "7 décembre 2026 à 20h06"), ("en", "7 December 2026", "7 December 2026 at 20:06")],
)
def test_every_named_format_reads_in_words(language: str, day: str, moment: str) -> None:
    with translation.override(language):
        assert date_format(MOMENT, "DATE_FORMAT") == date_format(MOMENT, "SHORT_DATE_FORMAT") == day
        assert date_format(MOMENT, "DATETIME_FORMAT") == date_format(MOMENT, "SHORT_DATETIME_FORMAT") == moment
        # A date with no format named, as a template shows it, reads the same way.
        assert Template("{{ moment }}|{{ moment.date }}").render(Context({"moment": MOMENT})) == f"{moment}|{day}"

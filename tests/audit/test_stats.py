"""Public statistics: daily succeeded exchanges, any count below 10 withheld."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import formats, timezone

from audit.models import EventType
from providers.models import Organisation

URL = "/api/v1/stats/exchanges"


@pytest.fixture
def exchanges(record: Callable[..., Any]) -> None:
    for _ in range(12):
        record(attestation_type="cnaf.quotient-familial")
    for _ in range(3):
        record(attestation_type="dgfip.avis-imposition", provider="13000000000000")
    record(EventType.EXCHANGE_DENIED, attestation_type="cnaf.quotient-familial")


@pytest.mark.usefixtures("exchanges")
class TestStats:
    def test_it_counts_per_day_type_consumer_and_provider_and_withholds_small_counts(self, client: Client) -> None:
        body = client.get(URL).json()

        rows = {row["attestation_type"]: row for row in body["results"]}
        assert rows["cnaf.quotient-familial"]["count"] == 12
        assert rows["cnaf.quotient-familial"]["suppressed"] is False
        assert rows["dgfip.avis-imposition"]["count"] is None
        assert rows["dgfip.avis-imposition"]["suppressed"] is True
        assert body["suppression_threshold"] == 10

    def test_csv_shows_withheld_counts_as_less_than_ten(self, client: Client) -> None:
        response = client.get(URL, {"format": "csv"})

        assert response["Content-Type"].startswith("text/csv")
        text = response.content.decode()
        assert ",12\n" in text and ",<10\n" in text and ",3\n" not in text

    def test_the_page_shows_the_same(self, client: Client) -> None:
        page = client.get("/statistiques/").content.decode()
        cells = re.findall(r"<td>\s*(.*?)\s*</td>", page)

        assert "12" in cells and "&lt;10" in cells and "3" not in cells

    @pytest.mark.parametrize("query", [{"until": "9999-12-31"}, {"until": "0001-01-10"}, {"since": "0001-01-01"}])
    def test_a_date_out_of_range_is_400_not_an_overflow(self, client: Client, query: dict[str, str]) -> None:
        response = client.get(URL, query)

        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"

    def test_a_bad_period_is_400(self, client: Client) -> None:
        response = client.get(URL, {"since": "2026-02-01", "until": "2026-01-01"})

        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"


def test_the_page_names_types_and_administrations_and_gives_dates_in_words(
    client: Client, record: Callable[..., Any], mairie: Organisation, cnaf: Organisation
) -> None:
    for _ in range(10):
        record(consumer=mairie.siret, provider=cnaf.siret)

    page = client.get("/statistiques/", headers={"Accept-Language": "fr"}).content.decode()

    cells = re.findall(r"<td>\s*(.*?)\s*</td>", page)
    assert "Quotient familial CAF / MSA" in cells and mairie.name in cells and cnaf.name in cells
    assert not {"cnaf.quotient-familial", mairie.siret, cnaf.siret} & set(cells)
    today = timezone.now().astimezone(dt.UTC).date()
    assert formats.date_format(today, "j F Y") in cells and today.isoformat() not in page

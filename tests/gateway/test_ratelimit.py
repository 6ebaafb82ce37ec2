"""Requests per minute per OAuth client, counted in Redis, 429 problem+json with Retry-After."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from django.test import Client

from consent.models import Citizen, Consent
from core.ratelimit import ratelimit_hit
from gateway.models import Exchange
from providers.models import Organisation
from tests.gateway.conftest import QF, Consumer, bearer

URL = f"/api/v1/attestations/{QF}"


class TestRateLimit:
    def test_it_answers_429_past_the_organisations_limit(
        self, client: Client, mairie_client: Consumer, alice: Citizen, make_consent: Callable[..., Consent]
    ) -> None:
        Organisation.objects.filter(pk=mairie_client.organisation.pk).update(rate_limit_per_minute=2)
        consent = make_consent(alice, mairie_client.organisation)
        token = mairie_client.token(client, f"attestations:{QF}")

        statuses = [client.get(f"{URL}?consent={consent.pk}", **bearer(token)).status_code for _ in range(2)]
        limited = client.get(f"{URL}?consent={consent.pk}", **bearer(token))

        assert statuses == [200, 200]
        assert limited.status_code == 429
        assert limited["Content-Type"] == "application/problem+json"
        assert limited.json()["code"] == "rate_limited"
        assert 1 <= int(limited["Retry-After"]) <= 60
        # Refused before any check: no exchange recorded for it.
        assert Exchange.objects.count() == 2

    def test_it_uses_the_default_and_counts_each_client_apart(
        self, client: Client, settings: Any, mairie: Organisation, make_consumer: Callable[..., Consumer]
    ) -> None:
        settings.RATE_LIMIT_PER_MINUTE = 1
        first, second = make_consumer(mairie), make_consumer(mairie)
        first_token, second_token = first.token(client, "consents:read"), second.token(client, "consents:read")

        assert (
            client.get("/api/v1/exchanges/00000000-0000-0000-0000-000000000000", **bearer(first_token)).status_code
            == 404
        )
        assert (
            client.get("/api/v1/exchanges/00000000-0000-0000-0000-000000000000", **bearer(first_token)).status_code
            == 429
        )
        assert (
            client.get("/api/v1/exchanges/00000000-0000-0000-0000-000000000000", **bearer(second_token)).status_code
            == 404
        )

    def test_the_window_tells_how_long_to_wait(self, db: None) -> None:
        client_id = secrets.token_hex(8)

        assert ratelimit_hit(client_id=client_id, limit=1, now=6000.0) is None
        assert ratelimit_hit(client_id=client_id, limit=1, now=6015.5) == 45
        # The next minute starts a new count.
        assert ratelimit_hit(client_id=client_id, limit=1, now=6060.0) is None

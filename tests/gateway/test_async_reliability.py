"""Asynchronous exchanges: nothing accepted is lost or run twice, nothing is handed over after the
consent stopped serving, and every hand-over is in the trail. (The same under a real broker outage
and a real killed worker: tests/faults/.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent, EventType
from consent.models import Citizen, Consent, HeldResult
from consent.services.lifecycle import consent_expire_if_due, consent_pause, consent_revoke
from gateway.models import Exchange
from gateway.services.async_exchanges import (
    RESUME_AFTER_SECONDS,
    claim_seconds,
    exchange_claim,
    exchange_run_pending,
    exchanges_resume_due,
)
from providers.models import Organisation
from tests.gateway.conftest import QF, Consumer, bearer, citizen_actor
from tests.gateway.test_async_exchange import submit


@pytest.fixture
def mairie_token(client: Client, mairie_client: Consumer) -> str:
    return mairie_client.token(client, f"attestations:{QF}")


@pytest.fixture
def alice_consent(alice: Citizen, mairie: Organisation, make_consent: Callable[..., Consent]) -> Consent:
    return make_consent(alice, mairie)


def accepted(client: Client, token: str, consent: Consent, capture: Any) -> Exchange:
    """An exchange accepted while its message goes nowhere (as with a broker that is down)."""
    with capture(execute=False):
        response = submit(client, token, consent)
    assert response.status_code == 202
    return Exchange.objects.get(pk=response.json()["exchange_id"])


def ran(client: Client, token: str, consent: Consent, capture: Any) -> str:
    """An exchange accepted and run (eagerly); returns where to collect it."""
    with capture(execute=True):
        response = submit(client, token, consent)
    assert Exchange.objects.get(pk=response.json()["exchange_id"]).status == Exchange.Status.SUCCEEDED
    return str(response["Location"])


class TestClaims:
    def test_only_one_of_two_runs_claims_an_exchange(
        self, client: Client, mairie_token: str, alice_consent: Consent, django_capture_on_commit_callbacks: Any
    ) -> None:
        exchange = accepted(client, mairie_token, alice_consent, django_capture_on_commit_callbacks)

        first = exchange_claim(exchange_id=exchange.pk)
        second = exchange_claim(exchange_id=exchange.pk)

        assert first is not None and first.pk == exchange.pk
        assert second is None
        exchange.refresh_from_db()
        assert exchange.claimed_until is not None
        assert exchange.claimed_until >= timezone.now() + dt.timedelta(seconds=claim_seconds() - 5)

    def test_a_run_skips_an_exchange_another_run_holds(
        self, client: Client, mairie_token: str, alice_consent: Consent, django_capture_on_commit_callbacks: Any
    ) -> None:
        exchange = accepted(client, mairie_token, alice_consent, django_capture_on_commit_callbacks)
        assert exchange_claim(exchange_id=exchange.pk) is not None

        exchange_run_pending(exchange_id=exchange.pk)

        exchange.refresh_from_db()
        assert exchange.status == Exchange.Status.PENDING
        assert not AuditEvent.objects.filter(exchange_id=exchange.pk).exists()
        alice_consent.refresh_from_db()
        assert alice_consent.uses == 0

    def test_an_expired_claim_is_taken_over_and_the_exchange_runs_once(
        self, client: Client, mairie_token: str, alice_consent: Consent, django_capture_on_commit_callbacks: Any
    ) -> None:
        exchange = accepted(client, mairie_token, alice_consent, django_capture_on_commit_callbacks)
        # A run that died holding the exchange: its claim has lapsed.
        Exchange.objects.filter(pk=exchange.pk).update(claimed_until=timezone.now() - dt.timedelta(seconds=1))

        exchange_run_pending(exchange_id=exchange.pk)
        exchange_run_pending(exchange_id=exchange.pk)

        exchange.refresh_from_db()
        assert exchange.status == Exchange.Status.SUCCEEDED
        assert AuditEvent.objects.filter(type=EventType.EXCHANGE_SUCCEEDED, exchange_id=exchange.pk).count() == 1
        alice_consent.refresh_from_db()
        assert alice_consent.uses == 1


class TestResumeSweep:
    def test_it_finds_lost_and_abandoned_exchanges_and_nothing_else(
        self, client: Client, mairie_token: str, alice_consent: Consent, django_capture_on_commit_callbacks: Any
    ) -> None:
        lost, abandoned, fresh, held = (
            accepted(client, mairie_token, alice_consent, django_capture_on_commit_callbacks) for _ in range(4)
        )
        long_ago = timezone.now() - dt.timedelta(seconds=RESUME_AFTER_SECONDS + 1)
        Exchange.objects.filter(pk__in=[lost.pk, abandoned.pk, held.pk]).update(created_at=long_ago)
        Exchange.objects.filter(pk=abandoned.pk).update(claimed_until=timezone.now() - dt.timedelta(seconds=1))
        assert exchange_claim(exchange_id=held.pk) is not None
        finished = ran(client, mairie_token, alice_consent, django_capture_on_commit_callbacks)

        due = exchanges_resume_due()

        assert set(due) == {lost.pk, abandoned.pk}
        assert finished.rsplit("/", 1)[1] not in {str(pk) for pk in due} and fresh.pk not in due


class TestHeldResults:
    @pytest.mark.parametrize("end", ["revoked_by_citizen", "revoked_by_consumer", "paused", "expired"])
    def test_a_consent_that_stops_serving_drops_its_uncollected_results(
        self,
        end: str,
        client: Client,
        mairie_token: str,
        alice: Citizen,
        alice_consent: Consent,
        mairie_client: Consumer,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        location = ran(client, mairie_token, alice_consent, django_capture_on_commit_callbacks)
        assert HeldResult.objects.filter(consent=alice_consent).count() == 1

        if end == "revoked_by_citizen":
            consent_revoke(consent=alice_consent, actor=citizen_actor(alice), reason="citizen")
        elif end == "revoked_by_consumer":
            assert (
                client.delete(
                    f"/api/v1/consents/{alice_consent.pk}", **bearer(mairie_client.token(client, "consents:write"))
                ).status_code
                == 204
            )
        elif end == "paused":
            consent_pause(consent=alice_consent, citizen=alice)
        else:
            Consent.objects.filter(pk=alice_consent.pk).update(valid_until=timezone.now())
            consent_expire_if_due(consent=alice_consent)

        assert not HeldResult.objects.exists()
        response = client.get(location, **bearer(mairie_token))
        assert response.status_code == 410
        assert response.json()["code"] == "result_gone"
        assert "attestation" not in response.json()
        assert not AuditEvent.objects.filter(type=EventType.EXCHANGE_COLLECTED).exists()

    def test_a_result_whose_consent_lapsed_unnoticed_is_not_handed_over(
        self, client: Client, mairie_token: str, alice_consent: Consent, django_capture_on_commit_callbacks: Any
    ) -> None:
        location = ran(client, mairie_token, alice_consent, django_capture_on_commit_callbacks)
        # Past its last moment, before the expiry task marked it so.
        Consent.objects.filter(pk=alice_consent.pk).update(valid_until=timezone.now())

        response = client.get(location, **bearer(mairie_token))

        assert response.status_code == 410
        assert not HeldResult.objects.exists()
        assert not AuditEvent.objects.filter(type=EventType.EXCHANGE_COLLECTED).exists()

    def test_collecting_writes_an_event_in_the_citizens_trail(
        self,
        client: Client,
        mairie_token: str,
        alice: Citizen,
        alice_consent: Consent,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        location = ran(client, mairie_token, alice_consent, django_capture_on_commit_callbacks)

        assert client.get(location, **bearer(mairie_token)).status_code == 200

        event = AuditEvent.objects.get(type=EventType.EXCHANGE_COLLECTED)
        assert event.citizen_ref == alice.ref
        assert event.consent_id == alice_consent.pk
        assert str(event.exchange_id) == location.rsplit("/", 1)[1]
        assert event.attestation_type == QF

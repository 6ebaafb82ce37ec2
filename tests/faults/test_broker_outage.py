"""The broker (Redis) killed while people act: a committed action never turns into an error, and
nothing it started is left undone once Redis is back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import timezone

from consent.models import Citizen, Consent, WebhookDelivery
from consent.services import consent_approve, consent_request_create
from core.tasks import enqueue
from gateway.models import Exchange
from gateway.services.async_exchanges import RESUME_AFTER_SECONDS
from providers.models import Organisation
from tests.conftest import ApiCaller
from tests.consent.test_history import logged_in
from tests.consent.test_webhooks import Receiver, receiver  # noqa: F401 - the fixture, for these tests
from tests.faults.conftest import RedisServer
from tests.processes import CeleryWorker

QF = "cnaf.quotient-familial"

pytestmark = pytest.mark.faults


def active_consent(consumer: Organisation, caller: ApiCaller, citizen: Citizen) -> Consent:
    """A consent given through the services, as the API and the approval page give it."""
    consent = consent_request_create(
        consumer=consumer,
        client=caller.application,
        attestation_types=[QF],
        fields=None,
        purpose_code="tarification-sociale",
        purpose_text="Cantine",
        duration_days=30,
        max_uses=None,
        return_url="",
        reference="",
        idempotency_key="",
    )
    return consent_approve(consent=consent, citizen=citizen, eidas_level="eidas2")


class TestBrokerOutage:
    def test_consent_changes_answer_normally_and_their_webhooks_go_out_once_redis_is_back(
        self,
        broker: RedisServer,
        start_worker: Callable[..., CeleryWorker],
        receiver: Receiver,  # noqa: F811
        mairie: Organisation,
        make_caller: Callable[..., ApiCaller],
        alice: Citizen,
        bob: Citizen,
    ) -> None:
        caller = make_caller(mairie, "consents:read consents:write")
        receiver.listen_for(mairie, "/mairie")
        paused, ended = active_consent(mairie, caller, alice), active_consent(mairie, caller, bob)

        broker.kill()
        pause = logged_in(alice).post(f"/mes-consentements/{paused.pk}/suspendre/")
        end = Client().delete(f"/api/v1/consents/{ended.pk}", headers=caller.headers)

        # The citizen and the consumer see the normal outcome of what committed.
        assert pause.status_code == 302 and end.status_code == 204
        paused.refresh_from_db()
        ended.refresh_from_db()
        assert (paused.status, ended.status) == (Consent.Status.PAUSED, Consent.Status.REVOKED)
        waiting = WebhookDelivery.objects.filter(
            consent__in=[paused, ended], event_type__in=["consent.paused", "consent.revoked"]
        )
        assert waiting.count() == 2 and all(d.status == WebhookDelivery.Status.PENDING for d in waiting)

        broker.start()
        worker = start_worker()
        # What beat does every 30 seconds: the sweep finds what was never sent.
        assert enqueue("consent.tasks.webhooks_retry_due")
        worker.wait_until(
            lambda: all(d.status == WebhookDelivery.Status.DELIVERED for d in waiting.all()),
            what="the webhooks of the changes made while Redis was down",
        )
        sent = {request.header_map["webhook-id"] for request in receiver.to("/mairie")}
        assert {str(d.pk) for d in waiting} <= sent
        # Nothing left pending: the approvals' deliveries, whose messages died with the broker's
        # memory, went out too.
        assert not WebhookDelivery.objects.exclude(status=WebhookDelivery.Status.DELIVERED).exists()

    def test_an_exchange_accepted_during_the_outage_runs_once_redis_is_back(
        self,
        broker: RedisServer,
        start_worker: Callable[..., CeleryWorker],
        mairie: Organisation,
        make_caller: Callable[..., ApiCaller],
        alice: Citizen,
        client: Client,
    ) -> None:
        caller = make_caller(mairie, f"consents:read attestations:{QF}")
        consent = active_consent(mairie, caller, alice)

        broker.kill()
        accepted = client.post(
            "/api/v1/exchanges",
            {"attestation_type": QF, "consent": str(consent.pk)},
            content_type="application/json",
            headers=caller.headers,
        )

        assert accepted.status_code == 202
        exchange = Exchange.objects.get(pk=accepted.json()["exchange_id"])
        assert exchange.status == Exchange.Status.PENDING and exchange.claimed_until is None

        broker.start()
        worker = start_worker()
        # Its message was lost with the broker: once it is older than the sweep's threshold, the
        # sweep (beat, every 15 s) runs it. The row's age stands in for the wait.
        Exchange.objects.filter(pk=exchange.pk).update(
            created_at=timezone.now() - dt.timedelta(seconds=RESUME_AFTER_SECONDS + 1)
        )
        assert enqueue("gateway.tasks.exchanges_resume")
        worker.wait_until(
            lambda: Exchange.objects.get(pk=exchange.pk).status != Exchange.Status.PENDING,
            what="the exchange accepted while Redis was down",
        )

        collected = client.get(accepted["Location"], headers=caller.headers)
        assert collected.status_code == 200 and collected.json()["status"] == "succeeded"
        consent.refresh_from_db()
        assert consent.uses == 1

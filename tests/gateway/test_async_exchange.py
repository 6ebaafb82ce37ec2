"""POST /api/v1/exchanges and GET /api/v1/exchanges/{id}: the same exchange, through Celery."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent, EventType
from consent.models import Citizen, Consent, HeldResult
from consent.services.lifecycle import consent_revoke
from gateway.models import Exchange
from providers.adapters.base import Adapter, FetchContext, ProviderResult, Subject
from providers.models import AttestationType, Organisation
from tests.gateway.conftest import QF, Consumer, bearer, citizen_actor
from tests.processes import CeleryWorker


@pytest.fixture
def mairie_token(client: Client, mairie_client: Consumer) -> str:
    return mairie_client.token(client, f"attestations:{QF}")


@pytest.fixture
def alice_consent(alice: Citizen, mairie: Organisation, make_consent: Callable[..., Consent]) -> Consent:
    return make_consent(alice, mairie)


def submit(client: Client, token: str, consent: Consent, key: str = "", slug: str = QF) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(
        "/api/v1/exchanges",
        {"attestation_type": slug, "consent": str(consent.pk)},
        content_type="application/json",
        **bearer(token),
        **headers,
    )


class TestAsyncExchange:
    def test_it_accepts_runs_and_hands_the_result_over_once(
        self,
        client: Client,
        mairie_token: str,
        alice_consent: Consent,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = submit(client, mairie_token, alice_consent)

        assert response.status_code == 202
        exchange_id = response.json()["exchange_id"]
        assert response["Location"] == f"/api/v1/exchanges/{exchange_id}"
        assert response.json()["status"] == "pending"
        pending = client.get(response["Location"], **bearer(mairie_token))
        assert pending.json() == {"exchange_id": exchange_id, "status": "pending"}

        for callback in callbacks:
            callback()
        row = Exchange.objects.get(pk=exchange_id)
        assert row.status == Exchange.Status.SUCCEEDED and row.is_async
        # Held encrypted under its consent: no field value readable at rest.
        held = HeldResult.objects.get(exchange_id=row.pk)
        assert held.consent_id == alice_consent.pk
        assert b"quotient" not in bytes(held.ciphertext)
        assert AuditEvent.objects.get(type=EventType.EXCHANGE_SUCCEEDED).exchange_id == row.pk

        collected = client.get(response["Location"], **bearer(mairie_token))
        assert collected.status_code == 200
        body = collected.json()
        assert body["status"] == "succeeded"
        assert body["attestation"]["subject_ref"] == alice_consent.citizen.ref
        assert body["jws"].count(".") == 2
        assert not HeldResult.objects.exists()
        collection = AuditEvent.objects.get(type=EventType.EXCHANGE_COLLECTED)
        assert (collection.exchange_id, collection.consent_id) == (row.pk, alice_consent.pk)

        again = client.get(response["Location"], **bearer(mairie_token))
        assert again.status_code == 410
        assert again.json()["code"] == "result_gone"

    def test_it_hides_the_exchange_from_other_consumers(
        self,
        client: Client,
        mairie_token: str,
        alice_consent: Consent,
        cd_rhone: Organisation,
        make_consumer: Callable[..., Consumer],
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            location = submit(client, mairie_token, alice_consent)["Location"]
        other = make_consumer(cd_rhone).token(client, "consents:read")

        response = client.get(location, **bearer(other))

        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        assert HeldResult.objects.count() == 1

    def test_it_honours_the_idempotency_key(
        self, client: Client, mairie_token: str, alice_consent: Consent, django_capture_on_commit_callbacks: Any
    ) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            first = submit(client, mairie_token, alice_consent, key="k-1")
            second = submit(client, mairie_token, alice_consent, key="k-1")
            other = submit(client, mairie_token, alice_consent, key="k-1", slug="dgfip.avis-imposition")

        assert first.status_code == second.status_code == 202
        assert first.json()["exchange_id"] == second.json()["exchange_id"]
        assert other.status_code == 409
        assert other.json()["code"] == "idempotency_key_reused"
        assert Exchange.objects.count() == 1
        alice_consent.refresh_from_db()
        assert alice_consent.uses == 1

    def test_it_denies_at_once_what_the_synchronous_endpoint_would(
        self, client: Client, mairie_token: str, alice: Citizen, alice_consent: Consent
    ) -> None:
        consent_revoke(consent=alice_consent, actor=citizen_actor(alice), reason="test")

        response = submit(client, mairie_token, alice_consent)

        assert response.status_code == 403
        assert response.json()["code"] == "consent_revoked"
        assert Exchange.objects.get().status == Exchange.Status.DENIED

    def test_a_consent_revoked_before_the_task_runs_is_refused_then(
        self,
        client: Client,
        mairie_token: str,
        alice: Citizen,
        alice_consent: Consent,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            location = submit(client, mairie_token, alice_consent)["Location"]
        consent_revoke(consent=alice_consent, actor=citizen_actor(alice), reason="test")
        for callback in callbacks:
            callback()

        body = client.get(location, **bearer(mairie_token)).json()

        assert body["status"] == "denied"
        assert body["problem"]["code"] == "consent_revoked"
        assert "attestation" not in body
        assert AuditEvent.objects.get(type=EventType.EXCHANGE_DENIED).detail == {"code": "consent_revoked"}

    def test_an_uncollected_result_expires(
        self, client: Client, mairie_token: str, alice_consent: Consent, django_capture_on_commit_callbacks: Any
    ) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            location = submit(client, mairie_token, alice_consent)["Location"]
        HeldResult.objects.update(expires_at=timezone.now())

        from gateway.tasks import exchange_results_purge

        assert exchange_results_purge() == 1
        assert client.get(location, **bearer(mairie_token)).status_code == 410

    def test_it_refuses_the_result_to_a_token_without_the_type_scope(
        self,
        client: Client,
        mairie_token: str,
        mairie_client: Consumer,
        alice_consent: Consent,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            location = submit(client, mairie_token, alice_consent, key="k-scope")["Location"]
        # The same consumer, the same client, but a token that may only read consents.
        reader = mairie_client.token(client, "consents:read")

        collected = client.get(location, **bearer(reader))
        replayed = submit(client, reader, alice_consent, key="k-scope")

        assert collected.status_code == replayed.status_code == 403
        assert collected.json()["code"] == replayed.json()["code"] == "scope_missing"
        assert "attestation" not in collected.json() and "exchange_id" not in replayed.json()
        row = Exchange.objects.get()
        assert row.status == Exchange.Status.SUCCEEDED and HeldResult.objects.filter(exchange_id=row.pk).exists()
        assert client.get(location, **bearer(mairie_token)).status_code == 200

    @pytest.mark.parametrize("method", ["head", "options"])
    def test_a_safe_method_other_than_get_does_not_hand_the_result_over(
        self,
        client: Client,
        mairie_token: str,
        alice_consent: Consent,
        method: str,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            location = submit(client, mairie_token, alice_consent)["Location"]

        response = getattr(client, method)(location, **bearer(mairie_token))

        assert response.status_code == 405
        assert response["Allow"] == "GET"
        assert HeldResult.objects.count() == 1
        assert not AuditEvent.objects.filter(type=EventType.EXCHANGE_COLLECTED).exists()
        assert client.get(location, **bearer(mairie_token)).status_code == 200

    def test_bad_input_changes_nothing(self, client: Client, mairie_token: str, alice_consent: Consent) -> None:
        response = client.post(
            "/api/v1/exchanges", {"consent": "nope"}, content_type="application/json", **bearer(mairie_token)
        )

        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert not Exchange.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_exchange(
    celery_worker: CeleryWorker,
    client: Client,
    mairie_client: Consumer,
    alice: Citizen,
    mairie: Organisation,
    make_consent: Callable[..., Consent],
) -> None:
    consent = make_consent(alice, mairie)
    token = mairie_client.token(client, f"attestations:{QF}")

    location = submit(client, token, consent)["Location"]
    # The result is handed over once: keep the answer that ended the wait.
    answers: list[dict[str, Any]] = []

    def answered() -> bool:
        answers.append(client.get(location, **bearer(token)).json())
        return answers[-1]["status"] != "pending"

    celery_worker.wait_until(answered, what="the worker to run the exchange")
    body = answers[-1]

    assert body["status"] == "succeeded", body
    assert body["attestation"]["consent"] == str(consent.pk)
    assert not HeldResult.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_task_calls_the_provider_once_outside_any_transaction_and_delivers_once(
    client: Client,
    mairie_client: Consumer,
    alice: Citizen,
    mairie: Organisation,
    make_consent: Callable[..., Consent],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A transactional test: under the usual test transaction every query would be in one. A copy
    of the task running meanwhile (a redelivered message, a second worker) finds the exchange
    claimed and calls no provider."""
    from gateway.services import exchanges
    from gateway.tasks import exchange_run

    consent = make_consent(alice, mairie)
    token = mairie_client.token(client, f"attestations:{QF}")
    in_transaction: list[bool] = []
    adapter_for = exchanges.adapter_for

    def observed_adapter_for(attestation_type: AttestationType) -> Adapter:
        # The provider call is the edge we watch (the demo adapter itself runs for real): was a
        # transaction open while it ran? The first call also lets a redelivered copy of the task
        # run meanwhile, as a second worker would.
        adapter = adapter_for(attestation_type)
        fetch = adapter.fetch

        def observed_fetch(subject: Subject, fields: Sequence[str], context: FetchContext) -> ProviderResult:
            in_transaction.append(transaction.get_connection().in_atomic_block)
            if len(in_transaction) == 1:
                exchange_run(str(context.exchange_id))
            return fetch(subject, fields, context)

        monkeypatch.setattr(adapter, "fetch", observed_fetch)
        return adapter

    monkeypatch.setattr(exchanges, "adapter_for", observed_adapter_for)

    location = submit(client, token, consent)["Location"]
    exchange_id = location.rsplit("/", 1)[1]
    exchange_run(exchange_id)

    assert in_transaction == [False]
    row = Exchange.objects.get()
    assert row.status == Exchange.Status.SUCCEEDED
    consent.refresh_from_db()
    assert consent.uses == 1
    assert AuditEvent.objects.filter(type=EventType.EXCHANGE_SUCCEEDED, exchange_id=row.pk).count() == 1
    assert not AuditEvent.objects.filter(type__in=[EventType.EXCHANGE_DENIED, EventType.EXCHANGE_FAILED]).exists()
    assert client.get(location, **bearer(token)).json()["attestation"]["consent"] == str(consent.pk)

"""Signed webhooks (Standard Webhooks), delivered to a real HTTP receiver on 127.0.0.1 and verified
as a consumer would: the `v1` signature with the `standardwebhooks` library and the organisation's
`whsec_` secret, the `v1a` (Ed25519) signatures with `cryptography` and the `whpk_` keys published
at /.well-known/webhook-keys, following the spec (the library checks only `v1`)."""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from audit.models import ActorKind
from audit.services import Actor
from consent.models import Citizen, Consent, WebhookDelivery
from consent.services import consent_approve, consent_expire_if_due, consent_pause, consent_resume, consent_revoke
from consent.services.webhooks import BACKOFF, MAX_ATTEMPTS, webhook_body, webhook_signature
from consent.tasks import webhook_deliver, webhooks_retry_due
from core.errors import InvalidTransition
from gateway.celery import app as celery_app
from providers.models import AgentRole, Organisation
from providers.services import WEBHOOK_SECRET_OVERLAP, organisation_webhook_secret_rotate, organisation_webhook_secrets
from tests.agents import make_agent
from tests.mail import Mailbox, body, subject
from tests.processes import CeleryWorker

pytestmark = pytest.mark.django_db

CONSUMER = Actor(ActorKind.CONSUMER, "mairie-client")
Capture = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]
# The tolerance the `standardwebhooks` library applies, and the one docs/webhooks.md asks for.
TOLERANCE_SECONDS = 5 * 60


@dataclass(frozen=True)
class Received:
    path: str
    headers: Message
    body: bytes
    # The `whsec_` secret the receiving organisation was given for this path.
    secret: str = ""

    @property
    def header_map(self) -> dict[str, str]:
        return dict(self.headers.items())

    @property
    def signatures(self) -> list[str]:
        return self.headers["webhook-signature"].split(" ")


class Receiver:
    """A consumer's (or provider's) webhook endpoint: records every request, answers `status`."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.secrets: dict[str, str] = {}
        self.status = 200
        self.extra_headers: dict[str, str] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append(Received(self.path, self.headers, body, receiver.secrets.get(self.path, "")))
                self.send_response(receiver.status)
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def listen_for(self, organisation: Organisation, path: str) -> str:
        """Points the organisation's webhooks at `path` here; returns its `whsec_` secret."""
        self.secrets[path] = hook(organisation, self.url + path)
        return self.secrets[path]

    def to(self, path: str) -> list[Received]:
        return [request for request in self.requests if request.path == path]


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    # post_json refuses loopback addresses unless listed: the receiver lives on 127.0.0.1.
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def eager() -> Iterator[None]:
    # Celery reads its configuration once, so override_settings would not reach it.
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def hook(organisation: Organisation, url: str) -> str:
    """Sets the webhook URL and gives the organisation a secret, as the admin does."""
    Organisation.objects.filter(pk=organisation.pk).update(webhook_url=url)
    return organisation_webhook_secret_rotate(organisation=organisation)


def committed(capture: Capture, service: Callable[..., Consent], **arguments: Any) -> Consent:
    """Runs a transition and then what its commit triggers (the test itself never commits)."""
    with capture(execute=True):
        return service(**arguments)


def published_keys(client: Client) -> list[str]:
    response = client.get("/.well-known/webhook-keys")
    assert response.status_code == 200
    keys: list[str] = response.json()["keys"]
    return keys


def v1a_verify(body: bytes, headers: Mapping[str, str], public_keys: list[str]) -> Any:
    """A receiver's check of the asymmetric (`v1a`) signatures, written from the spec with
    `cryptography`: the timestamp within the tolerance, then any `v1a` signature over
    `{webhook-id}.{webhook-timestamp}.{body}` made by one of the trusted `whpk_` keys."""
    headers = {name.lower(): value for name, value in headers.items()}
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        raise WebhookVerificationError("Message timestamp outside the tolerance")
    content = f"{msg_id}.{timestamp}.".encode() + body
    trusted = [Ed25519PublicKey.from_public_bytes(base64.b64decode(key.removeprefix("whpk_"))) for key in public_keys]
    for entry in headers["webhook-signature"].split(" "):
        version, _, signature = entry.partition(",")
        if version != "v1a":
            continue
        for key in trusted:
            try:
                key.verify(base64.b64decode(signature), content)
            except InvalidSignature:
                continue
            return json.loads(body)
    raise WebhookVerificationError("No matching signature found")


def verified(client: Client, request: Received) -> dict[str, Any]:
    """What a receiver does: the library checks `v1` with the organisation's secret; the spec's
    `v1a` check uses the published keys. Both must accept, and the library returns the payload."""
    assert request.headers["Content-Type"] == "application/json"
    body: dict[str, Any] = Webhook(request.secret).verify(request.body, request.header_map)
    assert v1a_verify(request.body, request.header_map, published_keys(client)) == body
    return body


def delivery_for(organisation: Organisation, event_type: str) -> WebhookDelivery:
    return WebhookDelivery.objects.get(organisation=organisation, event_type=event_type)


def make_due(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))


@pytest.mark.usefixtures("eager")
class TestNotifications:
    def test_it_notifies_the_consumer_of_an_approval_with_a_signed_body_without_citizen_data(
        self,
        client: Client,
        receiver: Receiver,
        pending: Consent,
        alice: Citizen,
        mairie: Organisation,
        django_capture_on_commit_callbacks: Capture,
    ):
        receiver.listen_for(mairie, "/hooks?source=gateway")
        consent = committed(
            django_capture_on_commit_callbacks, consent_approve, consent=pending, citizen=alice, eidas_level="eidas2"
        )

        [request] = receiver.requests
        assert request.path == "/hooks?source=gateway"
        body = verified(client, request)
        delivery = WebhookDelivery.objects.get()
        assert request.headers["webhook-id"] == str(delivery.pk)
        assert [entry.split(",")[0] for entry in request.signatures] == ["v1a", "v1"]
        assert body == {
            "type": "consent.approved",
            "timestamp": body["timestamp"],
            "data": {
                "consent": {"id": str(consent.pk), "status": "active", "status_reason": "", "version": consent.version},
                "consumer": mairie.siret,
                "recipient": mairie.siret,
            },
        }
        # The event's time, not the attempt's: when the consent changed.
        assert dt.datetime.fromisoformat(body["timestamp"]) == consent.updated_at
        text = request.body.decode()
        for personal in (alice.subject, alice.ref, alice.nom_naissance, alice.prenoms.split()[0], "citizen"):
            assert personal not in text
        assert str(alice.date_naissance) not in text
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
        assert delivery.delivered_at is not None and delivery.last_error_code == ""

    def test_it_notifies_the_consumer_and_the_provider_of_a_revocation(
        self,
        client: Client,
        receiver: Receiver,
        active: Consent,
        mairie: Organisation,
        cnaf: Organisation,
        django_capture_on_commit_callbacks: Capture,
    ):
        mairie_secret = receiver.listen_for(mairie, "/mairie")
        cnaf_secret = receiver.listen_for(cnaf, "/cnaf")
        consent = committed(
            django_capture_on_commit_callbacks, consent_revoke, consent=active, actor=CONSUMER, reason="consumer"
        )

        [to_mairie], [to_cnaf] = receiver.to("/mairie"), receiver.to("/cnaf")
        for request, organisation in ((to_mairie, mairie), (to_cnaf, cnaf)):
            body = verified(client, request)
            assert body["type"] == "consent.revoked"
            assert body["data"]["consent"] == {
                "id": str(consent.pk),
                "status": "revoked",
                "status_reason": "consumer",
                "version": consent.version,
            }
            assert body["data"]["consumer"] == mairie.siret
            assert body["data"]["recipient"] == organisation.siret
            assert request.headers["webhook-id"] == str(delivery_for(organisation, "consent.revoked").pk)
        assert to_mairie.headers["webhook-id"] != to_cnaf.headers["webhook-id"]
        # Each organisation's v1 secret is its own: the mairie's does not verify the CNAF's webhook.
        assert mairie_secret != cnaf_secret
        with pytest.raises(WebhookVerificationError, match="No matching signature"):
            Webhook(mairie_secret).verify(to_cnaf.body, to_cnaf.header_map)
        assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}

    def test_it_tells_only_the_consumer_of_a_pause_but_the_provider_too_of_an_expiry(
        self,
        client: Client,
        receiver: Receiver,
        active: Consent,
        alice: Citizen,
        mairie: Organisation,
        cnaf: Organisation,
        django_capture_on_commit_callbacks: Capture,
    ):
        receiver.listen_for(mairie, "/mairie")
        receiver.listen_for(cnaf, "/cnaf")
        committed(django_capture_on_commit_callbacks, consent_pause, consent=active, citizen=alice)
        assert [verified(client, r)["type"] for r in receiver.requests] == ["consent.paused"]
        assert receiver.requests[0].path == "/mairie"

        Consent.objects.filter(pk=active.pk).update(valid_until=timezone.now() - dt.timedelta(seconds=1))
        committed(django_capture_on_commit_callbacks, consent_expire_if_due, consent=active)
        expiries = [verified(client, r) for r in receiver.to("/mairie")[1:] + receiver.to("/cnaf")]
        assert [(body["type"], body["data"]["consent"]["status_reason"]) for body in expiries] == [
            ("consent.expired", "validity_ended")
        ] * 2

    def test_a_refused_transition_enqueues_nothing(
        self,
        receiver: Receiver,
        active: Consent,
        alice: Citizen,
        mairie: Organisation,
        django_capture_on_commit_callbacks: Capture,
    ):
        receiver.listen_for(mairie, "/mairie")
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            with pytest.raises(InvalidTransition):
                consent_resume(consent=active, citizen=alice)
            with pytest.raises(InvalidTransition):
                consent_approve(consent=active, citizen=alice, eidas_level="eidas2")
        assert callbacks == []
        assert not WebhookDelivery.objects.exists()
        assert receiver.requests == []

    def test_an_organisation_without_a_webhook_url_gets_nothing(
        self,
        client: Client,
        receiver: Receiver,
        pending: Consent,
        alice: Citizen,
        cnaf: Organisation,
        django_capture_on_commit_callbacks: Capture,
    ):
        receiver.listen_for(cnaf, "/cnaf")
        consent = committed(
            django_capture_on_commit_callbacks, consent_approve, consent=pending, citizen=alice, eidas_level="eidas2"
        )
        assert not WebhookDelivery.objects.exists()
        assert receiver.requests == []

        committed(
            django_capture_on_commit_callbacks, consent_revoke, consent=consent, actor=CONSUMER, reason="consumer"
        )
        [request] = receiver.requests
        assert request.path == "/cnaf" and verified(client, request)["type"] == "consent.revoked"
        assert list(WebhookDelivery.objects.values_list("organisation", flat=True)) == [cnaf.pk]


@pytest.mark.usefixtures("eager")
class TestDelivery:
    @pytest.fixture
    def approved(
        self,
        receiver: Receiver,
        pending: Consent,
        alice: Citizen,
        mairie: Organisation,
        django_capture_on_commit_callbacks: Capture,
    ) -> WebhookDelivery:
        receiver.listen_for(mairie, "/mairie")
        committed(
            django_capture_on_commit_callbacks, consent_approve, consent=pending, citizen=alice, eidas_level="eidas2"
        )
        return WebhookDelivery.objects.get()

    @pytest.fixture
    def failing(self, receiver: Receiver) -> Receiver:
        receiver.status = 500
        return receiver

    def test_it_retries_a_failed_delivery_with_backoff_then_gives_up(
        self, failing: Receiver, approved: WebhookDelivery
    ):
        for attempt in range(1, MAX_ATTEMPTS):
            delivery = WebhookDelivery.objects.get(pk=approved.pk)
            assert (delivery.status, delivery.attempts) == ("pending", attempt)
            assert (delivery.last_status_code, delivery.last_error_code) == (500, "http_status")
            wait = delivery.next_attempt_at - timezone.now()
            assert BACKOFF[attempt - 1] - dt.timedelta(seconds=10) < wait <= BACKOFF[attempt - 1]
            # Not due yet: a redelivered message or an early sweep sends nothing.
            assert webhook_deliver(str(approved.pk)) is None
            assert len(failing.requests) == attempt
            make_due(delivery)
            webhook_deliver(str(approved.pk))

        delivery = WebhookDelivery.objects.get(pk=approved.pk)
        assert (delivery.status, delivery.attempts, delivery.delivered_at) == ("failed", MAX_ATTEMPTS, None)
        assert len(failing.requests) == MAX_ATTEMPTS
        make_due(delivery)
        assert webhooks_retry_due() == 0
        assert len(failing.requests) == MAX_ATTEMPTS

    def test_its_administrators_are_told_when_deliveries_keep_failing_once_a_day(
        self,
        failing: Receiver,
        approved: WebhookDelivery,
        mairie: Organisation,
        mailbox: Mailbox,
        django_capture_on_commit_callbacks: Capture,
    ):
        admin = make_agent(mairie, "adele", roles=[AgentRole.Role.ADMINISTRATOR])
        for _attempt in range(2, MAX_ATTEMPTS + 1):
            make_due(approved)
            with django_capture_on_commit_callbacks(execute=True):
                webhook_deliver(str(approved.pk))

        (message,) = mailbox.to(admin.email)
        assert subject(message) == "Vos webhooks échouent toujours"
        assert "1 webhook vers Mairie de Villeurbanne échoue toujours" in body(message)
        assert "/agents/webhooks/" in body(message)

    def test_every_retry_keeps_the_id_and_body_and_is_signed_afresh(
        self, client: Client, failing: Receiver, approved: WebhookDelivery
    ):
        make_due(approved)
        failing.status = 200
        webhooks_retry_due()

        first, retry = failing.requests
        # One id for the event, whatever the attempt: receivers deduplicate on it.
        assert first.headers["webhook-id"] == retry.headers["webhook-id"] == str(approved.pk)
        assert first.body == retry.body
        assert verified(client, first) == verified(client, retry)
        assert WebhookDelivery.objects.get(pk=approved.pk).status == "delivered"

    def test_it_does_not_follow_a_redirect(self, receiver: Receiver, approved: WebhookDelivery):
        receiver.status, receiver.extra_headers = 307, {"Location": receiver.url + "/elsewhere"}
        make_due(approved)
        # The fixture's first send got 200 and is delivered: start over from a fresh failed state.
        WebhookDelivery.objects.filter(pk=approved.pk).update(status="pending", attempts=1)
        webhook_deliver(str(approved.pk))
        delivery = WebhookDelivery.objects.get(pk=approved.pk)
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 2, 307)
        assert receiver.to("/elsewhere") == []

    def test_it_records_a_connection_failure_by_code(self, receiver: Receiver, approved: WebhookDelivery):
        hook(approved.organisation, "http://127.0.0.1:9/closed")
        make_due(approved)
        WebhookDelivery.objects.filter(pk=approved.pk).update(status="pending")
        webhook_deliver(str(approved.pk))
        delivery = WebhookDelivery.objects.get(pk=approved.pk)
        assert (delivery.status, delivery.last_status_code, delivery.last_error_code) == (
            "pending",
            None,
            "connection_failed",
        )

    def test_a_delivered_row_is_not_sent_again(self, receiver: Receiver, approved: WebhookDelivery):
        assert approved.status == "delivered"
        make_due(approved)
        assert webhook_deliver(str(approved.pk)) is None
        assert webhooks_retry_due() == 0
        assert len(receiver.requests) == 1
        assert WebhookDelivery.objects.get(pk=approved.pk).attempts == 1

    def test_the_sweep_sends_what_a_lost_message_left_behind(
        self, client: Client, receiver: Receiver, pending: Consent, alice: Citizen, mairie: Organisation
    ):
        receiver.listen_for(mairie, "/mairie")
        # No commit callbacks run here: as if the broker lost the message sent on commit.
        consent_approve(consent=pending, citizen=alice, eidas_level="eidas2")
        assert receiver.requests == []
        assert webhooks_retry_due() == 1
        [request] = receiver.requests
        assert verified(client, request)["type"] == "consent.approved"
        assert WebhookDelivery.objects.get().status == "delivered"


@pytest.mark.usefixtures("eager")
class TestSignature:
    @pytest.fixture
    def delivered(
        self,
        receiver: Receiver,
        pending: Consent,
        alice: Citizen,
        mairie: Organisation,
        django_capture_on_commit_callbacks: Capture,
    ) -> Received:
        receiver.listen_for(mairie, "/mairie")
        committed(
            django_capture_on_commit_callbacks, consent_approve, consent=pending, citizen=alice, eidas_level="eidas2"
        )
        [request] = receiver.requests
        return request

    def test_a_tampered_body_id_or_timestamp_fails_verification(self, client: Client, delivered: Received):
        verified(client, delivered)
        keys = published_keys(client)
        body = json.loads(delivered.body)
        tampered_body = {**body, "data": {**body["data"], "consent": {**body["data"]["consent"], "status": "revoked"}}}
        tampered_bodies = (
            json.dumps(tampered_body, separators=(",", ":"), sort_keys=True).encode(),
            delivered.body.replace(b"}", b" }", 1),
        )
        for raw in tampered_bodies:
            with pytest.raises(WebhookVerificationError, match="No matching signature"):
                Webhook(delivered.secret).verify(raw, delivered.header_map)
            with pytest.raises(WebhookVerificationError, match="No matching signature"):
                v1a_verify(raw, delivered.header_map, keys)
        timestamp = int(delivered.headers["webhook-timestamp"])
        for header, value in (("webhook-id", "another-id"), ("webhook-timestamp", str(timestamp - 1))):
            headers = {**delivered.header_map, header: value}
            with pytest.raises(WebhookVerificationError, match="No matching signature"):
                Webhook(delivered.secret).verify(delivered.body, headers)
            with pytest.raises(WebhookVerificationError, match="No matching signature"):
                v1a_verify(delivered.body, headers, keys)

    def test_another_secret_or_key_does_not_verify_it(self, client: Client, delivered: Received, tmp_path: Path):
        another_secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        with pytest.raises(WebhookVerificationError, match="No matching signature"):
            Webhook(another_secret).verify(delivered.body, delivered.header_map)
        another_key = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
        with pytest.raises(WebhookVerificationError, match="No matching signature"):
            v1a_verify(delivered.body, delivered.header_map, ["whpk_" + base64.b64encode(another_key).decode()])

    def test_an_old_timestamp_fails_verification(self, client: Client, delivered: Received, mairie: Organisation):
        """A capture replayed later: signed as the gateway signs, but six minutes ago."""
        old = int(time.time()) - TOLERANCE_SECONDS - 60
        secret = base64.b64decode(delivered.secret.removeprefix("whsec_"))
        headers = {
            "webhook-id": delivered.headers["webhook-id"],
            "webhook-timestamp": str(old),
            "webhook-signature": webhook_signature(
                msg_id=delivered.headers["webhook-id"], timestamp=old, body=delivered.body, secrets=[secret]
            ),
        }
        with pytest.raises(WebhookVerificationError, match="too old"):
            Webhook(delivered.secret).verify(delivered.body, headers)
        with pytest.raises(WebhookVerificationError, match="tolerance"):
            v1a_verify(delivered.body, headers, published_keys(client))

    def test_it_publishes_the_webhook_keys_without_authentication(self, client: Client, delivered: Received):
        response = client.get("/.well-known/webhook-keys")

        assert response.status_code == 200
        assert response["Cache-Control"] == "public, max-age=300"
        [key] = response.json()["keys"]
        assert key.startswith("whpk_") and len(base64.b64decode(key.removeprefix("whpk_"))) == 32
        assert v1a_verify(delivered.body, delivered.header_map, [key]) == json.loads(delivered.body)

    def test_during_a_key_rotation_every_listed_key_signs(
        self,
        client: Client,
        receiver: Receiver,
        active: Consent,
        alice: Citizen,
        mairie: Organisation,
        settings: Any,
        tmp_path: Path,
        django_capture_on_commit_callbacks: Capture,
    ):
        settings.WEBHOOK_KEY_FILES = [tmp_path / "webhook-new.pem", tmp_path / "webhook-old.pem"]
        receiver.listen_for(mairie, "/mairie")
        committed(django_capture_on_commit_callbacks, consent_pause, consent=active, citizen=alice)

        [request] = receiver.requests
        new_key, old_key = published_keys(client)
        assert new_key != old_key
        assert [entry.split(",")[0] for entry in request.signatures] == ["v1a", "v1a", "v1"]
        # A receiver still trusting only the old key, or already only the new one, accepts it.
        for trusted in (old_key, new_key):
            assert v1a_verify(request.body, request.header_map, [trusted])["type"] == "consent.paused"
        assert verified(client, request)["type"] == "consent.paused"

    def test_a_new_secret_signs_beside_the_previous_one_for_the_overlap_only(
        self, client: Client, receiver: Receiver, delivered: Received, mairie: Organisation
    ):
        previous = delivered.secret
        receiver.secrets["/mairie"] = organisation_webhook_secret_rotate(organisation=mairie)
        delivery = WebhookDelivery.objects.get()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status="pending")
        make_due(delivery)
        webhook_deliver(str(delivery.pk))

        during = receiver.requests[-1]
        assert [entry.split(",")[0] for entry in during.signatures] == ["v1a", "v1", "v1"]
        assert verified(client, during) == Webhook(previous).verify(during.body, during.header_map)

        Organisation.objects.filter(pk=mairie.pk).update(
            webhook_secret_rotated_at=timezone.now() - WEBHOOK_SECRET_OVERLAP - dt.timedelta(seconds=1)
        )
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status="pending")
        make_due(delivery)
        webhook_deliver(str(delivery.pk))

        after = receiver.requests[-1]
        assert [entry.split(",")[0] for entry in after.signatures] == ["v1a", "v1"]
        verified(client, after)
        with pytest.raises(WebhookVerificationError, match="No matching signature"):
            Webhook(previous).verify(after.body, after.header_map)

    def test_an_organisation_without_a_secret_gets_the_v1a_signature_only(
        self,
        client: Client,
        receiver: Receiver,
        active: Consent,
        alice: Citizen,
        mairie: Organisation,
        django_capture_on_commit_callbacks: Capture,
    ):
        Organisation.objects.filter(pk=mairie.pk).update(webhook_url=receiver.url + "/mairie")
        committed(django_capture_on_commit_callbacks, consent_pause, consent=active, citizen=alice)

        [request] = receiver.requests
        assert [entry.split(",")[0] for entry in request.signatures] == ["v1a"]
        assert v1a_verify(request.body, request.header_map, published_keys(client))["type"] == "consent.paused"

    def test_a_secret_that_no_longer_decrypts_still_leaves_the_v1a_signature(
        self, client: Client, receiver: Receiver, delivered: Received, settings: Any
    ):
        # SECRET_KEY changed since the secret was stored.
        settings.SECRET_KEY = "another-secret-key-" + "z" * 40
        delivery = WebhookDelivery.objects.get()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status="pending")
        make_due(delivery)
        webhook_deliver(str(delivery.pk))

        request = receiver.requests[-1]
        assert [entry.split(",")[0] for entry in request.signatures] == ["v1a"]
        assert v1a_verify(request.body, request.header_map, published_keys(client)) == json.loads(delivered.body)
        assert WebhookDelivery.objects.get().status == "delivered"

    def test_the_secret_is_stored_encrypted(self, delivered: Received, mairie: Organisation):
        stored = bytes(Organisation.objects.get(pk=mairie.pk).webhook_secret)
        secret = base64.b64decode(delivered.secret.removeprefix("whsec_"))
        assert len(secret) == 32
        assert secret not in stored and delivered.secret.encode() not in stored
        # Another organisation's row cannot borrow it.
        with connection.cursor() as cursor:
            cursor.execute("UPDATE providers_organisation SET webhook_secret = %s WHERE code = 'cnaf'", [stored])
        cnaf = Organisation.objects.get(code="cnaf")
        with pytest.raises(InvalidTag):
            organisation_webhook_secrets(organisation=cnaf, now=timezone.now())

    def test_the_body_sent_is_the_stored_payload(self, delivered: Received):
        assert delivered.body == webhook_body(WebhookDelivery.objects.get().payload)


class TestConfiguration:
    @pytest.mark.parametrize(
        ("url", "code"),
        [
            ("http://mairie.example.fr/hooks", "webhook_url_not_https"),
            ("https://user:secret@mairie.example.fr/hooks", "webhook_url_invalid"),
            ("https://mairie.example.fr/hooks#frag", "webhook_url_invalid"),
            ("ftp://mairie.example.fr/hooks", "webhook_url_not_https"),
        ],
    )
    def test_it_refuses_anything_but_https(self, mairie: Organisation, url: str, code: str):
        mairie.webhook_url = url
        with pytest.raises(ValidationError) as raised:
            mairie.full_clean()
        assert code in [error.code for error in raised.value.error_dict["webhook_url"]]

    def test_it_accepts_https_and_loopback_http_in_demo_mode_only(self, mairie: Organisation, settings: Any):
        for url in ("https://mairie.example.fr/hooks?k=1", "http://127.0.0.1:8080/hooks", "http://localhost/h"):
            mairie.webhook_url = url
            mairie.full_clean()
        settings.DEMO_MODE = False
        with pytest.raises(ValidationError):
            mairie.full_clean()

    def test_the_admin_edits_and_validates_it(self, client: Client, mairie: Organisation):
        client.force_login(User.objects.create_superuser("operateur", "operateur@example.invalid", "long-password-1"))
        page = f"/admin/providers/organisation/{mairie.pk}/change/"
        assert 'name="webhook_url"' in client.get(page).content.decode()
        form = {
            "name": mairie.name,
            "code": mairie.code,
            "siret": mairie.siret,
            "kind": mairie.kind,
            "dpo_email": mairie.dpo_email,
            "active": "on",
            "rate_limit_per_minute": "",
            "created_at_0": mairie.created_at.date().isoformat(),
            "created_at_1": mairie.created_at.strftime("%H:%M:%S"),
        }
        response = client.post(page, {**form, "webhook_url": "http://mairie.example.fr/hooks"})
        assert response.status_code == 200
        assert "The webhook URL must use https." in response.content.decode()
        assert Organisation.objects.get(pk=mairie.pk).webhook_url == ""
        response = client.post(page, {**form, "webhook_url": "https://mairie.example.fr/hooks"})
        assert response.status_code == 302
        assert Organisation.objects.get(pk=mairie.pk).webhook_url == "https://mairie.example.fr/hooks"

    def test_the_admin_gives_a_secret_with_the_first_url_and_rotates_it(self, client: Client, mairie: Organisation):
        client.force_login(User.objects.create_superuser("operateur", "operateur@example.invalid", "long-password-1"))
        page = f"/admin/providers/organisation/{mairie.pk}/change/"
        assert "whsec_" not in client.get(page).content.decode()
        form = {
            "name": mairie.name,
            "code": mairie.code,
            "siret": mairie.siret,
            "kind": mairie.kind,
            "dpo_email": mairie.dpo_email,
            "active": "on",
            "rate_limit_per_minute": "",
            "created_at_0": mairie.created_at.date().isoformat(),
            "created_at_1": mairie.created_at.strftime("%H:%M:%S"),
            "webhook_url": "https://mairie.example.fr/hooks",
        }
        assert client.post(page, form).status_code == 302
        [first] = organisation_webhook_secrets(organisation=Organisation.objects.get(pk=mairie.pk), now=timezone.now())
        first_text = "whsec_" + base64.b64encode(first).decode()
        assert first_text in client.get(page).content.decode()
        # Saving again keeps it: only the action changes a secret.
        assert client.post(page, form).status_code == 302
        assert organisation_webhook_secrets(
            organisation=Organisation.objects.get(pk=mairie.pk), now=timezone.now()
        ) == (first,)

        response = client.post(
            "/admin/providers/organisation/",
            {"action": "webhook_secret_rotate", "_selected_action": [mairie.pk]},
            follow=True,
        )
        assert "the previous one keeps signing for 24 hours" in response.content.decode()
        organisation = Organisation.objects.get(pk=mairie.pk)
        second, previous = organisation_webhook_secrets(organisation=organisation, now=timezone.now())
        assert previous == first and second != first
        assert "whsec_" + base64.b64encode(second).decode() in client.get(page).content.decode()
        assert LogEntry.objects.filter(object_id=str(mairie.pk), change_message__contains="webhook secret").exists()


def test_deliveries_written_before_the_standard_format_are_sent_in_it(active: Consent, mairie: Organisation):
    migration = importlib.import_module("consent.migrations.0004_webhook_payload_standard")
    former_consent = {"id": str(active.pk), "status": "active", "status_reason": "", "version": 2}
    delivery = WebhookDelivery.objects.create(
        organisation=mairie,
        event_type="consent.approved",
        consent=active,
        payload={
            "id": "will-be-the-row-id",
            "type": "consent.approved",
            "occurred_at": "2026-01-01T00:00:00.123456Z",
            "consent": former_consent,
            "consumer": mairie.siret,
        },
    )

    migration.to_standard(apps, connection.schema_editor())
    assert WebhookDelivery.objects.get(pk=delivery.pk).payload == {
        "type": "consent.approved",
        "timestamp": "2026-01-01T00:00:00.123456Z",
        "data": {"consent": former_consent, "consumer": mairie.siret, "recipient": mairie.siret},
    }
    migration.to_former(apps, connection.schema_editor())
    assert WebhookDelivery.objects.get(pk=delivery.pk).payload["id"] == str(delivery.pk)
    assert WebhookDelivery.objects.get(pk=delivery.pk).payload["occurred_at"] == "2026-01-01T00:00:00.123456Z"


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_the_webhook(
    celery_worker: CeleryWorker,
    client: Client,
    receiver: Receiver,
    pending: Consent,
    alice: Citizen,
    mairie: Organisation,
):
    """The commit hands the delivery to Redis; a separate worker process signs and POSTs it."""
    receiver.listen_for(mairie, "/mairie")

    consent_approve(consent=pending, citizen=alice, eidas_level="eidas2")

    celery_worker.wait_until(
        lambda: WebhookDelivery.objects.get().status == "delivered", what="the worker to deliver the webhook"
    )
    assert WebhookDelivery.objects.get().status == "delivered"
    [request] = receiver.requests
    assert verified(client, request)["data"]["consent"]["id"] == str(pending.pk)

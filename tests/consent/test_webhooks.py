"""Signed webhooks, delivered to a real HTTP receiver on 127.0.0.1 and verified as a consumer would:
with jwcrypto against the gateway's published JWKS."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.utils import timezone
from jwcrypto import jwk, jws

from audit.models import ActorKind
from audit.services import Actor
from consent.models import Citizen, Consent, WebhookDelivery
from consent.services import consent_approve, consent_expire_if_due, consent_pause, consent_resume, consent_revoke
from consent.services.webhooks import BACKOFF, MAX_ATTEMPTS
from consent.tasks import webhook_deliver, webhooks_retry_due
from core.errors import InvalidTransition
from gateway.celery import app as celery_app
from providers.models import Organisation

pytestmark = pytest.mark.django_db

CONSUMER = Actor(ActorKind.CONSUMER, "mairie-client")
Capture = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]


@dataclass(frozen=True)
class Received:
    path: str
    headers: Message
    body: bytes


class Receiver:
    """A consumer's (or provider's) webhook endpoint: records every request, answers `status`."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.status = 200
        self.extra_headers: dict[str, str] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append(Received(self.path, self.headers, body))
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


def hook(organisation: Organisation, url: str) -> None:
    Organisation.objects.filter(pk=organisation.pk).update(webhook_url=url)


def committed(capture: Capture, service: Callable[..., Consent], **arguments: Any) -> Consent:
    """Runs a transition and then what its commit triggers (the test itself never commits)."""
    with capture(execute=True):
        return service(**arguments)


def verified(client: Client, request: Received) -> dict[str, Any]:
    """What a receiver does: check the detached JWS over the raw body with the published JWKS."""
    keys = jwk.JWKSet.from_json(client.get("/.well-known/jwks.json").content)
    token = jws.JWS()
    token.deserialize(request.headers["Webhook-Signature"])
    header = token.jose_header
    token.verify(keys.get_key(header["kid"]), alg="EdDSA", detached_payload=request.body)
    assert header == {"alg": "EdDSA", "kid": header["kid"], "typ": "webhook+jws"}
    body: dict[str, Any] = json.loads(request.body)
    assert body["id"] == request.headers["Webhook-Id"]
    assert body["timestamp"] == int(request.headers["Webhook-Timestamp"])
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
        hook(mairie, receiver.url + "/hooks?source=gateway")
        consent = committed(
            django_capture_on_commit_callbacks, consent_approve, consent=pending, citizen=alice, eidas_level="eidas2"
        )

        [request] = receiver.requests
        assert request.path == "/hooks?source=gateway"
        assert request.headers["Content-Type"] == "application/json"
        body = verified(client, request)
        delivery = WebhookDelivery.objects.get()
        assert body["id"] == str(delivery.pk)
        assert abs(body["timestamp"] - time.time()) < 60
        assert body == {
            "id": str(delivery.pk),
            "type": "consent.approved",
            "occurred_at": body["occurred_at"],
            "consent": {"id": str(consent.pk), "status": "active", "status_reason": "", "version": consent.version},
            "consumer": mairie.siret,
            "timestamp": body["timestamp"],
        }
        assert dt.datetime.fromisoformat(body["occurred_at"]) <= timezone.now()
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
        hook(mairie, receiver.url + "/mairie")
        hook(cnaf, receiver.url + "/cnaf")
        consent = committed(
            django_capture_on_commit_callbacks, consent_revoke, consent=active, actor=CONSUMER, reason="consumer"
        )

        [to_mairie], [to_cnaf] = receiver.to("/mairie"), receiver.to("/cnaf")
        for request, organisation in ((to_mairie, mairie), (to_cnaf, cnaf)):
            body = verified(client, request)
            assert body["type"] == "consent.revoked"
            assert body["consent"] == {
                "id": str(consent.pk),
                "status": "revoked",
                "status_reason": "consumer",
                "version": consent.version,
            }
            assert body["consumer"] == mairie.siret
            assert body["id"] == str(delivery_for(organisation, "consent.revoked").pk)
        assert to_mairie.headers["Webhook-Id"] != to_cnaf.headers["Webhook-Id"]
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
        hook(mairie, receiver.url + "/mairie")
        hook(cnaf, receiver.url + "/cnaf")
        committed(django_capture_on_commit_callbacks, consent_pause, consent=active, citizen=alice)
        assert [verified(client, r)["type"] for r in receiver.requests] == ["consent.paused"]
        assert receiver.requests[0].path == "/mairie"

        Consent.objects.filter(pk=active.pk).update(valid_until=timezone.now() - dt.timedelta(seconds=1))
        committed(django_capture_on_commit_callbacks, consent_expire_if_due, consent=active)
        expiries = [verified(client, r) for r in receiver.to("/mairie")[1:] + receiver.to("/cnaf")]
        assert [(body["type"], body["consent"]["status_reason"]) for body in expiries] == [
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
        hook(mairie, receiver.url + "/mairie")
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
        hook(cnaf, receiver.url + "/cnaf")
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
        hook(mairie, receiver.url + "/mairie")
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

    def test_a_tampered_body_or_timestamp_fails_verification(
        self, client: Client, receiver: Receiver, approved: WebhookDelivery
    ):
        [request] = receiver.requests
        verified(client, request)
        body = json.loads(request.body)
        for tampered in (
            {**body, "consent": {**body["consent"], "status": "revoked"}},
            {**body, "timestamp": body["timestamp"] + 3600},
        ):
            raw = json.dumps(tampered, ensure_ascii=False, separators=(",", ":")).encode()
            with pytest.raises(jws.InvalidJWSSignature):
                verified(client, Received(request.path, request.headers, raw))

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
        hook(mairie, receiver.url + "/mairie")
        # No commit callbacks run here: as if the broker lost the message sent on commit.
        consent_approve(consent=pending, citizen=alice, eidas_level="eidas2")
        assert receiver.requests == []
        assert webhooks_retry_due() == 1
        [request] = receiver.requests
        assert verified(client, request)["type"] == "consent.approved"
        assert WebhookDelivery.objects.get().status == "delivered"


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


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_the_webhook(
    client: Client,
    receiver: Receiver,
    pending: Consent,
    alice: Citizen,
    mairie: Organisation,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
):
    """The commit hands the delivery to Redis; a separate worker process signs and POSTs it."""
    hook(mairie, receiver.url + "/mairie")
    queue = f"webhooks-test-{os.getpid()}"
    # Route the task to a queue only this test's worker reads, through Celery's own router (built
    # once from the configuration, hence the resets).
    routes = celery_app.conf.task_routes
    celery_app.conf.task_routes = {"consent.tasks.webhook_deliver": {"queue": queue}}
    monkeypatch.setattr(celery_app.amqp, "_rtable", None)
    monkeypatch.delitem(celery_app.amqp.__dict__, "router", raising=False)
    env = {
        **os.environ,
        "DATABASE_URL": os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"],
        "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "gateway", "worker", "--pool=solo", "-Q", queue, "--loglevel=WARNING"],
        env=env,
        cwd=django_settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "worker.log", "w"),  # noqa: SIM115
    )
    try:
        consent_approve(consent=pending, citizen=alice, eidas_level="eidas2")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and WebhookDelivery.objects.get().status != "delivered":
            time.sleep(0.2)
        log = (tmp_path / "worker.log").read_text()[-2000:]
        assert WebhookDelivery.objects.get().status == "delivered", log
        [request] = receiver.requests
        assert verified(client, request)["consent"]["id"] == str(pending.pk)
    finally:
        celery_app.conf.task_routes = routes
        celery_app.amqp._rtable = None
        worker.terminate()
        worker.wait(timeout=10)

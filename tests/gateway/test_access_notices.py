"""Citizens told of every access to their data: real exchanges, the outbox swept from the trail,
e-mails through a real SMTP server (aiosmtpd), sent by a real Celery worker or the beat's tasks."""

from __future__ import annotations

import datetime as dt
import email.header
import email.message
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from consent.auth import SESSION_CITIZEN
from consent.models import AccessNotice, Citizen, Consent
from consent.services.notices import access_digests_send, access_notice_send, access_notices_collect, access_notices_due
from consent.tasks import access_notices_collect as access_notices_collect_task
from providers.models import Organisation
from tests.conftest import SmtpServer
from tests.gateway.conftest import QF, Consumer
from tests.gateway.test_exchange import get
from tests.processes import wait_until

ADDRESS = "alice.martin@example.fr"


@pytest.fixture
def mairie_token(client: Client, mairie_client: Consumer) -> str:
    return mairie_client.token(client, f"attestations:{QF}")


def told(alice: Citizen, notify: str) -> Citizen:
    alice.email, alice.notify = ADDRESS, notify
    alice.save(update_fields=["email", "notify"])
    return alice


def text(message: email.message.Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8")


def subject(message: email.message.Message) -> str:
    return str(email.header.make_header(email.header.decode_header(message["Subject"]))).strip()


def assert_no_values(body: str, attestation: dict[str, Any]) -> None:
    """The attestation's values are nowhere in the e-mail (amounts, names of the children)."""
    fields = attestation["fields"]
    assert str(fields["quotient_familial"]) not in body
    for child in fields["enfants"]:
        assert child["prenoms"] not in body


@pytest.mark.celery
class TestEachAccess:
    def test_the_worker_sends_an_e_mail_per_access_without_the_values(
        self,
        client: Client,
        mairie_token: str,
        alice: Citizen,
        mairie: Organisation,
        make_consent: Callable[..., Consent],
        smtp: SmtpServer,
        celery_worker: Any,
    ) -> None:
        consent = make_consent(told(alice, Citizen.Notify.EACH), mairie)
        response = get(client, mairie_token, consent)
        assert response.status_code == 200, response.content

        # What the beat does every 30 seconds; the worker collects, then sends after the commit.
        access_notices_collect_task.delay()

        [message] = smtp.wait_for(1)
        body = text(message)
        assert message["To"] == ADDRESS
        assert subject(message) == "Mairie de Villeurbanne a obtenu vos données"
        assert "Mairie de Villeurbanne a obtenu : Quotient familial CAF / MSA" in body
        assert "Caisse nationale des allocations familiales" in body
        assert "Tarification sociale" in body
        assert "/mes-consentements/historique/#event-" in body
        assert_no_values(body, response.json()["attestation"])
        # The worker records the send just after the server took the message.
        wait_until(lambda: AccessNotice.objects.filter(status="sent").exists(), what="the notice marked sent")
        notice = AccessNotice.objects.get()
        assert (notice.citizen, notice.status, notice.attempts) == (alice, "sent", 1)
        # The sweep reads the same events again: nothing new, nothing sent twice.
        assert access_notices_collect() == 0
        assert len(smtp.messages) == 1


class TestOutbox:
    def test_a_failed_send_is_retried_later_then_sent(
        self,
        client: Client,
        mairie_token: str,
        alice: Citizen,
        mairie: Organisation,
        make_consent: Callable[..., Consent],
        smtp: SmtpServer,
        settings: Any,
    ) -> None:
        consent = make_consent(told(alice, Citizen.Notify.EACH), mairie)
        assert get(client, mairie_token, consent).status_code == 200
        assert access_notices_collect() == 1
        notice = AccessNotice.objects.get()

        settings.EMAIL_PORT = smtp.port + 1 if smtp.port < 65535 else smtp.port - 1  # nobody listens there
        access_notice_send(notice_id=notice.pk)
        notice.refresh_from_db()
        assert (notice.status, notice.attempts, notice.last_error_code) == ("pending", 1, "smtp")
        assert notice.next_attempt_at > timezone.now()
        assert notice.pk not in access_notices_due()

        settings.EMAIL_PORT = smtp.port
        later = notice.next_attempt_at + dt.timedelta(seconds=1)
        assert access_notices_due(now=later) == [notice.pk]
        AccessNotice.objects.filter(pk=notice.pk).update(next_attempt_at=timezone.now())
        access_notice_send(notice_id=notice.pk)
        notice.refresh_from_db()
        assert (notice.status, notice.attempts) == ("sent", 2)
        assert len(smtp.wait_for(1)) == 1

    def test_a_citizen_who_wants_no_e_mail_gets_no_notice(
        self, client: Client, mairie_token: str, alice: Citizen, mairie: Organisation, make_consent: Any
    ) -> None:
        consent = make_consent(told(alice, Citizen.Notify.NEVER), mairie)
        assert get(client, mairie_token, consent).status_code == 200
        assert access_notices_collect() == 0
        assert not AccessNotice.objects.exists()


class TestDailyDigest:
    def test_one_e_mail_a_day_lists_every_access(
        self,
        client: Client,
        mairie_token: str,
        alice: Citizen,
        mairie: Organisation,
        make_consent: Callable[..., Consent],
        smtp: SmtpServer,
    ) -> None:
        consent = make_consent(told(alice, Citizen.Notify.DAILY), mairie)
        attestations = [get(client, mairie_token, consent).json()["attestation"] for _ in range(2)]
        assert access_notices_collect() == 2
        assert access_notices_due() == []  # held for the digest
        assert smtp.messages == []

        assert access_digests_send() == 1

        [message] = smtp.wait_for(1)
        body = text(message)
        assert subject(message) == "Vos données ont été obtenues 2 fois aujourd'hui"
        assert body.count("Mairie de Villeurbanne a obtenu") == 2
        for attestation in attestations:
            assert_no_values(body, attestation)
        assert set(AccessNotice.objects.values_list("status", flat=True)) == {"sent"}
        assert access_digests_send() == 0


class TestLanguage:
    def test_the_e_mail_speaks_the_language_the_citizen_last_used(
        self,
        client: Client,
        mairie_token: str,
        alice: Citizen,
        mairie: Organisation,
        make_consent: Callable[..., Consent],
        smtp: SmtpServer,
    ) -> None:
        told(alice, Citizen.Notify.DAILY)
        alice.language = "en"
        alice.save(update_fields=["language"])
        get(client, mairie_token, make_consent(alice, mairie))
        assert access_notices_collect() == 1

        assert access_digests_send() == 1

        [message] = smtp.wait_for(1)
        assert subject(message) == "Your data was obtained once today"
        assert "Mairie de Villeurbanne obtained" in text(message)

    def test_logging_in_and_choosing_notifications_remember_the_page_s_language(self, db: None) -> None:
        browser = Client(HTTP_ACCEPT_LANGUAGE="en")
        assert browser.post("/connexion/demo/", {"citizen": "0", "eidas_level": "eidas2"}).status_code == 302
        citizen = Citizen.objects.get(pk=browser.session[SESSION_CITIZEN])
        assert citizen.language == "en"

        browser.cookies["django_language"] = "fr"
        response = browser.post("/mes-consentements/notifications/", {"notify": "daily", "email": ADDRESS})
        assert response.status_code == 302
        citizen.refresh_from_db()
        assert (citizen.language, citizen.notify) == ("fr", "daily")


class TestEmbeddedDefault:
    def test_make_run_s_periodic_tasks_send_the_notice(
        self,
        client: Client,
        mairie_token: str,
        alice: Citizen,
        mairie: Organisation,
        make_consent: Callable[..., Consent],
        smtp: SmtpServer,
        settings: Any,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        # `make run` has no broker and no beat: `manage.py beat_embedded` runs the schedule in place.
        settings.CELERY_TASK_ALWAYS_EAGER = True
        consent = make_consent(told(alice, Citizen.Notify.EACH), mairie)
        assert get(client, mairie_token, consent).status_code == 200

        with django_capture_on_commit_callbacks(execute=True):
            call_command("beat_embedded", "--once", stdout=io.StringIO())

        [message] = smtp.wait_for(1)
        assert message["To"] == ADDRESS
        assert subject(message) == "Mairie de Villeurbanne a obtenu vos données"
        assert AccessNotice.objects.get().status == "sent"

    def test_it_leaves_a_broker_s_deployment_to_celery_s_own_beat(self, settings: Any) -> None:
        settings.CELERY_TASK_ALWAYS_EAGER = False

        with pytest.raises(CommandError, match="celery -A gateway beat"):
            call_command("beat_embedded", "--once")

"""Emails to agents: written in each one's language, committed with the action they tell of, sent by
a real Celery worker to a real SMTP server (aiosmtpd), retried by the sweep when the server was down."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from gateway.celery import app as celery_app
from providers.models import AgentEmail, AgentRole, AttestationType, Habilitation, Organisation
from providers.services import habilitation_approve, habilitation_request_changes, habilitation_submit
from providers.services.agents import agent_actor
from providers.services.emails import agent_language_remember, email_send
from providers.tasks import emails_retry_due
from tests.agents import make_agent
from tests.mail import Mailbox, body, subject
from tests.processes import free_port

QF = "cnaf.quotient-familial"
Role = AgentRole.Role

TERMS: dict[str, Any] = {
    "fields": ["quotient_familial"],
    "purpose_code": "tarification-sociale",
    "purpose_text": "Tarifs de la cantine scolaire",
    "legal_basis": "CRPA art. L. 114-8",
    "retention_days": 90,
    "dpo_email": "dpo@cd-rhone.sandbox.invalid",
}


def submit(consumer: Organisation, agent: Any) -> Habilitation:
    return habilitation_submit(
        consumer=consumer, attestation_type=AttestationType.objects.get(slug=QF), actor=agent_actor(agent), **TERMS
    )


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
class TestThroughTheWorker:
    def test_each_reviewer_reads_the_request_in_their_language_then_the_requester_the_decision(
        self, celery_worker: Any, mailbox: Mailbox, cd_rhone: Organisation, cnaf: Organisation
    ) -> None:
        claire = make_agent(cd_rhone, "claire", roles=[Role.HABILITATION_MANAGER])
        remi = make_agent(cnaf, "remi", roles=[Role.HABILITATION_MANAGER])
        rose = make_agent(cnaf, "rose", roles=[Role.ADMINISTRATOR])
        make_agent(cnaf, "axel")
        agent_language_remember(agent=rose, language="en")

        habilitation = submit(cd_rhone, claire)
        mailbox.wait_for(2)

        (to_remi,) = mailbox.to(remi.email)
        assert subject(to_remi) == (
            "Une demande d'habilitation à instruire de Conseil départemental du Rhône : Quotient familial CAF / MSA"
        )
        assert f"/agents/habilitations/{habilitation.pk}/" in body(to_remi)
        assert "attend votre instruction" in body(to_remi)
        (to_rose,) = mailbox.to(rose.email)
        assert subject(to_rose).startswith("A habilitation request to review from Conseil départemental du Rhône")
        assert "It awaits your review." in body(to_rose)
        assert len(mailbox.messages) == 2  # not the auditor, not the requester

        habilitation_request_changes(habilitation=habilitation, reason="Précisez la durée.", actor=agent_actor(remi))
        mailbox.wait_for(3)
        (to_claire,) = mailbox.to(claire.email)
        assert subject(to_claire).startswith("Modifications demandées sur votre demande d'habilitation")
        assert "Motif donné : Précisez la durée." in body(to_claire)
        assert AgentEmail.objects.filter(status=AgentEmail.Status.SENT).count() == 3


@pytest.fixture
def eager() -> Iterator[None]:
    """Tasks run in the test's process (the sweep's sends included), on the test's rows."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.mark.usefixtures("eager")
class TestRetries:
    def test_an_email_the_server_refused_is_sent_by_the_sweep_once_due(
        self,
        mailbox: Mailbox,
        settings: Any,
        cd_rhone: Organisation,
        cnaf: Organisation,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        claire = make_agent(cd_rhone, "claire", roles=[Role.HABILITATION_MANAGER])
        remi = make_agent(cnaf, "remi", roles=[Role.HABILITATION_MANAGER])
        habilitation = submit(cd_rhone, claire)
        smtp_port = settings.EMAIL_PORT
        settings.EMAIL_PORT = free_port()  # nobody listens there: the server is "down"
        with django_capture_on_commit_callbacks(execute=True):
            habilitation_approve(
                habilitation=habilitation,
                actor=agent_actor(remi),
                valid_until=timezone.localdate() + dt.timedelta(days=30),
            )

        email = AgentEmail.objects.get(kind="habilitation.approved")
        assert (email.status, email.attempts, email.last_error) == (
            AgentEmail.Status.PENDING,
            1,
            "ConnectionRefusedError",
        )
        assert email.next_attempt_at > timezone.now()
        assert emails_retry_due() == 1  # the submission's email, never sent (no commit hook ran for it)

        settings.EMAIL_PORT = smtp_port
        AgentEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
        emails_retry_due()

        email.refresh_from_db()
        assert (email.status, email.attempts) == (AgentEmail.Status.SENT, 2)
        (message,) = mailbox.to(claire.email)
        assert subject(message) == "Habilitation validée : Quotient familial CAF / MSA"
        assert email_send(email_id=email.pk) is None  # sent once, never twice
        assert len(mailbox.to(claire.email)) == 1

"""A habilitation nearing its end: its consumer's habilitation managers are emailed 30 days before,
then 7 days before, each once, in their language; an extension's new end date starts over."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from gateway.celery import app as celery_app
from providers.models import AgentRole, AttestationType, Habilitation, Organisation
from providers.services.emails import agent_language_remember
from providers.tasks import expiry_notices
from tests.agents import make_agent
from tests.mail import Mailbox, body, subject

QF = "cnaf.quotient-familial"
Role = AgentRole.Role


@pytest.fixture
def eager() -> Iterator[None]:
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def approved_until(consumer: Organisation, days: int) -> Habilitation:
    attestation_type = AttestationType.objects.get(slug=QF)
    return Habilitation.objects.create(
        consumer=consumer,
        attestation_type=attestation_type,
        fields=["quotient_familial"],
        purpose_code="tarification-sociale",
        purpose_text="Cantine",
        legal_basis="CRPA",
        retention_days=30,
        dpo_email=consumer.dpo_email,
        status=Habilitation.Status.APPROVED,
        valid_until=timezone.localdate() + dt.timedelta(days=days),
    )


@pytest.mark.usefixtures("eager")
def test_the_30_then_the_7_day_notice_each_once_in_each_agents_language(
    cd_rhone: Organisation, mailbox: Mailbox, django_capture_on_commit_callbacks: Any
) -> None:
    claire = make_agent(cd_rhone, "claire", roles=[Role.HABILITATION_MANAGER])
    rose = make_agent(cd_rhone, "rose", roles=[Role.ADMINISTRATOR])
    make_agent(cd_rhone, "axel")
    agent_language_remember(agent=rose, language="en")
    habilitation = approved_until(cd_rhone, 20)
    approved_until(cd_rhone, 60)  # not yet

    with django_capture_on_commit_callbacks(execute=True):
        assert expiry_notices() == 2
        assert expiry_notices() == 0
    (french,) = mailbox.to(claire.email)
    assert subject(french) == "Votre habilitation pour « Quotient familial CAF / MSA » se termine dans 20 jours"
    assert "demandez une prolongation" in body(french)
    (english,) = mailbox.to(rose.email)
    assert subject(english) == "Your habilitation for “Family quotient (CAF / MSA)” ends in 20 days"
    assert len(mailbox.messages) == 2

    Habilitation.objects.filter(pk=habilitation.pk).update(valid_until=timezone.localdate() + dt.timedelta(days=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert expiry_notices() == 2
        assert expiry_notices() == 0
    assert subject(mailbox.to(claire.email)[-1]).endswith("se termine dans 5 jours")

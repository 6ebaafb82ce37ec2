"""The provider's page: volumes per consumer and type, outcomes and latency of its own types only;
switching a type off takes it out of the catalogue and ends the habilitations in force, with an
email to each consumer's habilitation managers; another organisation's type is a 404."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent, EventType
from core.templatetags.measures import milliseconds
from gateway.celery import app as celery_app
from gateway.models import Exchange
from providers.models import Agent, AgentRole, AttestationType, Habilitation, Organisation
from providers.selectors import habilitation_in_force
from tests.agents import make_agent
from tests.gateway.conftest import habilitation_grant
from tests.mail import Mailbox, body, subject

Role = AgentRole.Role
QF = "cnaf.quotient-familial"


def client_for(agent: Agent) -> Client:
    client = Client()
    client.force_login(agent.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    return client


@pytest.fixture
def remi(cnaf: Organisation) -> Agent:
    return make_agent(cnaf, "remi", roles=[Role.HABILITATION_MANAGER])


@pytest.fixture
def eager() -> Iterator[None]:
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


class TestStatistics:
    def test_volumes_outcomes_and_latency_per_consumer_for_its_own_types(
        self, remi: Agent, cnaf: Organisation, dgfip: Organisation, mairie: Organisation, cd_rhone: Organisation
    ) -> None:
        qf = AttestationType.objects.get(slug=QF)
        avis = AttestationType.objects.get(slug="dgfip.avis-imposition")
        for consumer, status, latency in (
            (mairie, "succeeded", 100),
            (mairie, "failed", 300),
            (cd_rhone, "succeeded", 50),
        ):
            Exchange.objects.create(
                consumer=consumer,
                provider=cnaf,
                attestation_type=qf,
                client_id="x",
                status=status,
                provider_duration_ms=latency,
            )
        Exchange.objects.create(
            consumer=mairie, provider=dgfip, attestation_type=avis, client_id="x", status="succeeded"
        )
        old = Exchange.objects.create(
            consumer=mairie, provider=cnaf, attestation_type=qf, client_id="x", status="failed"
        )
        Exchange.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=40))

        response = client_for(remi).get(reverse("portal-provider"))

        item = next(item for item in response.context["types"] if item["type"].slug == QF)
        assert (item["total"], item["error_rate"]) == (3, 33.3)
        by_consumer = {row["consumer__name"]: row for row in item["consumers"]}
        assert (by_consumer[mairie.name]["failed"], by_consumer[mairie.name]["latency_avg"]) == (1, 200)
        assert by_consumer[cd_rhone.name]["succeeded"] == 1
        assert "dgfip.avis-imposition" not in {i["type"].slug for i in response.context["types"]}
        assert "<td>200</td>" in response.content.decode()


def test_a_latency_under_a_millisecond_reads_less_than_one_and_none_a_dash() -> None:
    assert [milliseconds(value) for value in (None, 0, 0.4, 199.6, 200)] == ["—", "< 1", "< 1", "200", "200"]


class TestSwitchingOff:
    @pytest.mark.usefixtures("eager")
    def test_the_type_leaves_the_catalogue_and_its_consumers_are_told(
        self,
        remi: Agent,
        cd_rhone: Organisation,
        mailbox: Mailbox,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        claire = make_agent(cd_rhone, "claire", roles=[Role.HABILITATION_MANAGER])
        habilitation_grant(cd_rhone, QF)
        url = reverse("portal-type-withdraw", args=[QF])
        refused = client_for(remi).post(url, {f"{QF}-reason": " "})
        assert refused.status_code == 400 and AttestationType.objects.get(slug=QF).active

        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(remi).post(url, {f"{QF}-reason": "Le service ferme le 1er janvier."})

        assert response.status_code == 302
        qf = AttestationType.objects.get(slug=QF)
        assert not qf.active and habilitation_in_force(consumer=cd_rhone, attestation_type=qf) is None
        assert not Habilitation.objects.filter(attestation_type=qf, status=Habilitation.Status.APPROVED).exists()
        assert AuditEvent.objects.filter(type=EventType.ATTESTATION_TYPE_WITHDRAWN, actor=remi.actor_id).count() == 1
        (message,) = mailbox.to(claire.email)
        assert subject(message).startswith("Habilitation révoquée")
        assert "Le service ferme le 1er janvier." in body(message)
        assert client_for(remi).get(f"/api/v1/catalogue/attestation-types/{QF}").status_code == 404

    def test_another_organisations_type_or_role_is_refused(
        self, remi: Agent, dgfip: Organisation, cnaf: Organisation
    ) -> None:
        assert (
            client_for(remi)
            .post(
                reverse("portal-type-withdraw", args=["dgfip.avis-imposition"]),
                {"dgfip.avis-imposition-reason": "Non."},
            )
            .status_code
            == 404
        )
        roleless = client_for(make_agent(cnaf, "axel"))
        assert roleless.get(reverse("portal-provider")).status_code == 403
        assert roleless.post(reverse("portal-type-withdraw", args=[QF]), {f"{QF}-reason": "Non."}).status_code == 403
        assert AttestationType.objects.filter(active=True, slug__in=[QF, "dgfip.avis-imposition"]).count() == 2
